"""The allocation planner: which warehouse sends how many of which item to which need.

`plan_allocation` solves three lexicographic linear programmes with HiGHS (equity, then weighted
coverage, then distance) and returns an integral, explained `DraftPlan`. `greedy_allocation` is
the baseline the benchmarks compare it with. See docs/adr/0005-planner.md for the formulation.
"""

from kitflow_distribution.domain.planner.greedy import greedy_allocation
from kitflow_distribution.domain.planner.model import (
    Coordinates,
    DraftPlan,
    InvalidPlanningInput,
    ItemCoverage,
    NeedCoverage,
    PartnerCap,
    PlanLine,
    PlannerError,
    PlanningNeed,
    PlanningOptions,
    PlanningProblem,
    PlanningWarehouse,
    PlanObjectives,
    Shortfall,
    SolverStats,
    StockLevel,
    UnmetReason,
)
from kitflow_distribution.domain.planner.solve import plan_allocation

__all__ = [
    "Coordinates",
    "DraftPlan",
    "InvalidPlanningInput",
    "ItemCoverage",
    "NeedCoverage",
    "PartnerCap",
    "PlanLine",
    "PlanObjectives",
    "PlannerError",
    "PlanningNeed",
    "PlanningOptions",
    "PlanningProblem",
    "PlanningWarehouse",
    "Shortfall",
    "SolverStats",
    "StockLevel",
    "UnmetReason",
    "greedy_allocation",
    "plan_allocation",
]
