"""The draft's comparison with the greedy baseline: worked out by hand on a small instance."""

from __future__ import annotations

from kitflow_distribution.domain.planner import (
    PlanningProblem,
    StockLevel,
    greedy_allocation,
    plan_allocation,
)
from kitflow_distribution.domain.planner.compare import compare_with_greedy, households_covered

from tests.unit.distribution.test_planner import GAO, need


def test_households_are_covered_in_the_proportion_of_the_worst_served_item() -> None:
    assert households_covered({"KIT": 120, "JERRY": 240}, {"KIT": 120, "JERRY": 120}, 120) == 60
    assert households_covered({"KIT": 10}, {}, 10) == 0
    assert households_covered({"KIT": 3}, {"KIT": 2}, 10) == 6  # 6.67 households: 6 whole


def test_the_comparison_shows_what_fairness_changes_against_the_greedy_baseline() -> None:
    # 100 kits for two needs of 100: greedy serves the severity-4 need whole and leaves the
    # severity-2 need nothing; the optimum guarantees the lighter need its weighted share.
    problem = PlanningProblem(
        warehouses=(GAO,),
        stock=(StockLevel("GAO", "KIT", 100),),
        needs=(need("HEAVY", {"KIT": 100}, severity=4), need("LIGHT", {"KIT": 100}, severity=2)),
    )
    optimal = plan_allocation(problem)
    comparison = compare_with_greedy(
        optimal, greedy_allocation(problem), {"HEAVY": 100, "LIGHT": 50}
    )

    assert comparison["greedy"] == {
        "units_allocated": 100,
        "needs_fully_covered": 1,
        "households_covered": 100,
    }
    # The baseline gives the lighter need nothing: it is left out of the per-need quantities.
    assert comparison["greedy_by_need"] == {"HEAVY": {"KIT": 100}}
    light = optimal.allocated("LIGHT", "KIT")
    heavy = optimal.allocated("HEAVY", "KIT")
    assert light > 0
    assert heavy + light == 100
    assert comparison["optimal"] == {
        "units_allocated": 100,
        "needs_fully_covered": 0,
        "households_covered": heavy + light // 2,
    }
