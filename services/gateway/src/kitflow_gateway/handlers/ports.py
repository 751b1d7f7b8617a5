"""What the handlers need from the outside world; adapters/ implements them on the store, the
unit tests with hand-written fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from kitflow_shared.request_keys import RememberedRequest
from kitflow_shared.web.paging import Page as Page

from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.idempotency import Claim, StoredResponse
from kitflow_gateway.domain.identity import ApiKey, Organisation, User

T = TypeVar("T")
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Held(Generic[T]):
    """An object as stored, with the request remembered on it for one Idempotency-Key (if any):
    the request that created it, or one of the last requests that changed it (ADR 0011)."""

    value: T
    remembered: RememberedRequest | None = None


# Every write below that takes a `remembered` request stores it in the same single-document
# write as the change: on the document it creates (under a unique index), or pushed onto the
# document's bounded `requests` array, only if that key is not there yet.


class OrganisationRepository(Protocol):
    async def add(
        self, organisation: Organisation, remembered: RememberedRequest | None = None
    ) -> None:
        """Raises AlreadyExists if the id, or the request's key, is taken."""

    async def get(self, organisation_id: str) -> Organisation | None: ...

    async def by_request(self, token: str) -> Held[Organisation] | None:
        """The organisation a request with this key token created."""

    async def get_with_request(self, organisation_id: str, token: str) -> Held[Organisation] | None:
        """The organisation, with the request of this key token if it changed it."""

    async def list(self, *, limit: int, offset: int) -> Page[Organisation]: ...

    async def set_active(
        self, organisation_id: str, active: bool, remembered: RememberedRequest | None
    ) -> Organisation | None:
        """The organisation after the change; None if there is no such organisation, or the
        remembered request's key is already on it."""


class UserRepository(Protocol):
    async def add(self, user: User, remembered: RememberedRequest | None = None) -> None:
        """Raises AlreadyExists if the user name, or the request's key, is taken."""

    async def get(self, user_id: str) -> User | None: ...

    async def by_request(self, token: str) -> Held[User] | None: ...

    async def get_with_request(self, user_id: str, token: str) -> Held[User] | None: ...

    async def by_username(self, username: str) -> User | None: ...

    async def replace(
        self, user: User, remembered: RememberedRequest | None = None, *, expected_version: int
    ) -> bool:
        """Store the changed user if it still has `expected_version` (and the remembered
        request's key is not on it yet); False otherwise."""

    async def list(self, *, organisation: str | None, limit: int, offset: int) -> Page[User]: ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey, remembered: RememberedRequest | None = None) -> None:
        """Raises AlreadyExists if the request's key is taken."""

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def by_request(self, token: str) -> Held[ApiKey] | None: ...

    async def get_with_request(self, key_id: str, token: str) -> Held[ApiKey] | None: ...

    async def revoke(
        self, key_id: str, at: datetime, remembered: RememberedRequest | None = None
    ) -> ApiKey | None:
        """Revoke the key if it is not revoked yet (remembering the request with it); the key as
        it now is (None if unknown)."""

    async def revoke_all_of(self, user_id: str, at: datetime) -> int: ...

    async def list(
        self,
        *,
        organisation: str | None,
        user_id: str | None,
        include_revoked: bool,
        limit: int,
        offset: int,
    ) -> Page[ApiKey]: ...


class IdempotencyStore(Protocol):
    async def claim(self, claim: Claim) -> bool:
        """Insert the in-flight claim; False if the organisation already used this key."""

    async def get(self, organisation: str, key: str) -> Claim | None: ...

    async def take_over(
        self, organisation: str, key: str, claimed_before: datetime, now: datetime
    ) -> bool:
        """Re-claim an in-flight claim older than `claimed_before` (one caller wins)."""

    async def complete(self, organisation: str, key: str, response: StoredResponse) -> None: ...

    async def release(self, organisation: str, key: str) -> None: ...

    async def prune(self, claimed_before: datetime) -> int: ...


class RateCounters(Protocol):
    async def increment(self, counter_id: str, window_start: datetime) -> int:
        """Add one request to the window's counter, atomically; the count after it."""

    async def prune(self, windows_before: datetime) -> int: ...


class AuditStore(Protocol):
    async def record_many(self, entries: Sequence[AuditEntry]) -> None:
        """Insert the entries; entries already stored (a retried batch) are not duplicated."""

    async def find(self, query: AuditQuery) -> Page[AuditEntry]: ...


@dataclass(frozen=True)
class UpstreamAnswer:
    """A service's answer as the gateway passes it on: status, headers (repeats kept), body."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes


class UpstreamTimeout(Exception):
    """The service did not answer in time: the request may or may not have been applied."""


class UpstreamUnavailable(Exception):
    """The service could not be reached, or dropped the connection."""


class Upstream(Protocol):
    """One service behind the gateway, reached over HTTP (or in-process in tests)."""

    async def request(
        self, method: str, target: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamAnswer:
        """`target` is the path and query exactly as the caller sent them (still encoded).
        Raises UpstreamTimeout or UpstreamUnavailable."""

    async def alive(self) -> None:
        """Raises unless the service answers its liveness probe."""

    async def aclose(self) -> None: ...
