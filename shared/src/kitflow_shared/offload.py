"""CPU-bound work off the event loop, with a bound (ADR 0028).

A long computation on the event loop (the planner's solve) stalls everything else the process
does: its health probe, its consumer's heartbeats, its relay. `BoundedPool` runs such work in a
pool of worker processes (or threads) and admits at most `workers` running plus `queue_limit`
waiting; past that `run` raises `PoolFull` at once, which the service kit answers as a 503
problem+json with Retry-After (kitflow_shared.web.problems), instead of letting requests pile up
behind minutes of queued work.

Threads or processes: measured with bench/planner_loop.py (the planner on 3,000 and 5,000
needs), threads keep the loop as responsive as processes (HiGHS releases the GIL while it
solves; the Python parts of the work hand the GIL back every switch interval) at no copy of the
service per worker and no pickling. A process pool is there for work that holds the GIL for
long; its workers start by spawning (not forking a process that holds sockets and threads), and
the work, its arguments, its result and its exceptions must pickle.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import multiprocessing
import threading
from collections.abc import Callable
from typing import Literal, TypeVar

from kitflow_shared.metrics import OFFLOAD_ADMITTED, OFFLOAD_REFUSED

T = TypeVar("T")
Kind = Literal["process", "thread"]


class PoolFull(Exception):
    """Every worker is busy and the queue is full: try again after `retry_after_s`."""

    def __init__(self, pool: str, retry_after_s: int) -> None:
        super().__init__(f"{pool}: every worker is busy and the queue is full")
        self.pool = pool
        self.retry_after_s = retry_after_s


class BoundedPool:
    def __init__(
        self,
        name: str,
        *,
        workers: int,
        queue_limit: int,
        kind: Kind = "thread",
        retry_after_s: int = 10,
    ) -> None:
        self.name = name
        self.workers = workers
        self.capacity = workers + queue_limit
        self.kind = kind
        self.retry_after_s = retry_after_s
        self._admitted = 0
        # Released from the executor's own threads when a task ends (or is cancelled unstarted).
        self._lock = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.Executor:
        if self.kind == "thread":
            return concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        return concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn")
        )

    @property
    def admitted(self) -> int:
        """Tasks running or waiting."""
        return self._admitted

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` on a worker; raises `PoolFull` at once when the pool is full. A caller
        that gives up (a cancelled request) cancels a task that has not started; one that has
        keeps its worker until it ends, and counts against the bound until then."""
        with self._lock:
            if self._admitted >= self.capacity:
                OFFLOAD_REFUSED.labels(self.name).inc()
                raise PoolFull(self.name, self.retry_after_s)
            self._admitted += 1
            OFFLOAD_ADMITTED.labels(self.name).set(self._admitted)
        try:
            future = self._executor.submit(functools.partial(work, *args))
        except concurrent.futures.BrokenExecutor:
            # A worker died (killed, out of memory): the next task gets a fresh pool.
            self._executor = self._new_executor()
            self._release(None)
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wrap_future(future)
        except concurrent.futures.BrokenExecutor:
            self._executor = self._new_executor()
            raise

    def _release(self, _future: concurrent.futures.Future[T] | None) -> None:
        with self._lock:
            self._admitted -= 1
            OFFLOAD_ADMITTED.labels(self.name).set(self._admitted)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
