"""Intake through the gateway against a bare FastAPI endpoint that stores the same need.

    uv run python -m bench.gateway_intake [--needs 600] [--concurrency 16] [--rounds 4]

Both paths run as real processes (uvicorn), against the same store, with the same load from
the same client, interleaved in slices within each round (as bench.gateway_needs does, so both
meet the same machine load and the same store growth):
- gateway: POST /v1/needs with a partner's API key and an Idempotency-Key, through the gateway
  (key, role, rate limit, idempotency claim, audit) to the needs service (validation,
  catalogue, duplicate check, the need with its event in its outbox) and its relay to Kafka;
- bare: POST /v1/needs on bench.bare_intake, a FastAPI endpoint that validates the same body
  with the service's own model and inserts one document.
The ratio gateway / bare (median over rounds) says what the whole intake path keeps of what
the web framework and the store alone give; issue 17's aim is at least 0.5. Written as JSON to
bench/results/gateway_intake.json. The broker and store come from KITFLOW_TEST_* variables,
else they are started as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.gateway_needs import _partner_key, _wait_alive, alternating_round
from bench.machine import finish, snapshot
from tests.support.infra import REPO_ROOT, Infra, start_infra
from tests.support.services import free_port, service_process

RESULTS = Path(__file__).resolve().parent / "results"
AIM = 0.5
SLICES = 6


def _start_bare(infra: Infra, namespace: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "bench.bare_intake:app", "--port", str(port)),
            *("--log-level", "warning", "--no-access-log"),
        ],
        env={
            **os.environ,
            "KITFLOW_BENCH_STORE_URL": infra.store_url,
            "KITFLOW_BENCH_DB": f"{namespace}_bare",
        },
        cwd=REPO_ROOT,
    )


async def _measure(
    infra: Infra, needs: int, concurrency: int, rounds: int
) -> dict[str, list[float]]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    quiet = {"KITFLOW_LOG_LEVEL": "WARNING"}
    needs_service = service_process("needs", infra, namespace, **quiet)
    needs_service.start()
    gateway = service_process(
        "gateway",
        infra,
        namespace,
        KITFLOW_GATEWAY_NEEDS_URL=needs_service.url,
        KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS="1000000",
        **quiet,
    )
    gateway.start()
    bare_port = free_port()
    bare = _start_bare(infra, namespace, bare_port)
    bare_url = f"http://127.0.0.1:{bare_port}"
    rates: dict[str, list[float]] = {"gateway": [], "bare": []}
    try:
        await needs_service.wait_ready()
        await _wait_alive(gateway.url)
        await _wait_alive(bare_url)
        key = await _partner_key(gateway.url)
        paths = {
            "gateway": (f"{gateway.url}/v1/needs", {"X-API-Key": key}),
            "bare": (f"{bare_url}/v1/needs", {}),
        }
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            for r in range(rounds + 1):  # round 0 warms both up and is not counted
                rate = await alternating_round(
                    client, paths, r * 2 * needs, needs, concurrency, SLICES
                )
                print(
                    f"round {r}: gateway {rate['gateway']:7.1f}/s   bare {rate['bare']:7.1f}/s"
                    f"{'' if r else '   (warm-up)'}",
                    flush=True,
                )
                if r:
                    for path, value in rate.items():
                        rates[path].append(round(value, 1))
    finally:
        bare.terminate()
        bare.wait(timeout=30)
        gateway.stop()
        needs_service.stop()
    return rates


async def main(
    needs: int, concurrency: int, rounds: int, infra: Infra | None = None, results: Path = RESULTS
) -> dict[str, Any]:
    """Measure, write results/gateway_intake.json and return it; `infra` if already running."""
    machine = snapshot()
    stop_infra = None
    if infra is None:
        infra, stop_infra = start_infra()
    try:
        rates = await _measure(infra, needs, concurrency, rounds)
    finally:
        if stop_infra:
            stop_infra()
    ratios = [g / b for g, b in zip(rates["gateway"], rates["bare"], strict=True)]
    report = {
        "benchmark": "intake through the gateway vs a bare FastAPI endpoint inserting one document",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": finish(machine),
        "store": infra.kind,
        "needs_per_round": needs,
        "concurrency": concurrency,
        "rounds": rounds,
        "gateway_per_s": rates["gateway"],
        "bare_per_s": rates["bare"],
        "gateway_median_per_s": statistics.median(rates["gateway"]),
        "bare_median_per_s": statistics.median(rates["bare"]),
        "ratio_median": round(statistics.median(ratios), 3),
        "aim": AIM,
    }
    _write(results, report)
    return report


def _write(results: Path, report: dict[str, Any]) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / "gateway_intake.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    result = asyncio.run(main(args.needs, args.concurrency, args.rounds))
    print(f"gateway {result['gateway_median_per_s']:7.1f} needs/s (median)")
    print(f"bare    {result['bare_median_per_s']:7.1f} needs/s (median)")
    print(f"ratio   {result['ratio_median']:.2f}  (aim: >= {AIM})")
