"""From quantities per arc to a plan a coordinator can read: lines, coverage, and why not more."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kitflow_distribution.domain.planner.model import (
    DraftPlan,
    ItemCoverage,
    NeedCoverage,
    PlanLine,
    PlanningNeed,
    PlanningProblem,
    PlanObjectives,
    Shortfall,
    UnmetReason,
)
from kitflow_distribution.domain.planner.network import FloatArray, IntArray, Network


def weighted_fill_rates(net: Network, quantities: IntArray) -> FloatArray:
    """Per need-item: fill rate / share, the quantity the equity rule maximises the minimum of."""
    got = np.bincount(net.arc_ni, weights=quantities, minlength=len(net.ni_need))
    share = np.where(net.ni_share > 0, net.ni_share, 1.0)
    rates: FloatArray = got / net.ni_requested / share
    return rates


def realised_levels(net: Network, quantities: IntArray) -> FloatArray:
    """Per item: the smallest weighted fill rate over its need-items in the equity set."""
    rates = weighted_fill_rates(net, quantities)
    in_equity = net.equity_set()
    levels = np.full(len(net.items), np.inf)
    np.minimum.at(levels, net.ni_item[in_equity], rates[in_equity])
    return np.where(np.isinf(levels), 0.0, levels)


def explain(
    problem: PlanningProblem,
    net: Network,
    quantities: IntArray,
    guaranteed: IntArray,
    levels: FloatArray,
) -> DraftPlan:
    """Build the plan; `levels` are the equity levels t_k to report (stage 1 or realised)."""
    reach = _Reach.of(net, quantities)
    coverage, shortfalls = _coverage_and_shortfalls(problem, net, reach, guaranteed)
    return DraftPlan(
        _plan_lines(net, quantities),
        tuple(coverage),
        tuple(shortfalls),
        _objectives(net, quantities, levels),
    )


def _plan_lines(net: Network, quantities: IntArray) -> tuple[PlanLine, ...]:
    return tuple(
        PlanLine(
            warehouse=net.warehouses[net.arc_warehouse[a]],
            need_id=net.needs[net.ni_need[net.arc_ni[a]]].id,
            item=net.items[net.arc_item[a]],
            quantity=int(quantities[a]),
            distance_km=round(float(net.arc_km[a]), 3),
        )
        for a in np.flatnonzero(quantities > 0)
    )


@dataclass(frozen=True)
class _Reach:
    """What each need-item got, could reach at all, and what is left of it after the plan."""

    got: IntArray
    reachable: IntArray
    reachable_left: IntArray
    cap_used: IntArray
    # Arcs are sorted by need-item: those of need-item j are arc_start[j]:arc_start[j + 1].
    arc_start: IntArray

    @classmethod
    def of(cls, net: Network, x: IntArray) -> _Reach:
        arc_item = net.arc_item
        got = np.bincount(net.arc_ni, weights=x, minlength=len(net.ni_need)).astype(np.int64)
        n_items = max(len(net.items), 1)
        used = np.bincount(
            net.arc_warehouse * n_items + arc_item, weights=x, minlength=net.stock.size
        ).reshape(net.stock.shape)
        left = net.stock - used.astype(np.int64)
        reachable = np.bincount(
            net.arc_ni, weights=net.stock[net.arc_warehouse, arc_item], minlength=len(net.ni_need)
        ).astype(np.int64)
        reachable_left = np.bincount(
            net.arc_ni, weights=left[net.arc_warehouse, arc_item], minlength=len(net.ni_need)
        ).astype(np.int64)
        cap_used = np.zeros(len(net.cap_units), dtype=np.int64)
        if len(net.cap_units):
            capped = net.ni_cap >= 0
            cap_used = np.bincount(
                net.ni_cap[capped], weights=got[capped], minlength=len(net.cap_units)
            ).astype(np.int64)
        arc_start = np.concatenate([[0], np.cumsum(net.ni_arc_count)])
        return cls(got, reachable, reachable_left, cap_used, arc_start)


def _coverage_and_shortfalls(
    problem: PlanningProblem, net: Network, reach: _Reach, guaranteed: IntArray
) -> tuple[list[NeedCoverage], list[Shortfall]]:
    index_of = {
        (int(n), int(k)): j for j, (n, k) in enumerate(zip(net.ni_need, net.ni_item, strict=True))
    }
    need_pos = {n.id: i for i, n in enumerate(net.needs)}
    item_pos = {code: k for k, code in enumerate(net.items)}

    # The explanation covers the plan's selection, its need-items, and nothing else: a need or
    # an item the coordinator left out is not this plan's shortfall.
    coverage: list[NeedCoverage] = []
    shortfalls: list[Shortfall] = []
    for need in net.needs:
        items: list[ItemCoverage] = []
        for item, requested in sorted(need.requested.items()):
            j = index_of.get((need_pos[need.id], item_pos.get(item, -1)))
            if j is None:  # not requested, or an item outside the selection
                continue
            covered = ItemCoverage(item, requested, int(reach.got[j]), int(guaranteed[j]))
            items.append(covered)
            missing = requested - covered.allocated
            if missing <= 0:
                continue
            reason, sentence = _why_unmet(problem, net, reach, j, need, covered)
            shortfalls.append(Shortfall(need.id, item, missing, reason, sentence))
        if items:
            coverage.append(NeedCoverage(need.id, need.partner, need.weight, tuple(items)))
    return coverage, shortfalls


def _why_unmet(
    problem: PlanningProblem,
    net: Network,
    reach: _Reach,
    j: int,
    need: PlanningNeed,
    covered: ItemCoverage,
) -> tuple[UnmetReason, str]:
    """Why need-item j got less than it asked for, as a reason and a sentence for a person."""
    name = problem.item_name(covered.item)
    region = need.admin1_pcode
    allowed = problem.options.allowed_warehouses
    if net.ni_arc_count[j] == 0:
        if allowed is not None and region in allowed:
            where = f"none of the warehouses allowed to serve {region} "
            where += f"({', '.join(sorted(allowed[region])) or 'none'}) has any"
        else:
            where = "no warehouse has any"
        return (
            UnmetReason.NO_STOCK_WITHIN_REACH,
            f"no stock of {name} within reach of {region}: {where}",
        )
    if net.ni_cap[j] >= 0 and reach.cap_used[net.ni_cap[j]] >= net.cap_units[net.ni_cap[j]]:
        cap = int(net.cap_units[net.ni_cap[j]])
        return (
            UnmetReason.PARTNER_CAP_REACHED,
            f"{need.partner} has reached its cap of {cap} {name} in this plan",
        )
    arcs = net.arc_warehouse[reach.arc_start[j] : reach.arc_start[j + 1]]
    sources = ", ".join(net.warehouses[w] for w in arcs)
    within = f"{int(reach.reachable[j])} {name} within reach ({sources})"
    missing = covered.requested - covered.allocated
    if covered.allocated >= reach.reachable[j]:
        return (
            UnmetReason.NOT_ENOUGH_STOCK_WITHIN_REACH,
            f"this need gets all the {within}; {missing} more are not in reach",
        )
    others = int(reach.reachable[j] - reach.reachable_left[j] - covered.allocated)
    return (
        UnmetReason.ALLOCATED_TO_OTHER_NEEDS,
        f"of the {within}, other needs get {others}: the equity rule guaranteed "
        f"this need {covered.guaranteed} of {covered.requested}, and it gets "
        f"{covered.allocated}; the rest went to needs of higher priority or nearer the stock",
    )


def _objectives(net: Network, x: IntArray, levels: FloatArray) -> PlanObjectives:
    in_equity = net.equity_set()
    equity_items = np.unique(net.ni_item[in_equity])
    by_item = {net.items[k]: float(levels[k]) for k in equity_items}
    rates = weighted_fill_rates(net, x)
    return PlanObjectives(
        equity_level=min(by_item.values(), default=0.0),
        equity_level_by_item=by_item,
        min_weighted_fill_rate=float(rates[in_equity].min()) if in_equity.any() else 0.0,
        weighted_coverage=float(net.ni_weight[net.arc_ni] @ x) if len(x) else 0.0,
        distance_unit_km=float(net.arc_km @ x) if len(x) else 0.0,
        units_allocated=int(x.sum()),
        units_requested=int(net.ni_requested.sum()),
    )
