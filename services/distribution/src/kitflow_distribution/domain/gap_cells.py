"""Pre-summed gap cells (ADR 0027): what one need adds to the totals a coordinator reads.

A need contributes to three kinds of cell, each per region, cercle and partner:
- per item: its figures for the item (in the item's unit) and its households;
- per sector: its households once, covered when every item of the sector is;
- per ISO week and item: what its events changed in that week (the trend);
and to the same cells rolled up per region (items, sectors) or for the country (the trend).

The consumer keeps each cell as a running sum. When a need changes, the cells change by the
difference between its contribution after and before (`cell_changes`): a need that moves place,
partner or sector leaves its old cells and joins the new ones, and a cell whose figures the
change does not touch is not written at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from kitflow_distribution.domain.gaps import ItemGap, WeekChange


class CellKind(StrEnum):
    ITEM = "item"
    SECTOR = "sector"
    WEEK = "week"
    # The same sums rolled up, so that the page's widest tables read a few hundred cells: per
    # region (cercle left blank) for items and sectors, for the whole country for the trend.
    ITEM_PER_REGION = "item-per-region"
    SECTOR_PER_REGION = "sector-per-region"
    WEEK_COUNTRY = "week-country"


ROLLED_UP = {
    CellKind.ITEM: CellKind.ITEM_PER_REGION,
    CellKind.SECTOR: CellKind.SECTOR_PER_REGION,
    CellKind.WEEK: CellKind.WEEK_COUNTRY,
}


@dataclass(frozen=True)
class Cell:
    """One running total: a kind, a place and partner, a sector, an item (the sector again for
    a sector's cell), and for the trend a week. The sector is part of an item's cell too, so
    that an item filed under another sector moves its needs' figures to the new one's cells."""

    kind: CellKind
    admin1_pcode: str
    admin2_pcode: str
    organisation: str
    sector: str
    key: str
    week: str = ""

    @property
    def id(self) -> str:
        # P-codes, partner codes, item codes and sectors never hold "|".
        return "|".join(
            (
                self.kind,
                self.week,
                self.admin1_pcode,
                self.admin2_pcode,
                self.organisation,
                self.sector,
                self.key,
            )
        )


@dataclass(frozen=True)
class CellChange:
    cell: Cell
    inc: dict[str, int]


@dataclass(frozen=True)
class NeedWhere:
    admin1_pcode: str
    admin2_pcode: str
    organisation: str


Counters = dict[Cell, dict[str, int]]
ITEM_FIGURES = (
    "requested",
    "planned",
    "dispatched",
    "delivered",
    "households",
    "households_planned",
    "households_dispatched",
    "households_delivered",
)
SECTOR_HOUSEHOLDS = ("households_planned", "households_dispatched", "households_delivered")
WEEK_FIGURES = ("requested", "planned", "delivered")


def contribution(
    where: NeedWhere, items: Iterable[ItemGap], weeks: Iterable[WeekChange]
) -> Counters:
    """Every cell one need adds to, and by how much."""

    def cell(kind: CellKind, sector: str, key: str, week: str = "") -> Cell:
        return Cell(
            kind, where.admin1_pcode, where.admin2_pcode, where.organisation, sector, key, week
        )

    out: Counters = {}
    per_sector: dict[str, list[ItemGap]] = defaultdict(list)
    for gap in items:
        per_sector[gap.sector].append(gap)
        figures = out.setdefault(
            cell(CellKind.ITEM, gap.sector, gap.item_code), dict.fromkeys(ITEM_FIGURES, 0)
        )
        figures["needs"] = 1
        for name in ITEM_FIGURES:
            figures[name] += getattr(gap, name)
    for sector, gaps in per_sector.items():
        out[cell(CellKind.SECTOR, sector, sector)] = {
            "needs": 1,
            "households": gaps[0].households,
            **{name: min(getattr(g, name) for g in gaps) for name in SECTOR_HOUSEHOLDS},
        }
    for change in weeks:
        figures = out.setdefault(
            cell(CellKind.WEEK, change.sector, change.item_code, change.week),
            {"entries": 0, **dict.fromkeys(WEEK_FIGURES, 0)},
        )
        # Counted, so that a week with changes that cancel out still shows (as a row of 0s)
        # exactly while a need of it is in the cell.
        figures["entries"] += 1
        for name in WEEK_FIGURES:
            figures[name] += getattr(change, name)
    return {**out, **{_rolled_up(c): dict(figures) for c, figures in out.items()}}


def _rolled_up(cell: Cell) -> Cell:
    kind = ROLLED_UP[cell.kind]
    admin1 = "" if kind is CellKind.WEEK_COUNTRY else cell.admin1_pcode
    return replace(cell, kind=kind, admin1_pcode=admin1, admin2_pcode="")


def cell_changes(before: Mapping[Cell, Mapping[str, int]], after: Counters) -> list[CellChange]:
    """What to add to each cell to go from `before` to `after` (cells that stay put are left
    out), in a stable order."""
    changes = []
    for cell in sorted(before.keys() | after.keys(), key=lambda c: c.id):
        old, new = before.get(cell, {}), after.get(cell, {})
        inc = {
            name: new.get(name, 0) - old.get(name, 0)
            for name in sorted(old.keys() | new.keys())
            if new.get(name, 0) != old.get(name, 0)
        }
        if inc:
            changes.append(CellChange(cell, inc))
    return changes
