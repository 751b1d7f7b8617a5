"""Idempotency-Key: a retried creating request returns the first result, never a second object.

A key belongs to one organisation (two partners may pick the same key) and to one request: the
fingerprint is a hash of the method, path, query and body, so reusing a key for a different
request is refused rather than silently answered with an unrelated result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 200


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part)
        digest.update(b"\x00")
    digest.update(body)
    return digest.hexdigest()


def key_problem(key: str) -> str | None:
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return f"must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters"
    if not key.isascii() or not key.isprintable():
        return "must be printable ASCII"
    return None


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
    """Only answers the client should see again: a server error or an unreachable service
    releases the key, so that the retry is actually tried again."""
    return status < 500
