"""The allocation network, as numpy arrays: need-items, arcs, distances, the rows they touch.

Everything is sorted (warehouses and items by code, needs by id) so that the same problem, in any
input order, gives the same arrays and therefore the same programme and the same plan.

An arc (need-item, warehouse) exists only if the need requests the item, the warehouse has some
of it, and the warehouse may serve the need's region: the programme has one variable per arc and
nothing else per need, which keeps 50,000 needs x 20 warehouses x 15 items tractable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kitflow_distribution.domain.planner.model import (
    PlanningNeed,
    PlanningProblem,
    PlanningWarehouse,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Network:
    warehouses: tuple[str, ...]
    items: tuple[str, ...]
    needs: tuple[PlanningNeed, ...]  # in scope, sorted by id
    partners: tuple[str, ...]
    stock: IntArray  # (warehouse, item) -> available units
    # need-items in scope with a positive request, sorted by (need, item)
    ni_need: IntArray
    ni_item: IntArray
    ni_requested: IntArray
    ni_weight: FloatArray  # the need's weight
    ni_share: FloatArray  # (weight / largest weight) x partner cap share: the equity coefficient
    ni_cap: IntArray  # index into cap_* arrays, -1 when the partner has no cap on the item
    ni_arc_count: IntArray
    # arcs, sorted by (need-item, warehouse code)
    arc_ni: IntArray
    arc_warehouse: IntArray
    arc_km: FloatArray
    # partner caps that apply to in-scope need-items
    cap_partner: IntArray
    cap_item: IntArray
    cap_units: IntArray

    @property
    def arc_item(self) -> IntArray:
        return self.ni_item[self.arc_ni]

    def equity_set(self) -> BoolArray:
        """The need-items the equity rule protects: some stock within reach and a non-zero cap."""
        return (self.ni_arc_count > 0) & (self.ni_share > 0)


def great_circle_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Haversine distance; broadcasts, NaN in gives NaN out."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    km: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return km


def build_network(problem: PlanningProblem) -> Network:
    options = problem.options
    warehouses = sorted(problem.warehouses, key=lambda w: w.code)
    wh_codes = tuple(w.code for w in warehouses)
    wh_index = {code: i for i, code in enumerate(wh_codes)}
    needs = tuple(
        sorted(
            (n for n in problem.needs if options.need_ids is None or n.id in options.need_ids),
            key=lambda n: n.id,
        )
    )
    items = _items_in_scope(problem, needs)
    item_index = {code: k for k, code in enumerate(items)}

    stock = np.zeros((len(wh_codes), len(items)), dtype=np.int64)
    for s in problem.stock:
        if s.item in item_index:
            stock[wh_index[s.warehouse], item_index[s.item]] = s.available

    ni_need, ni_item, ni_requested = _need_items(needs, item_index)
    need_weight = np.array([n.weight for n in needs], dtype=np.float64)
    largest_weight = float(need_weight.max()) if len(needs) else 1.0
    ni_weight = need_weight[ni_need]
    partners = tuple(sorted({n.partner for n in needs}))
    caps = _PartnerCaps.of(problem, needs, partners, items, ni_need, ni_item, ni_requested)

    # Arcs: vectorised over need-items x warehouses (a boolean matrix of that size, not more).
    may_serve, need_region = _regions_served(problem, needs, wh_codes)
    reach = may_serve[need_region[ni_need]] & (stock[:, ni_item].T > 0)
    arc_ni, arc_warehouse = np.nonzero(reach)
    arc_ni = arc_ni.astype(np.int64)
    arc_warehouse = arc_warehouse.astype(np.int64)

    return Network(
        warehouses=wh_codes,
        items=items,
        needs=needs,
        partners=partners,
        stock=stock,
        ni_need=ni_need,
        ni_item=ni_item,
        ni_requested=ni_requested,
        ni_weight=ni_weight,
        ni_share=ni_weight / largest_weight * caps.share,
        ni_cap=caps.of_need_item,
        ni_arc_count=np.bincount(arc_ni, minlength=len(ni_need)).astype(np.int64),
        arc_ni=arc_ni,
        arc_warehouse=arc_warehouse,
        arc_km=_arc_distances(problem, warehouses, needs, ni_need[arc_ni], arc_warehouse),
        cap_partner=caps.partner,
        cap_item=caps.item,
        cap_units=caps.units,
    )


def _items_in_scope(problem: PlanningProblem, needs: tuple[PlanningNeed, ...]) -> tuple[str, ...]:
    """Items in stock or requested by a need in scope, limited to the plan's selection."""
    selected = problem.options.item_codes

    def in_scope(item: str) -> bool:
        return selected is None or item in selected

    item_set = {s.item for s in problem.stock if in_scope(s.item)}
    item_set |= {i for n in needs for i, q in n.requested.items() if q > 0 and in_scope(i)}
    return tuple(sorted(item_set))


def _need_items(
    needs: tuple[PlanningNeed, ...], item_index: dict[str, int]
) -> tuple[IntArray, IntArray, IntArray]:
    """Need-items in (need id, item code) order: need index, item index, quantity requested."""
    pairs = [
        (i, item_index[item], qty)
        for i, n in enumerate(needs)
        for item, qty in sorted(n.requested.items())
        if qty > 0 and item in item_index
    ]
    ni = np.array(pairs, dtype=np.int64).reshape(-1, 3)
    return ni[:, 0].copy(), ni[:, 1].copy(), ni[:, 2].copy()


