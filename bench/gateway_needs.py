"""Creating needs through the gateway against creating them directly on the needs service.

    uv run python -m bench.gateway_needs [--needs 600] [--concurrency 16] [--rounds 4]

Both paths run as real processes (uvicorn), against the same store and broker, with the same
load from the same client, interleaved in slices within each round (the store fills as they
go, and both paths must meet the same growth):
- gateway: POST /v1/needs with a partner's API key: key check, role check, rate limit,
  Idempotency-Key claim, audit entry, then the call to the needs service with a minted identity;
- direct: POST /v1/needs on the needs service with the internal identity header.
Both send an Idempotency-Key (the needs service honours it too), so the service's own work is
the same on both paths and the ratio measures what the gateway adds.
The report gives needs/s (median) of each and the ratio gateway / direct, and is written as JSON
to bench/results/. The broker and store come from KITFLOW_TEST_* variables, else they are
started as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD
from kitflow_shared.web.identity import Role

from tests.support.infra import start_infra
from tests.support.services import identity, service_process

RESULTS = Path(__file__).resolve().parent / "results"
# Each round interleaves the two paths in this many slices each.
SLICES = 6


def need_body(n: int) -> dict[str, Any]:
    return {
        "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": f"Site {n}"},
        "population": {"households": 20 + n % 50, "individuals": 100 + n % 250},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": 1 + n % 5,
        "items": [{"item_code": "KIT-NFI", "quantity": 20 + n % 50}],
    }


async def _load(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    first: int,
    count: int,
    concurrency: int,
    idempotency: bool,
) -> float:
    """Send `count` creates with `concurrency` workers; the seconds it took."""
    numbers = iter(range(first, first + count))

    async def worker() -> None:
        for n in numbers:
            extra = {"Idempotency-Key": f"bench-{uuid.uuid4().hex}"} if idempotency else {}
            response = await client.post(url, json=need_body(n), headers={**headers, **extra})
            if response.status_code != 201:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _partner_key(gateway_url: str) -> str:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        token = (
            await client.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": "admin@iom.int",
                    "password": DEV_ADMIN_PASSWORD,
                },
            )
        ).json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        (
            await client.post(
                "/v1/organisations",
                headers=admin,
                json={"organisation_id": "NRC", "name": "Norwegian Refugee Council", "kind": "ngo"},
            )
        ).raise_for_status()
        user = (
            await client.post(
                "/v1/users",
                headers=admin,
                json={
                    "username": "bench@nrc.no",
                    "password": "a-long-bench-password",
                    "organisation": "NRC",
                    "roles": ["partner"],
                },
            )
        ).json()
        key = (
            await client.post(
                "/v1/api-keys", headers=admin, json={"name": "bench", "user_id": user["user_id"]}
            )
        ).json()
        return str(key["key"])


async def _wait_alive(gateway_url: str) -> None:
    # The gateway's readiness includes stock and distribution, which this bench leaves out.
    async with httpx.AsyncClient(timeout=2) as probe:
        for _ in range(300):
            try:
                if (await probe.get(f"{gateway_url}/healthz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


async def alternating_round(
    client: httpx.AsyncClient,
    paths: Mapping[str, tuple[str, Mapping[str, str]]],
    first: int,
    needs: int,
    concurrency: int,
    slices: int = SLICES,
) -> dict[str, float]:
    """One round: needs created per second on each path (URL and headers), the paths taking
    turns in `slices` slices."""
    # Every path adds needs to one store, and each create's duplicate check reads the active
    # needs of its cercle, so whatever runs later meets a fuller store. Each round therefore
    # interleaves the paths in slices (a, b, b, a, ...): all meet the same growth, and the
    # rates are each path's needs over its own time.
    elapsed = dict.fromkeys(paths, 0.0)
    slice_size = max(1, needs // slices)
    for k in range(slices):
        for path in list(paths) if k % 2 == 0 else list(reversed(list(paths))):
            url, headers = paths[path]
            elapsed[path] += await _load(client, url, headers, first, slice_size, concurrency, True)
            first += slice_size
    return {path: slices * slice_size / seconds for path, seconds in elapsed.items()}


async def _round(
    client: httpx.AsyncClient,
    paths: dict[str, tuple[str, Mapping[str, str]]],
    first: int,
    needs: int,
    concurrency: int,
) -> tuple[float, float]:
    """One round: needs created per second through the gateway, and directly."""
    rates = await alternating_round(client, paths, first, needs, concurrency)
    return rates["gateway"], rates["direct"]


async def main(needs: int, concurrency: int, rounds: int) -> dict[str, Any]:
    infra, stop_infra = start_infra()
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
    gateway_rates: list[float] = []
    direct_rates: list[float] = []
    try:
        await needs_service.wait_ready()
        await _wait_alive(gateway.url)
        key = await _partner_key(gateway.url)
        paths = {
            "gateway": (f"{gateway.url}/v1/needs", {"X-API-Key": key}),
            "direct": (f"{needs_service.url}/v1/needs", identity("NRC", Role.PARTNER)),
        }
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            for r in range(rounds + 1):  # round 0 warms both up and is not counted
                via_gateway, direct = await _round(client, paths, r * 2 * needs, needs, concurrency)
                if r:
                    gateway_rates.append(via_gateway)
                    direct_rates.append(direct)
                print(
                    f"round {r}: gateway {via_gateway:7.1f}/s   direct {direct:7.1f}/s"
                    f"{'' if r else '   (warm-up)'}",
                    flush=True,
                )
    finally:
        gateway.stop()
        needs_service.stop()
        stop_infra()
    report = {
        "benchmark": "creating needs through the gateway vs directly on the needs service",
        "date": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "store": infra.kind,
        "needs_per_round": needs,
        "concurrency": concurrency,
        "gateway_per_s": gateway_rates,
        "direct_per_s": direct_rates,
        "gateway_median_per_s": statistics.median(gateway_rates),
        "direct_median_per_s": statistics.median(direct_rates),
        "ratio_median": statistics.median(
            g / d for g, d in zip(gateway_rates, direct_rates, strict=True)
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gateway_needs.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    result = asyncio.run(main(args.needs, args.concurrency, args.rounds))
    print(f"gateway {result['gateway_median_per_s']:7.1f} needs/s (median)")
    print(f"direct  {result['direct_median_per_s']:7.1f} needs/s (median)")
    print(f"ratio   {result['ratio_median']:.2f}  (aim: >= 0.6)")
