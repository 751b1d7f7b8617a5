"""From quantities per arc to a plan a coordinator can read: lines, coverage, and why not more."""

from __future__ import annotations

import numpy as np

from kitflow_distribution.domain.planner.model import (
    DraftPlan,
    ItemCoverage,
    NeedCoverage,
    PlanLine,
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
    x = quantities
    arc_item = net.arc_item
    got = np.bincount(net.arc_ni, weights=x, minlength=len(net.ni_need)).astype(np.int64)

    lines = tuple(
        PlanLine(
            warehouse=net.warehouses[net.arc_warehouse[a]],
            need_id=net.needs[net.ni_need[net.arc_ni[a]]].id,
            item=net.items[arc_item[a]],
            quantity=int(x[a]),
            distance_km=round(float(net.arc_km[a]), 3),
        )
        for a in np.flatnonzero(x > 0)
    )

    # What each need-item could reach at all, and what is left of it after the plan.
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
    # Arcs are sorted by need-item: those of need-item j are arc_start[j]:arc_start[j + 1].
    arc_start = np.concatenate([[0], np.cumsum(net.ni_arc_count)])
    index_of = {
        (int(n), int(k)): j for j, (n, k) in enumerate(zip(net.ni_need, net.ni_item, strict=True))
    }
    need_pos = {n.id: i for i, n in enumerate(net.needs)}
    item_pos = {code: k for k, code in enumerate(net.items)}
    allowed = problem.options.allowed_warehouses

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
            name = problem.item_name(item)
            allocated, floor = int(got[j]), int(guaranteed[j])
            items.append(ItemCoverage(item, requested, allocated, floor))
            missing = requested - allocated
            if missing <= 0:
                continue
            region = need.admin1_pcode
            if net.ni_arc_count[j] == 0:
                if allowed is not None and region in allowed:
                    where = f"none of the warehouses allowed to serve {region} "
                    where += f"({', '.join(sorted(allowed[region])) or 'none'}) has any"
                else:
                    where = "no warehouse has any"
                reason = UnmetReason.NO_STOCK_WITHIN_REACH
                sentence = f"no stock of {name} within reach of {region}: {where}"
            elif net.ni_cap[j] >= 0 and cap_used[net.ni_cap[j]] >= net.cap_units[net.ni_cap[j]]:
                reason = UnmetReason.PARTNER_CAP_REACHED
                cap = int(net.cap_units[net.ni_cap[j]])
                sentence = f"{need.partner} has reached its cap of {cap} {name} in this plan"
            else:
                arcs = net.arc_warehouse[arc_start[j] : arc_start[j + 1]]
                sources = ", ".join(net.warehouses[w] for w in arcs)
                within = f"{int(reachable[j])} {name} within reach ({sources})"
                if allocated >= reachable[j]:
                    reason = UnmetReason.NOT_ENOUGH_STOCK_WITHIN_REACH
                    sentence = f"this need gets all the {within}; {missing} more are not in reach"
                else:
                    reason = UnmetReason.ALLOCATED_TO_OTHER_NEEDS
                    others = int(reachable[j] - reachable_left[j] - allocated)
                    sentence = (
                        f"of the {within}, other needs get {others}: the equity rule guaranteed "
                        f"this need {floor} of {requested}, and it gets {allocated}; the rest went "
                        "to needs of higher priority or nearer the stock"
                    )
            shortfalls.append(Shortfall(need.id, item, missing, reason, sentence))
        if items:
            coverage.append(NeedCoverage(need.id, need.partner, need.weight, tuple(items)))

    in_equity = net.equity_set()
    equity_items = np.unique(net.ni_item[in_equity])
    by_item = {net.items[k]: float(levels[k]) for k in equity_items}
    rates = weighted_fill_rates(net, x)
    objectives = PlanObjectives(
        equity_level=min(by_item.values(), default=0.0),
        equity_level_by_item=by_item,
        min_weighted_fill_rate=float(rates[in_equity].min()) if in_equity.any() else 0.0,
        weighted_coverage=float(net.ni_weight[net.arc_ni] @ x) if len(x) else 0.0,
        distance_unit_km=float(net.arc_km @ x) if len(x) else 0.0,
        units_allocated=int(x.sum()),
        units_requested=int(net.ni_requested.sum()),
    )
    return DraftPlan(tuple(lines), tuple(coverage), tuple(shortfalls), objectives)
