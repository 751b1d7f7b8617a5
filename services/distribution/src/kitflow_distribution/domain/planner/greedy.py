"""The greedy baseline: what one would do by hand, kept to show what the optimum buys.

Needs in priority order (heaviest weight first, then id); for each need its items in code order;
for each need-item, the nearest allowed warehouse first, taking as much as is left there, within
what is requested and what the partner's cap still allows. No solver, no fairness.
"""

from __future__ import annotations

import numpy as np

from kitflow_distribution.domain.planner.explain import explain, realised_levels
from kitflow_distribution.domain.planner.model import DraftPlan, PlanningProblem
from kitflow_distribution.domain.planner.network import build_network


def greedy_allocation(problem: PlanningProblem) -> DraftPlan:
    problem.validate()
    net = build_network(problem)
    n_items = max(len(net.items), 1)
    stock_left = net.stock.reshape(-1).copy()
    cap_left = net.cap_units.copy()
    quantities = np.zeros(len(net.arc_ni), dtype=np.int64)

    # Arcs of each need-item, nearest first (ties by warehouse code, i.e. index).
    by_distance = np.lexsort((net.arc_warehouse, net.arc_km, net.arc_ni))
    arc_start = np.concatenate([[0], np.cumsum(net.ni_arc_count)])
    need_weight = np.array([n.weight for n in net.needs], dtype=np.float64)
    # Need-items are sorted by (need, item); a stable sort on -weight keeps that within a weight.
    order = np.argsort(-need_weight[net.ni_need], kind="stable")

    arc_warehouse, arc_item = net.arc_warehouse.tolist(), net.arc_item.tolist()
    requested, cap_of = net.ni_requested.tolist(), net.ni_cap.tolist()
    for j in order.tolist():
        wanted = requested[j]
        cap = cap_of[j]
        if cap >= 0:
            wanted = min(wanted, int(cap_left[cap]))
        for a in by_distance[arc_start[j] : arc_start[j + 1]].tolist():
            if wanted == 0:
                break
            key = arc_warehouse[a] * n_items + arc_item[a]
            take = min(wanted, int(stock_left[key]))
            if take > 0:
                quantities[a] = take
                stock_left[key] -= take
                wanted -= take
                if cap >= 0:
                    cap_left[cap] -= take

    guaranteed = np.zeros(len(net.ni_need), dtype=np.int64)
    return explain(problem, net, quantities, guaranteed, realised_levels(net, quantities))
