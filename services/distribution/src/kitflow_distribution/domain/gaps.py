"""Gaps that mean something (issue 16): per item in the item's unit, per sector in households.

A need's households are covered for an item when the item's requested quantity for them is
delivered; planned and dispatched are counted the same way but kept apart, never one "covered".
A sector's households are covered when every item of that sector in the need is. Quantities of
different items are never added together (litres of water and NFI kits make no sum).

The trend books each event's change of requested, planned and delivered to the ISO week the
event happened in, so the weeks add up to the totals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from kitflow_shared.contracts.needs import NeedState, NeedStatus

UNKNOWN_SECTOR = "unknown"
# A need that was cancelled, rejected or never submitted asks for nothing any more.
COUNTED = frozenset(
    {
        NeedStatus.SUBMITTED,
        NeedStatus.VALIDATED,
        NeedStatus.PARTIALLY_COVERED,
        NeedStatus.COVERED,
    }
)


@dataclass(frozen=True)
class ItemGap:
    """One item of one need, as the gap view keeps it."""

    item_code: str
    sector: str
    requested: int
    planned: int
    dispatched: int
    delivered: int
    households: int
    households_planned: int
    households_dispatched: int
    households_delivered: int


@dataclass(frozen=True)
class WeekChange:
    """What one event changed of one item of one need, booked to an ISO week (`2026-W49`)."""

    week: str
    item_code: str
    sector: str
    requested: int
    planned: int
    delivered: int


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def _reached(quantity: int, requested: int, households: int) -> int:
    return households if requested > 0 and quantity >= requested else 0


def item_gaps(need: NeedState, sectors: Mapping[str, str]) -> list[ItemGap]:
    """The need's items as the gap counts them: nothing for a need that no longer counts."""
    if need.status not in COUNTED:
        return []
    households = need.population.households
    return [
        ItemGap(
            item_code=item.item_code,
            sector=sectors.get(item.item_code, UNKNOWN_SECTOR),
            requested=item.requested,
            planned=item.planned,
            dispatched=item.dispatched,
            delivered=item.delivered,
            households=households,
            households_planned=_reached(item.planned, item.requested, households),
            households_dispatched=_reached(item.dispatched, item.requested, households),
            households_delivered=_reached(item.delivered, item.requested, households),
        )
        for item in need.items
        if item.requested > 0
    ]


def week_changes(
    before: Iterable[ItemGap], after: Iterable[ItemGap], week: str
) -> list[WeekChange]:
    """The change from `before` to `after`, per item, booked to `week` (only what changed)."""
    old = {g.item_code: g for g in before}
    new = {g.item_code: g for g in after}
    changes = []
    for code in sorted(old.keys() | new.keys()):
        o, n = old.get(code), new.get(code)
        latest = n or o
        change = WeekChange(
            week=week,
            item_code=code,
            sector=latest.sector if latest else UNKNOWN_SECTOR,
            requested=(n.requested if n else 0) - (o.requested if o else 0),
            planned=(n.planned if n else 0) - (o.planned if o else 0),
            delivered=(n.delivered if n else 0) - (o.delivered if o else 0),
        )
        if change.requested or change.planned or change.delivered:
            changes.append(change)
    return changes


@dataclass(frozen=True)
class SectorGap:
    sector: str
    needs: int
    households: int
    households_planned: int
    households_dispatched: int
    households_delivered: int

    @property
    def households_uncovered(self) -> int:
        return self.households - self.households_delivered


def sector_gaps(needs: Iterable[list[ItemGap]]) -> list[SectorGap]:
    """Per sector, each need's households once: covered when every item of the sector is."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for gaps in needs:
        per_sector: dict[str, list[ItemGap]] = defaultdict(list)
        for gap in gaps:
            per_sector[gap.sector].append(gap)
        for sector, items in per_sector.items():
            row = totals[sector]
            row[0] += 1
            row[1] += items[0].households
            row[2] += min(g.households_planned for g in items)
            row[3] += min(g.households_dispatched for g in items)
            row[4] += min(g.households_delivered for g in items)
    return [SectorGap(s, *row) for s, row in sorted(totals.items())]


@dataclass(frozen=True)
class WeekTotals:
    week: str
    requested: int
    planned: int
    delivered: int


def trend(changes: Iterable[WeekChange]) -> list[WeekTotals]:
    """Per ISO week, what was requested, planned and delivered in it (weeks in order)."""
    weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in changes:
        row = weeks[c.week]
        row[0] += c.requested
        row[1] += c.planned
        row[2] += c.delivered
    return [WeekTotals(w, *row) for w, row in sorted(weeks.items())]
