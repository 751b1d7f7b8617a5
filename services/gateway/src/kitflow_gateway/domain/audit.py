"""The audit log: who did what, when, from which credential, with what outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    at: datetime
    method: str
    path: str
    status: int
    correlation_id: str | None
    duration_ms: float
    # Empty when the request was not authenticated (a refused credential is recorded too).
    user_id: str | None
    username: str | None
    organisation: str | None
    key_id: str | None
    client: str | None


@dataclass(frozen=True)
class AuditQuery:
    organisation: str | None = None
    user_id: str | None = None
    key_id: str | None = None
    method: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0