@dataclass(frozen=True)
class _PartnerCaps:
    """Partner caps that apply to need-items in scope, and each capped partner's share: cap /
    what its needs request in the plan."""

    partner: IntArray
    item: IntArray
    units: IntArray
    of_need_item: IntArray  # index into the caps, -1 when the partner has no cap on the item
    share: FloatArray  # per need-item, 1 where uncapped

    @classmethod
    def of(
        cls,
        problem: PlanningProblem,
        needs: tuple[PlanningNeed, ...],
        partners: tuple[str, ...],
        items: tuple[str, ...],
        ni_need: IntArray,
        ni_item: IntArray,
        ni_requested: IntArray,
    ) -> _PartnerCaps:
        partner_index = {p: j for j, p in enumerate(partners)}
        item_index = {code: k for k, code in enumerate(items)}
        need_partner = np.array([partner_index[n.partner] for n in needs], dtype=np.int64)
        ni_partner = need_partner[ni_need]
        cap_lookup = {
            (partner_index[c.partner], item_index[c.item]): c.max_units
            for c in sorted(problem.options.partner_caps, key=lambda c: (c.partner, c.item))
            if c.partner in partner_index and c.item in item_index
        }
        cap_keys = sorted(cap_lookup)
        cap_partner = np.array([p for p, _ in cap_keys], dtype=np.int64)
        cap_item = np.array([k for _, k in cap_keys], dtype=np.int64)
        cap_units = np.array([cap_lookup[key] for key in cap_keys], dtype=np.int64)
        ni_cap = np.full(len(ni_need), -1, dtype=np.int64)
        cap_share = np.ones(len(ni_need), dtype=np.float64)
        if cap_keys:
            n_items = max(len(items), 1)
            cap_of_key = np.full(len(partners) * n_items, -1, dtype=np.int64)
            cap_of_key[cap_partner * n_items + cap_item] = np.arange(len(cap_keys))
            ni_cap = cap_of_key[ni_partner * n_items + ni_item]
            capped = ni_cap >= 0
            cap_requested = np.bincount(
                ni_cap[capped], weights=ni_requested[capped], minlength=len(cap_keys)
            )
            # A partner capped at C units of an item counts, for the equity rule, as if it asked
            # for C at most: the guarantee never asks more of the partner's needs than the cap.
            share = np.minimum(1.0, cap_units / np.maximum(cap_requested, 1.0))
            cap_share[capped] = share[ni_cap[capped]]
        return cls(cap_partner, cap_item, cap_units, ni_cap, cap_share)


def _regions_served(
    problem: PlanningProblem, needs: tuple[PlanningNeed, ...], wh_codes: tuple[str, ...]
) -> tuple[BoolArray, IntArray]:
    """Which warehouses may serve which region (region x warehouse), and each need's region."""
    wh_index = {code: i for i, code in enumerate(wh_codes)}
    regions = sorted({n.admin1_pcode for n in needs})
    region_index = {r: j for j, r in enumerate(regions)}
    may_serve = np.ones((len(regions), len(wh_codes)), dtype=np.bool_)
    if problem.options.allowed_warehouses is not None:
        for region, allowed in problem.options.allowed_warehouses.items():
            if region in region_index:
                row = np.zeros(len(wh_codes), dtype=np.bool_)
                row[[wh_index[w] for w in allowed]] = True
                may_serve[region_index[region]] = row
    need_region = np.array([region_index[n.admin1_pcode] for n in needs], dtype=np.int64)
    return may_serve, need_region


def _arc_distances(
    problem: PlanningProblem,
    warehouses: list[PlanningWarehouse],
    needs: tuple[PlanningNeed, ...],
    arc_need: IntArray,
    arc_warehouse: IntArray,
) -> FloatArray:
    """Distance per arc: the option's matrix where it lists the pair, else great-circle.

    A pair with neither (no matrix entry, coordinates missing on either side) gets the largest
    known distance, so an unknown route is never preferred to a known one; 0 if none is known.
    """
    nan = float("nan")
    wh_lat = np.array([w.coordinates.lat if w.coordinates else nan for w in warehouses])
    wh_lon = np.array([w.coordinates.lon if w.coordinates else nan for w in warehouses])
    need_lat = np.array([n.coordinates.lat if n.coordinates else nan for n in needs])
    need_lon = np.array([n.coordinates.lon if n.coordinates else nan for n in needs])
    km = great_circle_km(
        need_lat[arc_need], need_lon[arc_need], wh_lat[arc_warehouse], wh_lon[arc_warehouse]
    )
    matrix = problem.options.distance_km
    if matrix:
        admin2 = sorted({n.admin2_pcode for n in needs})
        admin2_index = {a: j for j, a in enumerate(admin2)}
        wh_index = {w.code: i for i, w in enumerate(warehouses)}
        table = np.full((len(admin2), len(warehouses)), nan)
        for (warehouse, site), distance in matrix.items():
            if warehouse in wh_index and site in admin2_index:
                table[admin2_index[site], wh_index[warehouse]] = distance
        need_admin2 = np.array([admin2_index[n.admin2_pcode] for n in needs], dtype=np.int64)
        listed = table[need_admin2[arc_need], arc_warehouse]
        km = np.where(np.isnan(listed), km, listed)
    unknown = np.isnan(km)
    if unknown.any():
        km[unknown] = float(np.nanmax(km)) if (~unknown).any() else 0.0
    return km
