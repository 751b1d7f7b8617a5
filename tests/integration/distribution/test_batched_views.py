"""Distribution's views written one bulk write per poll (ADR 0033), through the real broker
and store: fewer writes, nothing doubled on redelivery, order within a key kept, and a poison
record in a batch parked while the others are applied."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from kitflow_distribution.adapters import mongo_gaps, mongo_views
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.adapters.mongo_views import MongoNeedsView, MongoWarehouseView
from kitflow_distribution.consumers import batch_subscriptions, subscriptions
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.ports import GapFilter
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_SUBMITTED,
    NEED_VALIDATED,
    need_subject,
)
from kitflow_shared.contracts.stock import WAREHOUSE_UPDATED, WarehouseState
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import (
    BatchHandler,
    ConsumerRunner,
    Handler,
    dead_letter_headers,
)
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, NEEDS_EVENTS, STOCK_EVENTS
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.saga import validated_need

pytestmark = pytest.mark.infra
Document = dict[str, Any]
Db = AsyncDatabase[Document]
# Every record on one key: one partition, in publishing order (what a poll brings together).
ONE_KEY = b"warehouse/ONE-PARTITION"


def _event(code: str, seq: int) -> CloudEvent:
    state = WarehouseState(
        code=code,
        name=f"{code} v{seq}",
        organisation="IOM",
        type="main",
        admin1_pcode="ML09",
        admin2_pcode="ML0901",
    )
    return WAREHOUSE_UPDATED.new(
        state, subject=f"warehouse/{code}", sequence=seq, context=EventContext.new()
    )


class _Updates(monitoring.CommandListener):
    """Counts the `update` commands (one per `update_one`, one per bulk write round)."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _publish(producer: EventProducer, topic: str, events: Sequence[CloudEvent]) -> None:
    for event in events:
        await producer.publish_raw(topic, event.to_bytes(), ONE_KEY, [])


async def _committed(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    except GroupCoordinatorNotAvailableError:
        return -1  # the group's coordinator is still being set up: not yet
    finally:
        await admin.close()
    return sum(max(0, meta.offset) for meta in offsets.values())


async def _run_until_committed(
    view: MongoWarehouseView,
    kafka: KafkaSettings,
    namespace: str,
    producer: EventProducer,
    published: int,
) -> None:
    """Run the consumer with distribution's warehouse handlers until the group committed every
    record published (offsets are committed only once their batch is written)."""

    async def one(event: CloudEvent) -> Applied:
        return await projections.warehouse_changed(event, view)

    async def many(events: Sequence[CloudEvent]) -> list[Applied]:
        return await projections.warehouses_changed(events, view)

    types = [WAREHOUSE_UPDATED.type]
    await _consume_until_committed(
        (dict.fromkeys(types, one), dict.fromkeys(types, many)),
        kafka,
        namespace,
        producer,
        published,
    )


async def _consume_until_committed(
    handlers: tuple[dict[str, Handler], dict[str, BatchHandler]],
    kafka: KafkaSettings,
    namespace: str,
    producer: EventProducer,
    published: int,
) -> None:
    runner = ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=namespace,
        handlers=handlers[0],
        batch_handlers=handlers[1],
        dead_letters=producer,
        client_id="test",
    )
    task = asyncio.create_task(runner.run())
    group = DISTRIBUTION_GROUP.qualified(namespace)
    try:
        await eventually(
            lambda: _committed(kafka.bootstrap_servers, group),
            lambda offset: offset == published,
            what=f"{published} records committed",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _documents(db: Db) -> dict[str, Document]:
    return {doc["_id"]: doc async for doc in db["warehouse_view"].find({})}


async def test_a_poll_is_written_in_fewer_writes_than_events_and_in_order_per_key(
    infra: Infra, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, db: Db
) -> None:
    updates = _Updates()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.store_url, event_listeners=[updates], tz_aware=True
    )
    try:
        view = MongoWarehouseView(client[db.name]["warehouse_view"])
        # Twenty warehouses, each changed three times, interleaved: 60 events.
        events = [_event(f"W{n:02d}", seq) for seq in (1, 2, 3) for n in range(20)]
        await _publish(producer, STOCK_EVENTS.qualified(topics), events)
        await _run_until_committed(view, kafka_settings, topics, producer, len(events))
    finally:
        await client.close()

    docs = await _documents(db)
    assert len(docs) == 20
    for n in range(20):
        doc = docs[f"W{n:02d}"]
        # Each version applied once and the newest one kept: order within the key held.
        assert (doc["sequence"], doc["events_applied"], doc["state"]["name"]) == (
            3,
            3,
            f"W{n:02d} v3",
        )
    assert updates.count < len(events) // 2, f"{updates.count} update commands for 60 events"


