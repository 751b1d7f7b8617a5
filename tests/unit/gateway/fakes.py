"""Hand-written fakes of the gateway's ports, and a clock the tests move."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import AlreadyExists
from kitflow_gateway.domain.idempotency import Claim, ClaimState, StoredResponse
from kitflow_gateway.domain.identity import ApiKey, Organisation, User
from kitflow_gateway.handlers.ports import Held, Page, UpstreamAnswer
from kitflow_shared.request_keys import RememberedRequest

T = TypeVar("T")


class Remembering(Generic[T]):
    """What the store does with requests remembered on documents (ADR 0011), for one kind."""

    def __init__(self) -> None:
        self.created_by: dict[str, tuple[str, RememberedRequest]] = {}
        self.requests: dict[str, list[RememberedRequest]] = {}

    def creation(self, object_id: str, remembered: RememberedRequest | None) -> None:
        if remembered is None:
            return
        if remembered.token in self.created_by:
            raise AlreadyExists("request", remembered.token, "Idempotency-Key")
        self.created_by[remembered.token] = (object_id, remembered)

    def knows(self, object_id: str, remembered: RememberedRequest | None) -> bool:
        return remembered is not None and any(
            r.token == remembered.token for r in self.requests.get(object_id, [])
        )

    def change(self, object_id: str, remembered: RememberedRequest | None) -> None:
        if remembered is not None:
            self.requests.setdefault(object_id, []).append(remembered)

    def by_request(self, token: str, rows: dict[str, T]) -> Held[T] | None:
        found = self.created_by.get(token)
        return None if found is None else Held(rows[found[0]], found[1])

    def with_request(self, object_id: str, token: str, rows: dict[str, T]) -> Held[T] | None:
        if object_id not in rows:
            return None
        mine = [r for r in self.requests.get(object_id, []) if r.token == token]
        created = self.created_by.get(token)
        if not mine and created is not None and created[0] == object_id:
            mine = [created[1]]
        return Held(rows[object_id], mine[0] if mine else None)


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeOrganisations:
    def __init__(self) -> None:
        self.rows: dict[str, Organisation] = {}
        self.remembering: Remembering[Organisation] = Remembering()

    async def add(
        self, organisation: Organisation, remembered: RememberedRequest | None = None
    ) -> None:
        if organisation.organisation_id in self.rows:
            raise AlreadyExists("organisation", organisation.organisation_id, "organisation_id")
        self.remembering.creation(organisation.organisation_id, remembered)
        self.rows[organisation.organisation_id] = organisation

    async def by_request(self, token: str) -> Held[Organisation] | None:
        return self.remembering.by_request(token, self.rows)

    async def get_with_request(self, organisation_id: str, token: str) -> Held[Organisation] | None:
        return self.remembering.with_request(organisation_id, token, self.rows)

    async def get(self, organisation_id: str) -> Organisation | None:
        return self.rows.get(organisation_id)

    async def list(self, *, limit: int, offset: int) -> Page[Organisation]:
        rows = sorted(self.rows.values(), key=lambda o: o.organisation_id)
        return Page(rows[offset : offset + limit], len(rows))

    async def set_active(
        self, organisation_id: str, active: bool, remembered: RememberedRequest | None
    ) -> Organisation | None:
        held = self.rows.get(organisation_id)
        if held is None or self.remembering.knows(organisation_id, remembered):
            return None
        self.rows[organisation_id] = replace(held, active=active)
        self.remembering.change(organisation_id, remembered)
        return self.rows[organisation_id]


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[str, User] = {}
        self.remembering: Remembering[User] = Remembering()

    async def add(self, user: User, remembered: RememberedRequest | None = None) -> None:
        if any(u.username == user.username for u in self.rows.values()):
            raise AlreadyExists("user", user.username, "username")
        self.remembering.creation(user.user_id, remembered)
        self.rows[user.user_id] = user

    async def by_request(self, token: str) -> Held[User] | None:
        return self.remembering.by_request(token, self.rows)

    async def get_with_request(self, user_id: str, token: str) -> Held[User] | None:
        return self.remembering.with_request(user_id, token, self.rows)

    async def get(self, user_id: str) -> User | None:
        return self.rows.get(user_id)

    async def by_username(self, username: str) -> User | None:
        return next((u for u in self.rows.values() if u.username == username), None)

    async def replace(
        self, user: User, remembered: RememberedRequest | None = None, *, expected_version: int
    ) -> bool:
        held = self.rows.get(user.user_id)
        if held is None or held.token_version != expected_version:
            return False
        if self.remembering.knows(user.user_id, remembered):
            return False
        self.rows[user.user_id] = user
        self.remembering.change(user.user_id, remembered)
        return True

    async def list(self, *, organisation: str | None, limit: int, offset: int) -> Page[User]:
        rows = [u for u in self.rows.values() if organisation in (None, u.organisation)]
        return Page(rows[offset : offset + limit], len(rows))


class FakeApiKeys:
    def __init__(self) -> None:
        self.rows: dict[str, ApiKey] = {}
        self.remembering: Remembering[ApiKey] = Remembering()

    async def add(self, key: ApiKey, remembered: RememberedRequest | None = None) -> None:
        self.remembering.creation(key.key_id, remembered)
        self.rows[key.key_id] = key

    async def by_request(self, token: str) -> Held[ApiKey] | None:
        return self.remembering.by_request(token, self.rows)

    async def get_with_request(self, key_id: str, token: str) -> Held[ApiKey] | None:
        return self.remembering.with_request(key_id, token, self.rows)

    async def get(self, key_id: str) -> ApiKey | None:
        return self.rows.get(key_id)

    async def revoke(
        self, key_id: str, at: datetime, remembered: RememberedRequest | None = None
    ) -> ApiKey | None:
        key = self.rows.get(key_id)
        if key is not None and key.revoked_at is None:
            self.rows[key_id] = replace(key, revoked_at=at)
            self.remembering.change(key_id, remembered)
        return self.rows.get(key_id)

    async def revoke_all_of(self, user_id: str, at: datetime) -> int:
        mine = [k for k in self.rows.values() if k.user_id == user_id and k.revoked_at is None]
        for key in mine:
            self.rows[key.key_id] = replace(key, revoked_at=at)
        return len(mine)

    async def list(
        self,
        *,
        organisation: str | None,
        user_id: str | None,
        include_revoked: bool,
        limit: int,
        offset: int,
    ) -> Page[ApiKey]:
        rows = [
            k
            for k in self.rows.values()
            if organisation in (None, k.organisation)
            and user_id in (None, k.user_id)
            and (include_revoked or k.revoked_at is None)
        ]
        return Page(rows[offset : offset + limit], len(rows))


class FakeIdempotencyStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Claim] = {}

    async def claim(self, claim: Claim) -> bool:
        if (claim.organisation, claim.key) in self.rows:
            return False
        self.rows[(claim.organisation, claim.key)] = claim
        return True

    async def get(self, organisation: str, key: str) -> Claim | None:
        return self.rows.get((organisation, key))

    async def take_over(
        self, organisation: str, key: str, claimed_before: datetime, now: datetime
    ) -> bool:
        claim = self.rows.get((organisation, key))
        if claim is None or claim.state is not ClaimState.IN_PROGRESS:
            return False
        if claim.claimed_at >= claimed_before:
            return False
        self.rows[(organisation, key)] = replace(claim, claimed_at=now)
        return True

    async def complete(self, organisation: str, key: str, response: StoredResponse) -> None:
        claim = self.rows[(organisation, key)]
        self.rows[(organisation, key)] = replace(
            claim, state=ClaimState.COMPLETED, response=response
        )

    async def release(self, organisation: str, key: str) -> None:
        claim = self.rows.get((organisation, key))
        if claim is not None and claim.state is ClaimState.IN_PROGRESS:
            del self.rows[(organisation, key)]

    async def prune(self, claimed_before: datetime) -> int:
        old = [k for k, c in self.rows.items() if c.claimed_at < claimed_before]
        for k in old:
            del self.rows[k]
        return len(old)


class FakeRateCounters:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def increment(self, counter_id: str, window_start: datetime) -> int:
        self.counts[counter_id] = self.counts.get(counter_id, 0) + 1
        return self.counts[counter_id]

    async def prune(self, windows_before: datetime) -> int:
        return 0


class FakeAuditStore:
    """Stores entries by id (a repeated entry is stored once, as with the unique _id); can be
    made to fail the next inserts, or to hold an insert until released."""

    def __init__(self) -> None:
        self.entries: dict[str, AuditEntry] = {}
        self.batches: list[int] = []
        self.failures_left = 0
        self.gate: asyncio.Event | None = None
        self.inside = asyncio.Event()

    async def record_many(self, entries: Sequence[AuditEntry]) -> None:
        self.inside.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionError("store unreachable")
        self.batches.append(len(entries))
        for entry in entries:
            self.entries.setdefault(entry.entry_id, entry)

    async def find(self, query: AuditQuery) -> Page[AuditEntry]:
        rows = [e for e in self.entries.values() if query.organisation in (None, e.organisation)]
        return Page(rows[query.offset : query.offset + query.limit], len(rows))


class FakeReplica:
    """One replica of a service behind the gateway: answers 200, or fails as told."""

    def __init__(self, name: str, failure: Exception | None = None) -> None:
        self.name = name
        self.failure = failure
        self.calls: list[tuple[str, str]] = []
        self.closed = False

    async def request(
        self, method: str, target: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamAnswer:
        self.calls.append((method, target))
        if self.failure is not None:
            raise self.failure
        return UpstreamAnswer(200, [("x-replica", self.name)], b"{}")

    async def alive(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def aclose(self) -> None:
        self.closed = True
