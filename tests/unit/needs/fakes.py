"""Hand-written fakes of the needs service's ports (never mocks of libraries)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kitflow_needs.adapters.bundled import builtin_profiles, load_catalogue, load_gazetteer
from kitflow_needs.domain.catalogue import CatalogueItem
from kitflow_needs.domain.errors import (
    ConcurrentChange,
    DuplicateProfile,
    IdempotentReplay,
    UnknownNeed,
    UnknownProfile,
)
from kitflow_needs.domain.need import ACTIVE_STATUSES, DuplicateDecision, Need, NeedDetails
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.ports import (
    ImportRecord,
    NeedQuery,
    NeedsServices,
    Page,
    StoredImport,
)
from kitflow_shared.events.envelope import CloudEvent


@dataclass
class _Stored:
    need: Need
    idempotency: str | None = None
    request_hash: str | None = None
    import_hash: str | None = None


class FakeNeedRepository:
    def __init__(self) -> None:
        self.rows: dict[str, _Stored] = {}
        self.published: list[CloudEvent] = []
        # Simulates another writer getting in first, this many times.
        self.conflicts_to_inject = 0

    def need(self, need_id: str) -> Need:
        return copy.deepcopy(self.rows[need_id].need)

    async def get(self, need_id: str) -> Need:
        if need_id not in self.rows:
            raise UnknownNeed(need_id)
        return copy.deepcopy(self.rows[need_id].need)

    async def add(
        self,
        need: Need,
        events: Sequence[CloudEvent],
        *,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
    ) -> None:
        key = f"{need.organisation}|{idempotency_key}" if idempotency_key else None
        if key and any(s.idempotency == key for s in self.rows.values()):
            assert idempotency_key is not None
            raise IdempotentReplay(idempotency_key)
        assert need.need_id not in self.rows
        self.rows[need.need_id] = _Stored(need.snapshot(), key, request_hash)
        self.published.extend(events)

    async def by_idempotency_key(self, organisation: str, key: str) -> tuple[Need, str] | None:
        for stored in self.rows.values():
            if stored.idempotency == f"{organisation}|{key}":
                return copy.deepcopy(stored.need), stored.request_hash or ""
        return None

    async def save(
        self,
        need: Need,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        *,
        content_hash: str | None = None,
    ) -> None:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrentChange("injected")
        stored = self.rows[need.need_id]
        if stored.need.sequence != expected_sequence:
            raise ConcurrentChange("stale")
        stored.need = need.snapshot()
        if content_hash is not None:
            stored.import_hash = content_hash
        self.published.extend(events)

    async def get_many(self, need_ids: Collection[str]) -> dict[str, Need]:
        return {i: copy.deepcopy(self.rows[i].need) for i in need_ids if i in self.rows}

    async def save_many(self, changes: Sequence[tuple[Need, int, Sequence[CloudEvent]]]) -> None:
        for need, expected, events in changes:
            try:
                await self.save(need, expected, events)
            except ConcurrentChange:
                continue

    async def save_coverage(
        self, need: Need, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        stored = self.rows[need.need_id]
        if stored.need.coverage_sequence >= need.coverage_sequence:
            raise ConcurrentChange("coverage already newer")
        await self.save(need, expected_sequence, events)

    async def find(self, query: NeedQuery) -> Page:
        rows = [
            s.need
            for s in sorted(self.rows.values(), key=lambda s: (s.need.created_at, s.need.need_id))
            if (query.organisation is None or s.need.organisation == query.organisation)
            and (query.statuses is None or s.need.status in query.statuses)
            and (
                query.admin1_pcode is None
                or s.need.details.location.admin1_pcode == query.admin1_pcode
            )
            and (
                query.admin2_pcode is None
                or s.need.details.location.admin2_pcode == query.admin2_pcode
            )
            and (query.min_severity is None or s.need.details.severity >= query.min_severity)
            and (
                not query.with_open_duplicates
                or any(d.decision is DuplicateDecision.OPEN for d in s.need.duplicates)
            )
        ]
        items = rows[query.offset : query.offset + query.limit]
        return Page(items=copy.deepcopy(items), total=len(rows))

    async def active_in(
        self, admin2_pcodes: Collection[str], *, excluding_organisation: str
    ) -> list[Need]:
        return [
            copy.deepcopy(s.need)
            for s in self.rows.values()
            if s.need.details.location.admin2_pcode in admin2_pcodes
            and s.need.status in ACTIVE_STATUSES
            and s.need.organisation != excluding_organisation
        ]

    async def candidates_for(
        self, details: NeedDetails, *, excluding_organisation: str
    ) -> list[Need]:
        wanted = set(details.requested())
        return [
            need
            for need in await self.active_in(
                {details.location.admin2_pcode}, excluding_organisation=excluding_organisation
            )
            if need.details.period.overlaps(details.period)
            and wanted & set(need.details.requested())
        ]

    async def owing_back_links(self, limit: int) -> list[Need]:
        owing = [s.need for s in self.rows.values() if s.need.owes_back_links]
        return copy.deepcopy(owing[:limit])

    async def back_links_done(self, sequences: Mapping[str, int]) -> None:
        for need_id, sequence in sequences.items():
            stored = self.rows[need_id].need
            if stored.sequence == sequence:
                stored.owes_back_links = False

    async def imported(self, need_ids: Collection[str]) -> dict[str, StoredImport]:
        return {
            i: StoredImport(i, self.rows[i].import_hash or "") for i in need_ids if i in self.rows
        }

    async def add_imported(self, records: Sequence[ImportRecord]) -> set[str]:
        inserted = set()
        for record in records:
            if record.need.need_id in self.rows:
                continue
            self.rows[record.need.need_id] = _Stored(
                record.need.snapshot(), import_hash=record.content_hash
            )
            self.published.extend(e.event() for e in record.events)
            inserted.add(record.need.need_id)
        return inserted


class FakeProfileRepository:
    def __init__(self, profiles: Sequence[NormsProfile] = ()) -> None:
        self.rows: dict[str, NormsProfile] = {p.profile_id: p for p in profiles}

    async def get(self, profile_id: str) -> NormsProfile:
        if profile_id not in self.rows:
            raise UnknownProfile(profile_id)
        return self.rows[profile_id]

    async def all(self) -> list[NormsProfile]:
        return [self.rows[k] for k in sorted(self.rows)]

    async def add(self, profile: NormsProfile) -> None:
        if profile.profile_id in self.rows:
            raise DuplicateProfile(profile.profile_id)
        self.rows[profile.profile_id] = profile

    async def save(self, profile: NormsProfile, expected_version: int) -> None:
        if self.rows[profile.profile_id].version != expected_version:
            raise ConcurrentChange("stale")
        self.rows[profile.profile_id] = profile

    async def seed(self, profiles: Sequence[NormsProfile]) -> int:
        added = 0
        for p in profiles:
            if p.profile_id not in self.rows:
                self.rows[p.profile_id] = p
                added += 1
        return added


class FakeCatalogueRepository:
    """The read model of stock's catalogue, in a dict; counts its reads, so tests can tell a
    dict lookup from a round trip."""

    def __init__(self, items: Sequence[CatalogueItem] = ()) -> None:
        self.rows: dict[str, CatalogueItem] = {i.code: i for i in items}
        self.reads = 0

    async def apply(self, item: CatalogueItem) -> bool:
        held = self.rows.get(item.code)
        if held is not None and held.sequence >= item.sequence:
            return False
        self.rows[item.code] = item
        return True

    async def all(self) -> list[CatalogueItem]:
        self.reads += 1
        return list(self.rows.values())


@dataclass
class SteppingClock:
    """Each reading is one second after the last: orders are deterministic."""

    current: datetime = field(default_factory=lambda: datetime(2025, 3, 1, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


def services(
    needs: FakeNeedRepository | None = None,
    profiles: FakeProfileRepository | None = None,
    catalogue: FakeCatalogueRepository | None = None,
) -> NeedsServices:
    counter = itertools.count(1)
    return NeedsServices(
        needs=needs or FakeNeedRepository(),
        profiles=profiles or FakeProfileRepository(builtin_profiles()),
        gazetteer=load_gazetteer(),
        catalogue=LiveCatalogue(load_catalogue(), catalogue or FakeCatalogueRepository()),
        clock=SteppingClock(),
        new_id=lambda: f"need-{next(counter):04d}",
    )
