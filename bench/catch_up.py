"""How fast distribution's whole consumer catches up on a backlog of stock and needs events,
against a bare loop over the same topics that upserts one document per event into the same
store, and the raw consume rate beside them, in one run (issue #17).

    uv run python -m bench.catch_up [--needs 2000]

A backlog (`backlog`: the catalogue, 50 warehouses registered and updated, receipts carrying
balances, every need submitted and half of them covered) is published to the stock and needs
topics; then, from the beginning of the topics, each mode with a consumer group of its own:
- raw: aiokafka consuming the topics, nothing stored (what the broker and client allow);
- bare loop: the same, upserting one document per event (its subject and sequence);
- consumer: distribution's own `ConsumerRunner` with its subscriptions and batch
  subscriptions (ADR 0033, 0034) over the real views: warehouses, balances, needs, the gap
  documents and their cells;
- consumer one by one: the same without the batch subscriptions (as before ADR 0033).
Each mode writes into a database of its own, and is timed from its first record to its last
(the group's join is left out of every mode). Events per second of each and the ratios to the
bare loop are written as JSON to bench/results/. The broker and store come from
KITFLOW_TEST_* variables, else they are started as the tests start them. In cluster mode (three
brokers, two consumer processes in one group): bench.catch_up_cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer
from kitflow_distribution.adapters import mongo_alerts, mongo_gaps, mongo_plans, mongo_views
from kitflow_distribution.adapters.mongo_alerts import MongoStockAlerts
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.adapters.mongo_plans import MongoCoverageRepository, MongoPlanRepository
from kitflow_distribution.adapters.mongo_views import (
    MongoNeedsView,
    MongoStockView,
    MongoWarehouseView,
)
from kitflow_distribution.consumers import batch_subscriptions, subscriptions
from kitflow_distribution.handlers.plans import PlanHandlers
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ItemState, item_subject
from kitflow_shared.contracts.needs import NEED_COVERAGE_CHANGED, NEED_SUBMITTED, need_subject
from kitflow_shared.contracts.stock import (
    MOVEMENT_RECORDED,
    WAREHOUSE_REGISTERED,
    WAREHOUSE_UPDATED,
    BalanceState,
    MovementKind,
    MovementLineState,
    MovementRecorded,
    MovementState,
    WarehouseState,
    stock_subject,
    warehouse_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import BatchHandler, ConsumerRunner, Handler
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, NEEDS_EVENTS, STOCK_EVENTS, ensure_topics
from pymongo import AsyncMongoClient

from bench.gaps import ITEMS, PARTNERS, _covered, _needs
from bench.saving import save
from tests.support.infra import start_infra

WAREHOUSES = 50
Document = dict[str, Any]
Backlog = dict[str, list[CloudEvent]]


def backlog(needs: int, seed: int = 17) -> Backlog:
    """A realistic mix, per topic (unqualified name): the catalogue and the warehouses first,
    then receipts (one for every two needs, each with the balances after it) interleaved with
    the needs' events; every need submitted, half of them covered later."""
    rng = random.Random(seed)
    context = EventContext.new()
    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    stock: list[CloudEvent] = [
        ITEM_REGISTERED.new(
            ItemState(code=code, name_en=code, name_fr=code, category=category, unit="u"),
            subject=item_subject(code),
            sequence=1,
            context=context,
        )
        for code, category in ITEMS.items()
    ]
    for n in range(WAREHOUSES):
        state = WarehouseState(
            code=f"WH-{n:02d}",
            name=f"Warehouse {n}",
            organisation=PARTNERS[n % len(PARTNERS)],
            type="main",
            admin1_pcode=f"ML{n % 10 + 1:02d}",
            admin2_pcode=f"ML{n % 10 + 1:02d}01",
        )
        subject = warehouse_subject(state.code)
        stock.append(WAREHOUSE_REGISTERED.new(state, subject=subject, sequence=1, context=context))
        renamed = state.model_copy(update={"name": f"{state.name} (hub)"})
        stock.append(WAREHOUSE_UPDATED.new(renamed, subject=subject, sequence=2, context=context))
    on_hand: dict[tuple[int, str], int] = {}
    versions = [0] * WAREHOUSES
    needs_events: list[CloudEvent] = []
    for n, need in enumerate(_needs(needs, rng)):
        subject = need_subject(need.need_id)
        needs_events.append(NEED_SUBMITTED.new(need, subject=subject, sequence=1, context=context))
        if n % 2:
            covered = _covered(need, rng)
            needs_events.append(
                NEED_COVERAGE_CHANGED.new(covered, subject=subject, sequence=2, context=context)
            )
            wh = rng.randrange(WAREHOUSES)
            versions[wh] += 1
            stock.append(_receipt(wh, versions[wh], rng, on_hand, at + timedelta(minutes=n)))
    return {STOCK_EVENTS.name: stock, NEEDS_EVENTS.name: needs_events}


