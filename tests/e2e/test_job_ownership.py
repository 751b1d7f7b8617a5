"""One owner per periodic job across replicas (ADR 0028): two gateway processes on one store,
only one runs the housekeeping; when it is SIGKILLed the other takes the job over (a higher
fencing token), and says so in /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.infra import Infra
from tests.support.services import ServiceProcess, service_process

pytestmark = pytest.mark.infra

JOB = "housekeeping"
DEADLINE_S = 60.0
# Short rounds and a short lease, so that the test sees many rounds and a takeover quickly.
SETTINGS = {
    "KITFLOW_GATEWAY_HOUSEKEEPING_INTERVAL_S": "0.1",
    "KITFLOW_JOB_LEASE_S": "2",
    "KITFLOW_JOB_LEASE_RENEW_S": "0.5",
}


async def _job_metrics(replica: ServiceProcess) -> dict[str, float]:
    """This replica's figures for the job: runs, owned, token (0 where absent)."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{replica.url}/metrics")).text
    wanted = {
        "kitflow_periodic_runs_total": "runs",
        "kitflow_job_owned": "owned",
        "kitflow_job_lease_token": "token",
    }
    found = {"runs": 0.0, "owned": 0.0, "token": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted and sample.labels.get("job") == JOB:
                found[wanted[sample.name]] = sample.value
    return found


async def _alive(replica: ServiceProcess) -> None:
    deadline = time.monotonic() + DEADLINE_S
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{replica.url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{replica.service} did not start; see {replica.log_path}")


async def _until(condition: str, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {DEADLINE_S}s: {condition}")


async def test_only_one_replica_runs_the_job_and_the_other_takes_over_when_it_dies(
    infra: Infra, namespace: str, processes: list[ServiceProcess]
) -> None:
    replicas = [service_process("gateway", infra, namespace, **SETTINGS) for _ in range(2)]
    for replica in replicas:
        processes.append(replica.start())
    for replica in replicas:
        await _alive(replica)

    async def one_has_run_many_rounds() -> bool:
        return any(figures["runs"] >= 20 for figures in [await _job_metrics(r) for r in replicas])

    await _until("a replica runs the job", one_has_run_many_rounds)
    figures = [await _job_metrics(r) for r in replicas]
    owner, standby = (0, 1) if figures[0]["runs"] >= 20 else (1, 0)
    # Twenty rounds of the owner while the standby ran none: one owner, not two.
    assert figures[standby]["runs"] == 0, figures
    assert (figures[owner]["owned"], figures[standby]["owned"]) == (1, 0), figures
    assert figures[owner]["token"] == 1, figures

    replicas[owner].kill()

    async def standby_took_over() -> bool:
        now = await _job_metrics(replicas[standby])
        return now["owned"] == 1 and now["runs"] >= 5

    await _until("the standby takes the job over", standby_took_over)
    assert (await _job_metrics(replicas[standby]))["token"] == 2
