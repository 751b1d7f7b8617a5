"""What the optimal plan buys over the greedy baseline, in the figures a coordinator weighs
before approving: units allocated, needs fully covered and households covered, in total and per
need.

A need's households count as covered in the proportion of its worst-served item: 120 households
asking 120 kits and 240 jerrycans, given 120 kits and 120 jerrycans, are 60 households covered
(each household needs both). Rounded down: a household is covered or not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from kitflow_distribution.domain.planner.model import DraftPlan


@dataclass(frozen=True)
class Totals:
    units_allocated: int
    needs_fully_covered: int
    households_covered: int


def households_covered(
    requested: Mapping[str, int], allocated: Mapping[str, int], households: int
) -> int:
    """`households` x the fill rate of the need's worst-served item, rounded down."""
    wanted = {item: qty for item, qty in requested.items() if qty > 0}
    if not wanted:
        return 0
    worst = min(min(allocated.get(item, 0), qty) / qty for item, qty in wanted.items())
    return math.floor(households * worst + 1e-9)


def _by_need(plan: DraftPlan) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in plan.lines:
        items = out.setdefault(line.need_id, {})
        items[line.item] = items.get(line.item, 0) + line.quantity
    return out


def compare_with_greedy(
    optimal: DraftPlan,
    greedy: DraftPlan,
    households: Mapping[str, int],
) -> dict[str, object]:
    """The comparison kept in a draft's explanation (JSON-ready): totals of both plans (solved
    on the same problem) over the needs in reach, and what the greedy plan gives each need."""
    planned = {c.need_id: {i.item: i.requested for i in c.items} for c in optimal.coverage}
    allocations = {"optimal": _by_need(optimal), "greedy": _by_need(greedy)}
    totals: dict[str, Totals] = {}
    for name, allocation in allocations.items():
        units = needs_full = covered = 0
        for need_id, requested in planned.items():
            given = allocation.get(need_id, {})
            units += sum(given.values())
            needs_full += all(given.get(i, 0) >= q for i, q in requested.items())
            covered += households_covered(requested, given, households.get(need_id, 0))
        totals[name] = Totals(units, needs_full, covered)
    # Per need, the greedy plan's quantities only: the optimal plan's are its lines. Needs the
    # baseline gives nothing are left out (a plan of 5,000 needs keeps its document small).
    return {
        "optimal": totals["optimal"].__dict__,
        "greedy": totals["greedy"].__dict__,
        "greedy_by_need": {
            n: allocations["greedy"][n] for n in planned if n in allocations["greedy"]
        },
    }
