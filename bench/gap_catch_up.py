"""How fast distribution's needs views (the needs view, the gap documents and their cells, ADR
0027) catch up on a backlog, against a bare loop over the same topic, in one run.

    uv run python -m bench.gap_catch_up [--needs 2000]

A backlog of needs events (every need submitted, then half of them planned) is published to
the needs topic; then, from the beginning of the topic, with the same Kafka consumer settings:
- the views: every record through `DistributionEvents.on_need`, the handler the service's
  consumer runs (the needs view, then the gap document and its cells), one event at a time;
- the reference: a bare loop that upserts one document per event (its id and sequence).
The report gives events per second of each and the ratio views / reference, written as JSON to
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
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
from tests.support.infra import start_infra

RESULTS = Path(__file__).resolve().parent / "results"
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
    infra: Any, namespace: str, total: int, handle: Callable[[CloudEvent], Awaitable[Any]]
) -> float:
    """Events per second through `handle`, from the beginning of the topic to `total`."""
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
                for record in records:
                    await handle(CloudEvent.from_bytes(record.value or b""))
                    done += 1
            await consumer.commit()
    finally:
        await consumer.stop()
    return done / (time.perf_counter() - started)


async def run(infra: Any, needs: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, namespace)
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    db = client[f"{namespace}_kitflow_distribution"]
    try:
        total = await _publish(infra, namespace, needs)
        gaps = GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), gap_view(db))
        context = EventContext.new()
        for code, category in ITEMS.items():
            state = ItemState(code=code, name_en=code, name_fr=code, category=category, unit="u")
            await gaps.item_changed(
                ITEM_REGISTERED.new(state, subject=f"item/{code}", sequence=1, context=context)
            )
        needs_view = MongoNeedsView(db[mongo_views.NEEDS])

        async def views(event: CloudEvent) -> None:
            await projections.need_changed(event, needs_view)
            await gaps.need_changed(event)

        bare = db["bare"]

        async def reference(event: CloudEvent) -> None:
            await bare.update_one(
                {"_id": event.subject}, {"$set": {"sequence": event.sequence}}, upsert=True
            )

        reference_rate = await _consume(infra, namespace, total, reference)
        views_rate = await _consume(infra, namespace, total, views)
    finally:
        await client.drop_database(db.name)
        await client.close()
    return {
        "benchmark": "gap_catch_up",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "needs": needs,
        "events": total,
        "views_events_per_s": round(views_rate, 1),
        "reference_events_per_s": round(reference_rate, 1),
        "ratio_views_to_reference": round(views_rate / reference_rate, 2),
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
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"gap_catch_up-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
