"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kitflow_shared.events.envelope import CloudEvent, RenderedEvent

from kitflow_needs.domain.catalogue import CatalogueItem
from kitflow_needs.domain.gazetteer import Gazetteer
from kitflow_needs.domain.need import Need, NeedDetails, NeedStatus
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.catalogue import LiveCatalogue


@dataclass(frozen=True)
class Actor:
    """Who asks, as far as the handlers care."""

    user: str
    organisation: str
    coordinator: bool = False
    admin: bool = False

    @property
    def sees_all(self) -> bool:
        """Coordinators and admins see every organisation's needs; partners their own."""
        return self.coordinator or self.admin


@dataclass(frozen=True)
class NeedQuery:
    organisation: str | None = None
    statuses: frozenset[NeedStatus] | None = None
    admin1_pcode: str | None = None
    admin2_pcode: str | None = None
    min_severity: int | None = None
    with_open_duplicates: bool = False
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class Page:
    items: list[Need]
    total: int


@dataclass(frozen=True)
class StoredImport:
    """What the store holds about a need created by an import."""

    need_id: str
    content_hash: str


@dataclass(frozen=True)
class ImportRecord:
    need: Need
    events: Sequence[RenderedEvent]
    import_key: str
    content_hash: str


class NeedRepository(Protocol):
    async def get(self, need_id: str) -> Need:
        """The need, or UnknownNeed."""

    async def add(
        self,
        need: Need,
        events: Sequence[CloudEvent],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> None:
        """Store a new need and its events atomically. A key already taken raises
        IdempotentReplay."""

    async def by_idempotency_key(self, organisation: str, key: str) -> tuple[Need, str] | None:
        """The need first created with this key by this organisation, and the request's hash."""

    async def save(
        self,
        need: Need,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        *,
        content_hash: str | None = None,
    ) -> None:
        """Store the changed need and its events atomically if it is still at
        `expected_sequence`, or raise ConcurrentChange."""

    async def save_coverage(
        self, need: Need, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        """Like save, and only while the stored coverage sequence is older than the need's."""

    async def find(self, query: NeedQuery) -> Page:
        """Needs in creation order, filtered."""

    async def active_in(
        self, admin2_pcodes: Collection[str], *, excluding_organisation: str
    ) -> list[Need]:
        """Other organisations' active needs in these cercles: the duplicate candidates of a
        bulk import, read once per cercle for all its rows."""

    async def candidates_for(
        self, details: NeedDetails, *, excluding_organisation: str
    ) -> list[Need]:
        """Other organisations' active needs in the cercle of `details`, for a period that
        overlaps its own and with at least one item in common: every need the duplicate rule
        could flag, read without the ones it could not (a busy cercle holds many)."""

    async def get_many(self, need_ids: Collection[str]) -> dict[str, Need]:
        """The needs of these ids that exist, by id."""

    async def save_many(self, changes: Sequence[tuple[Need, int, Sequence[CloudEvent]]]) -> None:
        """Each (need, expected sequence, events) saved like `save`, in one round trip; a need
        that changed meanwhile is left as it is, without an error (read it back to know)."""

    async def owing_back_links(self, limit: int) -> list[Need]:
        """Needs whose possible duplicates may not all link back to them yet."""

    async def back_links_done(self, sequences: Mapping[str, int]) -> None:
        """Clear the mark of each need (id → sequence), if it is still at that sequence."""

    async def imported(self, need_ids: Collection[str]) -> dict[str, StoredImport]:
        """Which of these (import-derived) ids exist already, with their content hash."""

    async def add_imported(self, records: Sequence[ImportRecord]) -> set[str]:
        """Store new needs from an import, each with its events; return the ids stored (an id
        that exists already is left as it is)."""


class ProfileRepository(Protocol):
    async def get(self, profile_id: str) -> NormsProfile:
        """The profile, or UnknownProfile."""

    async def all(self) -> list[NormsProfile]:
        """Every profile, by id."""

    async def add(self, profile: NormsProfile) -> None:
        """Store a new profile or raise DuplicateProfile."""

    async def save(self, profile: NormsProfile, expected_version: int) -> None:
        """Replace the profile if it is still at `expected_version`, or raise ConcurrentChange."""

    async def seed(self, profiles: Sequence[NormsProfile]) -> int:
        """Store the built-in profiles that are not there yet; return how many."""


class CatalogueRepository(Protocol):
    """The read model of stock's catalogue: one entry per item or kit stock published."""

    async def apply(self, item: CatalogueItem) -> bool:
        """Store the item if its sequence is newer than the stored entry's (or there is none);
        False when the stored entry is as new or newer (a redelivered or stale event)."""

    async def all(self) -> list[CatalogueItem]:
        """Every entry."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class NeedsServices:
    """Everything a needs handler may use, wired once by the composition root."""

    needs: NeedRepository
    profiles: ProfileRepository
    gazetteer: Gazetteer
    # In memory, over the read model of stock's catalogue: intake looks codes up in a dict.
    catalogue: LiveCatalogue
    clock: Clock
    new_id: Callable[[], str]
    # The cluster's policy: do partners see the details of another organisation's possible
    # duplicate (KITFLOW_NEEDS_DUPLICATE_DETAILS_FOR_PARTNERS)? See shows_duplicate_details().
    duplicate_details_for_partners: bool = False
