"""What one need adds to the gap cells, and what a change of it moves (ADR 0027)."""

from dataclasses import replace

from kitflow_distribution.domain.gap_cells import (
    ROLLED_UP,
    Cell,
    CellKind,
    NeedWhere,
    cell_changes,
    contribution,
)
from kitflow_distribution.domain.gaps import ItemGap, WeekChange, item_gaps, week_changes
from kitflow_shared.contracts.needs import NeedItemState

from tests.support.saga import validated_need

SECTORS = {"KIT-SHELTER": "shelter", "TARP": "shelter", "KIT-NFI": "nfi"}
MOPTI = NeedWhere("ML05", "ML0501", "NRC")


def _gaps(households: int, **items: tuple[int, int, int, int]) -> list[ItemGap]:
    need = validated_need("N1", "ML05", "ML0501", {})
    need.population.households = households
    need.items = [
        NeedItemState(
            item_code=code.replace("_", "-"),
            requested=r,
            planned=p,
            reserved=0,
            dispatched=d,
            delivered=v,
            remaining=max(0, r - max(p, v)),
        )
        for code, (r, p, d, v) in items.items()
    ]
    return item_gaps(need, SECTORS)


def _cell(kind: CellKind, sector: str, key: str, week: str = "") -> Cell:
    return Cell(kind, "ML05", "ML0501", "NRC", sector, key, week)


def test_a_need_counts_once_in_its_sector_covered_when_every_item_is() -> None:
    gaps = _gaps(30, KIT_SHELTER=(30, 30, 30, 30), TARP=(60, 60, 0, 0))
    cells = contribution(MOPTI, gaps, [])
    assert cells[_cell(CellKind.SECTOR, "shelter", "shelter")] == {
        "needs": 1,
        "households": 30,
        "households_planned": 30,
        "households_dispatched": 0,
        "households_delivered": 0,
    }
    tarp = cells[_cell(CellKind.ITEM, "shelter", "TARP")]
    assert (tarp["needs"], tarp["requested"], tarp["households_planned"]) == (1, 60, 30)


def test_a_change_moves_only_the_cells_it_touches() -> None:
    before = _gaps(20, KIT_NFI=(20, 0, 0, 0), TARP=(40, 0, 0, 0))
    after = _gaps(20, KIT_NFI=(20, 20, 0, 0), TARP=(40, 0, 0, 0))
    weeks = week_changes(before, after, "2026-W49")
    changes = cell_changes(contribution(MOPTI, before, []), contribution(MOPTI, after, weeks))
    moved = {
        (CellKind.ITEM, "KIT-NFI"): {"planned": 20, "households_planned": 20},
        (CellKind.SECTOR, "nfi"): {"households_planned": 20},
        (CellKind.WEEK, "KIT-NFI"): {"entries": 1, "planned": 20},
    }
    rolled_up = {(ROLLED_UP[kind], key): inc for (kind, key), inc in moved.items()}
    assert {(c.cell.kind, c.cell.key): c.inc for c in changes} == {**moved, **rolled_up}


def test_a_need_moving_cercle_takes_its_figures_and_its_weeks_along() -> None:
    """Within its region: the per-region and country cells do not move."""
    gaps = _gaps(10, KIT_NFI=(10, 0, 0, 0))
    weeks = [WeekChange("2026-W49", "KIT-NFI", "nfi", 10, 0, 0)]
    moved = NeedWhere("ML05", "ML0502", "NRC")
    changes = cell_changes(contribution(MOPTI, gaps, weeks), contribution(moved, gaps, weeks))
    assert {
        (c.cell.kind, c.cell.admin2_pcode, c.inc["needs" if "needs" in c.inc else "entries"])
        for c in changes
    } == {
        (CellKind.ITEM, "ML0501", -1),
        (CellKind.ITEM, "ML0502", 1),
        (CellKind.SECTOR, "ML0501", -1),
        (CellKind.SECTOR, "ML0502", 1),
        (CellKind.WEEK, "ML0501", -1),
        (CellKind.WEEK, "ML0502", 1),
    }


def test_an_item_filed_under_another_sector_moves_its_figures_there() -> None:
    gaps = _gaps(10, TARP=(10, 10, 10, 10), KIT_SHELTER=(10, 0, 0, 0))
    refiled = [g if g.item_code != "TARP" else replace(g, sector="nfi") for g in gaps]
    changes = {
        (c.cell.kind, c.cell.sector, c.cell.key): c.inc
        for c in cell_changes(contribution(MOPTI, gaps, []), contribution(MOPTI, refiled, []))
    }
    # Shelter now holds the shelter kits alone (not delivered); NFI gains the tarps, delivered.
    assert changes[(CellKind.SECTOR, "nfi", "nfi")]["households_delivered"] == 10
    assert changes[(CellKind.ITEM, "shelter", "TARP")]["needs"] == -1
    assert changes[(CellKind.ITEM, "nfi", "TARP")]["delivered"] == 10
    assert (CellKind.SECTOR, "shelter", "shelter") not in changes


def test_an_unchanged_need_moves_no_cell() -> None:
    gaps = _gaps(10, TARP=(10, 5, 0, 0))
    assert cell_changes(contribution(MOPTI, gaps, []), contribution(MOPTI, gaps, [])) == []
