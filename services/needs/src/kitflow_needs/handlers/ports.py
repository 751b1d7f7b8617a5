"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kitflow_shared.events.envelope import CloudEvent, RenderedEvent
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_shared.web.paging import Page as Page

from kitflow_needs.domain.catalogue import CatalogueItem, ItemCatalogue
from kitflow_needs.domain.gazetteer import Gazetteer
from kitflow_needs.domain.need import Need, NeedDetails, NeedStatus
from kitflow_needs.domain.norms import NormsProfile


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
    # The coordinator's need picker: which partners, severities and item, reported when.
    partners: frozenset[str] | None = None
    severities: frozenset[int] | None = None
    item_code: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class StoredImport:
    """What the store holds about a need created by an import."""

    need_id: str
    content_hash: str
    # A person changed its details since (PUT /v1/needs/{id}): imports that keep people's
    # edits (the DTM's) leave it alone.
    edited: bool = False
    draft: bool = False


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
        self, need: Need, events: Sequence[CloudEvent], *, key: RequestKey | None = None
    ) -> None:
        """Store a new need and its events atomically, with the Idempotency-Key that created it
        if any. A key already taken (a concurrent copy of the request) raises IdempotentReplay."""

    async def created_with(self, key: RequestKey) -> tuple[Need, RememberedRequest] | None:
        """The need created with this key (of this organisation), and what the request was."""

    async def remembered(self, need_id: str, key: RequestKey) -> RememberedRequest | None:
        """The request that changed (or left unchanged) this need with this key, if any."""

    async def save(
        self,
        need: Need,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        *,
        content_hash: str | None = None,
        remember: RememberedRequest | None = None,
        edited: bool = False,
    ) -> None:
        """Store the changed need, its events and the request's key (`remember`) atomically if
        it is still at `expected_sequence` and that key is not remembered yet, or raise
        ConcurrentChange."""

    async def remember(
        self, need_id: str, expected_sequence: int, remember: RememberedRequest
    ) -> None:
        """Remember a request that found nothing to change, under the same conditions as
        `save`, or raise ConcurrentChange."""

    async def save_coverage(
        self, need: Need, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        """Like save, and only while the stored coverage sequence is older than the need's."""

    async def find(self, query: NeedQuery) -> Page[Need]:
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

    async def remembered(self, key: RequestKey) -> tuple[str, RememberedRequest] | None:
        """The profile a request with this key added or changed, and what that request was."""

    async def add(self, profile: NormsProfile, remember: RememberedRequest | None = None) -> None:
        """Store a new profile (with the key of the request that adds it) or raise
        DuplicateProfile."""

    async def save(
        self,
        profile: NormsProfile,
        expected_version: int,
        remember: RememberedRequest | None = None,
    ) -> None:
        """Replace the profile and remember the request's key, atomically, if it is still at
        `expected_version` and that key is not remembered yet; or raise ConcurrentChange."""

    async def seed(self, profiles: Sequence[NormsProfile]) -> int:
        """Store the built-in profiles that are not there yet; return how many."""


class CatalogueRepository(Protocol):
    """The read model of stock's catalogue: one entry per item or kit stock published."""

    async def apply(self, item: CatalogueItem) -> bool:
        """Store the item if its sequence is newer than the stored entry's (or there is none);
        False when the stored entry is as new or newer (a redelivered or stale event)."""

    async def all(self) -> list[CatalogueItem]:
        """Every entry."""


class Catalogue(Protocol):
    """Stock's catalogue as the handlers use it: a copy in memory over the read model, so that
    intake looks codes up in a dict (handlers.catalogue.LiveCatalogue)."""

    def current(self) -> ItemCatalogue:
        """The copy as it is now (for names and units in answers)."""

    async def refresh(self) -> ItemCatalogue:
        """Read the read model once and merge it in."""

    async def knowing(self, codes: Iterable[str]) -> ItemCatalogue:
        """The copy, refreshed first if it lacks one of `codes`."""

    async def apply(self, item: CatalogueItem) -> Applied:
        """Store the item in the read model if newer, and in this process's copy."""


@dataclass(frozen=True)
class HeldRequest:
    """An import request begun earlier with the same Idempotency-Key."""

    fingerprint: str
    since: datetime
    # The first request's answer (its report, serialised); None while that request runs.
    answer: str | None


class ImportRequestRepository(Protocol):
    """The Idempotency-Keys of HXL imports, with the answer each gave.

    An import changes many needs, so no single document can hold its key with its effect; its
    effect is idempotent by itself (each row's need id derives from the row). What the key adds
    is the first answer (the ids created) and that a retry never runs an older file again over
    a newer one."""

    async def claim(self, key: RequestKey, now: datetime) -> HeldRequest | None:
        """Claim the key for a request starting `now`: None when claimed, else what holds it."""

    async def take_over(self, key: RequestKey, since: datetime, now: datetime) -> bool:
        """Claim a key whose request, begun at `since`, never answered; False if someone else
        did meanwhile."""

    async def complete(self, key: RequestKey, answer: str) -> bool:
        """Keep the claimed request's answer; False if too large to keep (the claim is left
        for the caller to release)."""

    async def release(self, key: RequestKey) -> None:
        """Forget a claim whose request had no effect (or failed), so a retry runs again."""

    async def forget_before(self, moment: datetime) -> int:
        """Forget the keys of requests begun before `moment`; how many."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class NeedsServices:
    """Everything a needs handler may use, wired once by the composition root."""

    needs: NeedRepository
    profiles: ProfileRepository
    gazetteer: Gazetteer
    # In memory, over the read model of stock's catalogue: intake looks codes up in a dict.
    catalogue: Catalogue
    clock: Clock
    new_id: Callable[[], str]
    import_requests: ImportRequestRepository
    # The cluster's policy: do partners see the details of another organisation's possible
    # duplicate (KITFLOW_NEEDS_DUPLICATE_DETAILS_FOR_PARTNERS)? See shows_duplicate_details().
    duplicate_details_for_partners: bool = False
