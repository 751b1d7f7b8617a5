"""Stopping a service is bounded: a worker stuck in its shutdown (a consumer whose last commit
keeps retrying against a broker that is gone) cannot hold the process up."""

from __future__ import annotations

import asyncio
import logging

import pytest
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, StoreSettings


def _runtime() -> ServiceRuntime:
    # No broker (kafka=None) and a store URL nothing is asked of: stop() only closes the client.
    return ServiceRuntime(
        "tests",
        common=CommonSettings(),
        kafka=None,
        store=StoreSettings(url="mongodb://127.0.0.1:9/"),
        indexes=[],
    )


async def test_a_worker_stuck_in_its_shutdown_is_left_behind_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = _runtime()
    stopped: list[str] = []
    release = asyncio.Event()

    async def well_behaved() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append("relay")

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # ignores the cancellation, like a commit retrying forever

    runtime.add_worker("relay", well_behaved)
    runtime.add_worker("consumer", stuck)
    runtime._tasks = [asyncio.create_task(worker(), name=name) for name, worker in runtime._workers]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="kitflow_shared.runtime"):
        await runtime.stop(timeout_s=0.2)
    assert stopped == ["relay"]
    assert "consumer" in caplog.text
    assert "did not stop" in caplog.text
    release.set()


async def test_workers_that_stop_are_awaited_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = _runtime()
    stopped: list[str] = []

    async def worker() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # a little shutdown work, well within the bound
            stopped.append("done")

    runtime.add_worker("relay", worker)
    runtime._tasks = [asyncio.create_task(worker(), name="relay")]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="kitflow_shared.runtime"):
        await runtime.stop(timeout_s=5)
    assert stopped == ["done"]
    assert caplog.text == ""
