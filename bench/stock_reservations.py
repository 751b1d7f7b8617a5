"""Reservations per second through the stock service, against a bare reference, in one run.

    uv run python -m bench.stock_reservations [--reservations 2000] [--concurrency 32] [--rounds 3]

- service: POST /v1/warehouses/{code}/reservations on a real stock service process (uvicorn,
  identity check, validation, the per-warehouse writer, the outbox event, the ledger-free
  reservation path), all reservations on ONE warehouse and ONE item: the contended case;
- reference: a minimal endpoint, served the same way (uvicorn, one process), that does one bare
  conditional `update_one` (`available >= 1`, `$inc`) on a document in the same store.

Both get the same load (the same number of requests, the same concurrency, from the same
client), alternately, `--rounds` times; the report gives requests/s (median) of each and the
ratio service / reference, and is written as JSON to bench/results/. The broker and store come
from KITFLOW_TEST_* variables, else they are started as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kitflow_shared.web.identity import Role

from tests.support.infra import REPO_ROOT, Infra, start_infra
from tests.support.services import free_port, identity, service_process, signed_by

RESULTS = Path(__file__).resolve().parent / "results"
ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)

REFERENCE_APP = """
import os
from fastapi import FastAPI, HTTPException
from pymongo import AsyncMongoClient

client = AsyncMongoClient(os.environ["STORE_URL"])
balances = client[os.environ["DB"]]["balances"]
app = FastAPI()

@app.post("/reserve/{line_id}")
async def reserve(line_id: str) -> dict[str, str]:
    result = await balances.update_one(
        {"_id": "REF", "available": {"$gte": 1}}, {"$inc": {"available": -1, "reserved": 1}}
    )
    if not result.modified_count:
        raise HTTPException(409, "not enough stock")
    return {"line_id": line_id, "status": "active"}
"""


async def _wait(url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def _load(
    client: httpx.AsyncClient, urls: list[tuple[str, dict[str, Any]]], concurrency: int
) -> float:
    """Send every request with at most `concurrency` in flight; return requests per second."""
    queue = iter(urls)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for url, body in queue:
            response = await client.post(url, json=body)
            if response.status_code not in (200, 201):
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return len(urls) / elapsed


async def main(reservations: int, concurrency: int, rounds: int) -> dict[str, Any]:
    infra, stop_infra = start_infra()
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    stock = service_process("stock", infra, namespace, KITFLOW_LOG_LEVEL="WARNING")
    reference_port = free_port()
    reference = _start_reference(infra, namespace, reference_port)
    stock.start()
    try:
        await stock.wait_ready()
        await _wait(f"http://127.0.0.1:{reference_port}/docs")
        await _seed(stock.url, infra, namespace, total_units=reservations * rounds * 2)
        service_rates, reference_rates = await _measure(
            stock.url, f"http://127.0.0.1:{reference_port}", reservations, concurrency, rounds
        )
    finally:
        stock.stop()
        reference.terminate()
        reference.wait(10)
        stop_infra()
    report = {
        "benchmark": "stock reservations through the service vs a bare conditional update_one",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": infra.kind,
        "reservations_per_round": reservations,
        "concurrency": concurrency,
        "rounds": rounds,
        "service_per_s": service_rates,
        "reference_per_s": reference_rates,
        "service_median_per_s": statistics.median(service_rates),
        "reference_median_per_s": statistics.median(reference_rates),
        "ratio_median": statistics.median(
            s / r for s, r in zip(service_rates, reference_rates, strict=True)
        ),
    }
    (RESULTS / "stock_reservations.json").write_text(json.dumps(report, indent=2))
    return report


def _start_reference(infra: Infra, namespace: str, port: int) -> subprocess.Popen[bytes]:
    """The reference endpoint (REFERENCE_APP) under uvicorn, on its own database."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_reference.py").write_text(REFERENCE_APP)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_reference:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={
            **os.environ,
            "STORE_URL": infra.store_url,
            "DB": f"{namespace}_reference",
            "PYTHONPATH": str(RESULTS),
        },
        cwd=REPO_ROOT,
    )


async def _seed(stock_url: str, infra: Infra, namespace: str, *, total_units: int) -> None:
    """One warehouse and one item with enough stock for every round, in both systems."""
    async with httpx.AsyncClient(base_url=stock_url, auth=signed_by(ADMIN), timeout=30) as c:
        for path, body in [
            (
                "/v1/warehouses",
                {
                    "code": "BKO-MAIN",
                    "name": "Bamako",
                    "organisation": "IOM",
                    "type": "main",
                    "admin1_pcode": "ML09",
                    "admin2_pcode": "ML0901",
                },
            ),
            (
                "/v1/items",
                {
                    "code": "KIT-NFI",
                    "name_en": "NFI kit",
                    "name_fr": "Kit BNA",
                    "category": "nfi",
                    "unit": "kit",
                },
            ),
            (
                "/v1/warehouses/BKO-MAIN/receipts",
                {
                    "grn_number": "GRN-BENCH",
                    "source": "bench",
                    "lines": [{"item_code": "KIT-NFI", "quantity": total_units}],
                },
            ),
        ]:
            response = await c.post(path, json=body)
            response.raise_for_status()
    from pymongo import AsyncMongoClient

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.store_url)
    await mongo[f"{namespace}_reference"]["balances"].insert_one(
        {"_id": "REF", "available": total_units, "reserved": 0}
    )
    await mongo.close()


async def _measure(
    stock_url: str, reference_url: str, reservations: int, concurrency: int, rounds: int
) -> tuple[list[float], list[float]]:
    """Requests per second of the service and of the reference, round by round, alternately."""
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    service_rates: list[float] = []
    reference_rates: list[float] = []
    async with httpx.AsyncClient(auth=signed_by(COORDINATOR), timeout=60, limits=limits) as client:
        for r in range(rounds + 1):  # round 0 warms both up and is not counted
            lines = [f"R{r}L{i}" for i in range(reservations)]
            service_urls = [
                (
                    f"{stock_url}/v1/warehouses/BKO-MAIN/reservations",
                    {
                        "line_id": line,
                        "plan_id": f"BENCH{r}",
                        "item_code": "KIT-NFI",
                        "quantity": 1,
                        "mode": "all-or-nothing",
                        "expires_at": expires,
                    },
                )
                for line in lines
            ]
            reference_urls: list[tuple[str, dict[str, Any]]] = [
                (f"{reference_url}/reserve/{line}", {}) for line in lines
            ]
            service = await _load(client, service_urls, concurrency)
            ref = await _load(client, reference_urls, concurrency)
            if r:
                service_rates.append(service)
                reference_rates.append(ref)
            print(
                f"round {r}: service {service:8.1f}/s   reference {ref:8.1f}/s"
                f"{'' if r else '   (warm-up)'}",
                flush=True,
            )
    return service_rates, reference_rates


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reservations", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(main(args.reservations, args.concurrency, args.rounds))
    print(f"service   {result['service_median_per_s']:8.1f} reservations/s (median)")
    print(f"reference {result['reference_median_per_s']:8.1f} reservations/s (median)")
    print(f"ratio     {result['ratio_median']:.2f}  (aim: >= 0.6)")
