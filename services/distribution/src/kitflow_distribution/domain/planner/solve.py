"""The planner: three lexicographic linear programmes solved with HiGHS.

Variables: x_a >= 0 per arc a = (need-item, warehouse), in whole units.

Rows of the transportation problem:
    stock   per (warehouse, item):        sum of x over its arcs               <= available
    need    per need-item:            L <= sum of x over its arcs              <= requested
    cap     per capped (partner, item):   sum of x over the partner's arcs     <= cap

Stage 1 (equity): with L = 0, one extra variable t_k >= 0 per item and one row per need-item i
    of the equity set, sum of x - share_i x requested_i x t_k >= 0, maximise sum_k t_k. Items
    never share a row (caps are per item too), so this maximises each t_k independently: one
    scarce item does not lower the guarantee on another.
Stage 2 (coverage): the guarantee becomes the integer lower bound L_i = floor(share_i x
    requested_i x t*_k) on each need row; maximise sum of weight x x.
Stage 3 (distance): on the optimal face of stage 2 (see `_optimal_face`), minimise sum of km x x.

Size. Stages 1 and 2 do not look at distances, so need-items that reach the same warehouses
(same item, same region), under the same cap and with the same weight are interchangeable: they
are merged into one class whose row is sum L <= flow <= sum requested. This aggregation is exact
(any class flow within those bounds splits back onto its need-items), and it makes stages 1 and 2
tiny (items x regions x weights x caps classes). Stage 3 needs every need-item, because each has
its own distance; it is solved per item (items are independent), which keeps each simplex small.

Integrality: without t and the equity rows, the matrix is the incidence matrix of two laminar
families (stock rows on one side; need rows nested in cap rows on the other), hence totally
unimodular. With integer bounds every vertex is integral, and the simplex method returns a vertex.
Stage 3 keeps that structure because the optimal face of stage 2 is described by fixing columns
and rows at integer values, not by adding an objective row (which would break unimodularity).
The plan is still checked: every quantity within 1e-6 of an integer, then rounded, then every row
re-checked in integers.

Determinism: the network is built from sorted inputs, classes and rows are numbered in sorted
order, and HiGHS runs single-threaded with a fixed seed and fixed options.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np

from kitflow_distribution.domain.planner.explain import explain
from kitflow_distribution.domain.planner.model import (
    DraftPlan,
    PlannerError,
    PlanningProblem,
    SolverStats,
)
from kitflow_distribution.domain.planner.network import (
    BoolArray,
    FloatArray,
    IntArray,
    Network,
    build_network,
)

INTEGRALITY_TOLERANCE = 1e-6
# Slack when rounding the stage-1 guarantee down to units: 2.9999999 from the solver means 3.
GUARANTEE_ROUNDING_SLACK = 1e-6
# A reduced cost or dual below this (times the largest weight) counts as zero.
FACE_TOLERANCE = 1e-7
HIGHS_OPTIONS: dict[str, bool | int | float | str] = {
    "output_flag": False,
    "threads": 1,
    "random_seed": 0,
    "solver": "simplex",
    "presolve": "on",
    "time_limit": 3600.0,
}
INF = highspy.kHighsInf


@dataclass(frozen=True)
class _Flow:
    """A transportation problem: demand nodes (need-items or classes) served by stock rows."""

    n_items: int
    stock: IntArray  # (warehouse, item) -> available
    node_item: IntArray
    node_requested: IntArray
    node_share: FloatArray  # equity coefficient; 0 leaves the node out of the equity rule
    node_cap: IntArray  # -1 when uncapped
    cap_units: IntArray
    arc_node: IntArray  # arcs sorted by node
    arc_warehouse: IntArray


@dataclass(frozen=True)
class _Model:
    highs: highspy.Highs
    n_arcs: int
    stock_keys: IntArray  # warehouse x n_items + item, per stock row
    node_rows: IntArray  # node of each node row
    cap_rows: IntArray  # cap of each cap row
    n_equity: int

    @property
    def node_start(self) -> int:
        return len(self.stock_keys)

    @property
    def cap_start(self) -> int:
        return self.node_start + len(self.node_rows)

    @property
    def equity_start(self) -> int:
        return self.cap_start + len(self.cap_rows)


@dataclass(frozen=True)
class _Face:
    """The optimal face of stage 2, as fixings on the need-item network."""

    arc_fixed: BoolArray  # fixed at 0
    ni_lower: IntArray
    ni_upper: IntArray
    stock_exact: IntArray  # (warehouse, item) -> the exact use, -1 when free
    cap_exact: IntArray  # per cap, -1 when free


def plan_allocation(problem: PlanningProblem) -> DraftPlan:
    """The optimal draft plan for `problem`; raises `InvalidPlanningInput` or `PlannerError`."""
    started = time.perf_counter()
    problem.validate()
    net = build_network(problem)
    n_arcs = len(net.arc_ni)
    if n_arcs == 0:
        return _nothing_can_move(problem, net, started)

    # Classes of interchangeable need-items, and the aggregated network.
    ni_class, class_flow, arc_class_arc = _aggregate(net)
    agg = _build(class_flow, with_equity=True)
    build_done = time.perf_counter()
    levels, equity = _equity_stage(agg)
    coverage = _coverage_stage(net, agg, class_flow, ni_class, levels)
    face = _optimal_face(
        net, agg, class_flow, ni_class, arc_class_arc, coverage.guaranteed, coverage.class_weight
    )
    distance = _distance_stage(net, face)
    coverage_after = float(net.ni_weight[net.arc_ni] @ distance.quantities)
    weighted_coverage = coverage.weighted_coverage
    if coverage_after < weighted_coverage - 1e-6 * max(1.0, abs(weighted_coverage)):
        raise PlannerError(
            f"stage 3 lost coverage ({coverage_after} < {weighted_coverage}); "
            "the optimal face of stage 2 was not fixed exactly"
        )

    extract_start = time.perf_counter()
    _check_feasible(net, distance.quantities, coverage.guaranteed)
    plan = explain(problem, net, distance.quantities, coverage.guaranteed, levels)
    done = time.perf_counter()
    stats = SolverStats(
        variables=n_arcs,
        constraints=distance.rows,
        nonzeros=distance.nonzeros,
        aggregated_variables=agg.highs.getNumCol(),
        aggregated_constraints=agg.highs.getNumRow(),
        simplex_iterations=(equity.iterations, coverage.iterations, distance.iterations),
        build_seconds=build_done - started,
        solve_seconds=(equity.seconds, coverage.seconds, distance.seconds),
        extract_seconds=done - extract_start,
        total_seconds=done - started,
        equity_bounds_relaxed=coverage.relaxed,
    )
    return _with_stats(plan, stats)


def _nothing_can_move(problem: PlanningProblem, net: Network, started: float) -> DraftPlan:
    """No arc at all: no solver needed, every shortfall is explained by reach or options."""
    build_done = time.perf_counter()
    guaranteed = np.zeros(len(net.ni_need), dtype=np.int64)
    levels = np.zeros(len(net.items), dtype=np.float64)
    plan = explain(problem, net, np.zeros(0, dtype=np.int64), guaranteed, levels)
    done = time.perf_counter()
    stats = SolverStats(0, 0, 0, 0, 0, (0, 0, 0), build_done - started, (0.0, 0.0, 0.0),
                        done - build_done, done - started)  # fmt: skip
    return _with_stats(plan, stats)


@dataclass(frozen=True)
class _Solved:
    """How long a stage took, in seconds and simplex iterations."""

    seconds: float
    iterations: int


def _equity_stage(agg: _Model) -> tuple[FloatArray, _Solved]:
    """Stage 1: the equity level t_k per item."""
    started = time.perf_counter()
    _run(agg.highs, "stage 1 (equity)")
    seconds = time.perf_counter() - started
    levels = np.maximum(np.asarray(agg.highs.getSolution().col_value)[agg.n_arcs :], 0.0)
    return levels, _Solved(seconds, agg.highs.getInfo().simplex_iteration_count)


@dataclass(frozen=True)
class _Coverage(_Solved):
    guaranteed: IntArray  # per need-item, the equity guarantee in whole units
    class_weight: FloatArray
    relaxed: bool
    weighted_coverage: float


def _coverage_stage(
    net: Network, agg: _Model, class_flow: _Flow, ni_class: IntArray, levels: FloatArray
) -> _Coverage:
    """Stage 2: weighted coverage above the integral guarantee."""
    exact = net.ni_share * net.ni_requested * levels[net.ni_item]
    in_equity = net.equity_set()
    guaranteed = _floor_guarantee(exact, net.ni_requested, in_equity, GUARANTEE_ROUNDING_SLACK)
    class_weight = np.zeros(len(class_flow.node_item))
    class_weight[ni_class[ni_class >= 0]] = net.ni_weight[ni_class >= 0]
    _prepare_stage_two(agg, class_flow, ni_class, guaranteed, class_weight)
    started = time.perf_counter()
    relaxed = False
    if not _try_run(agg.highs):
        # The rounded-up guarantee was infeasible by less than the solver tolerance: round down
        # from a hair below instead (the stage-1 solution itself satisfies that bound).
        relaxed = True
        guaranteed = _floor_guarantee(exact, net.ni_requested, in_equity, -GUARANTEE_ROUNDING_SLACK)
        _set_node_rows(agg, _class_lower(ni_class, guaranteed, class_flow), class_flow)
        _run(agg.highs, "stage 2 (coverage)")
    seconds = time.perf_counter() - started
    return _Coverage(
        seconds=seconds,
        iterations=agg.highs.getInfo().simplex_iteration_count,
        guaranteed=guaranteed,
        class_weight=class_weight,
        relaxed=relaxed,
        weighted_coverage=agg.highs.getObjectiveValue(),
    )


@dataclass(frozen=True)
class _Distance(_Solved):
    quantities: IntArray  # per arc
    rows: int
    nonzeros: int


def _distance_stage(net: Network, face: _Face) -> _Distance:
    """Stage 3: shortest distance among the plans of best coverage, one item at a time."""
    quantities = np.zeros(len(net.arc_ni), dtype=np.int64)
    seconds, iterations, n_rows, n_nonzeros = 0.0, 0, 0, 0
    for k in range(len(net.items)):
        arcs = np.flatnonzero(net.arc_item == k)
        if len(arcs) == 0:
            continue
        started = time.perf_counter()
        x, item_iterations, rows, nonzeros = _stage_three(net, face, k, arcs)
        seconds += time.perf_counter() - started
        iterations += item_iterations
        n_rows += rows
        n_nonzeros += nonzeros
        quantities[arcs] = x
    return _Distance(seconds, iterations, quantities, n_rows, n_nonzeros)


def _with_stats(plan: DraftPlan, stats: SolverStats) -> DraftPlan:
    return DraftPlan(plan.lines, plan.coverage, plan.shortfalls, plan.objectives, stats)


def _floor_guarantee(
    exact: FloatArray, requested: IntArray, in_equity: BoolArray, slack: float
) -> IntArray:
    floor = np.floor(exact + slack).astype(np.int64)
    return np.where(in_equity, np.clip(floor, 0, requested), 0).astype(np.int64)


def _aggregate(net: Network) -> tuple[IntArray, _Flow, IntArray]:
    """Merge need-items with the same arcs (item, region), cap and weight into classes.

    Returns the class of each need-item (-1 without arcs), the class network, and for each
    need-item arc the index of its class arc.
    """
    region = {r: j for j, r in enumerate(sorted({n.admin1_pcode for n in net.needs}))}
    need_region = np.array([region[n.admin1_pcode] for n in net.needs], dtype=np.int64)
    has_arcs = net.ni_arc_count > 0
    _, weight_rank = np.unique(net.ni_weight, return_inverse=True)
    key = np.stack(
        [net.ni_item, need_region[net.ni_need], net.ni_cap, weight_rank.reshape(-1)], axis=1
    )[has_arcs]
    class_keys, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    ni_class = np.full(len(net.ni_need), -1, dtype=np.int64)
    ni_class[has_arcs] = inverse
    n_classes = len(class_keys)

    arc_class = ni_class[net.arc_ni]
    n_warehouses = len(net.warehouses)
    class_arc_keys, arc_class_arc = np.unique(
        arc_class * n_warehouses + net.arc_warehouse, return_inverse=True
    )
    members = ni_class >= 0
    share = np.zeros(n_classes)
    share[ni_class[members]] = net.ni_share[members]
    flow = _Flow(
        n_items=len(net.items),
        stock=net.stock,
        node_item=class_keys[:, 0].astype(np.int64),
        node_requested=np.bincount(
            ni_class[members], weights=net.ni_requested[members], minlength=n_classes
        ).astype(np.int64),
        node_share=share,
        node_cap=class_keys[:, 2].astype(np.int64),
        cap_units=net.cap_units,
        arc_node=(class_arc_keys // n_warehouses).astype(np.int64),
        arc_warehouse=(class_arc_keys % n_warehouses).astype(np.int64),
    )
    return ni_class, flow, arc_class_arc.reshape(-1).astype(np.int64)


def _class_lower(ni_class: IntArray, guaranteed: IntArray, flow: _Flow) -> IntArray:
    members = ni_class >= 0
    return np.bincount(
        ni_class[members], weights=guaranteed[members], minlength=len(flow.node_item)
    ).astype(np.int64)


@dataclass(frozen=True)
class _Rows:
    """The rows of a flow model, numbered stock, node, cap, equity; and per arc the row of each
    kind it enters."""

    stock_keys: IntArray  # warehouse x n_items + item, per stock row
    node_rows: IntArray  # node of each node row
    cap_rows: IntArray  # cap of each cap row
    equity_nodes: IntArray  # node of each equity row
    arc_entries: IntArray  # (arc, 4): its stock, node, cap and equity row; -1 where none

    @property
    def equity_start(self) -> int:
        return len(self.stock_keys) + len(self.node_rows) + len(self.cap_rows)

    @property
    def count(self) -> int:
        return self.equity_start + len(self.equity_nodes)


def _number_rows(flow: _Flow, *, with_equity: bool) -> _Rows:
    n_items, n_nodes = flow.n_items, len(flow.node_item)
    arc_item = flow.node_item[flow.arc_node]

    stock_keys, arc_stock_row = np.unique(
        flow.arc_warehouse * n_items + arc_item, return_inverse=True
    )
    arc_stock_row = arc_stock_row.reshape(-1)
    n_stock = len(stock_keys)

    node_has_arcs = np.bincount(flow.arc_node, minlength=n_nodes) > 0
    node_rows = np.flatnonzero(node_has_arcs).astype(np.int64)
    node_row_of = np.cumsum(node_has_arcs) - 1
    arc_node_row = n_stock + node_row_of[flow.arc_node]

    arc_cap = flow.node_cap[flow.arc_node]
    cap_rows = np.unique(arc_cap[arc_cap >= 0]).astype(np.int64)
    # One spare slot at the end so that "no cap" (-1) looks up -1.
    cap_row_of = np.full(len(flow.cap_units) + 1, -1, dtype=np.int64)
    cap_row_of[cap_rows] = n_stock + len(node_rows) + np.arange(len(cap_rows))
    arc_cap_row = cap_row_of[arc_cap]

    equity_start = n_stock + len(node_rows) + len(cap_rows)
    in_equity = node_has_arcs & (flow.node_share > 0) & with_equity
    equity_nodes = np.flatnonzero(in_equity).astype(np.int64)
    equity_row_of = np.where(in_equity, np.cumsum(in_equity) - 1, -1)
    arc_equity_row = np.where(
        in_equity[flow.arc_node], equity_start + equity_row_of[flow.arc_node], -1
    )
    entries = np.stack([arc_stock_row, arc_node_row, arc_cap_row, arc_equity_row], axis=1)
    return _Rows(stock_keys.astype(np.int64), node_rows, cap_rows, equity_nodes, entries)


def _build(flow: _Flow, *, with_equity: bool) -> _Model:
    """A HiGHS model of `flow`, built column-wise with vectorised numpy (no loop per nonzero).

    Columns: one per arc, then (with equity) one t per item. Rows: stock, node, cap, equity.
    Node rows start as [0, requested]; costs start as stage 1's (maximise sum of t).
    """
    n_arcs = len(flow.arc_node)
    rows = _number_rows(flow, with_equity=with_equity)
    equity_nodes = rows.equity_nodes

    # Arc columns: up to four entries each (stock, node, cap, equity), in row order.
    present = rows.arc_entries >= 0
    arc_index = rows.arc_entries[present]
    arc_counts = present.sum(axis=1)

    # t columns: -share x requested in the equity rows of the item's nodes.
    n_t = flow.n_items if with_equity else 0
    eq_item = flow.node_item[equity_nodes]
    order = np.argsort(eq_item, kind="stable")
    t_index = rows.equity_start + order
    t_value = -(flow.node_share[equity_nodes] * flow.node_requested[equity_nodes])[order]
    t_counts = np.bincount(eq_item, minlength=n_t)

    lp = highspy.HighsLp()
    lp.num_col_ = n_arcs + n_t
    lp.num_row_ = rows.count
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = np.concatenate([np.zeros(n_arcs), np.ones(n_t)])
    lp.col_lower_ = np.zeros(n_arcs + n_t)
    # An item with no node in the equity set has no guarantee to raise: its t stays 0.
    lp.col_upper_ = np.concatenate([np.full(n_arcs, INF), np.where(t_counts > 0, INF, 0.0)])
    lp.row_lower_ = np.concatenate(
        [
            np.full(len(rows.stock_keys), -INF),
            np.zeros(len(rows.node_rows)),
            np.full(len(rows.cap_rows), -INF),
            np.zeros(len(equity_nodes)),
        ]
    )
    lp.row_upper_ = np.concatenate(
        [
            flow.stock.reshape(-1)[rows.stock_keys].astype(np.float64),
            flow.node_requested[rows.node_rows].astype(np.float64),
            flow.cap_units[rows.cap_rows].astype(np.float64),
            np.full(len(equity_nodes), INF),
        ]
    )
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = rows.count
    counts = np.concatenate([arc_counts, t_counts])
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    lp.a_matrix_.index_ = np.concatenate([arc_index, t_index]).astype(np.int64)
    lp.a_matrix_.value_ = np.concatenate([np.ones(len(arc_index)), t_value])

    # highspy 1.16's Highs.__init__ is unannotated.
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    for name, option in HIGHS_OPTIONS.items():
        highs.setOptionValue(name, option)
    highs.passModel(lp)
    return _Model(highs, n_arcs, rows.stock_keys, rows.node_rows, rows.cap_rows,
                  len(equity_nodes))  # fmt: skip


def _prepare_stage_two(
    model: _Model, flow: _Flow, ni_class: IntArray, guaranteed: IntArray, class_weight: FloatArray
) -> None:
    highs, n_arcs, n_t = model.highs, model.n_arcs, flow.n_items
    t_cols = n_arcs + np.arange(n_t, dtype=np.int64)
    highs.changeColsBounds(n_t, t_cols, np.zeros(n_t), np.zeros(n_t))
    if model.n_equity:
        equity = model.equity_start + np.arange(model.n_equity, dtype=np.int64)
        free = np.full(model.n_equity, INF)
        _change_rows_bounds(highs, model.n_equity, equity, -free, free)
    _set_node_rows(model, _class_lower(ni_class, guaranteed, flow), flow)
    costs = np.concatenate([class_weight[flow.arc_node], np.zeros(n_t)])
    highs.changeColsCost(n_arcs + n_t, np.arange(n_arcs + n_t, dtype=np.int64), costs)


def _set_node_rows(model: _Model, lower: IntArray, flow: _Flow) -> None:
    rows = model.node_start + np.arange(len(model.node_rows), dtype=np.int64)
    _change_rows_bounds(
        model.highs,
        len(rows),
        rows,
        lower[model.node_rows].astype(np.float64),
        flow.node_requested[model.node_rows].astype(np.float64),
    )


def _optimal_face(
    net: Network,
    agg: _Model,
    flow: _Flow,
    ni_class: IntArray,
    arc_class_arc: IntArray,
    guaranteed: IntArray,
    class_weight: FloatArray,
) -> _Face:
    """The set of optimal solutions of stage 2, carried back onto the need-item network.

    By complementary slackness, with any one optimal dual solution, a feasible x is optimal if
    and only if every column with a non-zero reduced cost sits at its bound and every row with a
    non-zero dual sits at its bound. The class model's duals extend to the need-item model (each
    need row takes its class's dual; reduced costs are unchanged), so: a class arc with a
    non-zero reduced cost fixes all its need-item arcs at 0; a class row with a non-zero dual at
    its upper bound fixes each member at its request, at its lower bound each member at its
    guarantee; stock and cap rows with a non-zero dual are fixed at their use. All fixings are
    integers, so stage 3 is again a transportation problem with integral vertices.
    """
    solution = agg.highs.getSolution()
    tolerance = FACE_TOLERANCE * max(1.0, float(class_weight.max()))
    reduced = np.asarray(solution.col_dual)[: agg.n_arcs]
    duals = np.asarray(solution.row_dual)
    activity = np.round(np.asarray(solution.row_value)).astype(np.int64)
    tight = np.abs(duals) > tolerance

    arc_fixed = (np.abs(reduced) > tolerance)[arc_class_arc]

    ni_lower, ni_upper = guaranteed.copy(), net.ni_requested.copy()
    node_tight = tight[agg.node_start : agg.cap_start]
    node_activity = activity[agg.node_start : agg.cap_start]
    at_upper = np.zeros(len(flow.node_item), dtype=np.bool_)
    at_lower = np.zeros(len(flow.node_item), dtype=np.bool_)
    upper_bound = flow.node_requested[agg.node_rows]
    at_upper[agg.node_rows] = node_tight & (node_activity >= upper_bound)
    at_lower[agg.node_rows] = node_tight & (node_activity < upper_bound)
    members = ni_class >= 0
    member_class = np.where(members, ni_class, 0)
    ni_lower = np.where(members & at_upper[member_class], net.ni_requested, ni_lower)
    ni_upper = np.where(members & at_lower[member_class], guaranteed, ni_upper)

    stock_exact = np.full(net.stock.size, -1, dtype=np.int64)
    stock_tight = tight[: agg.node_start]
    stock_exact[agg.stock_keys[stock_tight]] = activity[: agg.node_start][stock_tight]
    cap_exact = np.full(len(net.cap_units), -1, dtype=np.int64)
    cap_tight = tight[agg.cap_start : agg.equity_start]
    cap_exact[agg.cap_rows[cap_tight]] = activity[agg.cap_start : agg.equity_start][cap_tight]
    return _Face(arc_fixed, ni_lower, ni_upper, stock_exact, cap_exact)


def _stage_three(
    net: Network, face: _Face, item: int, arcs: IntArray
) -> tuple[IntArray, int, int, int]:
    """Minimise distance for one item on the optimal face; returns x, iterations, rows, nonzeros."""
    arc_ni = net.arc_ni[arcs]
    nis, arc_node = np.unique(arc_ni, return_inverse=True)
    flow = _Flow(
        n_items=len(net.items),
        stock=net.stock,
        node_item=net.ni_item[nis],
        node_requested=net.ni_requested[nis],
        node_share=np.zeros(len(nis)),
        node_cap=net.ni_cap[nis],
        cap_units=net.cap_units,
        arc_node=arc_node.reshape(-1).astype(np.int64),
        arc_warehouse=net.arc_warehouse[arcs],
    )
    model = _build(flow, with_equity=False)
    highs = model.highs
    n = len(arcs)
    all_cols = np.arange(n, dtype=np.int64)
    upper = np.where(face.arc_fixed[arcs], 0.0, INF)
    highs.changeColsBounds(n, all_cols, np.zeros(n), upper)
    highs.changeColsCost(n, all_cols, net.arc_km[arcs])
    highs.changeObjectiveSense(highspy.ObjSense.kMinimize)

    node_ni = nis[model.node_rows]
    rows = model.node_start + np.arange(len(node_ni), dtype=np.int64)
    _change_rows_bounds(highs, len(rows), rows, face.ni_lower[node_ni].astype(np.float64),
                           face.ni_upper[node_ni].astype(np.float64))  # fmt: skip
    exact = face.stock_exact[model.stock_keys]
    fixed = np.flatnonzero(exact >= 0).astype(np.int64)
    if len(fixed):
        at = exact[fixed].astype(np.float64)
        _change_rows_bounds(highs, len(fixed), fixed, at, at)
    if len(model.cap_rows):
        exact = face.cap_exact[model.cap_rows]
        fixed = np.flatnonzero(exact >= 0).astype(np.int64)
        if len(fixed):
            at = exact[fixed].astype(np.float64)
            _change_rows_bounds(highs, len(fixed), model.cap_start + fixed, at, at)
    _run(highs, f"stage 3 (distance) for {net.items[item]}")
    x = _integral(highs.getSolution().col_value, n, "stage 3")
    return x, highs.getInfo().simplex_iteration_count, highs.getNumRow(), highs.getNumNz()


def _change_rows_bounds(
    highs: highspy.Highs, count: int, rows: IntArray, lower: FloatArray, upper: FloatArray
) -> None:
    # changeRowsBounds exists in highspy 1.16 but is missing from its type stubs.
    highs.changeRowsBounds(count, rows, lower, upper)  # type: ignore[attr-defined]


def _run(highs: highspy.Highs, stage: str) -> None:
    if not _try_run(highs):
        status = highs.modelStatusToString(highs.getModelStatus())
        raise PlannerError(f"{stage}: HiGHS ended with status {status!r}")


def _try_run(highs: highspy.Highs) -> bool:
    highs.run()
    return highs.getModelStatus() == highspy.HighsModelStatus.kOptimal


def _integral(values: list[float], n_arcs: int, stage: str) -> IntArray:
    x = np.asarray(values, dtype=np.float64)[:n_arcs]
    rounded = np.round(x)
    worst = float(np.max(np.abs(x - rounded))) if n_arcs else 0.0
    if worst > INTEGRALITY_TOLERANCE:
        # Cannot happen for a vertex of a totally unimodular system with integer bounds.
        raise PlannerError(f"{stage}: a quantity is {worst:.2g} away from a whole unit")
    return np.maximum(rounded, 0).astype(np.int64)


def _check_feasible(net: Network, x: IntArray, guaranteed: IntArray) -> None:
    """Re-check every constraint in integers after rounding."""
    n_items = max(len(net.items), 1)
    used = np.bincount(
        net.arc_warehouse * n_items + net.arc_item, weights=x, minlength=net.stock.size
    ).reshape(net.stock.shape)
    got = np.bincount(net.arc_ni, weights=x, minlength=len(net.ni_need))
    problems = []
    if (used > net.stock + 0.5).any():
        problems.append("more than available")
    if (got > net.ni_requested + 0.5).any():
        problems.append("more than requested")
    if (got < guaranteed - 0.5).any():
        problems.append("less than the equity guarantee")
    if len(net.cap_units):
        capped = net.ni_cap >= 0
        per_cap = np.bincount(net.ni_cap[capped], weights=got[capped], minlength=len(net.cap_units))
        if (per_cap > net.cap_units + 0.5).any():
            problems.append("more than a partner cap")
    if problems or math.isnan(float(x.sum())):
        raise PlannerError("the rounded plan breaks a constraint: " + ", ".join(problems))
