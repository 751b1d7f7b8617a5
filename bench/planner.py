"""Benchmark of the allocation planner: time, objectives, an independent solve, a greedy baseline.

    uv run python -m bench.planner [--sizes 1000,10000,50000] [--seed 7] [--reference-up-to N]

For each size, a seeded Mali-like instance (20 warehouses, 15 items, needs asking for 1 to 6
items, total stock 40-70 % of total need per item, neighbouring-region restrictions, a few
partner caps). It reports:
- the planner's total time (network + model build + 3 stages + extraction) and its objectives;
- an independent solve of the same three-stage model, built here from the problem with plain
  Python and scipy.sparse and solved with scipy.optimize.linprog(method="highs-ds"), chaining
  stages the textbook way (previous objective as a constraint, relative tolerance 1e-9); the
  objectives must agree to 1e-6 (relative), and planner time / bare linprog time is reported;
- the greedy baseline (priority order, nearest allowed warehouse first);
- how time grows with size (slope of a log-log fit).
Writes bench/results/planner.json after each size. The monolithic reference grows about as
needs^2 (about 100 s at 10,000 needs on 2 cores); --reference-up-to skips it above a size.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
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
from scipy import sparse
from scipy.optimize import linprog

RESULTS = Path(__file__).parent / "results" / "planner.json"

# Regions of Mali (admin1 P-codes as in the OCHA COD) with a rough centre, and their neighbours.
REGIONS: dict[str, tuple[float, float]] = {
    "ML01": (14.45, -11.44),  # Kayes
    "ML02": (13.50, -7.50),  # Koulikoro
    "ML03": (11.32, -5.67),  # Sikasso
    "ML04": (13.43, -6.26),  # Segou
    "ML05": (14.49, -4.20),  # Mopti
    "ML06": (16.77, -3.01),  # Tombouctou
    "ML07": (16.27, -0.04),  # Gao
    "ML08": (18.44, 1.41),  # Kidal
    "ML09": (12.65, -8.00),  # Bamako
}
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "ML01": ("ML02", "ML09"),
    "ML02": ("ML01", "ML03", "ML04", "ML09"),
    "ML03": ("ML02", "ML04", "ML09"),
    "ML04": ("ML02", "ML03", "ML05", "ML09"),
    "ML05": ("ML04", "ML06", "ML07"),
    "ML06": ("ML05", "ML07"),
    "ML07": ("ML05", "ML06", "ML08"),
    "ML08": ("ML06", "ML07"),
    "ML09": ("ML01", "ML02", "ML03", "ML04"),
}
# Needs lean north and centre, where the displacement is.
REGION_SHARE = {"ML01": 1, "ML02": 1, "ML03": 1, "ML04": 2, "ML05": 5, "ML06": 4, "ML07": 4,
                "ML08": 2, "ML09": 1}  # fmt: skip
WAREHOUSES: tuple[tuple[str, str, float, float], ...] = (
    ("BKO-1", "ML09", 12.65, -8.00), ("BKO-2", "ML09", 12.60, -7.95),
    ("BKO-3", "ML09", 12.66, -7.98),
    ("KAY", "ML01", 14.45, -11.44), ("KLK", "ML02", 12.86, -7.56), ("SIK", "ML03", 11.32, -5.67),
    ("SEG", "ML04", 13.43, -6.26), ("SAN", "ML04", 13.30, -4.90), ("MOP-1", "ML05", 14.49, -4.20),
    ("MOP-2", "ML05", 14.52, -4.10), ("DJE", "ML05", 13.91, -4.55), ("DTZ", "ML05", 15.00, -2.95),
    ("TBT-1", "ML06", 16.77, -3.01), ("TBT-2", "ML06", 16.70, -3.05), ("GDM", "ML06", 16.41, -3.66),
    ("GAO-1", "ML07", 16.27, -0.04), ("GAO-2", "ML07", 16.30, -0.02), ("ANS", "ML07", 15.66, 0.50),
    ("MEN", "ML07", 15.92, 2.40), ("KID", "ML08", 18.44, 1.41),
)  # fmt: skip
# 15 NFI items with a per-household norm: family kits count as kits, tarpaulins as pieces.
ITEMS: tuple[tuple[str, int], ...] = (
    ("SHELTER-KIT", 1), ("NFI-KIT", 1), ("HYGIENE-KIT", 1), ("KITCHEN-SET", 1), ("TARPAULIN", 2),
    ("BLANKET", 3), ("SLEEPING-MAT", 3), ("MOSQUITO-NET", 2), ("JERRYCAN", 2), ("BUCKET", 1),
    ("SOAP", 6), ("SOLAR-LAMP", 1), ("ROPE", 1), ("TENT", 1), ("DIGNITY-KIT", 1),
)  # fmt: skip
PARTNERS = ("IOM", "NRC", "IRC", "DRC", "ACTED", "CRS", "WVI", "CARE", "SCI", "PUI", "AVSF", "CRM")


def make_problem(n_needs: int, seed: int) -> PlanningProblem:
    rng = random.Random(seed)
    warehouses = tuple(
        PlanningWarehouse(code, region, Coordinates(lat, lon))
        for code, region, lat, lon in WAREHOUSES
    )
    regions = list(REGION_SHARE)
    weights = [REGION_SHARE[r] for r in regions]
    needs = []
    total: dict[str, int] = defaultdict(int)
    for i in range(n_needs):
        region = rng.choices(regions, weights)[0]
        lat, lon = REGIONS[region]
        households = rng.randint(20, 400)
        chosen = rng.sample(ITEMS, rng.randint(1, 6))
        requested = {code: households * norm for code, norm in chosen}
        for code, qty in requested.items():
            total[code] += qty
        needs.append(
            PlanningNeed(
                id=f"N{i:06d}",
                partner=rng.choice(PARTNERS),
                admin1_pcode=region,
                admin2_pcode=f"{region}{rng.randint(1, 6):02d}",
                requested=requested,
                coordinates=Coordinates(lat + rng.uniform(-0.8, 0.8), lon + rng.uniform(-0.8, 0.8)),
                severity=rng.choices([1, 2, 3, 4, 5], [1, 2, 4, 3, 2])[0],
            )
        )
    stock = []
    for code, _ in ITEMS:
        # Scarcity: 40-70 % of what is asked, spread unevenly; about a third of the warehouses
        # hold none of a given item.
        supply = int(total[code] * rng.uniform(0.4, 0.7))
        holders = [w for w in WAREHOUSES if rng.random() > 0.35] or [WAREHOUSES[0]]
        shares = [rng.expovariate(1.0) for _ in holders]
        for (wcode, *_), share in zip(holders, shares, strict=True):
            stock.append(StockLevel(wcode, code, int(supply * share / sum(shares))))
    allowed = {
        region: frozenset(w for w, r, *_ in WAREHOUSES if r == region or r in NEIGHBOURS[region])
        for region in REGIONS
    }
    caps = tuple(
        PartnerCap(partner, item, int(total[item] / len(PARTNERS) * 0.3))
        for partner, item in (("NRC", "TARPAULIN"), ("IRC", "SHELTER-KIT"), ("DRC", "SOAP"))
    )
    return PlanningProblem(
        warehouses=warehouses,
        stock=tuple(stock),
        needs=tuple(needs),
        options=PlanningOptions(allowed_warehouses=allowed, partner_caps=caps),
    )


# ------------------------------------------------------------------- the independent reference


@dataclass
class Reference:
    equity: list[float]  # t_k per item with a guarantee, in item-code order
    coverage: float
    distance: float
    solve_seconds: float
    build_seconds: float
    variables: int


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


Arc = tuple[int, str, str, float]  # (need-item row, warehouse, item, km)
NeedItem = tuple[PlanningNeed, str, int]  # (need, item, quantity requested)


def reference_solve(problem: PlanningProblem) -> Reference:
    """The same lexicographic model, written out again from its definition (ADR 0005)."""
    started = time.perf_counter()
    cols, need_items = reference_arcs(problem)
    model = ReferenceModel.of(problem, cols, need_items)
    build = time.perf_counter() - started
    options = {"presolve": True, "time_limit": 3600.0}
    n_x, a_ub, b_ub = len(cols), model.a_ub, model.b_ub

    solve = 0.0
    t0 = time.perf_counter()
    c1 = np.zeros(model.n_var)
    for item in model.item_codes:
        c1[model.t_of[item]] = -1.0
    equity_items = sorted({need_items[ni][1] for ni in model.eq_row})
    t_bounds = [(0, None) if item in equity_items else (0, 0) for item in model.item_codes]
    res1 = linprog(c1, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * n_x + t_bounds,
                   method="highs-ds", options=options)  # fmt: skip
    solve += time.perf_counter() - t0
    assert res1.status == 0, res1.message
    t_star = {item: max(res1.x[model.t_of[item]], 0.0) for item in model.item_codes}

    # Stage 2: drop the equity rows and t; add the integral guarantee as -sum x <= -L.
    lower, lower_b = model.guarantee_rows(cols, need_items, t_star)
    a_stage2 = sparse.vstack([a_ub[: model.base_rows, :n_x], lower]).tocsr()
    b_stage2 = np.concatenate([b_ub[: model.base_rows], lower_b])
    weight = np.array([need_items[ni][0].weight for ni, *_ in cols])
    t0 = time.perf_counter()
    res2 = linprog(-weight, A_ub=a_stage2, b_ub=b_stage2, bounds=(0, None), method="highs-ds",
                   options=options)  # fmt: skip
    solve += time.perf_counter() - t0
    assert res2.status == 0, res2.message
    coverage = float(-res2.fun)

    # Stage 3: keep coverage within 1e-9 (relative) of its optimum, minimise distance.
    km = np.array([c[3] for c in cols])
    a_stage3 = sparse.vstack([a_stage2, sparse.csr_matrix(-weight)]).tocsr()
    b_stage3 = np.concatenate([b_stage2, [-coverage * (1 - 1e-9)]])
    t0 = time.perf_counter()
    res3 = linprog(km, A_ub=a_stage3, b_ub=b_stage3, bounds=(0, None), method="highs-ds",
                   options=options)  # fmt: skip
    solve += time.perf_counter() - t0
    assert res3.status == 0, res3.message
    return Reference(
        equity=[t_star[i] for i in equity_items],
        coverage=coverage,
        distance=float(res3.fun),
        solve_seconds=solve,
        build_seconds=build,
        variables=model.n_var,
    )


def reference_arcs(problem: PlanningProblem) -> tuple[list[Arc], list[NeedItem]]:
    """Every need-item, and an arc to each warehouse with its item that may serve the region."""
    opts = problem.options
    coords = {w.code: w.coordinates for w in problem.warehouses}
    region_of_wh = {w.code: w.admin1_pcode for w in problem.warehouses}
    available = {(s.warehouse, s.item) for s in problem.stock if s.available > 0}
    cols: list[Arc] = []
    need_items: list[NeedItem] = []
    for n in problem.needs:
        allowed = (opts.allowed_warehouses or {}).get(n.admin1_pcode)
        for item, qty in n.requested.items():
            row = len(need_items)
            need_items.append((n, item, qty))
            for w in region_of_wh:
                if (w, item) in available and (allowed is None or w in allowed):
                    c = coords[w]
                    assert c is not None
                    assert n.coordinates is not None
                    km = haversine((n.coordinates.lat, n.coordinates.lon), (c.lat, c.lon))
                    cols.append((row, w, item, km))
    return cols, need_items


@dataclass
class ReferenceModel:
    """Stage 1 as A_ub x <= b_ub: stock, need and cap rows (the first base_rows), then one
    equity row per need-item with an arc and a share; columns x per arc, then t per item."""

    a_ub: Any
    b_ub: Any
    base_rows: int
    item_codes: list[str]
    t_of: dict[str, int]
    share: dict[int, float]
    eq_row: dict[int, int]

    @property
    def n_var(self) -> int:
        return self.a_ub.shape[1]  # type: ignore[no-any-return]

    @classmethod
    def of(
        cls, problem: PlanningProblem, cols: list[Arc], need_items: list[NeedItem]
    ) -> ReferenceModel:
        available = {(s.warehouse, s.item): s.available for s in problem.stock if s.available > 0}
        caps = {(c.partner, c.item): c.max_units for c in problem.options.partner_caps}
        n_x = len(cols)
        item_codes = sorted({item for _, item, _ in need_items})
        t_of = {item: n_x + k for k, item in enumerate(item_codes)}

        # A_ub x <= b_ub, row by row as triplets.
        r_idx: list[int] = []
        c_idx: list[int] = []
        vals: list[float] = []
        b: list[float] = []
        stock_row: dict[tuple[str, str], int] = {}
        cap_row: dict[tuple[str, str], int] = {}
        need_row: dict[int, int] = {}
        for j, (ni, w, item, _) in enumerate(cols):
            n = need_items[ni][0]
            if (w, item) not in stock_row:
                stock_row[w, item] = len(b)
                b.append(available[w, item])
            if ni not in need_row:
                need_row[ni] = len(b)
                b.append(need_items[ni][2])
            r_idx += [stock_row[w, item], need_row[ni]]
            c_idx += [j, j]
            vals += [1.0, 1.0]
            if (n.partner, item) in caps:
                if (n.partner, item) not in cap_row:
                    cap_row[n.partner, item] = len(b)
                    b.append(caps[n.partner, item])
                r_idx.append(cap_row[n.partner, item])
                c_idx.append(j)
                vals.append(1.0)
        base_rows = len(b)
        # Equity: share x requested x t_item - sum x <= 0, for need-items with an arc and a share.
        share = equity_shares(problem, need_items, caps)
        eq_row: dict[int, int] = {}
        for j, (ni, *_rest) in enumerate(cols):
            if share[ni] <= 0:
                continue
            if ni not in eq_row:
                eq_row[ni] = len(b)
                b.append(0.0)
                n, item, qty = need_items[ni]
                r_idx.append(eq_row[ni])
                c_idx.append(t_of[item])
                vals.append(share[ni] * qty)
            r_idx.append(eq_row[ni])
            c_idx.append(j)
            vals.append(-1.0)
        a_ub = sparse.csr_matrix((vals, (r_idx, c_idx)), shape=(len(b), n_x + len(item_codes)))
        b_ub = np.array(b, dtype=np.float64)
        return cls(a_ub, b_ub, base_rows, item_codes, t_of, share, eq_row)

    def guarantee_rows(
        self, cols: list[Arc], need_items: list[NeedItem], t_star: dict[str, float]
    ) -> tuple[Any, Any]:
        """The integral guarantee: one row -sum x <= -L per need-item with L > 0."""
        rows_of: dict[int, list[int]] = defaultdict(list)
        for j, (ni, *_rest) in enumerate(cols):
            rows_of[ni].append(j)
        lower_r: list[int] = []
        lower_c: list[int] = []
        lower_b: list[float] = []
        for ni in sorted(self.eq_row):
            _, item, qty = need_items[ni]
            floor = min(qty, math.floor(self.share[ni] * qty * t_star[item] + 1e-6))
            if floor > 0:
                for j in rows_of[ni]:
                    lower_r.append(len(lower_b))
                    lower_c.append(j)
                lower_b.append(-float(floor))
        lower = sparse.csr_matrix(
            ([-1.0] * len(lower_r), (lower_r, lower_c)), shape=(len(lower_b), len(cols))
        )
        return lower, np.array(lower_b)


def equity_shares(
    problem: PlanningProblem, need_items: list[NeedItem], caps: dict[tuple[str, str], int]
) -> dict[int, float]:
    """Per need-item: weight / largest weight x the partner's cap share (cap / all it asks)."""
    max_weight = max(n.weight for n in problem.needs)
    asked: dict[tuple[str, str], int] = defaultdict(int)
    for n in problem.needs:
        for item, qty in n.requested.items():
            asked[n.partner, item] += qty
    share = {}
    for ni, (n, item, _) in enumerate(need_items):
        cap_share = 1.0
        if (n.partner, item) in caps:
            cap_share = min(1.0, caps[n.partner, item] / max(asked[n.partner, item], 1))
        share[ni] = n.weight / max_weight * cap_share
    return share


