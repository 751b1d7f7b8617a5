"""The service kit's periodic jobs: a failure is logged and retried after a short jittered
backoff (not a whole round later), the job keeps its rounds, and stopping ends it cleanly."""

from __future__ import annotations

import asyncio
import logging

import pytest
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, StoreSettings

from tests.unit.shared.fakes import FakeLeases

DEADLINE_S = 10.0
AN_HOUR_S = 3600.0


def _runtime() -> ServiceRuntime:
    # No broker and a store nothing is asked of: the jobs under test touch neither.
    return ServiceRuntime(
        "tests",
        common=CommonSettings(),
        kafka=None,
        store=StoreSettings(url="mongodb://127.0.0.1:9/"),
        indexes=[],
        # The job leases in memory: this replica is the only contender, so it runs the jobs.
        leases=FakeLeases(),
    )


def _run_workers(runtime: ServiceRuntime) -> list[asyncio.Task[None]]:
    runtime._tasks = [asyncio.create_task(worker(), name=name) for name, worker in runtime._workers]
    return list(runtime._tasks)


async def test_a_failing_job_is_logged_and_retried_long_before_its_next_round(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = _runtime()
    calls: list[str] = []
    retried = asyncio.Event()

    async def tidy() -> None:
        calls.append("tidy")
        if len(calls) == 1:
            raise ConnectionError("store away")
        retried.set()

    # A round an hour long: only the backoff can bring the second call within the deadline.
    runtime.add_periodic("tidy", AN_HOUR_S, tidy)
    with caplog.at_level(logging.ERROR, logger="kitflow_shared.runtime"):
        _run_workers(runtime)
        await asyncio.wait_for(retried.wait(), DEADLINE_S)
        await runtime.stop(timeout_s=5)
    assert "tidy failed" in caplog.text
    assert "store away" in caplog.text
    assert "did not stop" not in caplog.text


async def test_a_job_that_succeeds_runs_once_per_round_and_stops_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = _runtime()
    calls: list[str] = []
    three_rounds = asyncio.Event()

    async def tidy() -> None:
        calls.append("tidy")
        if len(calls) == 3:
            three_rounds.set()

    runtime.add_periodic("tidy", 0.01, tidy)
    with caplog.at_level(logging.ERROR, logger="kitflow_shared.runtime"):
        tasks = _run_workers(runtime)
        await asyncio.wait_for(three_rounds.wait(), DEADLINE_S)
        await runtime.stop(timeout_s=5)
    assert all(task.cancelled() for task in tasks)
    assert caplog.text == ""


def _replica(leases: FakeLeases) -> ServiceRuntime:
    return ServiceRuntime(
        "tests",
        common=CommonSettings(job_lease_s=2, job_lease_renew_s=0.01),
        kafka=None,
        store=StoreSettings(url="mongodb://127.0.0.1:9/"),
        indexes=[],
        leases=leases,
    )


async def test_of_two_replicas_one_runs_a_leased_job_and_both_run_one_of_their_own() -> None:
    leases = FakeLeases()  # one store for both replicas
    replicas = [_replica(leases), _replica(leases)]
    leased: list[int] = []
    own: list[int] = []
    for n, runtime in enumerate(replicas):
        runtime.add_periodic("tidy", 0.01, lambda n=n: _record(leased, n))
        runtime.add_periodic("cache", 0.01, lambda n=n: _record(own, n), one_owner=False)
        _run_workers(runtime)
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while len(leased) < 20 or set(own) != {0, 1}:
        assert asyncio.get_running_loop().time() < deadline, (leased, own)
        await asyncio.sleep(0.01)
    assert len(set(leased)) == 1, "one replica ran the leased job"
    owner = leased[0]
    assert replicas[owner].keepers["tidy"].owned
    assert not replicas[1 - owner].keepers["tidy"].owned
    for runtime in replicas:
        await runtime.stop(timeout_s=5)


async def _record(runs: list[int], replica: int) -> None:
    runs.append(replica)
