"""The planner by property, on random small instances, against an independent solve.

The reference is the benchmark's: the same three-stage model written out again from its
definition with scipy.sparse and solved with scipy's linprog (HiGHS dual simplex), chaining the
stages with the previous objective as a constraint.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kitflow_distribution.domain.planner import (
    Coordinates,
    DraftPlan,
    PartnerCap,
    PlanningNeed,
    PlanningOptions,
    PlanningProblem,
    PlanningWarehouse,
    StockLevel,
    greedy_allocation,
    plan_allocation,
)

from bench.planner import reference_solve

SITES = {
    "ML05": Coordinates(14.49, -4.20),
    "ML06": Coordinates(16.77, -3.01),
    "ML07": Coordinates(16.27, -0.04),
}
WAREHOUSES = tuple(PlanningWarehouse(f"W{r}", r, c) for r, c in SITES.items())
ITEMS = ("SOAP", "TARP", "KIT")
PARTNERS = ("NRC", "IRC")


@st.composite
def problems(draw: st.DrawFn) -> PlanningProblem:
    warehouses = draw(st.lists(st.sampled_from(WAREHOUSES), min_size=1, max_size=3, unique=True))
    stock = tuple(
        StockLevel(w.code, item, draw(st.integers(0, 20)))
        for w in warehouses
        for item in ITEMS
        if draw(st.booleans())
    )
    needs = []
    for i in range(draw(st.integers(1, 6))):
        region = draw(st.sampled_from(sorted(SITES)))
        items = draw(st.lists(st.sampled_from(ITEMS), min_size=1, max_size=3, unique=True))
        site = SITES[region]
        needs.append(
            PlanningNeed(
                id=f"N{i}",
                partner=draw(st.sampled_from(PARTNERS)),
                admin1_pcode=region,
                admin2_pcode=f"{region}01",
                requested={item: draw(st.integers(1, 15)) for item in items},
                coordinates=Coordinates(
                    site.lat + draw(st.floats(-1, 1)), site.lon + draw(st.floats(-1, 1))
                ),
                severity=draw(st.integers(1, 5)),
            )
        )
    allowed = None
    if draw(st.booleans()):
        codes = [w.code for w in warehouses]
        allowed = {
            region: frozenset(draw(st.lists(st.sampled_from(codes), max_size=2, unique=True)))
            for region in draw(st.lists(st.sampled_from(sorted(SITES)), max_size=2, unique=True))
        }
    cap_keys = draw(
        st.lists(
            st.tuples(st.sampled_from(PARTNERS), st.sampled_from(ITEMS)), max_size=2, unique=True
        )
    )
    caps = tuple(PartnerCap(p, i, draw(st.integers(0, 15))) for p, i in cap_keys)
    return PlanningProblem(
        warehouses=tuple(warehouses),
        stock=stock,
        needs=tuple(needs),
        options=PlanningOptions(allowed_warehouses=allowed, partner_caps=caps),
    )


def shares_and_reach(p: PlanningProblem) -> dict[tuple[str, str], tuple[float, bool]]:
    """Per need-item: the equity coefficient, and whether any allowed warehouse has the item."""
    largest = max(n.weight for n in p.needs)
    asked: dict[tuple[str, str], int] = defaultdict(int)
    for n in p.needs:
        for item, qty in n.requested.items():
            asked[n.partner, item] += qty
    caps = {(c.partner, c.item): c.max_units for c in p.options.partner_caps}
    holders = {(s.warehouse, s.item) for s in p.stock if s.available > 0}
    result = {}
    for n in p.needs:
        allowed = (p.options.allowed_warehouses or {}).get(n.admin1_pcode)
        for item in n.requested:
            cap_share = 1.0
            if (n.partner, item) in caps:
                cap_share = min(1.0, caps[n.partner, item] / asked[n.partner, item])
            reach = any(
                (w.code, item) in holders and (allowed is None or w.code in allowed)
                for w in p.warehouses
            )
            result[n.id, item] = (n.weight / largest * cap_share, reach)
    return result


def per_item_minimum(
    plan: DraftPlan, shares: dict[tuple[str, str], tuple[float, bool]]
) -> dict[str, float]:
    lowest: dict[str, float] = {}
    for c in plan.coverage:
        for i in c.items:
            share, reach = shares[c.need_id, i.item]
            if reach and share > 0:
                rate = i.allocated / i.requested / share
                lowest[i.item] = min(lowest.get(i.item, math.inf), rate)
    return lowest


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems())
def test_never_more_than_available_nor_needed_and_always_whole_units(p: PlanningProblem) -> None:
    plan = plan_allocation(p)
    available = {(s.warehouse, s.item): s.available for s in p.stock}
    used: dict[tuple[str, str], int] = defaultdict(int)
    got: dict[tuple[str, str], int] = defaultdict(int)
    for line in plan.lines:
        assert isinstance(line.quantity, int)
        assert line.quantity > 0
        used[line.warehouse, line.item] += line.quantity
        got[line.need_id, line.item] += line.quantity
    assert all(q <= available[key] for key, q in used.items())
    requested = {(n.id, i): q for n in p.needs for i, q in n.requested.items()}
    assert all(q <= requested[key] for key, q in got.items())
    for cap in p.options.partner_caps:
        partner_needs = {n.id for n in p.needs if n.partner == cap.partner}
        total = sum(
            q for (need, item), q in got.items() if need in partner_needs and item == cap.item
        )
        assert total <= cap.max_units


@SETTINGS
@given(problems())
def test_the_plan_is_optimal_stage_by_stage_against_an_independent_solve(
    p: PlanningProblem,
) -> None:
    plan = plan_allocation(p)
    assert plan.stats is not None
    if plan.stats.variables == 0:
        assert plan.lines == ()
        return
    ref = reference_solve(p)
    levels = plan.objectives.equity_level_by_item
    assert [levels[item] for item in sorted(levels)] == [_approx(t) for t in ref.equity]
    assert _close(plan.objectives.weighted_coverage, ref.coverage)
    assert _close(plan.objectives.distance_unit_km, ref.distance)


@SETTINGS
@given(problems())
def test_the_equity_guarantee_holds_to_the_unit(p: PlanningProblem) -> None:
    # Every need-item the rule protects gets at least share x requested x t_k, rounded down;
    # so its weighted fill rate is within one unit of the LP optimum t_k, and never above it
    # for the worst-off need-item of the item.
    plan = plan_allocation(p)
    shares = shares_and_reach(p)
    levels = plan.objectives.equity_level_by_item
    for c in plan.coverage:
        for i in c.items:
            share, reach = shares[c.need_id, i.item]
            if not (reach and share > 0):
                assert i.guaranteed == 0
                continue
            exact = share * i.requested * levels[i.item]
            assert i.allocated >= math.floor(exact + 1e-6) == i.guaranteed
            assert i.allocated >= exact - 1
    for item, lowest in per_item_minimum(plan, shares).items():
        assert lowest <= levels[item] + 1e-9


@SETTINGS
@given(problems())
def test_greedy_never_beats_the_equity_optimum(p: PlanningProblem) -> None:
    plan = plan_allocation(p)
    greedy = greedy_allocation(p)
    shares = shares_and_reach(p)
    levels = plan.objectives.equity_level_by_item
    planner_min = per_item_minimum(plan, shares)
    # One unit of the smallest protected need-item of each item, as a weighted fill rate.
    unit: dict[str, float] = defaultdict(float)
    for n in p.needs:
        for item, qty in n.requested.items():
            share, reach = shares[n.id, item]
            if reach and share > 0:
                unit[item] = max(unit[item], 1 / (share * qty))
    for item, lowest in per_item_minimum(greedy, shares).items():
        assert lowest <= levels[item] + 1e-9
        assert lowest <= planner_min[item] + unit[item] + 1e-9
    assert greedy.objectives.min_weighted_fill_rate <= plan.objectives.equity_level + 1e-9


def _approx(value: float) -> object:
    return pytest.approx(value, rel=1e-6, abs=1e-7)


def _close(a: float, b: float) -> bool:
    # The independent solve stops within HiGHS's tolerances (1e-7 per variable), so a sum over
    # its variables carries noise beyond 1e-6: a plan whose distance is 0 was once compared
    # with the reference's -1.13e-06.
    return abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))
