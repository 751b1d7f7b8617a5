"""Distribution's catch-up in cluster mode: bench.catch_up's backlog on three brokers, consumed by
two distribution consumers in one consumer group (two processes, as two replicas), against the
bare per-event loop and the raw consume on the same cluster, in one run (issue #17).

    uv run python -m bench.run catch_up_cluster [--needs 2000]

The brokers and the store are `make run-cluster`'s (bench.kafka_cluster: three KRaft nodes, the
topics with three replicas and `min.insync.replicas` 2, acks=all; the store in memory). The
backlog of bench.catch_up is published once per consumer group of the service (a group's name
comes from its namespace). Then, one after the other, each mode with a group of its own:
- raw and reference: bench.catch_up's plain aiokafka consumer, without and with the bare loop's
  one upsert per event; one process (the bench's), as in the one-process bench;
- one consumer: distribution's `ConsumerRunner` with its subscriptions and batch subscriptions
  in one process of its own: the one-process figure, on the cluster's brokers;
- two consumers: the same in two processes, started together, in one group and one database.

How the two share the work: the group spreads the partitions of the topics it reads (six each
for stock, needs and distribution events, the last empty here; aiokafka's round robin gives
each member three of each) between its two members; each event goes to its aggregate's
partition (a need, a warehouse, an item), so each member gets about half the events, and the
partitions, not the processes, bound the spread (six members at most); each member's share is
written beside the rates. Both processes start at once, but the broker forms the group as soon
as the first joins (`group.initial.rebalance.delay.ms` 0 here): the first may consume alone
until the second's join rebalances the group. So the two-consumer
rate is given twice: from the first record handled to the last (the rebalance included, what
two replicas starting on a backlog give), and from the moment both handle records (the
steady rate of the pair). Ratios: each against the bare loop (issue 17's aim: at least 2), and
two consumers against one. On the 2-core machine the two consumers, the three brokers and the
store share two cores: the second process can only use what the first leaves idle (waiting on
the broker and the store). Written as JSON to bench/results/catch_up_cluster-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from multiprocessing.synchronize import Event
from typing import Any

from kitflow_distribution.consumers import batch_subscriptions, subscriptions
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, NEEDS_EVENTS, STOCK_EVENTS, ensure_topics
from pymongo import AsyncMongoClient

from bench.catch_up import Clock, _counted, _one_each, _ports, backlog, consume_raw, publish
from bench.kafka_cluster import REPLICATION, start_cluster_infra
from bench.saving import save

Document = dict[str, Any]
DEADLINE_S = 3600.0


@dataclass
class Tally:
    """What the consumer processes count, in memory they share with the bench: records handled
    in all, by each, and when (time.monotonic: one clock for every process of the machine)."""

    done: Synchronized[int]
    last: Synchronized[float]
    mine: SynchronizedArray[int]
    first: SynchronizedArray[float]  # 0: none handled yet
    done_before_first: SynchronizedArray[int]  # the total handled when this one began

    @classmethod
    def new(cls, ctx: SpawnContext, members: int) -> Tally:
        return cls(
            done=ctx.Value("q", 0),
            last=ctx.Value("d", 0.0),
            mine=ctx.Array("q", members),
            first=ctx.Array("d", members),
            done_before_first=ctx.Array("q", members),
        )


class SharedClock(Clock):
    """bench.catch_up's clock, counting into the tally of all the group's processes."""

    def __init__(self, tally: Tally, member: int) -> None:
        super().__init__(total=0)
        self.tally, self.member = tally, member

    def start(self) -> None:
        if self.tally.first[self.member] == 0.0:
            with self.tally.done.get_lock():
                self.tally.first[self.member] = time.monotonic()
                self.tally.done_before_first[self.member] = self.tally.done.value

    def count(self, records: int) -> None:
        with self.tally.done.get_lock():
            self.tally.done.value += records
            self.tally.mine[self.member] += records
            self.tally.last.value = time.monotonic()


def rates(tally: Tally) -> dict[str, Any]:
    """The group's events per second from its first record to its last, and from the moment
    every member that handled records had begun (the events handled before it left out); a
    member the group gave nothing (the others done first) is counted in `members_handling`."""
    firsts = tally.first[:]
    handling = [m for m, first in enumerate(firsts) if first > 0.0]
    last, done = tally.last.value, tally.done.value
    latest = max(handling, key=lambda m: firsts[m])
    steady = done - tally.done_before_first[latest]
    return {
        "events_per_s": round(done / (last - min(firsts[m] for m in handling)), 1),
        "all_members_events_per_s": round(steady / (last - firsts[latest]), 1),
        "events_before_all_members": done - steady,
        "members_handling": len(handling),
        "share_per_member": [round(m / done, 3) for m in tally.mine[:]],
    }


@dataclass(frozen=True)
class Member:
    """One consumer process of the group: where it reads and writes, and what it counts into."""

    bootstrap: str
    store_url: str
    namespace: str
    database: str
    tally: Tally
    index: int
    ready: Synchronized[int]  # members set up
    go: Event  # every member set up: they join the group together


def consumer_process(member: Member) -> None:
    """One replica's consumer: distribution's runner over the real views, until terminated."""
    asyncio.run(_consume(member))


async def _consume(member: Member) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(member.store_url, tz_aware=True)
    ports = _ports(client[member.database])
    clock = SharedClock(member.tally, member.index)
    handlers, batches = _counted(
        subscriptions(*ports), _one_each(batch_subscriptions(*ports)), clock
    )
    kafka = KafkaSettings(bootstrap_servers=member.bootstrap)
    dead_letters = EventProducer(kafka, f"bench-dead-letters-{member.index}")
    await dead_letters.start()
    runner = ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=member.namespace,
        handlers=handlers,
        dead_letters=dead_letters,
        client_id=f"bench-{member.index}",
        batch_handlers=batches,
    )
    with member.ready.get_lock():
        member.ready.value += 1
    await asyncio.to_thread(member.go.wait)
    await runner.run()


async def consume_group(
    ctx: SpawnContext, infra: Any, namespace: str, database: str, total: int, members: int
) -> dict[str, Any]:
    """`members` consumer processes in one group until they handled `total` records."""
    tally = Tally.new(ctx, members)
    ready, go = ctx.Value("q", 0), ctx.Event()
    processes: list[SpawnProcess] = [
        ctx.Process(
            target=consumer_process,
            args=(
                Member(
                    infra.kafka_bootstrap, infra.store_url, namespace, database, tally, m, ready, go
                ),
            ),
            daemon=True,
        )
        for m in range(members)
    ]
    for process in processes:
        process.start()
    try:
        await _until(lambda: ready.value == members, processes)
        go.set()
        await _until(lambda: tally.done.value >= total, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(10)
    return rates(tally)


async def _until(condition: Callable[[], bool], processes: list[SpawnProcess]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if not all(p.is_alive() for p in processes) or time.monotonic() > deadline:
            raise RuntimeError("a consumer process ended, or the deadline passed")
        await asyncio.sleep(0.05)


async def run(infra: Any, needs: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    namespaces = {m: f"bench{uuid.uuid4().hex[:8]}" for m in (1, 2)}
    boot = infra.kafka_bootstrap
    events = backlog(needs)
    for namespace in namespaces.values():
        await ensure_topics(boot, namespace, REPLICATION)
        total = await publish(boot, namespace, events)
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    databases = [f"{namespaces[1]}_bare", *(f"{ns}_views" for ns in namespaces.values())]
    bare = client[databases[0]]["bare"]

    async def upsert_each(records: list[Any]) -> None:
        for record in records:
            subject, sequence = _subject_and_sequence(record.value)
            await bare.update_one({"_id": subject}, {"$set": {"sequence": sequence}}, upsert=True)

    topics = [STOCK_EVENTS.qualified(namespaces[1]), NEEDS_EVENTS.qualified(namespaces[1])]
    try:
        raw = await consume_raw(boot, topics, total)
        reference = await consume_raw(boot, topics, total, upsert_each)
        groups = {
            m: await consume_group(ctx, infra, ns, f"{ns}_views", total, m)
            for m, ns in namespaces.items()
        }
    finally:
        for name in databases:
            await client.drop_database(name)
        await client.close()
    return summary(needs, total, raw, reference, groups[1], groups[2])


def _subject_and_sequence(value: bytes | None) -> tuple[str | None, int | None]:
    event = CloudEvent.from_bytes(value or b"")
    return event.subject, event.sequence


def summary(
    needs: int,
    total: int,
    raw: float,
    reference: float,
    one: dict[str, Any],
    two: dict[str, Any],
) -> dict[str, Any]:
    return {
        "benchmark": "catch_up_cluster",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "brokers": 3,
        "replication_factor": REPLICATION,
        "min_insync_replicas": 2,
        "partitions_per_topic": STOCK_EVENTS.partitions,
        "needs": needs,
        "events": total,
        "raw_events_per_s": round(raw, 1),
        "reference_events_per_s": round(reference, 1),
        "one_consumer_events_per_s": one["events_per_s"],
        "two_consumers_events_per_s": two["events_per_s"],
        "two_consumers_both_running_events_per_s": two["all_members_events_per_s"],
        "two_consumers_events_before_both_running": two["events_before_all_members"],
        "two_consumers_share": two["share_per_member"],
        "two_consumers_handling": two["members_handling"],
        "ratio_two_consumers_to_reference": round(two["events_per_s"] / reference, 2),
        "ratio_two_consumers_both_running_to_reference": round(
            two["all_members_events_per_s"] / reference, 2
        ),
        "ratio_one_consumer_to_reference": round(one["events_per_s"] / reference, 2),
        "ratio_two_consumers_to_one": round(two["events_per_s"] / one["events_per_s"], 2),
        "ratio_reference_to_raw": round(reference / raw, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--needs", type=int, default=2000, help="the backlog's size (bench.catch_up)"
    )
    args = parser.parse_args()
    infra, stop = start_cluster_infra()
    try:
        result = asyncio.run(run(infra, args.needs))
    finally:
        stop()
    out = save("catch_up_cluster", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
