"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kitflow_shared.contracts.catalogue import ItemState
from kitflow_shared.contracts.needs import NeedState
from kitflow_shared.contracts.stock import BalanceState, LowStock, NearExpiry, WarehouseState
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_shared.web.paging import Page

from kitflow_distribution.domain.alerts import Alert
from kitflow_distribution.domain.coverage import NeedCoverage
from kitflow_distribution.domain.gap_cells import CellChange
from kitflow_distribution.domain.gaps import ItemGap, WeekChange
from kitflow_distribution.domain.plans import Plan


class CreatedMeanwhile(Exception):
    """A concurrent copy of the creating request (the same Idempotency-Key) stored its document
    first: answer with that one."""


@dataclass(frozen=True)
class Actor:
    user: str
    organisation: str
    coordinator: bool = False
    admin: bool = False
    partner: bool = False

    @property
    def plans(self) -> bool:
        return self.coordinator or self.admin


class WarehouseView(Protocol):
    """Distribution's read model of the warehouses, built only from stock's events."""

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        """Store `state` if `sequence` is newer than what the view holds; else change nothing."""

    async def apply_many(self, changes: Sequence[tuple[WarehouseState, int]]) -> list[Applied]:
        """`apply` for each (state, sequence) in order, in few writes; one outcome each."""

    async def all(self) -> list[tuple[WarehouseState, int]]:
        """Every warehouse with the sequence the view holds for it."""


class StockView(Protocol):
    """Available stock per warehouse and item, built from stock's events."""

    async def apply(self, warehouse: str, balance: BalanceState, sequence: int) -> Applied: ...

    async def all(self) -> list[tuple[str, BalanceState]]: ...


class NeedsView(Protocol):
    """Needs as the needs service last published them."""

    async def apply(
        self, state: NeedState, sequence: int, at: datetime | None = None
    ) -> Applied: ...

    async def apply_many(
        self, changes: Sequence[tuple[NeedState, int, datetime | None]]
    ) -> list[Applied]:
        """`apply` for each (state, sequence, at) in order, in few writes; one outcome each."""

    async def get(self, need_id: str) -> NeedState | None: ...

    async def all(self) -> list[NeedState]: ...

    async def ids_of(self, organisation: str) -> list[str]:
        """The ids of the organisation's needs the view holds."""


