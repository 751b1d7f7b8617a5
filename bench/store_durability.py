"""What a durable acknowledgement costs the on-disk store: writes a second, durable vs deferred.

    uv run python -m bench.store_durability [--writes 1000] [--concurrency 16] [--rounds 5] \\
        [--slices 10]

Three on-disk (H2) stores run side by side on their own ports and folders, one per durability
of kitflow-store (`KITFLOW_STORE_DURABILITY`): `deferred`, the library's own behaviour (the
write is committed by a background thread within about a second: the reference, and what the
store did before issue 12), `write` (in the file before the answer) and `fsync` (in the file
and forced to the disk before the answer: the default). Each round runs the same writes on all
three, taking turns in slices (`--slices` a round, each starting with another store),
so every figure comes from the same sitting and a change of the machine's load falls on all
three alike:

- one writer, each write awaited before the next (the latency a single request sees);
- `--concurrency` writers at once (several services and requests; concurrent writes can share a
  commit and a flush).

The writes are the services' kind, alternating: an insert of a ~1 KB aggregate with its outbox
entry, and the conditional `update_one` (`$inc` of the balance and the sequence, `$push` of an
outbox entry) that every command makes. The report gives writes a second (median of the rounds)
and the ratio of each durable setting to the deferred reference (the median of the rounds'
ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from bench.saving import save
from tests.support.store_process import OnDiskStore

DURABILITIES = ("deferred", "write", "fsync")
REFERENCE = "deferred"

Document = dict[str, Any]
PADDING = "x" * 900


async def _insert_then_update(collection: AsyncCollection[Document], n: int) -> None:
    """Two writes: a new aggregate, then the conditional update a command makes to it."""
    await collection.insert_one(
        {
            "_id": f"a{n}",
            "on_hand": 0,
            "sequence": 1,
            "note": PADDING,
            "outbox": [{"type": "registered", "sequence": 1}],
        }
    )
    result = await collection.update_one(
        {"_id": f"a{n}", "sequence": 1, "on_hand": {"$gte": 0}},
        {"$inc": {"on_hand": 10, "sequence": 1}, "$push": {"outbox": {"type": "received"}}},
    )
    assert result.modified_count == 1


async def _seconds(
    collection: AsyncCollection[Document], aggregates: range, concurrency: int
) -> float:
    """The time `concurrency` writers take to create and update `aggregates` between them."""

    async def writer(k: int) -> None:
        for n in aggregates[k::concurrency]:
            await _insert_then_update(collection, n)

    started = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(concurrency)))
    return time.perf_counter() - started


LOADS = ("one_writer", "concurrent")


async def run(
    stores: dict[str, OnDiskStore], writes: int, concurrency: int, rounds: int, slices: int
) -> Any:
    clients = {name: AsyncMongoClient[Document](s.url, tz_aware=True) for name, s in stores.items()}
    rates: dict[str, dict[str, list[float]]] = {
        name: {load: [] for load in LOADS} for name in stores
    }
    names = list(clients)
    per_slice = writes // 2 // slices
    try:
        for r in range(rounds + 1):  # round 0 warms every store up and is not counted
            spent = {name: dict.fromkeys(LOADS, 0.0) for name in names}
            # The stores take turns in small slices (each slice starting with another store),
            # so a change in the machine's load falls on all of them alike.
            for i in range(slices):
                aggregates = range(i * per_slice, (i + 1) * per_slice)
                for name in names[i % len(names) :] + names[: i % len(names)]:
                    db = clients[name]["bench"]
                    spent[name]["one_writer"] += await _seconds(db[f"one_{r}"], aggregates, 1)
                    spent[name]["concurrent"] += await _seconds(
                        db[f"many_{r}"], aggregates, concurrency
                    )
            for name in names:
                one, many = (2 * per_slice * slices / spent[name][load] for load in LOADS)
                if r:
                    rates[name]["one_writer"].append(one)
                    rates[name]["concurrent"].append(many)
                print(
                    f"round {r} {name:<8}: one writer {one:8.1f}/s   "
                    f"{concurrency} writers {many:8.1f}/s{'' if r else '   (warm-up)'}",
                    flush=True,
                )
    finally:
        for client in clients.values():
            await client.close()
    medians = {
        name: {load: round(statistics.median(values), 1) for load, values in loads.items()}
        for name, loads in rates.items()
    }
    # The ratio of each round (the stores ran side by side in it), then the median of those:
    # steadier than a ratio of medians on a machine whose load changes between rounds.
    ratios = {
        name: {
            load: round(
                statistics.median(
                    mine / reference
                    for mine, reference in zip(values, rates[REFERENCE][load], strict=True)
                ),
                3,
            )
            for load, values in loads.items()
        }
        for name, loads in rates.items()
        if name != REFERENCE
    }
    return {
        "benchmark": "on-disk store writes a second: durable acknowledgement vs deferred commit",
        "date": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "writes_per_round": writes,
        "concurrency": concurrency,
        "rounds": rounds,
        "slices_per_round": slices,
        "writes_per_s": rates,
        "median_writes_per_s": medians,
        "median_ratio_to_deferred": ratios,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slices", type=int, default=10)
    args = parser.parse_args()
    if args.writes % (2 * args.slices):
        parser.error("--writes must be a multiple of 2 x --slices (an insert and an update each)")
    with tempfile.TemporaryDirectory(prefix="kitflow-bench-store-") as folder:
        stores = {
            name: OnDiskStore(Path(folder) / name, KITFLOW_STORE_DURABILITY=name)
            for name in DURABILITIES
        }
        try:
            for store in stores.values():
                store.start()
            result = asyncio.run(
                run(stores, args.writes, args.concurrency, args.rounds, args.slices)
            )
        finally:
            for store in stores.values():
                store.stop()
    out = save("store_durability", result)
    for name, loads in result["median_ratio_to_deferred"].items():
        medians = result["median_writes_per_s"]
        print(
            f"{name}: one writer {medians[name]['one_writer']}/s against deferred "
            f"{medians[REFERENCE]['one_writer']}/s (ratio {loads['one_writer']}); "
            f"{args.concurrency} writers {medians[name]['concurrent']}/s against "
            f"{medians[REFERENCE]['concurrent']}/s (ratio {loads['concurrent']})"
        )
    print(f"written to {out}")


if __name__ == "__main__":
    main()
