"""The consumer runner through the real broker: effects once, poison parked, partition moves on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_UPDATED, WarehouseState
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import ConsumerRunner, dead_letter_headers
from kitflow_shared.messaging.idempotency import Applied, apply_if_newer
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, STOCK_EVENTS
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]


def _event(code: str, seq: int, name: str | None = None) -> CloudEvent:
    state = WarehouseState(
        code=code,
        name=name or f"{code} v{seq}",
        organisation="IOM",
        type="main",
        admin1_pcode="ML09",
        admin2_pcode="ML0901",
    )
    return WAREHOUSE_UPDATED.new(
        state, subject=f"warehouse/{code}", sequence=seq, context=EventContext.new()
    )


def _runner(
    kafka: KafkaSettings, namespace: str, producer: EventProducer, handler: Any
) -> ConsumerRunner:
    return ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=namespace,
        handlers={WAREHOUSE_UPDATED.type: handler},
        dead_letters=producer,
        client_id="test",
    )


async def _count(db: Db) -> int:
    return await db["view"].count_documents({})


async def test_each_event_is_applied_once_even_when_delivered_twice(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    events = [_event(f"W{i:03d}", 1) for i in range(50)]
    await producer.publish(topic, events)
    await producer.publish(topic, events[:10])  # the relay's duplicates after a crash

    async def handler(event: CloudEvent) -> Applied:
        return await apply_if_newer(
            db["view"], event.subject, event.sequence, {"$inc": {"applied": 1}}
        )

    task = asyncio.create_task(_runner(kafka_settings, topics, producer, handler).run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 50, what="50 documents")
        await asyncio.sleep(1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    applied = [doc["applied"] async for doc in db["view"].find({})]
    assert applied == [1] * 50


async def test_a_restarted_consumer_resumes_after_its_committed_offsets(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    seen: list[str] = []

    async def handler(event: CloudEvent) -> Applied:
        seen.append(event.id)
        await db["view"].insert_one({"_id": event.id})
        return Applied.APPLIED

    await producer.publish(topic, [_event("WA", 1), _event("WB", 1)])
    task = asyncio.create_task(_runner(kafka_settings, topics, producer, handler).run())
    await eventually(lambda: _count(db), lambda n: n == 2, what="first two")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    await producer.publish(topic, [_event("WC", 1)])
    task = asyncio.create_task(_runner(kafka_settings, topics, producer, handler).run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 3, what="the third")
        await asyncio.sleep(1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(seen) == 3  # nothing committed was handled again


async def test_poison_messages_are_parked_with_the_error_and_the_partition_moves_on(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, infra: Infra
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    dlq = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    attempts: dict[str, int] = {}

    async def handler(event: CloudEvent) -> Applied:
        WAREHOUSE_UPDATED.parse(event)  # as every real handler does
        attempts[event.subject] = attempts.get(event.subject, 0) + 1
        if event.subject == "warehouse/BAD":
            raise RuntimeError("cannot apply this one")
        await db["view"].insert_one({"_id": event.subject})
        return Applied.APPLIED

    # All on one key, so all on one partition, in this order.
    same_key = b"warehouse/K"
    await producer.publish_raw(topic, b"this is not json", same_key, [])
    breaks_contract = _event("WX", 1).model_copy(update={"data": {"code": "X"}})
    await producer.publish_raw(topic, breaks_contract.to_bytes(), same_key, [])
    await producer.publish_raw(topic, _event("BAD", 1).to_bytes(), same_key, [])
    await producer.publish_raw(topic, _event("GOOD", 1).to_bytes(), same_key, [])

    settings = kafka_settings.model_copy(update={"max_attempts": 3})
    task = asyncio.create_task(_runner(settings, topics, producer, handler).run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 1, what="the good one applied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert attempts == {"warehouse/BAD": 3, "warehouse/GOOD": 1}
    parked = await read_topic(infra.kafka_bootstrap, dlq, expect=3)
    assert len(parked) == 3
    headers = [dead_letter_headers(r.headers) for r in parked]
    assert [h["kitflow-dlq-reason"] for h in headers] == [
        "not a readable CloudEvent",
        "payload breaks its contract",
        "handler kept failing",
    ]
    assert "cannot apply this one" in headers[2]["kitflow-dlq-error"]
    assert headers[2]["kitflow-dlq-attempts"] == "3"
    assert headers[2]["kitflow-dlq-topic"] == topic
    assert parked[0].value == b"this is not json"
    assert parked[2].key == same_key


async def test_event_types_without_a_handler_are_skipped(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, infra: Infra
) -> None:
    topic = STOCK_EVENTS.qualified(topics)
    newer = _event("WN", 1).model_copy(update={"type": "org.kitflow.stock.something-new.v1"})
    await producer.publish(topic, [newer, _event("WK", 1)])

    async def handler(event: CloudEvent) -> Applied:
        await db["view"].insert_one({"_id": event.subject})
        return Applied.APPLIED

    task = asyncio.create_task(_runner(kafka_settings, topics, producer, handler).run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 1, what="the known one")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    dlq = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    assert await read_topic(infra.kafka_bootstrap, dlq, expect=0, timeout_s=1) == []


async def test_a_validation_error_the_handler_raises_itself_is_retried_like_any_failure(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, infra: Infra
) -> None:
    """Only a payload that breaks its contract is parked at once: a model the handler builds
    from a valid payload (its own bug, or data it read elsewhere that is not ready yet) fails
    like any other handler error, and is retried."""
    topic = STOCK_EVENTS.qualified(topics)
    attempts: list[int] = []

    async def handler(event: CloudEvent) -> Applied:
        state = WAREHOUSE_UPDATED.parse(event)
        attempts.append(len(attempts) + 1)
        if len(attempts) < 3:
            # e.g. building an outgoing event from a read model that is not complete yet
            WarehouseState.model_validate({**state.model_dump(), "capacity_m3": -1})
        await db["view"].insert_one({"_id": event.subject})
        return Applied.APPLIED

    await producer.publish(topic, [_event("WV", 1)])
    settings = kafka_settings.model_copy(update={"max_attempts": 5})
    task = asyncio.create_task(_runner(settings, topics, producer, handler).run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 1, what="applied on the third try")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert attempts == [1, 2, 3]
    dlq = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    assert await read_topic(infra.kafka_bootstrap, dlq, expect=0, timeout_s=1) == []


async def test_a_slow_batch_is_handled_in_parts_each_record_once(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings
) -> None:
    """A poll's records are handled for a bounded time, then the consumer polls again (long
    before the broker would put it out of its group) and goes on where it stopped."""
    topic = STOCK_EVENTS.qualified(topics)
    await producer.publish(topic, [_event("WS", n) for n in range(1, 41)])  # one partition
    handled: list[int] = []

    async def handler(event: CloudEvent) -> Applied:
        handled.append(event.sequence)
        await asyncio.sleep(0.02)  # heavy work: the budget runs out several times
        await db["view"].insert_one({"_id": event.id})
        return Applied.APPLIED

    polls_with_records: list[int] = []

    class CountingRunner(ConsumerRunner):
        async def _handle_batch(self, consumer: Any, batch: dict[Any, list[Any]]) -> None:
            if batch:
                polls_with_records.append(sum(len(r) for r in batch.values()))
            await super()._handle_batch(consumer, batch)

    runner = CountingRunner(
        kafka=kafka_settings,
        group=DISTRIBUTION_GROUP,
        namespace=topics,
        handlers={WAREHOUSE_UPDATED.type: handler},
        dead_letters=producer,
        client_id="test",
        batch_budget_s=0.1,
    )
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: _count(db), lambda n: n == 40, what="all 40 handled")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert handled == list(range(1, 41)), "each once, in order"
    # At most about five records fit in each 0.1 s: the rest was fetched again, poll by poll.
    assert len(polls_with_records) >= 4, polls_with_records
