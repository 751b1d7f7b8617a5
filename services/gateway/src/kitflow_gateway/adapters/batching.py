"""Concurrent calls of one kind, sent to the store as one command (group commit).

Every proxied request reads its API key, counts itself against its organisation's rate limit and
claims and completes its Idempotency-Key. Under load many requests do the same at once, and each
store command costs far more in client and server overhead than the document it touches. A
`Batcher` queues the calls of one kind while a command is in flight and sends them together as
the next command, so there is no timer: an idle gateway sends each call at once, a busy one
sends a few commands carrying many calls.

A call is never added to a command already sent: it waits for the next one. So a read sees every
write that finished before the call was made; revoking a key still takes effect at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# One command carries at most this many calls; more wait for the next.
MAX_BATCH = 256

Run = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Batcher(Generic[T, R]):
    """`run` answers a batch of calls in order: a result, or the exception for that call alone;
    an exception raised by `run` itself fails every call of the batch."""

    def __init__(self, run: Run[T, R], *, max_batch: int = MAX_BATCH) -> None:
        self.run = run
        self.max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def __call__(self, call: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, future))
        if self._sender is None:
            # Runs on the loop's next turn: calls made until then share the first command.
            self._sender = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    results = await self.run([call for call, _ in batch])
                except asyncio.CancelledError:
                    # Shutting down: nobody is left waiting forever.
                    for _, future in batch + self._waiting:
                        future.cancel()
                    self._waiting.clear()
                    raise
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the caller went away (its request was cancelled)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._sender = None