class ItemView(Protocol):
    """The catalogue as stock publishes it: what distribution needs is each item's sector
    (its category) and unit."""

    async def apply(self, state: ItemState, sequence: int) -> Applied: ...

    async def sectors(self) -> dict[str, str]: ...

    async def units(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class NeedPlace:
    """What the gap view keeps of a need besides its items: who, where, how many."""

    need_id: str
    organisation: str
    status: str
    admin1_pcode: str
    admin2_pcode: str
    households: int


@dataclass(frozen=True)
class GapFilter:
    organisation: str | None = None
    admin1_pcode: str | None = None
    admin2_pcode: str | None = None
    item_code: str | None = None
    sector: str | None = None


@dataclass(frozen=True)
class AreaItemGap:
    """One item's totals in one area (a region, or a cercle), in the item's unit."""

    admin1_pcode: str
    admin2_pcode: str | None
    item_code: str
    sector: str
    needs: int
    requested: int
    planned: int
    dispatched: int
    delivered: int
    households: int
    households_planned: int
    households_dispatched: int
    households_delivered: int


@dataclass(frozen=True)
class AreaSectorGap:
    """One sector's households in one area: each need counted once."""

    admin1_pcode: str
    admin2_pcode: str | None
    sector: str
    needs: int
    households: int
    households_planned: int
    households_dispatched: int
    households_delivered: int


@dataclass(frozen=True)
class WeekItemTotals:
    week: str
    item_code: str
    requested: int
    planned: int
    delivered: int


@dataclass(frozen=True)
class StoredGap:
    """A need as the gap view holds it: its place, counted items, week changes so far, the
    sequence of the need's event they were built from, and the view's own version of it (which
    also moves when an item is filed under another sector)."""

    place: NeedPlace
    items: list[ItemGap]
    weeks: list[WeekChange]
    sequence: int
    version: int


@dataclass(frozen=True)
class GapWrite:
    """One need's new state in the gap view: its items, the week changes to add to its weeks,
    the cell changes they imply, and the version of the document it was computed from."""

    place: NeedPlace
    sequence: int
    gaps: Sequence[ItemGap]
    changes: Sequence[WeekChange]
    cells: Sequence[CellChange]
    version: int


class GapTotals(Protocol):
    """The totals a coordinator reads, per area and item or sector, and per week and item."""

    async def by_item(self, where: GapFilter, level: str) -> list[AreaItemGap]: ...

    async def by_sector(self, where: GapFilter, level: str) -> list[AreaSectorGap]: ...

    async def trend(self, where: GapFilter) -> list[WeekItemTotals]: ...


class GapView(GapTotals, Protocol):
    """Per need, its items as the gap counts them and what each of its events changed per
    ISO week (the source of truth), and the cells pre-summed from them (ADR 0027) that the
    totals are read from."""

    async def get(self, need_id: str) -> StoredGap | None:
        """The need as stored, once the cell changes of its last write are all in (a crash
        between two cells' updates is completed here)."""

    async def apply(
        self,
        place: NeedPlace,
        sequence: int,
        gaps: Sequence[ItemGap],
        changes: Sequence[WeekChange],
        cells: Sequence[CellChange],
        version: int,
    ) -> bool:
        """Store the need's items, add `changes` to its weeks and `cells` to the cells, if
        `sequence` is newer than what the view holds and its version is still `version`;
        False (nothing changed) otherwise."""

    async def get_many(self, need_ids: Collection[str]) -> dict[str, StoredGap]:
        """`get` for many needs in one read (those the view does not hold are left out)."""

    async def apply_many(self, writes: Sequence[GapWrite]) -> list[bool]:
        """`apply` for many needs (one write each) in one batch of writes, and their cells in
        one more: for each write, whether it was applied (False: its guard refused, nothing
        of it changed)."""

    async def refile(
        self,
        stored: StoredGap,
        gaps: Sequence[ItemGap],
        weeks: Sequence[WeekChange],
        cells: Sequence[CellChange],
    ) -> bool:
        """The need's items and weeks filed under new sectors, if it is still as `stored`."""

    async def needs_filed_elsewhere(self, item_code: str, sector: str) -> list[str]:
        """The needs holding `item_code` (in their items or weeks) under another sector."""


class AlertSource(Protocol):
    """One source of alerts (stock's signals, plans and needs, dead letters)."""

    async def alerts(self, now: datetime) -> list[Alert]: ...


class StockAlerts(Protocol):
    """Stock's low-stock and near-expiry signals, kept from its events."""

    async def low(self, signal: LowStock, at: datetime, sequence: int) -> Applied: ...

    async def near_expiry(self, signal: NearExpiry, at: datetime, sequence: int) -> Applied: ...

    async def alerts(self, now: datetime) -> list[Alert]: ...


class PlanRepository(Protocol):
    """Plans, one document each. A request with an Idempotency-Key is remembered on the plan
    it created or changed, in the same write (ADR 0011)."""

    async def get(self, plan_id: str) -> Plan: ...

    async def load(
        self, plan_id: str, key: RequestKey | None
    ) -> tuple[Plan, RememberedRequest | None]:
        """The plan, with what it remembers of the request with `key` (in the same read)."""

    async def add(
        self,
        plan: Plan,
        events: Sequence[CloudEvent],
        created_by: RememberedRequest | None = None,
    ) -> None:
        """Store a new plan; with `created_by`, CreatedMeanwhile if a plan was already created
        with that key."""

    async def created_with(self, key: RequestKey) -> tuple[Plan, RememberedRequest] | None:
        """The plan the request with `key` created, if it did."""

    async def save(
        self,
        plan: Plan,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        remember: RememberedRequest | None = None,
    ) -> None:
        """Store the change if the plan is still at `expected_sequence` (and has not remembered
        `remember` meanwhile); ConcurrentChange otherwise."""

    async def remember(
        self, plan_id: str, expected_sequence: int, remember: RememberedRequest
    ) -> None:
        """Remember a request that found the plan already as it asked, on the same condition."""

    async def find(
        self,
        *,
        status: str | None,
        need_id: str | None,
        limit: int,
        offset: int,
        need_ids: Collection[str] | None = None,
    ) -> Page[Plan]:
        """Plans, newest first; `need_ids`: only those serving one of these needs."""

    async def waiting_for_answers(self) -> list[str]: ...


class CoverageRepository(Protocol):
    async def get(self, need_id: str, organisation: str) -> NeedCoverage: ...

    async def save(self, coverage: NeedCoverage, events: Sequence[CloudEvent]) -> None: ...

    async def all(self) -> list[NeedCoverage]: ...
