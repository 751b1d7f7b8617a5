"""Hand-written fakes of kitflow_shared's ports (never mocks of libraries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kitflow_shared.events.envelope import CloudEvent


class FakePublisher:
    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []
        self.parked: list[tuple[str, bytes, dict[str, bytes]]] = []
        self.fail_times = fail_times

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("broker down")
        self.sent.extend((topic, e) for e in events)

    async def park(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.parked.append((topic, value, dict(headers)))


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.current = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class _Lease:
    owner: str
    expires_at: datetime
    token: int


class FakeLeases:
    """The lease store (kitflow_shared.leases.LeaseStore) in memory, with the same conditions
    as the store's conditional updates; `down` makes every call fail like an unreachable store,
    `cut_off` only the calls of the owners it names (a partition between them and the store)."""

    def __init__(self) -> None:
        self.leases: dict[str, _Lease] = {}
        self.down = False
        self.cut_off: set[str] = set()

    def _reachable(self, owner: str = "") -> None:
        if self.down or owner in self.cut_off:
            raise ConnectionError("store away")

    async def take(self, job: str, owner: str, now: datetime, until: datetime) -> int | None:
        self._reachable(owner)
        lease = self.leases.get(job)
        if lease is not None and lease.expires_at > now:
            return None
        token = 1 if lease is None else lease.token + 1
        self.leases[job] = _Lease(owner, until, token)
        return token

    async def renew(self, job: str, owner: str, token: int, until: datetime) -> bool:
        self._reachable(owner)
        lease = self.leases.get(job)
        if lease is None or (lease.owner, lease.token) != (owner, token):
            return False
        lease.expires_at = until
        return True

    async def release(self, job: str, owner: str, token: int, now: datetime) -> None:
        self._reachable(owner)
        lease = self.leases.get(job)
        if lease is not None and (lease.owner, lease.token) == (owner, token):
            lease.expires_at = now
