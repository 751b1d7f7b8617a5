"""Propagation latency: a receipt posted at the gateway until distribution's stock view shows
it, against a raw produce-consume round trip on the same broker.

    uv run python -m bench.run propagation [--receipts 200] [--cluster] [--poll-ms 1]

The whole stack runs as `make run` starts it (bench.stack; `--cluster`: as `make run-cluster`,
through its front). Measured in the same run, one after the other, taking turns:
- propagation: POST /v1/warehouses/BKO-MAIN/receipts (one unit, an Idempotency-Key) from
  sending the request until distribution's stock view document for that warehouse and item,
  read straight from the store every `--poll-ms`, shows the new quantity on hand (the gateway,
  stock's write with its outbox, the relay, the broker, distribution's consumer, the view);
- reference: an aiokafka producer (acks=all) sends a message of the size of a stock event to a
  topic of the same broker, and a consumer already waiting on it receives it.
p50 and p99 of each, and of the gateway's answer to the receipt (the part of the propagation
before the event leaves stock); the first tenth of each is a warm-up, not counted. Issue 17's
aims: propagation p50 at most 2.5 times the round trip's, p99 at most 5 times. Written as JSON to
bench/results/propagation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from kitflow_shared.topics import STOCK_EVENTS
from pymongo import AsyncMongoClient

from bench.machine import finish, snapshot
from bench.saving import save
from bench.stack import ADMIN, Mode, Stack, sign_in

WAREHOUSE, ITEM = "BKO-MAIN", "KIT-NFI"
AIM_P50, AIM_P99 = 2.5, 5.0
Document = dict[str, Any]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank: p99 of 100 values is the 99th."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class RoundTrip:
    """A producer with acks=all and a consumer already assigned to the end of one partition."""

    def __init__(self, bootstrap: str, replicas: int) -> None:
        self.bootstrap, self.replicas = bootstrap, replicas
        self.topic = f"bench.roundtrip.{uuid.uuid4().hex[:8]}"
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            # As the system's topics: in the cluster three replicas, two in sync to acknowledge.
            config = {"min.insync.replicas": "2"} if self.replicas > 1 else {}
            topic = NewTopic(self.topic, 1, self.replicas, topic_configs=config)
            await admin.create_topics([topic])
        finally:
            await admin.close()
        await self.producer.start()
        await self.consumer.start()
        partition = TopicPartition(self.topic, 0)
        self.consumer.assign([partition])
        await self.consumer.seek_to_end(partition)

    async def once(self, payload: bytes) -> float:
        received = asyncio.ensure_future(self.consumer.getone())
        started = time.perf_counter()
        await self.producer.send_and_wait(self.topic, payload, key=b"bench")
        await received
        return time.perf_counter() - started

    async def stop(self) -> None:
        await self.producer.stop()
        await self.consumer.stop()


async def stock_event_size(bootstrap: str) -> int:
    """The median size of the stock events the receipts produced (the reference's payload)."""
    consumer = AIOKafkaConsumer(
        STOCK_EVENTS.qualified(""),
        bootstrap_servers=bootstrap,
        group_id=f"bench-size-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=5000, max_records=500)
        sizes = [len(r.value or b"") for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return int(statistics.median(sizes)) if sizes else 1024


class Receipts:
    """One-unit receipts through the gateway, each timed until the stock view shows it."""

    def __init__(self, client: httpx.AsyncClient, stack: Stack, poll_s: float) -> None:
        self.client, self.stack, self.poll_s = client, stack, poll_s
        self.store: AsyncMongoClient[Document] = AsyncMongoClient(stack.store_url)
        self.view = self.store["kitflow_distribution"]["stock_view"]
        self.headers: dict[str, str] = {}

    async def on_hand(self) -> int:
        doc = await self.view.find_one({"_id": f"{WAREHOUSE}/{ITEM}"}, {"balance.on_hand": 1})
        return int(doc["balance"]["on_hand"]) if doc else 0

    async def once(self, n: int) -> tuple[float, float]:
        """Seconds until the gateway answered, and until the view showed the receipt."""
        if not self.headers:
            self.headers = await sign_in(self.client, self.stack.url, ADMIN)
        before = await self.on_hand()
        started = time.perf_counter()
        response = await self.client.post(
            f"{self.stack.url}/v1/warehouses/{WAREHOUSE}/receipts",
            json={
                "grn_number": f"GRN-PROP-{uuid.uuid4().hex[:10]}",
                "source": "ECHO",
                "lines": [{"item_code": ITEM, "quantity": 1, "lot": "BENCH-PROP"}],
            },
            headers={**self.headers, "Idempotency-Key": f"bench-prop-{uuid.uuid4().hex}"},
        )
        answered = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"receipt {n}: {response.status_code} {response.text[:300]}")
        deadline = started + 60
        while await self.on_hand() < before + 1:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"receipt {n} not in distribution's stock view after 60 s")
            await asyncio.sleep(self.poll_s)
        return answered, time.perf_counter() - started

    async def close(self) -> None:
        await self.store.close()


async def measure(stack: Stack, receipts: int, poll_s: float) -> dict[str, Any]:
    warm_up = max(3, receipts // 10)
    propagation: list[float] = []
    answered: list[float] = []
    raw: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:
        path = Receipts(client, stack, poll_s)
        try:
            for n in range(warm_up):  # and stock events to size the reference's messages by
                await path.once(n)
            size = await stock_event_size(stack.bootstrap)
            trip = RoundTrip(stack.bootstrap, 3 if stack.mode == "cluster" else 1)
            await trip.start()
            try:
                payload = b"x" * size
                for _ in range(warm_up):
                    await trip.once(payload)
                for n in range(receipts):
                    answer, seen = await path.once(warm_up + n)
                    answered.append(answer)
                    propagation.append(seen)
                    raw.append(await trip.once(payload))
            finally:
                await trip.stop()
        finally:
            await path.close()
    ms = {
        "propagation": [1000 * s for s in propagation],
        "raw": [1000 * s for s in raw],
        # For reading the ratio: how much of the propagation is the gateway's answer.
        "answered": [1000 * s for s in answered],
    }
    figures = {
        f"{name}_{q}_ms": round(percentile(values, p), 2)
        for name, values in ms.items()
        for q, p in (("p50", 50), ("p99", 99))
    }
    return {
        **figures,
        "message_bytes": size,
        "ratio_p50": round(figures["propagation_p50_ms"] / figures["raw_p50_ms"], 2),
        "ratio_p99": round(figures["propagation_p99_ms"] / figures["raw_p99_ms"], 2),
    }


async def run(mode: Mode, receipts: int, poll_ms: float) -> dict[str, Any]:
    machine = snapshot()
    stack = Stack(mode)
    try:
        await asyncio.to_thread(stack.start)
        figures = await measure(stack, receipts, poll_ms / 1000)
    finally:
        await asyncio.to_thread(stack.stop)
    return {
        "benchmark": "propagation",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": finish(machine),
        "mode": mode,
        "receipts": receipts,
        "poll_ms": poll_ms,
        **figures,
        "aim_ratio_p50": AIM_P50,
        "aim_ratio_p99": AIM_P99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--receipts", type=int, default=200)
    parser.add_argument("--poll-ms", type=float, default=1.0)
    parser.add_argument("--cluster", action="store_true", help="as make run-cluster starts it")
    args = parser.parse_args()
    mode: Mode = "cluster" if args.cluster else "one-process"
    result = asyncio.run(run(mode, args.receipts, args.poll_ms))
    name = "propagation" if mode == "one-process" else "propagation_cluster"
    out = save(name, result, stamped=False)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