# ------------------------------------------------------------------------------------ running


def relative_gap(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


def summary(plan: DraftPlan) -> dict[str, Any]:
    o = plan.objectives
    starved = sum(1 for n in plan.coverage for c in n.items if c.allocated == 0)
    return {
        "equity_level": o.equity_level,
        "min_weighted_fill_rate": o.min_weighted_fill_rate,
        "weighted_coverage": o.weighted_coverage,
        "distance_unit_km": o.distance_unit_km,
        "km_per_unit": o.distance_unit_km / max(o.units_allocated, 1),
        "units_allocated": o.units_allocated,
        "units_requested": o.units_requested,
        "need_items_with_nothing": starved,
    }


def run_size(n_needs: int, seed: int, with_reference: bool) -> dict[str, Any]:
    problem = make_problem(n_needs, seed)
    plan = plan_allocation(problem)
    stats = plan.stats
    assert stats is not None
    t0 = time.perf_counter()
    greedy = greedy_allocation(problem)
    greedy_seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "needs": n_needs,
        "need_items": sum(len(n.requested) for n in problem.needs),
        "variables": stats.variables,
        "constraints": stats.constraints,
        "nonzeros": stats.nonzeros,
        "aggregated_variables": stats.aggregated_variables,
        "aggregated_constraints": stats.aggregated_constraints,
        "planner": {
            "total_seconds": stats.total_seconds,
            "build_seconds": stats.build_seconds,
            "stage_seconds": list(stats.solve_seconds),
            "extract_seconds": stats.extract_seconds,
            "simplex_iterations": list(stats.simplex_iterations),
            "equity_bounds_relaxed": stats.equity_bounds_relaxed,
            **summary(plan),
        },
        "greedy": {"seconds": greedy_seconds, **summary(greedy)},
        "reference": None,
        "relative_gaps": None,
        "objectives_agree": None,
        "time_ratio_planner_over_bare_solve": None,
    }
    print(json.dumps(result, indent=1), flush=True)
    if not with_reference:
        return result

    ref = reference_solve(problem)
    mine = plan.objectives
    planner_equity = [mine.equity_level_by_item[i] for i in sorted(mine.equity_level_by_item)]
    gaps = {
        "equity": max(
            (relative_gap(a, b) for a, b in zip(planner_equity, ref.equity, strict=True)),
            default=0.0,
        ),
        "coverage": relative_gap(mine.weighted_coverage, ref.coverage),
        "distance": relative_gap(mine.distance_unit_km, ref.distance),
    }
    result.update(
        reference={
            "solve_seconds": ref.solve_seconds,
            "build_seconds": ref.build_seconds,
            "variables": ref.variables,
            "equity_level": min(ref.equity, default=0.0),
            "weighted_coverage": ref.coverage,
            "distance_unit_km": ref.distance,
        },
        relative_gaps=gaps,
        objectives_agree=all(g <= 1e-6 for g in gaps.values()),
        time_ratio_planner_over_bare_solve=stats.total_seconds / ref.solve_seconds,
    )
    print(json.dumps({k: result[k] for k in ("reference", "relative_gaps")}, indent=1))
    return result