async def test_a_redelivered_poll_changes_nothing(
    producer: EventProducer, topics: str, kafka_settings: KafkaSettings, db: Db
) -> None:
    view = MongoWarehouseView(db["warehouse_view"])
    topic = STOCK_EVENTS.qualified(topics)
    events = [_event(f"W{n:02d}", seq) for seq in (1, 2) for n in range(10)]
    await _publish(producer, topic, events)
    await _run_until_committed(view, kafka_settings, topics, producer, len(events))
    before = await _documents(db)

    # The same poll again (the relay's duplicates after a crash), and an older version late.
    await _publish(producer, topic, [*events, _event("W00", 1)])
    await _run_until_committed(view, kafka_settings, topics, producer, 2 * len(events) + 1)

    after = await _documents(db)
    assert len(after) == 10
    assert after == before
    assert {doc["events_applied"] for doc in after.values()} == {2}


async def test_a_poison_record_in_a_batch_is_parked_and_the_others_applied(
    infra: Infra, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, db: Db
) -> None:
    view = MongoWarehouseView(db["warehouse_view"])
    topic = STOCK_EVENTS.qualified(topics)
    breaks_contract = _event("BAD", 1).model_copy(update={"data": {"code": "BAD"}})
    records = [_event(c, 1) for c in ("WA", "WB")] + [breaks_contract]
    records += [_event(c, 1) for c in ("WC", "WD")]
    await _publish(producer, topic, records)
    await _run_until_committed(view, kafka_settings, topics, producer, len(records))

    docs = await _documents(db)
    assert sorted(docs) == ["WA", "WB", "WC", "WD"]
    assert {doc["events_applied"] for doc in docs.values()} == {1}
    dlq = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    parked = await read_topic(infra.kafka_bootstrap, dlq, expect=1)
    assert [dead_letter_headers(r.headers)["kitflow-dlq-reason"] for r in parked] == [
        "payload breaks its contract"
    ]
    assert parked[0].value == breaks_contract.to_bytes()


# -- the needs path: the needs view, the gap documents and their cells (ADR 0034) -------------


NEED_TYPES = {1: NEED_SUBMITTED, 2: NEED_VALIDATED}


def _need_event(need_id: str, seq: int, households: int) -> CloudEvent:
    need = validated_need(need_id, "ML05", "ML0501", {"TARP": households * 2})
    need.population.households = households
    return NEED_TYPES.get(seq, NEED_COVERAGE_CHANGED).new(
        need, subject=need_subject(need_id), sequence=seq, context=EventContext.new()
    )


def _needs_handlers(db: Db) -> tuple[dict[str, Handler], dict[str, BatchHandler]]:
    """Distribution's own subscriptions (`on_need`, `on_needs`), over this database (the
    ports needs events do not touch left out)."""
    ports = (
        MongoWarehouseView(db["warehouse_view"]),
        None,
        MongoNeedsView(db[mongo_views.NEEDS]),
        None,
        GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), gap_view(db)),
        None,
    )
    return subscriptions(*ports), batch_subscriptions(*ports)  # type: ignore[arg-type]


async def _tarp_requested(db: Db) -> int:
    rows = await gap_view(db).by_item(GapFilter(item_code="TARP"), "admin1")
    return sum(r.requested for r in rows)


async def test_a_poll_of_needs_events_reaches_the_cells_in_fewer_writes_than_events(
    infra: Infra, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, db: Db
) -> None:
    updates = _Updates()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        infra.store_url, event_listeners=[updates], tz_aware=True
    )
    # Twenty needs, each submitted, validated, then covered: 60 events of three types, each
    # after one of another type (all of them batched together all the same).
    events = [_need_event(f"N{n:02d}", seq, 10 * seq) for n in range(20) for seq in (1, 2, 3)]
    try:
        await _publish(producer, NEEDS_EVENTS.qualified(topics), events)
        await _consume_until_committed(
            _needs_handlers(client[db.name]), kafka_settings, topics, producer, len(events)
        )
    finally:
        await client.close()

    assert await _tarp_requested(db) == 20 * 60
    # One by one, each event cost a needs view write, a gap document write and one per kind
    # of cell it moves (8 or more); a poll costs about as many for all its events.
    assert updates.count < len(events), f"{updates.count} update commands for 60 events"


async def test_a_poison_need_event_in_a_batch_is_parked_and_the_others_applied(
    infra: Infra, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, db: Db
) -> None:
    topic = NEEDS_EVENTS.qualified(topics)
    breaks_contract = _need_event("BAD", 1, 5).model_copy(update={"data": {"need_id": "BAD"}})
    records = [_need_event(n, 1, 10) for n in ("NA", "NB")] + [breaks_contract]
    records += [_need_event(n, 1, 10) for n in ("NC", "ND")]
    await _publish(producer, topic, records)
    await _consume_until_committed(_needs_handlers(db), kafka_settings, topics, producer, 5)

    assert await _tarp_requested(db) == 4 * 20
    assert sorted([d["_id"] async for d in db[mongo_gaps.GAPS].find({})]) == [
        "NA",
        "NB",
        "NC",
        "ND",
    ]
    dlq = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    parked = await read_topic(infra.kafka_bootstrap, dlq, expect=1)
    assert [dead_letter_headers(r.headers)["kitflow-dlq-reason"] for r in parked] == [
        "payload breaks its contract"
    ]
    assert parked[0].value == breaks_contract.to_bytes()
