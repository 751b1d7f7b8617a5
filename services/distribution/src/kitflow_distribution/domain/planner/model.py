"""What the planner is given and what it returns: plain frozen dataclasses, no behaviour but checks.

Quantities are whole units (kits, pieces, bars): a kit is a catalogue item like any other, so a
need for kits is met by kits; the planner never assembles or breaks kits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from kitflow_shared.errors import InvalidInput


class PlannerError(Exception):
    """The planner could not produce a plan; the message says why."""


class InvalidPlanningInput(PlannerError, InvalidInput):
    """The input breaks a rule the planner relies on; names the field and why (a path in the
    planner's own input, not in a request: the API answers it without listing fields)."""


# ---------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Coordinates:
    lat: float
    lon: float


@dataclass(frozen=True)
class PlanningWarehouse:
    code: str
    admin1_pcode: str
    coordinates: Coordinates | None = None


@dataclass(frozen=True)
class StockLevel:
    """What a warehouse can give of one item now (on hand minus reserved), in whole units."""

    warehouse: str
    item: str
    available: int


@dataclass(frozen=True)
class PlanningNeed:
    """An assessed need still open: what remains to deliver, per item, in whole units.

    Priority: `priority_weight` when given, else the severity (1 = minimal ... 5 = catastrophic)
    used as the weight itself, so a severity-4 need weighs twice a severity-2 one.
    """

    id: str
    partner: str
    admin1_pcode: str
    admin2_pcode: str
    requested: Mapping[str, int]
    coordinates: Coordinates | None = None
    severity: int = 3
    priority_weight: float | None = None

    @property
    def weight(self) -> float:
        return float(self.severity) if self.priority_weight is None else self.priority_weight


@dataclass(frozen=True)
class PartnerCap:
    """At most `max_units` of `item` in total for all of `partner`'s needs in this plan.

    Per item rather than in total units, because units of different items (a kit, a bar of soap)
    do not add up; it also keeps items independent of each other in the programme.
    """

    partner: str
    item: str
    max_units: int


@dataclass(frozen=True)
class PlanningOptions:
    """How the coordinator narrows a plan.

    allowed_warehouses: admin1 P-code -> the warehouse codes that may serve it. None: any
        warehouse serves any region; a region missing from the mapping is served by any warehouse.
    partner_caps: see `PartnerCap`; at most one cap per (partner, item).
    need_ids, item_codes: plan only these needs / items (None: all).
    distance_km: (warehouse code, admin2 P-code) -> km, e.g. road distances; overrides the
        great-circle distance for the pairs it lists.
    """

    allowed_warehouses: Mapping[str, frozenset[str]] | None = None
    partner_caps: tuple[PartnerCap, ...] = ()
    need_ids: frozenset[str] | None = None
    item_codes: frozenset[str] | None = None
    distance_km: Mapping[tuple[str, str], float] | None = None


@dataclass(frozen=True)
class PlanningProblem:
    warehouses: tuple[PlanningWarehouse, ...]
    stock: tuple[StockLevel, ...]
    needs: tuple[PlanningNeed, ...]
    options: PlanningOptions = field(default_factory=PlanningOptions)
    # Item code -> the name a coordinator reads in explanations ("tarpaulins"); code if absent.
    item_names: Mapping[str, str] = field(default_factory=dict)

    def item_name(self, code: str) -> str:
        return self.item_names.get(code, code)

    def validate(self) -> None:
        """Raise `InvalidPlanningInput` on the first broken rule."""
        codes = [w.code for w in self.warehouses]
        if len(set(codes)) != len(codes):
            raise InvalidPlanningInput.of("warehouses", "warehouse codes must be unique")
        known = set(codes)
        seen_stock: set[tuple[str, str]] = set()
        for s in self.stock:
            if s.warehouse not in known:
                raise InvalidInputFor.stock(s, f"unknown warehouse {s.warehouse!r}")
            if s.available < 0:
                raise InvalidInputFor.stock(s, "available must not be negative")
            if (s.warehouse, s.item) in seen_stock:
                raise InvalidInputFor.stock(s, "one stock level per warehouse and item")
            seen_stock.add((s.warehouse, s.item))
        ids = [n.id for n in self.needs]
        if len(set(ids)) != len(ids):
            raise InvalidPlanningInput.of("needs", "need ids must be unique")
        for n in self.needs:
            if n.priority_weight is None and not 1 <= n.severity <= 5:
                raise InvalidPlanningInput.of(f"needs[{n.id}].severity", "must be 1 to 5")
            if n.priority_weight is not None and not n.priority_weight > 0:
                raise InvalidPlanningInput.of(f"needs[{n.id}].priority_weight", "must be > 0")
            for item, qty in n.requested.items():
                if qty < 0:
                    raise InvalidPlanningInput.of(
                        f"needs[{n.id}].requested[{item}]", "must not be negative"
                    )
        options = self.options
        if options.allowed_warehouses is not None:
            for region, allowed in options.allowed_warehouses.items():
                unknown = sorted(allowed - known)
                if unknown:
                    raise InvalidPlanningInput.of(
                        f"options.allowed_warehouses[{region}]", f"unknown warehouses {unknown}"
                    )
        seen_caps: set[tuple[str, str]] = set()
        for cap in options.partner_caps:
            if cap.max_units < 0:
                raise InvalidPlanningInput.of("options.partner_caps", "max_units must be >= 0")
            if (cap.partner, cap.item) in seen_caps:
                raise InvalidPlanningInput.of(
                    "options.partner_caps", f"two caps for {cap.partner} and {cap.item}"
                )
            seen_caps.add((cap.partner, cap.item))
        if options.distance_km is not None:
            for key, km in options.distance_km.items():
                if not km >= 0:
                    raise InvalidPlanningInput.of(f"options.distance_km[{key}]", "must be >= 0")


class InvalidInputFor:
    @staticmethod
    def stock(level: StockLevel, reason: str) -> InvalidPlanningInput:
        return InvalidPlanningInput.of(f"stock[{level.warehouse}, {level.item}]", reason)


# --------------------------------------------------------------------------------------- output


class UnmetReason(StrEnum):
    """Why part of a need stays unmet, most specific first."""

    # No warehouse allowed to serve the need's region has any of the item.
    NO_STOCK_WITHIN_REACH = "no-stock-within-reach"
    # The partner's cap for the item is used up.
    PARTNER_CAP_REACHED = "partner-cap-reached"
    # Stock within reach exists, but what this need does not get went to other needs under the
    # equity rule (and then to higher priority, then to nearer needs).
    ALLOCATED_TO_OTHER_NEEDS = "allocated-to-other-needs"
    # This need gets all the stock within its reach and it is not enough.
    NOT_ENOUGH_STOCK_WITHIN_REACH = "not-enough-stock-within-reach"


@dataclass(frozen=True)
class PlanLine:
    warehouse: str
    need_id: str
    item: str
    quantity: int
    distance_km: float


@dataclass(frozen=True)
class ItemCoverage:
    item: str
    requested: int
    allocated: int
    # What the equity rule alone guaranteed this need-item (stage 1, rounded down to a unit).
    guaranteed: int

    @property
    def fill_rate(self) -> float:
        return self.allocated / self.requested if self.requested else 1.0


@dataclass(frozen=True)
class NeedCoverage:
    need_id: str
    partner: str
    weight: float
    items: tuple[ItemCoverage, ...]


@dataclass(frozen=True)
class Shortfall:
    """An unmet quantity of one need-item, why, and the sentence a coordinator reads."""

    need_id: str
    item: str
    quantity: int
    reason: UnmetReason
    explanation: str


@dataclass(frozen=True)
class PlanObjectives:
    """The value of each stage, and what the integral plan achieves.

    equity_level_by_item: t_k, the stage-1 optimum per item: every need-item of item k in the
        equity set gets a fill rate of at least t_k x (its weight / the largest weight) x (its
        partner's cap share), before rounding down to whole units. For the greedy baseline, the
        level its plan reaches.
    equity_level: the smallest t_k (0.0 when no item is in reach of any need).
    min_weighted_fill_rate: the smallest weighted fill rate in the integral plan, over the same
        need-items; at most one unit per need-item below the stage-1 guarantee.
    weighted_coverage: stage 2, the sum over lines of the need's weight x quantity.
    distance_unit_km: stage 3, the sum over lines of the distance x quantity.
    """

    equity_level: float
    equity_level_by_item: Mapping[str, float]
    min_weighted_fill_rate: float
    weighted_coverage: float
    distance_unit_km: float
    units_allocated: int
    units_requested: int


@dataclass(frozen=True)
class SolverStats:
    """Sizes and times. Stages 1 and 2 run on the aggregated (class) model, stage 3 on the
    need-item model, one item at a time: `variables`, `constraints` and `nonzeros` are those of
    stage 3 summed over items; iterations and seconds are per stage (stage 3 summed)."""

    variables: int
    constraints: int
    nonzeros: int
    aggregated_variables: int
    aggregated_constraints: int
    simplex_iterations: tuple[int, int, int]
    build_seconds: float
    solve_seconds: tuple[float, float, float]
    extract_seconds: float
    total_seconds: float
    # True when rounding the stage-1 guarantee to the nearest unit above was infeasible by a
    # hair (solver tolerance), and the guarantee was rounded down from a value 1e-6 lower.
    equity_bounds_relaxed: bool = False


@dataclass(frozen=True)
class DraftPlan:
    lines: tuple[PlanLine, ...]
    coverage: tuple[NeedCoverage, ...]
    shortfalls: tuple[Shortfall, ...]
    objectives: PlanObjectives
    # None for the greedy baseline, which needs no solver.
    stats: SolverStats | None = None

    def allocated(self, need_id: str, item: str) -> int:
        return sum(
            line.quantity for line in self.lines if line.need_id == need_id and line.item == item
        )
