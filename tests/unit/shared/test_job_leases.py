"""One owner per periodic job (kitflow_shared.leases, ADR 0028), with a fake clock and a fake
lease store: one of two contenders wins, the other stands by, takes over once the lease ran out
without renewal, and the superseded owner learns it on its next renewal and stops its job."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from kitflow_shared.leases import LeaseKeeper, LeaseTiming, fence_update, fenced_filter, run_owned
from kitflow_shared.settings import CommonSettings
from pydantic import ValidationError

from tests.unit.shared.fakes import FakeClock, FakeLeases

LEASE_S = 15.0
RENEW_S = 5.0
DEADLINE_S = 10.0


def _keepers(store: FakeLeases, clock: FakeClock) -> tuple[LeaseKeeper, LeaseKeeper]:
    def keeper(owner: str) -> LeaseKeeper:
        return LeaseKeeper(
            store, service="tests", job="sweep", owner=owner, lease_s=LEASE_S, clock=clock
        )

    return keeper("a"), keeper("b")


async def test_one_of_two_contenders_wins_and_keeps_the_lease_while_it_renews() -> None:
    store, clock = FakeLeases(), FakeClock()
    a, b = _keepers(store, clock)
    assert await a.step()
    assert not await b.step()
    for _ in range(10):  # well past one lease: renewals keep it
        clock.advance(RENEW_S)
        assert await a.step()
        assert not await b.step()
    assert a.token == 1


async def test_a_standby_takes_over_once_the_lease_ran_out_and_the_old_owner_stops() -> None:
    store, clock = FakeLeases(), FakeClock()
    a, b = _keepers(store, clock)
    await a.step()
    # a stalls (a long pause, a partition): it renews nothing for a whole lease.
    clock.advance(LEASE_S - 0.1)
    assert not await b.step(), "the lease has not run out yet"
    clock.advance(0.1)
    assert await b.step()
    assert b.token == 2
    # a's next renewal names token 1: superseded, so it stops.
    assert not await a.step()
    assert a.token is None
    assert not await a.step(), "it stands by while b renews"


async def test_an_owner_that_cannot_renew_stops_its_job() -> None:
    store, clock = FakeLeases(), FakeClock()
    a, _ = _keepers(store, clock)
    await a.step()
    store.down = True
    clock.advance(RENEW_S)
    assert not await a.step()
    assert a.token is None
    store.down = False
    clock.advance(RENEW_S)
    # Its own lease, never taken over, has not run out: it is not free yet for anyone.
    assert not await a.step()
    clock.advance(LEASE_S)
    assert await a.step()
    assert a.token == 2


async def test_a_released_lease_is_taken_at_once() -> None:
    store, clock = FakeLeases(), FakeClock()
    a, b = _keepers(store, clock)
    await a.step()
    await a.release()
    assert await b.step()


def test_the_takeover_bound_is_the_lease_plus_one_renew_interval() -> None:
    assert LeaseTiming(LEASE_S, RENEW_S).takeover_bound_s == LEASE_S + RENEW_S
    with pytest.raises(ValueError, match="shorter"):
        LeaseTiming(5, 5)
    with pytest.raises(ValidationError, match="KITFLOW_JOB_LEASE_RENEW_S"):
        CommonSettings(job_lease_s=5, job_lease_renew_s=5)


def test_a_fenced_write_names_the_token_it_was_written_under() -> None:
    assert fenced_filter("sweep", 3) == {
        "$or": [{"fence.sweep": {"$exists": False}}, {"fence.sweep": {"$lte": 3}}]
    }
    assert fence_update("sweep", 3) == {"$set": {"fence.sweep": 3}}


async def _until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_S}s: {what}")
        await asyncio.sleep(0.01)


async def test_the_job_runs_only_on_the_owner_and_moves_to_the_standby_when_it_loses() -> None:
    store, clock = FakeLeases(), FakeClock()
    a, b = _keepers(store, clock)
    running: set[str] = set()

    def job(name: str) -> Callable[[], Awaitable[None]]:
        async def work() -> None:
            running.add(name)
            try:
                await asyncio.Event().wait()
            finally:
                running.discard(name)

        return work

    tasks = [
        asyncio.create_task(run_owned(a, 0.01, job("a"))),
        asyncio.create_task(run_owned(b, 0.01, job("b"))),
    ]
    await _until("a runs the job", lambda: running == {"a"})
    assert not b.owned
    # a is cut off from the store: its renewal fails, so it stops the job at once; once its
    # lease has run out, b takes the job.
    store.cut_off.add("a")
    await _until("a stops the job", lambda: running == set())
    clock.advance(LEASE_S)
    await _until("b runs the job", lambda: running == {"b"})
    # a is back: it stands by, and b keeps the job (token 2: a takeover).
    store.cut_off.clear()
    await _until("a stands by", lambda: a.token is None and running == {"b"})
    assert b.token == 2
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert running == set()
    assert store.leases["sweep"].expires_at == clock.now(), "the owner released at stop"
