"""Receipts and dispatches on ONE warehouse from one stock replica and from two, in one run.

    uv run python -m bench.stock_replicas [--requests 400] [--in-flight 32] [--rounds 2]

Three stock service processes on one broker and store. Each round sends the same load (keyed
receipts and dispatches on one item of one warehouse, tests/support/stock_contention.py) to one
replica alone, then spread over two, then over three, each on a warehouse of its own; it counts
the answers by status (a 409 is a caller told the warehouse "kept changing") and the requests
per second. On a 2-core machine the replicas share the cores with the broker, the store and the
client: the figure to read is the ratio and the 409s, not the absolute rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.infra import start_infra
from tests.support.services import service_process
from tests.support.stock_contention import contend, opening_stock, set_up_warehouse

RESULTS = Path(__file__).resolve().parent / "results"
SPREADS = (1, 2, 3)


async def lost_writes(urls: list[str]) -> float:
    """Writes lost to another replica and re-applied, summed over the replicas' /metrics."""
    total = 0.0
    async with httpx.AsyncClient(timeout=30) as client:
        for url in urls:
            for line in (await client.get(f"{url}/metrics")).text.splitlines():
                if line.startswith("kitflow_write_conflicts_total{") and "retried" in line:
                    total += float(line.rsplit(" ", 1)[1])
    return total


async def main(requests: int, in_flight: int, rounds: int) -> dict[str, Any]:
    infra, stop_infra = start_infra()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    replicas = [
        service_process("stock", infra, namespace, KITFLOW_LOG_LEVEL="WARNING") for _ in SPREADS
    ]
    rates: dict[int, list[float]] = {n: [] for n in SPREADS}
    statuses: dict[int, Counter[int]] = {n: Counter() for n in SPREADS}
    resent: dict[int, int] = dict.fromkeys(SPREADS, 0)
    lost: dict[int, float] = dict.fromkeys(SPREADS, 0.0)
    try:
        for replica in replicas:
            replica.start()
        await asyncio.gather(*(replica.wait_ready(timeout_s=300) for replica in replicas))
        urls = [replica.url for replica in replicas]
        for r in range(rounds):
            for n in SPREADS:
                code = f"WH-{n}-{r}"
                await set_up_warehouse(urls[0], code, opening_stock(requests))
                before = await lost_writes(urls)
                run = await contend(urls[:n], code, requests, in_flight)
                lost[n] += await lost_writes(urls) - before
                rates[n].append(run.requests_per_s)
                statuses[n] += run.statuses
                resent[n] += run.resent
                print(
                    f"round {r}, {n} replica(s): {dict(run.statuses)}, {run.requests_per_s:.1f}/s"
                )
    finally:
        for replica in replicas:
            replica.stop()
        stop_infra()
    report: dict[str, Any] = {
        "benchmark": "keyed receipts and dispatches on one warehouse, one vs several replicas",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": infra.kind,
        "requests_per_round": requests,
        "in_flight": in_flight,
        "rounds": rounds,
        "per_s": {str(n): rates[n] for n in SPREADS},
        "median_per_s": {str(n): statistics.median(rates[n]) for n in SPREADS},
        "ratio_to_one": {
            str(n): statistics.median(rates[n]) / statistics.median(rates[1]) for n in SPREADS
        },
        "statuses": {str(n): dict(statuses[n]) for n in SPREADS},
        "resent_after_a_broken_connection": {str(n): resent[n] for n in SPREADS},
        "writes_lost_to_another_replica_and_retried": {str(n): lost[n] for n in SPREADS},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stock_replicas.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.in_flight, args.rounds)), indent=2))
