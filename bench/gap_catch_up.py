"""How fast distribution's needs views (the needs view, the gap documents and their cells, ADR
0027) catch up on a backlog, against a bare loop over the same topic, in one run.

    uv run python -m bench.gap_catch_up [--needs 2000]

A backlog of needs events (every need submitted, then half of them planned) is published to
the needs topic; then, from the beginning of the topic, with the same Kafka consumer settings:
- the views: every record through `DistributionEvents.on_need` (the needs view, then the gap
  document and its cells), one event at a time, as before ADR 0033;
- the views batched: each poll's records of a partition through `DistributionEvents.on_needs`,
  the batch handler the service's consumer runs (ADR 0033, 0034: the needs view in one bulk
  write, the poll's gap documents in one more, their cells in one per kind);
- the needs view alone, one by one and batched: what batching gives where it applies whole;
- the reference: a bare loop that upserts one document per event (its id and sequence).
Each mode writes into a database of its own (a later mode must not find the work done). The
report gives events per second of each and the ratios to the reference, written as JSON to
bench/results/. The broker and store come from KITFLOW_TEST_* variables, else they are started
as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from kitflow_distribution.adapters import mongo_gaps, mongo_views
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.adapters.mongo_views import MongoNeedsView
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ItemState
from kitflow_shared.contracts.needs import NEED_COVERAGE_CHANGED, NEED_SUBMITTED, need_subject
from kitflow_shared.events import EventContext
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import NEEDS_EVENTS, ensure_topics
from pymongo import AsyncMongoClient

from bench.gaps import ITEMS, _covered, _needs
from bench.saving import save
from tests.support.infra import start_infra

Document = dict[str, Any]


async def _publish(infra: Any, namespace: str, count: int) -> int:
    rng = random.Random(27)
    context = EventContext.new()
    events = []
    for n, need in enumerate(_needs(count, rng)):
        subject = need_subject(need.need_id)
        events.append(NEED_SUBMITTED.new(need, subject=subject, sequence=1, context=context))
        if n % 2:
            covered = _covered(need, rng)
            events.append(
                NEED_COVERAGE_CHANGED.new(covered, subject=subject, sequence=2, context=context)
            )
    producer = EventProducer(KafkaSettings(bootstrap_servers=infra.kafka_bootstrap), "bench")
    await producer.start()
    try:
        await producer.publish(NEEDS_EVENTS.qualified(namespace), events)
    finally:
        await producer.stop()
    return len(events)


async def _consume(
    infra: Any,
    namespace: str,
    total: int,
    handle: Callable[[Sequence[CloudEvent]], Awaitable[Any]],
) -> float:
    """Events per second through `handle` (given each poll's records of one partition), from
    the beginning of the topic to `total`."""
    consumer = AIOKafkaConsumer(
        NEEDS_EVENTS.qualified(namespace),
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    done = 0
    started = time.perf_counter()
    try:
        while done < total:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                await handle([CloudEvent.from_bytes(r.value or b"") for r in records])
                done += len(records)
            await consumer.commit()
    finally:
        await consumer.stop()
    return done / (time.perf_counter() - started)


def _one_by_one(
    handle: Callable[[CloudEvent], Awaitable[Any]],
) -> Callable[[Sequence[CloudEvent]], Awaitable[None]]:
    async def each(events: Sequence[CloudEvent]) -> None:
        for event in events:
            await handle(event)

    return each


async def _gap_projection(db: Any) -> GapProjection:
    gaps = GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), gap_view(db))
    context = EventContext.new()
    for code, category in ITEMS.items():
        state = ItemState(code=code, name_en=code, name_fr=code, category=category, unit="u")
        await gaps.item_changed(
            ITEM_REGISTERED.new(state, subject=f"item/{code}", sequence=1, context=context)
        )
    return gaps


async def _rates(
    infra: Any, namespace: str, total: int, client: AsyncMongoClient[Document]
) -> dict[str, float]:
    def db_of(mode: str) -> Any:
        return client[f"{namespace}_{mode}"]

    bare = db_of("bare")["bare"]

    async def reference(event: CloudEvent) -> None:
        await bare.update_one(
            {"_id": event.subject}, {"$set": {"sequence": event.sequence}}, upsert=True
        )

    gaps = await _gap_projection(db_of("views"))
    needs_view = MongoNeedsView(db_of("views")[mongo_views.NEEDS])

    async def views(event: CloudEvent) -> None:  # `DistributionEvents.on_need`
        await projections.need_changed(event, needs_view)
        await gaps.need_changed(event)

    batched_gaps = await _gap_projection(db_of("batched"))
    batched_needs = MongoNeedsView(db_of("batched")[mongo_views.NEEDS])

    async def views_batched(events: Sequence[CloudEvent]) -> None:  # `.on_needs`
        await projections.needs_changed(events, batched_needs)
        await batched_gaps.needs_changed(events)

    alone = MongoNeedsView(db_of("alone")[mongo_views.NEEDS])
    alone_batched = MongoNeedsView(db_of("alone_batched")[mongo_views.NEEDS])

    async def needs_alone(event: CloudEvent) -> None:
        await projections.need_changed(event, alone)

    async def needs_alone_batched(events: Sequence[CloudEvent]) -> None:
        await projections.needs_changed(events, alone_batched)

    modes: dict[str, Callable[[Sequence[CloudEvent]], Awaitable[Any]]] = {
        "reference": _one_by_one(reference),
        "views": _one_by_one(views),
        "views_batched": views_batched,
        "needs_view": _one_by_one(needs_alone),
        "needs_view_batched": needs_alone_batched,
    }
    try:
        return {mode: await _consume(infra, namespace, total, h) for mode, h in modes.items()}
    finally:
        for mode in ("bare", "views", "batched", "alone", "alone_batched"):
            await client.drop_database(db_of(mode).name)


async def run(infra: Any, needs: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, namespace)
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    try:
        total = await _publish(infra, namespace, needs)
        rates = await _rates(infra, namespace, total, client)
    finally:
        await client.close()
    reference = rates["reference"]
    return {
        "benchmark": "gap_catch_up",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "needs": needs,
        "events": total,
        "views_events_per_s": round(rates["views"], 1),
        "views_batched_events_per_s": round(rates["views_batched"], 1),
        "needs_view_events_per_s": round(rates["needs_view"], 1),
        "needs_view_batched_events_per_s": round(rates["needs_view_batched"], 1),
        "reference_events_per_s": round(reference, 1),
        "ratio_views_to_reference": round(rates["views"] / reference, 2),
        "ratio_views_batched_to_reference": round(rates["views_batched"] / reference, 2),
        "ratio_needs_view_to_reference": round(rates["needs_view"] / reference, 2),
        "ratio_needs_view_batched_to_reference": round(rates["needs_view_batched"] / reference, 2),
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
    out = save("gap_catch_up", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
