"""The gap arithmetic on plain values: households per item and sector, and the weekly trend."""

from datetime import UTC, datetime

from kitflow_distribution.domain.gaps import (
    iso_week,
    item_gaps,
    sector_gaps,
    trend,
    week_changes,
)
from kitflow_shared.contracts.needs import NeedItemState, NeedStatus

from tests.support.saga import validated_need

SECTORS = {"KIT-SHELTER": "shelter", "TARP": "shelter", "KIT-NFI": "nfi", "WATER": "water"}


def _with(need_id: str, households: int, **items: tuple[int, int, int, int]):  # type: ignore[no-untyped-def]
    need = validated_need(need_id, "ML05", "ML0501", {})
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
    return need


def test_households_are_covered_for_an_item_only_when_its_request_is_delivered() -> None:
    need = _with("N1", 40, KIT_SHELTER=(40, 40, 40, 39), KIT_NFI=(40, 40, 40, 40))
    gaps = {g.item_code: g for g in item_gaps(need, SECTORS)}
    assert gaps["KIT-SHELTER"].households_planned == 40
    assert gaps["KIT-SHELTER"].households_dispatched == 40
    assert gaps["KIT-SHELTER"].households_delivered == 0
    assert gaps["KIT-NFI"].households_delivered == 40
    assert gaps["KIT-NFI"].sector == "nfi"


def test_a_cancelled_need_counts_for_nothing() -> None:
    need = _with("N1", 40, KIT_NFI=(40, 0, 0, 0))
    need.status = NeedStatus.CANCELLED
    assert item_gaps(need, SECTORS) == []


def test_a_sector_counts_each_need_once_and_covers_it_when_every_item_is() -> None:
    both = _with("N1", 30, KIT_SHELTER=(30, 30, 30, 30), TARP=(60, 60, 0, 0))
    shelter_done = _with("N2", 10, KIT_SHELTER=(10, 10, 10, 10), WATER=(2000, 0, 0, 0))
    sectors = {
        s.sector: s
        for s in sector_gaps([item_gaps(both, SECTORS), item_gaps(shelter_done, SECTORS)])
    }
    assert sectors["shelter"].needs == 2
    assert sectors["shelter"].households == 40
    assert sectors["shelter"].households_planned == 40
    assert sectors["shelter"].households_dispatched == 10
    assert sectors["shelter"].households_delivered == 10
    assert sectors["shelter"].households_uncovered == 30
    assert sectors["water"].households_uncovered == 10


def test_the_weekly_trend_books_each_change_to_its_week_and_adds_up() -> None:
    submitted = _with("N1", 20, KIT_NFI=(20, 0, 0, 0))
    planned = _with("N1", 20, KIT_NFI=(25, 20, 0, 0))
    delivered = _with("N1", 20, KIT_NFI=(25, 20, 20, 18))
    w49 = iso_week(datetime(2026, 12, 2, tzinfo=UTC))
    w50 = iso_week(datetime(2026, 12, 9, tzinfo=UTC))
    states = [[], item_gaps(submitted, SECTORS), item_gaps(planned, SECTORS)]
    changes = [
        *week_changes(states[0], states[1], w49),
        *week_changes(states[1], states[2], w49),
        *week_changes(states[2], item_gaps(delivered, SECTORS), w50),
    ]
    weeks = trend(changes)
    assert [(w.week, w.requested, w.planned, w.delivered) for w in weeks] == [
        ("2026-W49", 25, 20, 0),
        ("2026-W50", 0, 0, 18),
    ]


def test_an_unchanged_state_books_nothing() -> None:
    need = item_gaps(_with("N1", 20, KIT_NFI=(20, 5, 0, 0)), SECTORS)
    assert week_changes(need, need, "2026-W49") == []
