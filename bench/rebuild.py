"""The time to rebuild every distribution view from 100,000 events (`python -m
kitflow_distribution.rebuild`), against the raw consume of the same events, in one run.

    uv run python -m bench.rebuild [--events 100000] [--cluster]

The backlog of `bench.catch_up` (the catalogue, warehouses, receipts with their balances, needs
submitted and covered), sized to `--events`, is published to the stock and needs topics; then,
same run: a plain aiokafka consumer reads every event (no store: the reference), and
`rebuild_views` drops and rebuilds the warehouse, stock, needs, item and gap views and the gap
cells from the beginning of the topics into a database of its own. Written as JSON to
bench/results/. The broker and store come from KITFLOW_TEST_* variables, else they are started
as the tests start them.

`--cluster` (bench.rebuild_cluster): the same on `make run-cluster`'s three brokers
(bench.kafka_cluster: the topics with three replicas, `min.insync.replicas` 2, acks=all; the
store in memory as in the tests), the reference measured on the same cluster. The rebuild is one
process by design, in both modes: it reads every partition itself, without a consumer group
(nothing of the live consumer's group is moved), after dropping the views once; in cluster
mode what differs is the broker side (fetches from partition leaders spread over three brokers,
every topic written with three replicas).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kitflow_distribution.rebuild import rebuild_views
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS, ensure_topics
from pymongo import AsyncMongoClient

from bench.catch_up import WAREHOUSES, backlog, consume_raw, publish
from bench.gaps import ITEMS
from bench.kafka_cluster import REPLICATION, start_cluster_infra
from bench.saving import save
from tests.support.infra import start_infra

Document = dict[str, Any]


def needs_for(events: int) -> int:
    """The backlog holds two events per need (a need and a half, a receipt per two needs),
    besides the catalogue and the warehouses."""
    return max(1, (events - len(ITEMS) - 2 * WAREHOUSES) // 2)


async def run(infra: Any, events: int, cluster: bool = False) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, namespace, REPLICATION if cluster else 1)
    total = await publish(infra.kafka_bootstrap, namespace, backlog(needs_for(events)))
    topics = [STOCK_EVENTS.qualified(namespace), NEEDS_EVENTS.qualified(namespace)]
    raw_rate = await consume_raw(infra.kafka_bootstrap, topics, total)
    raw_s = total / raw_rate
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    db = client[f"{namespace}_rebuild"]
    try:
        started = time.perf_counter()
        report = await rebuild_views(db, infra.kafka_bootstrap, namespace)
        rebuild_s = time.perf_counter() - started
        gaps = await db["gap_view"].count_documents({})
    finally:
        await client.drop_database(db.name)
        await client.close()
    return {
        "benchmark": "rebuild_cluster" if cluster else "rebuild",
        "mode": "cluster" if cluster else "one-process",
        "brokers": 3 if cluster else 1,
        "replication_factor": REPLICATION if cluster else 1,
        "rebuild_processes": 1,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "events": total,
        "records_replayed": report.records,
        "applied": report.applied,
        "needs_in_gap_view": gaps,
        "rebuild_s": round(rebuild_s, 1),
        "rebuild_events_per_s": round(total / rebuild_s, 1),
        "raw_consume_s": round(raw_s, 2),
        "raw_events_per_s": round(raw_rate, 1),
        "ratio_rebuild_to_raw_time": round(rebuild_s / raw_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cluster", action="store_true", help="on make run-cluster's brokers")
    args = parser.parse_args()
    infra, stop = start_cluster_infra() if args.cluster else start_infra()
    try:
        result = asyncio.run(run(infra, args.events, args.cluster))
    finally:
        stop()
    out = save(result["benchmark"], result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
