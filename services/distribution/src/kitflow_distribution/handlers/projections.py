"""Read models kept from other services' events (rebuildable by replaying the topics)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from kitflow_shared.contracts import catalogue as catalogue_contract
from kitflow_shared.contracts import needs as needs_contract
from kitflow_shared.contracts import stock as stock_contract
from kitflow_shared.events import registry
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied

from kitflow_distribution.domain.gap_cells import Counters, NeedWhere, cell_changes, contribution
from kitflow_distribution.domain.gaps import ItemGap, WeekChange, iso_week, item_gaps, week_changes
from kitflow_distribution.handlers.ports import (
    GapView,
    GapWrite,
    ItemView,
    NeedPlace,
    NeedsView,
    StockAlerts,
    StockView,
    StoredGap,
    WarehouseView,
)


async def warehouse_changed(event: CloudEvent, view: WarehouseView) -> Applied:
    """Registered and updated both carry the full state: keep the newest."""
    return await view.apply(_warehouse_state(event), event.sequence)


async def warehouses_changed(events: Sequence[CloudEvent], view: WarehouseView) -> list[Applied]:
    """`warehouse_changed` for one poll's events, in one batch of writes (ADR 0033)."""
    return await view.apply_many([(_warehouse_state(e), e.sequence) for e in events])


def _warehouse_state(event: CloudEvent) -> stock_contract.WarehouseState:
    spec = (
        stock_contract.WAREHOUSE_REGISTERED
        if (event.type == stock_contract.WAREHOUSE_REGISTERED.type)
        else stock_contract.WAREHOUSE_UPDATED
    )
    return spec.parse(event)


def _warehouse_of(subject: str) -> str:
    return subject.removeprefix("stock/")


async def balances_changed(event: CloudEvent, view: StockView) -> Applied:
    """Every stock event that carries balances: keep each item's newest balance."""
    spec = registry.get(event.type)
    payload = spec.parse(event)
    if hasattr(payload, "balances"):
        balances = list(payload.balances)
    elif hasattr(payload, "balance"):
        balances = [payload.balance]
    else:
        return Applied.DUPLICATE
    warehouse = _warehouse_of(event.subject)
    outcomes = [await view.apply(warehouse, b, event.sequence) for b in balances]
    return Applied.APPLIED if Applied.APPLIED in outcomes else Applied.DUPLICATE


async def need_changed(event: CloudEvent, view: NeedsView) -> Applied:
    """Every needs event carries the need's whole state: keep the newest."""
    spec = registry.get(event.type)
    state: needs_contract.NeedState = spec.parse(event)
    return await view.apply(state, event.sequence, event.time)


async def needs_changed(events: Sequence[CloudEvent], view: NeedsView) -> list[Applied]:
    """`need_changed` for one poll's events, in one batch of writes (ADR 0033)."""
    changes = [(registry.get(e.type).parse(e), e.sequence, e.time) for e in events]
    return await view.apply_many(changes)


# Tries before a need's event gives up to the consumer's retry: another writer (an item filed
# under another sector) changed the need between our read and our write.
GAP_WRITE_ATTEMPTS = 5


class GapChangedMeanwhile(Exception):
    """The need's gap document kept changing under this write; the event is retried."""


def _contribution(stored: StoredGap | None) -> Counters:
    if stored is None:
        return {}
    return contribution(_where(stored.place), stored.items, stored.weeks)


def _where(place: NeedPlace) -> NeedWhere:
    return NeedWhere(place.admin1_pcode, place.admin2_pcode, place.organisation)


Part = TypeVar("Part", ItemGap, WeekChange)


def _filed(part: Part, item_code: str, sector: str) -> Part:
    return replace(part, sector=sector) if part.item_code == item_code else part