def _receipt(
    wh: int, version: int, rng: random.Random, on_hand: dict[tuple[int, str], int], at: datetime
) -> CloudEvent:
    code = f"WH-{wh:02d}"
    items = rng.sample(sorted(ITEMS), rng.randint(1, 2))
    lines, balances = [], []
    for item in items:
        quantity = rng.randint(10, 500)
        on_hand[(wh, item)] = on_hand.get((wh, item), 0) + quantity
        after = on_hand[(wh, item)]
        lines.append(
            MovementLineState(item_code=item, quantity=quantity, owner="IOM", on_hand_after=after)
        )
        balances.append(
            BalanceState(item_code=item, on_hand=after, reserved=0, available=after, in_transit=0)
        )
    movement = MovementState(
        movement_id=f"M-{code}-{version}",
        kind=MovementKind.RECEIPT,
        warehouse=code,
        occurred_at=at,
        recorded_by="bench",
        lines=lines,
    )
    return MOVEMENT_RECORDED.new(
        MovementRecorded(movement=movement, balances=balances),
        subject=stock_subject(code),
        sequence=version,
        context=EventContext.new(),
    )


async def publish(bootstrap: str, namespace: str, events: Backlog) -> int:
    producer = EventProducer(KafkaSettings(bootstrap_servers=bootstrap), "bench")
    await producer.start()
    try:
        for topic, of_topic in events.items():
            for start in range(0, len(of_topic), 5000):  # the producer's buffer stays bounded
                await producer.publish(f"{namespace}.{topic}", of_topic[start : start + 5000])
    finally:
        await producer.stop()
    return sum(len(e) for e in events.values())


class Clock:
    """From the first record handled to the last: a group's join is left out of every mode."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started: float | None = None
        self.ended = asyncio.Event()

    def start(self) -> None:
        if self.started is None:
            self.started = time.perf_counter()

    def count(self, records: int) -> None:
        self.done += records
        if self.done >= self.total:
            self.ended.set()

    def rate(self) -> float:
        assert self.started is not None
        return self.done / (time.perf_counter() - self.started)


async def consume_raw(
    bootstrap: str,
    topics: Sequence[str],
    total: int,
    handle: Callable[[list[Any]], Awaitable[Any]] | None = None,
) -> float:
    """Events per second of a plain consumer of `topics` (each poll's records of a partition
    to `handle`, if given), committing after each poll, as the service's consumer does."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=KafkaSettings(bootstrap_servers=bootstrap).max_poll_records,
    )
    await consumer.start()
    clock = Clock(total)
    try:
        while clock.done < total:
            batch = await consumer.getmany(timeout_ms=1000)
            if batch:
                clock.start()
            for records in batch.values():
                if handle is not None:
                    await handle(records)
                clock.count(len(records))
            await consumer.commit()
    finally:
        await consumer.stop()
    return clock.rate()


def _ports(db: Any) -> tuple[Any, ...]:
    """Distribution's ports as bootstrap builds them (no relay: the benchmark publishes
    nothing of its own)."""

    def notify(_: str, __: Any) -> None:
        return None

    warehouses = MongoWarehouseView(db[mongo_views.WAREHOUSES])
    stock = MongoStockView(db[mongo_views.STOCK])
    needs = MongoNeedsView(db[mongo_views.NEEDS])
    plans = PlanHandlers(
        plans=MongoPlanRepository(db[mongo_plans.PLANS], notify),
        coverage=MongoCoverageRepository(db[mongo_plans.COVERAGE], notify),
        warehouses=warehouses,
        stock=stock,
        needs=needs,
    )
    gaps = GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), gap_view(db))
    alerts = MongoStockAlerts(db[mongo_alerts.STOCK_ALERTS], db[mongo_views.STOCK])
    return warehouses, stock, needs, plans, gaps, alerts


