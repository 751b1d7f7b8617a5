"""Idempotency-Key at the gateway: a fast first line in front of the services (ADR 0011).

A key belongs to one organisation (two partners may pick the same key) and to one request: the
fingerprint (`kitflow_shared.request_keys.fingerprint`: method, path, query and body) makes a key
reused for a different request a refusal rather than an unrelated answer. The gateway's record is
written apart from the service's effect, so it never decides alone whether a request was applied:
the service remembers the key with the effect, and a retry after a failure reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: bytes
    content_type: str | None
    location: str | None


class ClaimState(StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Claim:
    organisation: str
    key: str
    fingerprint: str
    state: ClaimState
    claimed_at: datetime
    response: StoredResponse | None = None

    def lease_expired(self, now: datetime, lease: timedelta) -> bool:
        """An in-flight claim older than the lease was left by an instance that died."""
        return self.state is ClaimState.IN_PROGRESS and now - self.claimed_at >= lease


def worth_remembering(status: int) -> bool:
    """Only answers the client should see again. A server error, a timeout or an unreachable
    service releases the key: the retry reaches the service, which knows from the stored effect
    whether the first attempt was applied (ADR 0011)."""
    return status < 500
