"""The outbox relay through the real broker and store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_UPDATED, WarehouseState
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import dead_letter_headers
from kitflow_shared.messaging.outbox import OUTBOX_FIELD, OutboxRelay, with_outbox
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import STOCK_EVENTS
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.unit.shared.fakes import FakePublisher

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]


def _events(code: str, first: int, last: int) -> list[CloudEvent]:
    state = WarehouseState(
        code=code,
        name=code,
        organisation="IOM",
        type="main",
        admin1_pcode="ML09",
        admin2_pcode="ML0901",
    )
    ctx = EventContext.new()
    return [
        WAREHOUSE_UPDATED.new(state, subject=f"warehouse/{code}", sequence=n, context=ctx)
        for n in range(first, last + 1)
    ]


async def _write(db: Db, code: str, events: list[CloudEvent]) -> None:
    await db["warehouses"].update_one(
        {"_id": code},
        with_outbox({"$set": {"sequence": events[-1].sequence}}, events),
        upsert=True,
    )


async def _pending(db: Db) -> int:
    total = 0
    async for doc in db["warehouses"].find({}, {OUTBOX_FIELD: 1}):
        total += len(doc.get(OUTBOX_FIELD, []))
    return total


async def test_a_sweep_publishes_everything_in_order_per_aggregate_and_prunes_it(
    db: Db, producer: EventProducer, topics: str, infra: Infra
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    written = {code: _events(code, 1, 5) for code in ("BKO", "MOP", "GAO", "TOM")}
    for code, events in written.items():
        await _write(db, code, events)
    relay = OutboxRelay(
        service="test",
        publisher=producer,
        topic=topic,
        collections=[db["warehouses"]],
        batch_size=3,
    )
    assert await relay.sweep_once() == 20
    assert await _pending(db) == 0
    records = await read_topic(infra.kafka_bootstrap, topic, expect=20)
    assert len(records) == 20
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        event = CloudEvent.from_bytes(record.value)
        assert record.key == event.partitionkey.encode()
        assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
        by_key.setdefault(record.key, []).append(event.sequence)
    assert by_key == {f"warehouse/{c}".encode(): [1, 2, 3, 4, 5] for c in written}


async def test_a_kick_publishes_right_after_the_write(
    db: Db, producer: EventProducer, topics: str, infra: Infra
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    # A sweep interval far longer than the test: only the kick can publish in time.
    relay = OutboxRelay(
        service="test",
        publisher=producer,
        topic=topic,
        collections=[db["warehouses"]],
        sweep_interval_s=3600,
    )
    task = asyncio.create_task(relay.run())
    try:
        await _write(db, "BKO", _events("BKO", 1, 2))
        relay.notify("warehouses", "BKO")
        await eventually(lambda: _pending(db), lambda n: n == 0, timeout_s=15, what="pruned")
    finally:
        task.cancel()
    records = await read_topic(infra.kafka_bootstrap, topic, expect=2)
    assert [CloudEvent.from_bytes(r.value).sequence for r in records] == [1, 2]


async def test_a_failed_publish_keeps_the_entries_for_the_next_round(db: Db) -> None:
    await _write(db, "BKO", _events("BKO", 1, 3))
    publisher = FakePublisher(fail_times=1)
    relay = OutboxRelay(
        service="test", publisher=publisher, topic="t", collections=[db["warehouses"]]
    )
    with pytest.raises(ConnectionError):
        await relay.sweep_once()
    assert await _pending(db) == 3
    assert await relay.sweep_once() == 3
    assert [e.sequence for _, e in publisher.sent] == [1, 2, 3]
    assert await _pending(db) == 0


async def test_entries_written_while_publishing_are_not_pruned_unpublished(db: Db) -> None:
    await _write(db, "BKO", _events("BKO", 1, 2))
    late = _events("BKO", 3, 3)

    class WriteDuringPublish(FakePublisher):
        async def publish(self, topic: str, events: Any) -> None:
            await super().publish(topic, events)
            if len(self.sent) == 2:
                await _write(db, "BKO", late)

    publisher = WriteDuringPublish()
    relay = OutboxRelay(
        service="test", publisher=publisher, topic="t", collections=[db["warehouses"]]
    )
    await relay.sweep_once()
    assert [e.sequence for _, e in publisher.sent] == [1, 2, 3]
    assert await _pending(db) == 0


async def test_an_event_the_broker_cannot_take_is_parked_and_blocks_nothing(
    db: Db, producer: EventProducer, topics: str, infra: Infra
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    before, after = _events("BKO", 1, 1), _events("BKO", 3, 3)
    # Far over the producer's 1 MiB: no retry can ever publish it.
    too_big = _events("BKO", 2, 2)[0].model_copy(update={"data": {"blob": "x" * 1_200_000}})
    await _write(db, "BKO", [*before, too_big, *after])
    await _write(db, "MOP", _events("MOP", 1, 2))
    relay = OutboxRelay(
        service="test", publisher=producer, topic=topic, collections=[db["warehouses"]]
    )
    assert await relay.sweep_once() == 4
    assert await _pending(db) == 0

    published = await read_topic(infra.kafka_bootstrap, topic, expect=4)
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(published, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(CloudEvent.from_bytes(record.value).sequence)
    assert by_key == {b"warehouse/BKO": [1, 3], b"warehouse/MOP": [1, 2]}

    [parked] = await read_topic(infra.kafka_bootstrap, f"{topic}.dlq", expect=1)
    assert CloudEvent.from_bytes(parked.value) == too_big
    assert parked.key == b"warehouse/BKO"
    headers = dead_letter_headers(parked.headers)
    assert headers["kitflow-dlq-topic"] == topic
    assert headers["kitflow-dlq-reason"] == "the broker cannot take this event"
    assert headers["kitflow-dlq-error-type"] == "MessageSizeTooLargeError"
    assert headers["kitflow-dlq-service"] == "test"
    assert headers["kitflow-dlq-document"] == "warehouses/BKO"
    assert (
        REGISTRY.get_sample_value(
            "kitflow_outbox_dead_lettered_total", {"service": "test", "topic": topic}
        )
        == 1
    )


async def test_an_unreadable_entry_is_parked_whole_instead_of_staying_for_ever(db: Db) -> None:
    broken = {"id": "broken-1", "type": "org.kitflow.stock.x.v1", "json": '{"not": "an event"}'}
    await db["warehouses"].insert_one(
        {"_id": "BKO", OUTBOX_FIELD: [broken, *(e.to_document() for e in _events("BKO", 1, 1))]}
    )
    publisher = FakePublisher()
    relay = OutboxRelay(
        service="test", publisher=publisher, topic="t", collections=[db["warehouses"]]
    )
    assert await relay.sweep_once() == 1
    assert await _pending(db) == 0
    [(topic, value, headers)] = publisher.parked
    assert (topic, value) == ("t.dlq", b'{"not": "an event"}')
    assert headers["kitflow-dlq-reason"] == b"unreadable outbox entry"
    assert headers["kitflow-dlq-document"] == b"warehouses/BKO"


async def test_only_the_holder_of_the_sweep_lease_sweeps_but_every_replica_publishes_its_kicks(
    db: Db,
) -> None:
    """Two replicas' relays would both sweep every outbox (ADR 0028): one sweeps, the holder of
    the "outbox-sweep" lease; a replica without it still publishes what its own writes kick."""
    await _write(db, "BKO", _events("BKO", 1, 3))  # left behind by a crash
    publisher = FakePublisher()
    holds_sweep = False
    asked = 0

    def sweeps() -> bool:
        nonlocal asked
        asked += 1
        return holds_sweep

    relay = OutboxRelay(
        service="test",
        publisher=publisher,
        topic="t",
        collections=[db["warehouses"]],
        sweep_interval_s=0.05,
        sweeps=sweeps,
    )
    task = asyncio.create_task(relay.run())
    try:
        await _write(db, "GAO", _events("GAO", 1, 1))
        relay.notify("warehouses", "GAO")
        await eventually(lambda: _asked(lambda: asked), lambda n: n >= 3, what="three rounds")
        assert [e.subject for _, e in publisher.sent] == ["warehouse/GAO"]
        assert await _pending(db) == 3, "no sweep without the lease"
        holds_sweep = True
        await eventually(lambda: _pending(db), lambda n: n == 0, timeout_s=15, what="swept")
    finally:
        task.cancel()
    assert [e.sequence for _, e in publisher.sent if e.subject == "warehouse/BKO"] == [1, 2, 3]


async def _asked(count: Callable[[], int]) -> int:
    return count()
