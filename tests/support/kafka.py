"""Reading topics back in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from kitflow_shared.messaging.reading import read_to_end

T = TypeVar("T")


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout_s: float = 30
) -> list[Any]:
    """Every record of `topic` from the start, waiting until at least `expect` are there."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        # Give stragglers (unexpected extra records) a moment to show up too.
        batch = await consumer.getmany(timeout_ms=300)
        for part in batch.values():
            records.extend(part)
    finally:
        await consumer.stop()
    return records


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout_s: float = 30,
    what: str = "condition",
) -> T:
    """Poll an asynchronous outcome until it holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout_s}s; last value: {value!r}")
        await asyncio.sleep(0.1)


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic` from the start up to its end when called."""
    return await read_to_end(bootstrap, topic)
