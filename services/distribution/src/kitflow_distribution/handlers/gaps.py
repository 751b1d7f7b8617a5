"""Gaps per item or sector, by region or cercle, and their weekly trend (issue 16).

The figures come from the cells the consumer keeps pre-summed (ADR 0027); this layer adds
what a coordinator reads (the item's unit, what is still uncovered), keeps a partner to its own
needs, sorts, and lays out the HXL export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from kitflow_distribution.handlers.ports import Actor, GapFilter, GapTotals, ItemView

By = Literal["item", "sector"]
Level = Literal["admin1", "admin2"]

ITEM_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("admin1_pcode", "Région (P-code)", "#adm1+code"),
    ("admin2_pcode", "Cercle (P-code)", "#adm2+code"),
    ("sector", "Secteur", "#sector"),
    ("item_code", "Article", "#item+code"),
    ("unit", "Unité", "#item+unit"),
    ("needs", "Besoins", "#indicator+needs+num"),
    ("requested", "Demandé", "#targeted+num"),
    ("planned", "Planifié", "#indicator+planned+num"),
    ("dispatched", "Expédié", "#indicator+dispatched+num"),
    ("delivered", "Livré", "#reached+num"),
    ("gap", "Écart (non livré)", "#gap+num"),
    ("households", "Ménages ciblés", "#targeted+hh+num"),
    ("households_planned", "Ménages planifiés", "#indicator+planned+hh+num"),
    ("households_dispatched", "Ménages expédiés", "#indicator+dispatched+hh+num"),
    ("households_delivered", "Ménages couverts (livré)", "#reached+hh+num"),
    ("households_uncovered", "Ménages non couverts", "#gap+hh+num"),
)
# A sector mixes units (litres of water, kits): its table is in households only.
SECTOR_COLUMNS = tuple(
    c
    for c in ITEM_COLUMNS
    if c[0] not in {"item_code", "unit", "requested", "planned", "dispatched", "delivered", "gap"}
)
SORTABLE = frozenset(c[0] for c in ITEM_COLUMNS)


@dataclass(frozen=True)
class GapQuery:
    by: By = "item"
    level: Level = "admin1"
    where: GapFilter = field(default_factory=GapFilter)
    sort: str = "-households_uncovered"


@dataclass
class GapQueries:
    gaps: GapTotals
    items: ItemView

    def _scope(self, actor: Actor, where: GapFilter) -> GapFilter:
        """A partner sees its own needs' gaps only, whatever it asked for."""
        if actor.plans:
            return where
        return replace(where, organisation=actor.organisation)

    async def table(self, actor: Actor, query: GapQuery) -> list[dict[str, Any]]:
        where = self._scope(actor, query.where)
        rows: list[dict[str, Any]]
        if query.by == "item":
            units = await self.items.units()
            rows = [
                {
                    **asdict(r),
                    "unit": units.get(r.item_code),
                    "gap": max(0, r.requested - r.delivered),
                    "households_uncovered": r.households - r.households_delivered,
                }
                for r in await self.gaps.by_item(where, query.level)
            ]
        else:
            rows = [
                {**asdict(r), "households_uncovered": r.households - r.households_delivered}
                for r in await self.gaps.by_sector(where, query.level)
            ]
        return _sorted(rows, query.sort)

    async def trend(self, actor: Actor, where: GapFilter) -> list[dict[str, Any]]:
        """Per ISO week and item (quantities of different items never added): what was
        requested, planned and delivered in the week, and the running totals."""
        running: dict[str, list[int]] = {}
        out = []
        for week in await self.gaps.trend(self._scope(actor, where)):
            total = running.setdefault(week.item_code, [0, 0, 0])
            total[0] += week.requested
            total[1] += week.planned
            total[2] += week.delivered
            out.append(
                {
                    **asdict(week),
                    "requested_to_date": total[0],
                    "planned_to_date": total[1],
                    "delivered_to_date": total[2],
                }
            )
        return out


def _sorted(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    column = sort.removeprefix("-")
    descending = sort.startswith("-")
    # Ties keep the order by place, so the order is the same on every call; rows without the
    # field (a sector table sorted by item) come last either way.
    by_place = sorted(rows, key=_place)
    present = [r for r in by_place if r.get(column) is not None]
    absent = [r for r in by_place if r.get(column) is None]
    return sorted(present, key=lambda r: r[column], reverse=descending) + absent


def _place(row: dict[str, Any]) -> tuple[str, ...]:
    return (
        row["admin1_pcode"],
        row.get("admin2_pcode") or "",
        row.get("sector") or "",
        row.get("item_code") or "",
    )


def hxl_rows(by: By, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Header, HXL tags, then one row per area and item (or sector)."""
    columns = ITEM_COLUMNS if by == "item" else SECTOR_COLUMNS
    return [
        [c[1] for c in columns],
        [c[2] for c in columns],
        *[[row.get(c[0]) for c in columns] for row in rows],
    ]