def _counted(
    handlers: Mapping[str, Handler], batches: Mapping[str, BatchHandler], clock: Clock
) -> tuple[dict[str, Handler], dict[str, BatchHandler]]:
    def one(handler: Handler) -> Handler:
        async def handle(event: CloudEvent) -> Applied:
            clock.start()
            outcome = await handler(event)
            clock.count(1)
            return outcome

        return handle

    def many(handler: BatchHandler) -> BatchHandler:
        async def handle(events: Sequence[CloudEvent]) -> Sequence[Applied]:
            clock.start()
            outcomes = await handler(events)
            clock.count(len(events))
            return outcomes

        return handle

    # One wrapper per handler (not per type): the types of one batch handler share its runs.
    wrapped = {id(h): many(h) for h in batches.values()}
    return (
        {t: one(h) for t, h in handlers.items()},
        {t: wrapped[id(h)] for t, h in batches.items()},
    )


async def consume_service(
    bootstrap: str, namespace: str, db: Any, total: int, batched: bool
) -> float:
    """Events per second through distribution's own consumer and handlers."""
    clock = Clock(total)
    ports = _ports(db)
    singles = subscriptions(*ports)
    batches = batch_subscriptions(*ports) if batched else {}
    handlers, batch_handlers = _counted(singles, _one_each(batches), clock)
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    dead_letters = EventProducer(kafka, "bench-dead-letters")
    await dead_letters.start()
    runner = ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=namespace,
        handlers=handlers,
        dead_letters=dead_letters,
        client_id="bench",
        batch_handlers=batch_handlers,
    )
    task = asyncio.create_task(runner.run())
    try:
        await clock.ended.wait()
        rate = clock.rate()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await dead_letters.stop()
    return rate


def _one_each(batches: Mapping[str, BatchHandler]) -> dict[str, BatchHandler]:
    """The batch handlers with equal ones made the same object (so they share one wrapper)."""
    kept: list[BatchHandler] = []
    out = {}
    for event_type, handler in batches.items():
        same = next((k for k in kept if k == handler), None)
        if same is None:
            kept.append(handler)
            same = handler
        out[event_type] = same
    return out


async def run(infra: Any, needs: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, namespace)
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    topics = [STOCK_EVENTS.qualified(namespace), NEEDS_EVENTS.qualified(namespace)]
    dbs = {mode: client[f"{namespace}_{mode}"] for mode in ("bare", "batched", "single")}
    bare = dbs["bare"]["bare"]

    async def upsert_each(records: list[Any]) -> None:
        for record in records:
            event = CloudEvent.from_bytes(record.value or b"")
            await bare.update_one(
                {"_id": event.subject}, {"$set": {"sequence": event.sequence}}, upsert=True
            )

    try:
        total = await publish(infra.kafka_bootstrap, namespace, backlog(needs))
        boot = infra.kafka_bootstrap
        rates = {
            "raw": await consume_raw(boot, topics, total),
            "reference": await consume_raw(boot, topics, total, upsert_each),
            "consumer": await consume_service(boot, namespace, dbs["batched"], total, True),
        }
        # A second group of the same service reads the topics again: a namespace of its own.
        single = f"{namespace}s"
        await ensure_topics(boot, single)
        await publish(boot, single, backlog(needs))
        rates["consumer_one_by_one"] = await consume_service(
            boot, single, dbs["single"], total, False
        )
    finally:
        for db in dbs.values():
            await client.drop_database(db.name)
        await client.close()
    reference = rates["reference"]
    return {
        "benchmark": "catch_up",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "needs": needs,
        "events": total,
        **{f"{mode}_events_per_s": round(rate, 1) for mode, rate in rates.items()},
        "ratio_consumer_to_reference": round(rates["consumer"] / reference, 2),
        "ratio_consumer_one_by_one_to_reference": round(
            rates["consumer_one_by_one"] / reference, 2
        ),
        "ratio_consumer_to_one_by_one": round(rates["consumer"] / rates["consumer_one_by_one"], 2),
        "ratio_reference_to_raw": round(reference / rates["raw"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=2000)
    args = parser.parse_args()
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra, args.needs))
    finally:
        stop()
    out = save("catch_up", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
