"""Events published by the distribution service on `kitflow.distribution.events` (owned by
distribution)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from kitflow_shared.contracts.common import OrganisationId
from kitflow_shared.events.registry import registry


class ItemCoverage(BaseModel):
    """How far one requested item of one need has got, in the item's catalogue unit."""

    model_config = ConfigDict(extra="forbid")

    item_code: str = Field(min_length=1, max_length=64)
    planned: int = Field(ge=0, description="In approved plans (not cancelled)")
    reserved: int = Field(ge=0, description="Reserved in a warehouse for those plans")
    dispatched: int = Field(ge=0, description="Issued from a warehouse towards the site")
    delivered: int = Field(ge=0, description="Confirmed received by households")


class NeedCoverageState(BaseModel):
    """Everything distribution has done for one need, across all plans, after the change.

    State-carrying: the needs service keeps the newest (by `sequence`) and needs nothing else.
    """

    model_config = ConfigDict(extra="forbid")

    need_id: str = Field(min_length=1, max_length=64)
    organisation: OrganisationId = Field(description="The partner that owns the need")
    items: list[ItemCoverage]
    households_reached: int = Field(default=0, ge=0)
    individuals_reached: int = Field(default=0, ge=0)


def need_coverage_subject(need_id: str) -> str:
    return f"need-coverage/{need_id}"


NEED_COVERAGE_CHANGED = registry.register(
    "org.kitflow.distribution.need-coverage.changed.v1",
    NeedCoverageState,
    service="distribution",
    description="What has been planned, reserved, dispatched and delivered for one need across "
    "all plans changed; carries the totals after the change (subject need-coverage/<need_id>, "
    "sequence: the coverage's own version).",
)


# --- the plan's conversation with stock (subject: plan/<plan_id>) ----------------------------

# A plan's lines travel in events of at most this many lines (per warehouse for the requests to
# stock, whole needs for the plan's state), so every event stays far under the broker's 1 MiB
# whatever the plan's size: 500 lines make about 130 KB in the largest of them.
MAX_LINES_PER_EVENT = 500


def plan_subject(plan_id: str) -> str:
    return f"plan/{plan_id}"


LineId = Annotated[
    str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_:-]+$")
]


class PlanLineState(BaseModel):
    """One line of a plan: so many of an item from a warehouse for a need."""

    model_config = ConfigDict(extra="forbid")

    line_id: LineId
    warehouse: str = Field(min_length=2, max_length=32)
    item_code: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0)
    need_id: str | None = None


class PlanApproved(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    lines: list[PlanLineState] = Field(min_length=1)
    reservation_mode: Literal["partial", "all-or-nothing"] = "partial"
    reservation_expires_at: AwareDatetime


class PlanCancelled(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    lines: list[PlanLineState] = Field(description="The lines whose reservations to release")
    reason: str = ""


class DispatchLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: LineId
    warehouse: str = Field(min_length=2, max_length=32)
    quantity: int | None = Field(default=None, gt=0, description="None: all that is reserved")
    waybill_number: str = Field(min_length=1, max_length=64)


class PlanDispatchRequested(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    destination: str = Field(description="Where the goods go: site name and P-code")
    lines: list[DispatchLine] = Field(min_length=1)


PLAN_APPROVED = registry.register(
    "org.kitflow.distribution.plan.approved.v1",
    PlanApproved,
    service="distribution",
    description="A coordinator approved a plan, or asks again for lines stock has not answered "
    "in time: stock should reserve the lines named and answer for each "
    "(`reservations.answered.v1`), again if asked again. One event per warehouse and per "
    "500 lines.",
)
PLAN_CANCELLED = registry.register(
    "org.kitflow.distribution.plan.cancelled.v1",
    PlanCancelled,
    service="distribution",
    description="A plan was cancelled, or closed before stock answered its dispatch order: "
    "stock should release the reservations of the lines named, and answer for each. One event "
    "per warehouse and per 500 lines.",
)
PLAN_DISPATCH_REQUESTED = registry.register(
    "org.kitflow.distribution.plan.dispatch-requested.v1",
    PlanDispatchRequested,
    service="distribution",
    description="A plan's lines are to leave the warehouses (or are asked for again): stock "
    "turns reservations into dispatches and answers for each line, also for one whose "
    "reservation is no longer there. One event per warehouse and per 500 lines.",
)


class PlanLineProgress(BaseModel):
    """A plan line and how far it has got."""

    model_config = ConfigDict(extra="forbid")

    line_id: LineId
    warehouse: str
    need_id: str
    item_code: str
    quantity: int = Field(ge=0, description="Planned")
    reservation: str = Field(examples=["pending", "active", "rejected", "released", "expired"])
    reserved: int = Field(ge=0)
    dispatched: int = Field(ge=0, description="Issued and not taken back by a reversal")
    delivered: int = Field(ge=0)
    households_reached: int = Field(
        default=0,
        ge=0,
        description="Deprecated, always 0: households are reached per need, not per item line "
        "(see PlanState.reached)",
    )
    individuals_reached: int = Field(
        default=0, ge=0, description="Deprecated, always 0: see PlanState.reached"
    )
    returned: int = Field(
        default=0, ge=0, description="Taken back into the warehouse by a reversal of the dispatch"
    )


class NeedReached(BaseModel):
    """The households and people a plan reached at one need, each counted once however many of
    the plan's items they received."""

    model_config = ConfigDict(extra="forbid")

    need_id: str
    households: int = Field(ge=0)
    individuals: int = Field(ge=0)


class PlanState(BaseModel):
    """A plan after the change (state-carrying; subject plan/<plan_id>), in parts: each event
    carries the plan's header and ALL the lines of some of its needs, never part of a need's
    lines, and at most 500 lines unless one need has more. A change that moves the plan's
    status carries every need's lines (in as many events as it takes); a change of some lines
    only, the lines of the needs they serve. A reader keeps, per need, the newest part by
    `sequence`."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str
    status: str = Field(
        examples=[
            "draft",
            "reserving",
            "reserved",
            "partly-reserved",
            "dispatching",
            "dispatched",
            "delivered",
            "closed",
            "cancelled",
        ]
    )
    title: str
    created_by: str
    approved_by: str | None = None
    lines: list[PlanLineProgress]
    reached: list[NeedReached] = Field(
        default_factory=list, description="Per need served: households and people reached"
    )


PLAN_UPDATED = registry.register(
    "org.kitflow.distribution.plan.updated.v1",
    PlanState,
    service="distribution",
    description="A plan changed (approved, reserved, dispatched, delivered, closed, cancelled); "
    "carries its state after the change, in parts of whole needs (see PlanState).",
)
