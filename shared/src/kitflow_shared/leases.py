"""One owner per periodic job across a service's replicas: a lease in the store, with fencing
(ADR 0028).

Each job has one lease document in its service's database (`job_leases`, `_id` = the job's
name): the owner's id, when the lease expires and a fencing token that goes up by one on every
takeover. Every replica runs a `LeaseKeeper` per job: every `renew_every_s` it renews the lease
it holds, or tries to take a lease that has expired (or was never taken), each with ONE
conditional update. The owner runs the job; the others stand by. When the owner dies, its lease
runs out and a standby takes it on its next try: within `lease_s + renew_every_s`.

Fencing: a renewal matches the owner's id AND its token. Once another replica has taken over
(a higher token), the old owner's renewal matches nothing: it cancels its job at once and stands
by. A renewal that fails for any other reason (the store is away) stops the job too: the owner
can no longer tell whether its lease still holds. Writes that must never come from a stale owner
can carry the token and be refused when a newer one was seen (`fenced_filter`, `fence_update`);
the jobs kitflow leases today are idempotent or written under optimistic concurrency (ADR 0028
says which and why), so a late write from an owner in its last moments does no harm.

The clocks of the replicas are compared through the expiry times written in the store: they must
agree to well within the lease length (NTP does; the default lease is 15 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_shared.metrics import JOB_LEASE_TOKEN, JOB_OWNED, JOB_TAKEOVERS

log = logging.getLogger(__name__)

LEASES = "job_leases"
FENCE_FIELD = "fence"
Document = dict[str, Any]
Worker = Callable[[], Coroutine[Any, Any, None]]


class LeaseStore(Protocol):
    """Where the leases live (the store; a fake in unit tests)."""

    async def take(self, job: str, owner: str, now: datetime, until: datetime) -> int | None:
        """Take the job's lease if nobody holds it or it expired before `now`, up to `until`;
        return the new fencing token, or None if another owner holds it."""

    async def renew(self, job: str, owner: str, token: int, until: datetime) -> bool:
        """Extend the lease `owner` holds under `token` up to `until`; False if it no longer
        does (another replica took over: a higher token)."""

    async def release(self, job: str, owner: str, token: int, now: datetime) -> None:
        """Let the lease expire now (a clean stop), so a standby need not wait it out."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def replica_id(service: str) -> str:
    """Who this process is, in the lease documents and logs: host, pid and a random part (a
    restarted container may get the same pid)."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class LeaseTiming:
    lease_s: float
    renew_every_s: float

    def __post_init__(self) -> None:
        if not 0 < self.renew_every_s < self.lease_s:
            raise ValueError("the renew interval must be shorter than the lease")

    @property
    def takeover_bound_s(self) -> float:
        """The longest a job goes without an owner after its owner dies."""
        return self.lease_s + self.renew_every_s


class LeaseKeeper:
    """The lease of one job as this replica sees it: `step()` renews or tries to take it."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        service: str,
        job: str,
        owner: str,
        lease_s: float,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.service = service
        self.job = job
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock or SystemClock()
        self.token: int | None = None
        JOB_OWNED.labels(service, job).set(0)

    @property
    def owned(self) -> bool:
        return self.token is not None

    async def step(self) -> bool:
        """Renew the lease held, or try to take it; return whether this replica owns it now."""
        now = self.clock.now()
        until = now + self.lease
        try:
            if self.token is not None:
                if not await self.store.renew(self.job, self.owner, self.token, until):
                    self._lost("another replica took it over")
                return self.owned
            token = await self.store.take(self.job, self.owner, now, until)
        except Exception as exc:
            # The owner cannot tell whether its lease still holds: it stops the job.
            if self.token is not None:
                self._lost(f"renewal failed: {exc!r}")
            else:
                log.warning("could not try to take the lease of %s: %r", self.job, exc)
            return False
        if token is not None:
            self._won(token)
        return self.owned

    async def release(self) -> None:
        """Give the lease up (clean stop); a failure only means the standby waits it out."""
        if self.token is None:
            return
        token, self.token = self.token, None
        JOB_OWNED.labels(self.service, self.job).set(0)
        with contextlib.suppress(Exception):
            await self.store.release(self.job, self.owner, token, self.clock.now())

    def _won(self, token: int) -> None:
        self.token = token
        JOB_OWNED.labels(self.service, self.job).set(1)
        JOB_TAKEOVERS.labels(self.service, self.job).inc()
        JOB_LEASE_TOKEN.labels(self.service, self.job).set(token)
        log.info("%s now runs %s (fencing token %s)", self.owner, self.job, token)

    def _lost(self, why: str) -> None:
        log.warning("%s no longer runs %s (token %s): %s", self.owner, self.job, self.token, why)
        self.token = None
        JOB_OWNED.labels(self.service, self.job).set(0)


async def run_owned(keeper: LeaseKeeper, renew_every_s: float, job: Worker) -> None:
    """Run `job` (a worker that runs until cancelled) only while `keeper` holds its lease:
    start it on taking the lease, cancel it on losing it, try again every `renew_every_s`."""
    running: asyncio.Task[None] | None = None
    try:
        while True:
            owns = await keeper.step()
            if owns and (running is None or running.done()):
                running = asyncio.create_task(job(), name=f"owned:{keeper.job}")
            elif not owns and running is not None:
                await _cancel(running)
                running = None
            await asyncio.sleep(renew_every_s)
    finally:
        if running is not None:
            await _cancel(running)
        await asyncio.shield(keeper.release())


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


class MongoLeases:
    """The leases in a store collection: each take and renewal is one conditional update."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def take(self, job: str, owner: str, now: datetime, until: datetime) -> int | None:
        # Matches an expired lease, or none at all (then the upsert inserts it, token 1). A
        # lease held by another matches nothing: the upsert's insert then hits the _id and
        # fails, which is how the loser of a race learns it lost.
        try:
            doc = await self.collection.find_one_and_update(
                {"_id": job, "expires_at": {"$lte": now}},
                {"$set": {"owner": owner, "expires_at": until}, "$inc": {"token": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return None
        return None if doc is None else int(doc["token"])

    async def renew(self, job: str, owner: str, token: int, until: datetime) -> bool:
        result = await self.collection.update_one(
            {"_id": job, "owner": owner, "token": token}, {"$set": {"expires_at": until}}
        )
        return result.matched_count == 1

    async def release(self, job: str, owner: str, token: int, now: datetime) -> None:
        await self.collection.update_one(
            {"_id": job, "owner": owner, "token": token}, {"$set": {"expires_at": now}}
        )


def fenced_filter(job: str, token: int) -> Document:
    """The part of a write's filter that refuses it once a newer owner of `job` wrote the
    document: its fence for the job is absent or not above `token`."""
    field = f"{FENCE_FIELD}.{job}"
    return {"$or": [{field: {"$exists": False}}, {field: {"$lte": token}}]}


def fence_update(job: str, token: int) -> Document:
    """What a fenced write sets beside its change: the token it was written under."""
    return {"$set": {f"{FENCE_FIELD}.{job}": token}}