def growth(results: list[dict[str, Any]], seconds: Any) -> float | None:
    """Slope of log(time) against log(needs): 1 is linear, 2 quadratic."""
    if len(results) < 2:
        return None
    x = np.log([r["needs"] for r in results])
    y = np.log([max(seconds(r), 1e-9) for r in results])
    return float(np.polyfit(x, y, 1)[0])


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'needs':>7} {'arcs':>9} {'planner s':>9} {'stage3 s':>8} {'bare s':>8} {'ratio':>6} "
        f"{'agree':>5} {'t_min':>6} {'min fill':>8} {'greedy':>6} {'coverage':>11} "
        f"{'greedy':>11} {'km/unit':>7} {'greedy':>6} {'none':>5} {'greedy':>6}"
    )
    for r in results:
        p, g, ref = r["planner"], r["greedy"], r["reference"]
        bare = f"{ref['solve_seconds']:>8.2f}" if ref else f"{'-':>8}"
        ratio = r["time_ratio_planner_over_bare_solve"]
        agree = {True: "yes", False: "NO", None: "-"}[r["objectives_agree"]]
        print(
            f"{r['needs']:>7} {r['variables']:>9} {p['total_seconds']:>9.2f} "
            f"{p['stage_seconds'][2]:>8.2f} {bare} "
            f"{'-' if ratio is None else format(ratio, '.3f'):>6} {agree:>5} "
            f"{p['equity_level']:>6.3f} {p['min_weighted_fill_rate']:>8.3f} "
            f"{g['min_weighted_fill_rate']:>6.3f} {p['weighted_coverage']:>11.0f} "
            f"{g['weighted_coverage']:>11.0f} {p['km_per_unit']:>7.1f} {g['km_per_unit']:>6.1f} "
            f"{p['need_items_with_nothing']:>5} {g['need_items_with_nothing']:>6}"
        )
    print(
        "t_min: smallest equity level t_k; min fill: smallest priority-weighted fill rate in the "
        "integral plan; none: need-items that get nothing"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--reference-up-to",
        type=int,
        default=None,
        help="run the (slow, monolithic) independent solve only up to this many needs",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[dict[str, Any]] = []
    for n in sizes:
        print(f"... {n} needs", flush=True)
        with_reference = args.reference_up_to is None or n <= args.reference_up_to
        results.append(run_size(n, args.seed, with_reference))
        summary_growth = {
            "planner_total": growth(results, lambda r: r["planner"]["total_seconds"]),
            "planner_stage3": growth(results, lambda r: r["planner"]["stage_seconds"][2]),
            "greedy": growth(results, lambda r: r["greedy"]["seconds"]),
        }
        with_ref = [r for r in results if r["reference"]]
        summary_growth["bare_solve"] = growth(with_ref, lambda r: r["reference"]["solve_seconds"])
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            json.dumps({"seed": args.seed, "sizes": results, "growth": summary_growth}, indent=1)
        )
    print()
    print_table(results)
    for name, slope in summary_growth.items():
        if slope is not None:
            print(f"{name} time grows as needs^{slope:.2f} (log-log fit)")
    print(f"written to {RESULTS}")
    if any(r["objectives_agree"] is False for r in results):
        raise SystemExit("the planner and the independent solve disagree")


if __name__ == "__main__":
    main()
