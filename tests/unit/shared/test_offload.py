"""The bounded pool (kitflow_shared.offload): work runs off the loop, at most `workers` at once
plus `queue_limit` waiting; past that `PoolFull` at once; a slot frees when its task ends."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from kitflow_shared.offload import BoundedPool, PoolFull
from kitflow_shared.web.problems import install_problem_handlers

DEADLINE_S = 10.0


def _blocked_until(gate: threading.Event) -> str:
    gate.wait(DEADLINE_S)
    return "done"


async def test_work_beyond_the_workers_and_the_queue_is_refused_at_once() -> None:
    pool = BoundedPool("test", workers=1, queue_limit=1, kind="thread", retry_after_s=7)
    gate = threading.Event()
    running = asyncio.create_task(pool.run(_blocked_until, gate))
    waiting = asyncio.create_task(pool.run(_blocked_until, gate))
    await asyncio.sleep(0)
    assert pool.admitted == 2
    with pytest.raises(PoolFull) as refused:
        await pool.run(_blocked_until, gate)
    assert (refused.value.pool, refused.value.retry_after_s) == ("test", 7)
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(running, waiting), DEADLINE_S) == ["done"] * 2
    assert pool.admitted == 0
    assert await pool.run(str.upper, "free again") == "FREE AGAIN"
    pool.close()


async def test_the_loop_keeps_running_while_the_work_runs() -> None:
    pool = BoundedPool("test", workers=1, queue_limit=0, kind="thread")
    gate = threading.Event()
    work = asyncio.create_task(pool.run(_blocked_until, gate))
    ticks = 0
    while ticks < 5:  # the loop turns while the worker holds the work
        await asyncio.sleep(0.001)
        ticks += 1
    assert not work.done()
    gate.set()
    assert await asyncio.wait_for(work, DEADLINE_S) == "done"
    pool.close()


async def test_a_full_pool_is_answered_503_problem_json_with_retry_after() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise PoolFull("planner", 30)

    async with AsyncClient(transport=ASGITransport(app), base_url="http://t") as client:
        answer = await client.get("/busy")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"] == "30"
    assert (answer.json()["type"], answer.json()["pool"]) == ("/problems/busy", "planner")
