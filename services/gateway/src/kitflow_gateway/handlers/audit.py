"""The audit trail: entries are written in batches, and only administrators read them.

Every mutating request adds an entry once it is answered. Writing each entry with its own insert
cost a store round trip per request; the trail instead queues entries and one writer inserts
whatever has queued up while the previous insert was in flight ("group commit"). At low load
that is one entry per insert with no added delay; under load the batches grow by themselves. No
timer is involved.

Nothing is dropped: the queue is bounded and a full queue makes the next request wait for room
(backpressure) rather than lose its entry; a failed insert is retried with the same entries
(their ids make a repeat harmless). A normal shutdown writes everything queued. A crash loses the
entries still queued, those of the requests answered while the last insert was in flight.
Reading the trail first waits until this instance's queued entries are written, so an
administrator sees every change answered before the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import NotPermitted
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.ports import AuditStore, Page

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000
MAX_BATCH = 500
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        *,
        max_queued: int = MAX_QUEUED,
        max_batch: int = MAX_BATCH,
        shutdown_timeout_s: float = 10.0,
        retry_first_s: float = RETRY_FIRST_S,
    ) -> None:
        self.store = store
        self.max_queued = max_queued
        self.max_batch = max_batch
        self.shutdown_timeout_s = shutdown_timeout_s
        self.retry_first_s = retry_first_s
        self._queue: deque[AuditEntry] = deque()
        # Entries ever queued, and ever written: reading waits until `written` catches up.
        self._queued = 0
        self._written = 0
        self._changed = asyncio.Condition()
        # One insert at a time: a batch is removed from the queue only once it is written.
        self._writing = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    async def record(self, entry: AuditEntry) -> None:
        """Queue the entry (waiting for room if the queue is full); the writer inserts it."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._queue) < self.max_queued)
            self._queue.append(entry)
            self._queued += 1
            self._changed.notify_all()
        if self._writer is None and not self._closed:
            # Started on first use, inside the running event loop.
            self._writer = asyncio.create_task(self._write_forever(), name="audit-writer")
        elif self._closed:
            # Recorded after shutdown began (a request that outlived the grace period).
            await self._write_now()

    async def flush(self) -> None:
        """Return once every entry queued before the call is in the store."""
        target = self._queued
        if self._writer is None:
            await self._write_now()
            return
        async with self._changed:
            await self._changed.wait_for(lambda: self._written >= target)

    async def find(self, query: AuditQuery, actor: Principal) -> Page[AuditEntry]:
        if not actor.is_admin:
            raise NotPermitted("only administrators read the audit log")
        await self.flush()
        return await self.store.find(query)

    async def close(self) -> None:
        """At shutdown: write what is queued, then stop. If the store stays unreachable, the
        entries that could not be written go to the error log, whole, so none is lost."""
        self._closed = True
        if self._writer is not None:
            # The store may be down; the entries then go to the log below.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), self.shutdown_timeout_s)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        for entry in self._queue:
            log.error("audit entry not written at shutdown: %s", entry)
        self._queue.clear()

    async def _write_forever(self) -> None:
        delay = self.retry_first_s
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: bool(self._queue))
            try:
                await self._write_batch()
                delay = self.retry_first_s
            except asyncio.CancelledError:
                raise
            except Exception:
                # The entries stay queued; requests wait once the queue is full.
                log.exception("audit insert failed; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)

    async def _write_now(self) -> None:
        while self._queue:
            await self._write_batch()

    async def _write_batch(self) -> None:
        async with self._writing:
            batch = [self._queue[i] for i in range(min(len(self._queue), self.max_batch))]
            if not batch:
                return
            await self.store.record_many(batch)
            async with self._changed:
                for _ in batch:
                    self._queue.popleft()
                self._written += len(batch)
                self._changed.notify_all()
