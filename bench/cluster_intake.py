"""Cluster mode: intake through the front of `make run-cluster` against intake through the one
gateway of the one-process stack (`make run`), the same workload in the same run.

    uv run python -m bench.run cluster_intake [--needs 400] [--concurrency 32] [--rounds 3]

Both stacks run at once (bench.stack: three brokers with three replicas a topic, two instances
of each service and the round-robin front; one broker and one instance of each), each with its
demo operation, the store in memory. The load is bench.gateway_needs's: POST /v1/needs as the
demo NRC partner with an Idempotency-Key, `--concurrency` at once; the two stacks take turns in
slices within each round (as bench.gateway_intake does), so both meet the same machine load.
The ratio cluster / one-process (median over rounds, round 0 a warm-up) says what the second
instance of everything buys. Issue 17's aim: at least 1.6 on a machine with the cores for it;
on a small machine the two stacks share the same cores, so the cluster's extra processes (and
the idle stack beside the measured one) are paid for, not spread. Written as JSON to
bench/results/cluster_intake.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.gateway_needs import alternating_round
from bench.machine import finish, snapshot
from bench.stack import PARTNER, Stack, sign_in

RESULTS = Path(__file__).resolve().parent / "results"
AIM = 1.6
SLICES = 4


async def measure(
    stacks: dict[str, Stack], needs: int, concurrency: int, rounds: int
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in stacks}
    limits = httpx.Limits(max_connections=2 * concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        paths = {
            name: (f"{stack.url}/v1/needs", await sign_in(client, stack.url, PARTNER))
            for name, stack in stacks.items()
        }
        for r in range(rounds + 1):  # round 0 warms both up and is not counted
            rate = await alternating_round(client, paths, r * 2 * needs, needs, concurrency, SLICES)
            shown = "   ".join(f"{name} {value:7.1f}/s" for name, value in rate.items())
            print(f"round {r}: {shown}{'' if r else '   (warm-up)'}", flush=True)
            if r:
                for name, value in rate.items():
                    rates[name].append(round(value, 1))
    return rates


async def run(needs: int, concurrency: int, rounds: int) -> dict[str, Any]:
    machine = snapshot()
    stacks = {"one_process": Stack("one-process"), "cluster": Stack("cluster")}
    try:
        for stack in stacks.values():
            await asyncio.to_thread(stack.start)
        rates = await measure(stacks, needs, concurrency, rounds)
    finally:
        for stack in stacks.values():
            await asyncio.to_thread(stack.stop)
    ratios = [c / o for c, o in zip(rates["cluster"], rates["one_process"], strict=True)]
    return {
        "benchmark": "cluster_intake",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": finish(machine),
        "cpus": os.cpu_count(),
        "needs_per_round": needs,
        "concurrency": concurrency,
        "rounds": rounds,
        "cluster_per_s": rates["cluster"],
        "one_process_per_s": rates["one_process"],
        "cluster_median_per_s": statistics.median(rates["cluster"]),
        "one_process_median_per_s": statistics.median(rates["one_process"]),
        "ratio_median": round(statistics.median(ratios), 3),
        "aim": AIM,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--needs", type=int, default=400, help="per round and stack")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.needs, args.concurrency, args.rounds))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "cluster_intake.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
