"""Group commit of store calls (adapters/batching.py): what goes into which command."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from kitflow_gateway.adapters.batching import Batcher


class Store:
    """Answers each call with its double; can hold a command until released."""

    def __init__(self) -> None:
        self.commands: list[list[int]] = []
        self.gate: asyncio.Event | None = None
        self.inside = asyncio.Event()

    async def run(self, calls: Sequence[int]) -> list[int | Exception]:
        self.commands.append(list(calls))
        self.inside.set()
        if self.gate is not None:
            await self.gate.wait()
        if -1 in calls:
            raise ConnectionError("store unreachable")
        return [ValueError(n) if n < 0 else n * 2 for n in calls]


async def test_calls_made_together_go_as_one_command_each_with_its_own_answer() -> None:
    store = Store()
    batcher: Batcher[int, int] = Batcher(store.run)
    assert await asyncio.gather(*(batcher(n) for n in range(10))) == [n * 2 for n in range(10)]
    assert store.commands == [list(range(10))]


async def test_a_call_made_while_a_command_is_in_flight_waits_for_the_next_one() -> None:
    # So a read made after a write finished is never answered by a query sent before it.
    store = Store()
    store.gate = asyncio.Event()
    batcher: Batcher[int, int] = Batcher(store.run)
    first = asyncio.create_task(batcher(1))
    await store.inside.wait()
    later = [asyncio.create_task(batcher(n)) for n in (2, 3)]
    store.gate.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6]
    assert store.commands == [[1], [2, 3]]


async def test_one_calls_error_is_its_own_and_a_failed_command_fails_only_its_calls() -> None:
    store = Store()
    batcher: Batcher[int, int] = Batcher(store.run)
    results = await asyncio.gather(batcher(1), batcher(-2), return_exceptions=True)
    assert results[0] == 2
    assert isinstance(results[1], ValueError)
    failed = await asyncio.gather(batcher(-1), batcher(5), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in failed)
    assert await batcher(7) == 14


async def test_a_caller_that_goes_away_does_not_disturb_the_others() -> None:
    store = Store()
    store.gate = asyncio.Event()
    batcher: Batcher[int, int] = Batcher(store.run)
    leaving = asyncio.create_task(batcher(1))
    staying = asyncio.create_task(batcher(2))
    await store.inside.wait()
    leaving.cancel()
    store.gate.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_no_command_carries_more_than_the_batch_limit() -> None:
    store = Store()
    batcher: Batcher[int, int] = Batcher(store.run, max_batch=4)
    await asyncio.gather(*(batcher(n) for n in range(10)))
    assert [len(c) for c in store.commands] == [4, 4, 2]
