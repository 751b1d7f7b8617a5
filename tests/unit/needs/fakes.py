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
from kitflow_needs.domain.need import (
    ACTIVE_STATUSES,
    DuplicateDecision,
    Need,
    NeedDetails,
    NeedStatus,
)
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.ports import (
    HeldRequest,
    ImportRecord,
    NeedQuery,
    NeedsServices,
    Page,
    StoredImport,
)
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.request_keys import RememberedRequest, RequestKey


@dataclass
class _Stored:
    need: Need
    created_with: RememberedRequest | None = None
    import_hash: str | None = None
    edited: bool = False
    requests: list[RememberedRequest] = field(default_factory=list)


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
        self, need: Need, events: Sequence[CloudEvent], *, key: RequestKey | None = None
    ) -> None:
        if key and await self.created_with(key):
            raise IdempotentReplay(key.key)
        assert need.need_id not in self.rows
        created_with = RememberedRequest.of(key, need.need_id, need.created_at) if key else None
        self.rows[need.need_id] = _Stored(need.snapshot(), created_with)
        self.published.extend(events)

    async def created_with(self, key: RequestKey) -> tuple[Need, RememberedRequest] | None:
        for stored in self.rows.values():
            if stored.created_with and stored.created_with.token == key.token:
                return copy.deepcopy(stored.need), stored.created_with
        return None

    async def remembered(self, need_id: str, key: RequestKey) -> RememberedRequest | None:
        stored = self.rows.get(need_id)
        return next((r for r in stored.requests if r.token == key.token), None) if stored else None

    def _check(
        self, need_id: str, expected_sequence: int, remember: RememberedRequest | None
    ) -> _Stored:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrentChange("injected")
        stored = self.rows[need_id]
        if stored.need.sequence != expected_sequence:
            raise ConcurrentChange("stale")
        if remember and any(r.token == remember.token for r in stored.requests):
            raise ConcurrentChange("the key was remembered meanwhile")
        return stored

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
        stored = self._check(need.need_id, expected_sequence, remember)
        stored.edited = stored.edited or edited
        stored.need = need.snapshot()
        if content_hash is not None:
            stored.import_hash = content_hash
        if remember is not None:
            stored.requests.append(remember)
        self.published.extend(events)

    async def remember(
        self, need_id: str, expected_sequence: int, remember: RememberedRequest
    ) -> None:
        self._check(need_id, expected_sequence, remember).requests.append(remember)

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
            and (query.partners is None or s.need.organisation in query.partners)
            and (query.severities is None or s.need.details.severity in query.severities)
            and (query.item_code is None or query.item_code in s.need.details.requested())
            and (query.created_after is None or s.need.created_at > query.created_after)
            and (query.created_before is None or s.need.created_at < query.created_before)
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
            i: StoredImport(
                i,
                self.rows[i].import_hash or "",
                edited=self.rows[i].edited,
                draft=self.rows[i].need.status is NeedStatus.DRAFT,
            )
            for i in need_ids
            if i in self.rows
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
        self.requests: dict[str, list[RememberedRequest]] = {}

    async def remembered(self, key: RequestKey) -> tuple[str, RememberedRequest] | None:
        for profile_id, requests in self.requests.items():
            for r in requests:
                if r.token == key.token:
                    return profile_id, r
        return None

    async def get(self, profile_id: str) -> NormsProfile:
        if profile_id not in self.rows:
            raise UnknownProfile(profile_id)
        return self.rows[profile_id]

    async def all(self) -> list[NormsProfile]:
        return [self.rows[k] for k in sorted(self.rows)]

    async def add(self, profile: NormsProfile, remember: RememberedRequest | None = None) -> None:
        if profile.profile_id in self.rows:
            raise DuplicateProfile(profile.profile_id)
        self.rows[profile.profile_id] = profile
        self.requests[profile.profile_id] = [remember] if remember else []

    async def save(
        self,
        profile: NormsProfile,
        expected_version: int,
        remember: RememberedRequest | None = None,
    ) -> None:
        held = self.requests.setdefault(profile.profile_id, [])
        if self.rows[profile.profile_id].version != expected_version:
            raise ConcurrentChange("stale")
        if remember and any(r.token == remember.token for r in held):
            raise ConcurrentChange("the key was remembered meanwhile")
        self.rows[profile.profile_id] = profile
        if remember:
            held.append(remember)

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


class FakeImportRequests:
    def __init__(self) -> None:
        self.rows: dict[str, HeldRequest] = {}

    async def claim(self, key: RequestKey, now: datetime) -> HeldRequest | None:
        if key.token in self.rows:
            return self.rows[key.token]
        self.rows[key.token] = HeldRequest(key.fingerprint, now, None)
        return None

    async def take_over(self, key: RequestKey, since: datetime, now: datetime) -> bool:
        held = self.rows.get(key.token)
        if held is None or held.since != since or held.answer is not None:
            return False
        self.rows[key.token] = HeldRequest(held.fingerprint, now, None)
        return True

    async def complete(self, key: RequestKey, answer: str) -> bool:
        held = self.rows[key.token]
        self.rows[key.token] = HeldRequest(held.fingerprint, held.since, answer)
        return True

    async def release(self, key: RequestKey) -> None:
        if key.token in self.rows and self.rows[key.token].answer is None:
            del self.rows[key.token]

    async def forget_before(self, moment: datetime) -> int:
        old = [token for token, held in self.rows.items() if held.since < moment]
        for token in old:
            del self.rows[token]
        return len(old)


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
        import_requests=FakeImportRequests(),
    )