@dataclass(frozen=True)
class GapProjection:
    """The gap view and its cells (issue 16, ADR 0027), and the catalogue's sectors it files
    items under."""

    items: ItemView
    gaps: GapView

    async def item_changed(self, event: CloudEvent) -> Applied:
        spec = registry.get(event.type)
        state: catalogue_contract.ItemState = spec.parse(event)
        outcome = await self.items.apply(state, event.sequence)
        # Whatever this event's outcome: a redelivery after a crash mid-way finishes the
        # re-filing, and an old event never files back under an old sector.
        sector = (await self.items.sectors()).get(state.code)
        if sector is not None:
            for need_id in await self.gaps.needs_filed_elsewhere(state.code, sector):
                await self._refile(need_id, state.code, sector)
        return outcome

    async def _refile(self, need_id: str, item_code: str, sector: str) -> None:
        for _ in range(GAP_WRITE_ATTEMPTS):
            stored = await self.gaps.get(need_id)
            if stored is None:
                return
            items = [_filed(g, item_code, sector) for g in stored.items]
            weeks = [_filed(w, item_code, sector) for w in stored.weeks]
            if items == stored.items and weeks == stored.weeks:
                return
            after = contribution(_where(stored.place), items, weeks)
            cells = cell_changes(_contribution(stored), after)
            if await self.gaps.refile(stored, items, weeks, cells):
                return
        raise GapChangedMeanwhile(need_id)

    async def need_changed(self, event: CloudEvent) -> Applied:
        """The need's items as the gap counts them, what changed since its previous state
        booked to the ISO week of the event, and the cells moved by the difference."""
        state: needs_contract.NeedState = registry.get(event.type).parse(event)
        for _ in range(GAP_WRITE_ATTEMPTS):
            fold = _NeedFold(await self.gaps.get(state.need_id))
            if not fold.take(state, event, await self.items.sectors()):
                return Applied.DUPLICATE
            w = fold.write()
            if await self.gaps.apply(w.place, w.sequence, w.gaps, w.changes, w.cells, w.version):
                return Applied.APPLIED
        raise GapChangedMeanwhile(state.need_id)

    async def needs_changed(self, events: Sequence[CloudEvent]) -> list[Applied]:
        """`need_changed` for one poll's events (ADR 0034): the sectors and the needs' gap
        documents read once, each need's events folded into one write (its last state, the
        week changes of each event), the writes and their cells in one batch each. A need
        changed meanwhile by another writer has its events applied again one by one."""
        states: list[needs_contract.NeedState] = [registry.get(e.type).parse(e) for e in events]
        sectors, stored = await asyncio.gather(
            self.items.sectors(), self.gaps.get_many({s.need_id for s in states})
        )
        folds: dict[str, _NeedFold] = {}
        outcomes = [Applied.DUPLICATE] * len(events)
        for n, (event, state) in enumerate(zip(events, states, strict=True)):
            fold = folds.setdefault(state.need_id, _NeedFold(stored.get(state.need_id)))
            if fold.take(state, event, sectors):
                outcomes[n] = Applied.APPLIED
        writes = [fold.write() for fold in folds.values() if fold.taken]
        for write, applied in zip(writes, await self.gaps.apply_many(writes), strict=True):
            if applied:
                continue
            for n, (event, state) in enumerate(zip(events, states, strict=True)):
                if state.need_id == write.place.need_id:
                    outcomes[n] = await self.need_changed(event)
        return outcomes


class _NeedFold:
    """One need's events folded, in order, onto its stored gap document: what one write of
    the document (and its cells) must hold. An event no newer than what is held or folded
    already changes nothing."""

    def __init__(self, stored: StoredGap | None) -> None:
        self.stored = stored
        self.sequence = stored.sequence if stored else None
        self.place = stored.place if stored else None
        self.items = stored.items if stored else []
        self.weeks = list(stored.weeks) if stored else []
        self.changes: list[WeekChange] = []
        self.taken = False

    def take(
        self, state: needs_contract.NeedState, event: CloudEvent, sectors: dict[str, str]
    ) -> bool:
        if self.sequence is not None and self.sequence >= event.sequence:
            return False
        gaps = item_gaps(state, sectors)
        changes = week_changes(self.items, gaps, iso_week(event.time))
        self.place = _place(state)
        self.sequence = event.sequence
        self.items = gaps
        self.weeks.extend(changes)
        self.changes.extend(changes)
        self.taken = True
        return True

    def write(self) -> GapWrite:
        if self.place is None or self.sequence is None:
            raise ValueError("no event taken: nothing to write")
        after = contribution(_where(self.place), self.items, self.weeks)
        return GapWrite(
            place=self.place,
            sequence=self.sequence,
            gaps=self.items,
            changes=self.changes,
            cells=cell_changes(_contribution(self.stored), after),
            version=self.stored.version if self.stored else 0,
        )


def _place(state: needs_contract.NeedState) -> NeedPlace:
    return NeedPlace(
        need_id=state.need_id,
        organisation=state.organisation,
        status=state.status.value,
        admin1_pcode=state.admin1_pcode,
        admin2_pcode=state.admin2_pcode,
        households=state.population.households,
    )


async def stock_signal(event: CloudEvent, alerts: StockAlerts) -> Applied:
    """Stock's low-stock and near-expiry signals, kept for the alerts list."""
    if event.type == stock_contract.LOW_STOCK.type:
        low = stock_contract.LOW_STOCK.parse(event)
        return await alerts.low(low, event.time, event.sequence)
    lot = stock_contract.NEAR_EXPIRY.parse(event)
    return await alerts.near_expiry(lot, event.time, event.sequence)


ITEM_EVENTS = (catalogue_contract.ITEM_REGISTERED, catalogue_contract.ITEM_UPDATED)
BALANCE_EVENTS = (
    stock_contract.MOVEMENT_RECORDED,
    stock_contract.RESERVATION_CONFIRMED,
    stock_contract.RESERVATION_RELEASED,
    stock_contract.RESERVATIONS_ANSWERED,
    stock_contract.TRANSFER_IN_TRANSIT,
    stock_contract.LOW_STOCK,
)
NEED_EVENTS = (
    needs_contract.NEED_SUBMITTED,
    needs_contract.NEED_UPDATED,
    needs_contract.NEED_VALIDATED,
    needs_contract.NEED_REJECTED,
    needs_contract.NEED_CANCELLED,
    needs_contract.NEED_COVERAGE_CHANGED,
)
