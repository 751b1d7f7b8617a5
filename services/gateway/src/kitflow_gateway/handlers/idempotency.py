"""Claiming an Idempotency-Key before forwarding a creating request, and remembering its answer.

The claim is one insert with the key as the document's unique id, so of two concurrent requests
with the same key exactly one forwards; the other is told the first is still in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kitflow_gateway.domain.idempotency import Claim, ClaimState, StoredResponse
from kitflow_gateway.handlers.ports import Clock, IdempotencyStore


@dataclass(frozen=True)
class Proceed:
    """The key is ours: forward the request, then complete or release the key."""


@dataclass(frozen=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True)
class InProgress:
    retry_after_s: int


@dataclass(frozen=True)
class Mismatch:
    """The key was used for a different request."""


Decision = Proceed | Replay | InProgress | Mismatch


class IdempotencyHandlers:
    def __init__(self, store: IdempotencyStore, clock: Clock, lease: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease

    async def begin(self, organisation: str, key: str, fingerprint: str) -> Decision:
        now = self.clock()
        claim = Claim(organisation, key, fingerprint, ClaimState.IN_PROGRESS, now)
        if await self.store.claim(claim):
            return Proceed()
        existing = await self.store.get(organisation, key)
        if existing is None:
            # Released (the first attempt failed) between our insert and our read: try again.
            return Proceed() if await self.store.claim(claim) else InProgress(1)
        if existing.fingerprint != fingerprint:
            return Mismatch()
        if existing.state is ClaimState.COMPLETED and existing.response is not None:
            return Replay(existing.response)
        if existing.lease_expired(now, self.lease) and await self.store.take_over(
            organisation, key, now - self.lease, now
        ):
            return Proceed()
        left = self.lease - (now - existing.claimed_at)
        return InProgress(max(1, int(left.total_seconds())))

    async def complete(self, organisation: str, key: str, response: StoredResponse) -> None:
        await self.store.complete(organisation, key, response)

    async def release(self, organisation: str, key: str) -> None:
        await self.store.release(organisation, key)
