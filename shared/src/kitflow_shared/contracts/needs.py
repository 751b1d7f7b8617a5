"""Events published by the needs service on `kitflow.needs.events` (owned by needs).

Every event carries the need's whole state after the change (state-carrying), keyed by
`need/<need_id>`, with the need's own version as the envelope's `sequence`: a consumer keeps the
newest by sequence and needs nothing else. What a planner needs is all here: the remaining
quantity per item, the place (P-codes, coordinates), severity, households and individuals, the
partner organisation and the status.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kitflow_shared.contracts.common import Admin1Pcode, Admin2Pcode, GeoPoint, OrganisationId
from kitflow_shared.events.registry import registry

Admin3Pcode = Annotated[str, StringConstraints(pattern=r"^ML[0-9]{6}$")]
ItemCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NeedStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    REJECTED = "rejected"
    PARTIALLY_COVERED = "partially-covered"
    COVERED = "covered"
    CANCELLED = "cancelled"


class DisplacementStatus(StrEnum):
    IDP = "idp"
    RETURNEE = "returnee"
    HOST_COMMUNITY = "host-community"


class AssessmentSource(StrEnum):
    DTM_ROUND = "dtm-round"
    PARTNER_ASSESSMENT = "partner-assessment"


class NeedPopulation(BaseModel):
    """Who the need is for. The breakdown is given where the assessment knows it."""

    model_config = ConfigDict(extra="forbid")

    households: int = Field(ge=1)
    individuals: int = Field(ge=1)
    women: int | None = Field(default=None, ge=0)
    men: int | None = Field(default=None, ge=0)
    girls: int | None = Field(default=None, ge=0)
    boys: int | None = Field(default=None, ge=0)
    elderly: int | None = Field(default=None, ge=0)
    disabled: int | None = Field(default=None, ge=0, description="People with disabilities")


class NeedItemState(BaseModel):
    """One item of the need, in the item's catalogue unit."""

    model_config = ConfigDict(extra="forbid")

    item_code: ItemCode
    requested: int = Field(ge=0)
    planned: int = Field(ge=0)
    reserved: int = Field(ge=0)
    dispatched: int = Field(ge=0)
    delivered: int = Field(ge=0)
    remaining: int = Field(
        ge=0, description="Still to be planned: requested less max(planned, delivered)"
    )


class NeedState(BaseModel):
    """A need as it is after the change."""

    model_config = ConfigDict(extra="forbid")

    need_id: str = Field(min_length=1, max_length=64)
    organisation: OrganisationId = Field(description="The partner that assessed and owns it")
    status: NeedStatus
    admin1_pcode: Admin1Pcode
    admin2_pcode: Admin2Pcode
    admin3_pcode: Admin3Pcode | None = None
    gazetteer_vintage: str = Field(description="The P-code vintage the codes were checked against")
    site_name: str | None = None
    location: GeoPoint | None = None
    population: NeedPopulation
    displacement_status: DisplacementStatus
    severity: int = Field(ge=1, le=5, description="1 (least) to 5 (most severe)")
    assessment_date: date
    assessment_source: AssessmentSource
    period_start: date
    period_end: date
    items: list[NeedItemState]
    norms_profile: str | None = Field(
        default=None, description="The norms profile (id@version) the quantities came from"
    )
    possible_duplicates: list[str] = Field(
        default_factory=list, description="Ids of other partners' needs flagged and not decided"
    )
    merged_into: str | None = None
    households_reached: int = Field(default=0, ge=0)
    individuals_reached: int = Field(default=0, ge=0)


def need_subject(need_id: str) -> str:
    """The aggregate id used as event subject and Kafka key."""
    return f"need/{need_id}"


NEED_SUBMITTED = registry.register(
    "org.kitflow.needs.need.submitted.v1",
    NeedState,
    service="needs",
    description="A partner submitted a need (or resubmitted it after a rejection); carries its "
    "full state.",
)
NEED_UPDATED = registry.register(
    "org.kitflow.needs.need.updated.v1",
    NeedState,
    service="needs",
    description="A submitted need changed (details, quantities or duplicate flags); a validated "
    "need that changes goes back to submitted. Carries the state after the change.",
)
NEED_VALIDATED = registry.register(
    "org.kitflow.needs.need.validated.v1",
    NeedState,
    service="needs",
    description="A coordinator validated the need: it may now be planned. Carries its state.",
)
NEED_REJECTED = registry.register(
    "org.kitflow.needs.need.rejected.v1",
    NeedState,
    service="needs",
    description="A coordinator rejected the need (the reason is in the needs API); carries its "
    "state.",
)
NEED_CANCELLED = registry.register(
    "org.kitflow.needs.need.cancelled.v1",
    NeedState,
    service="needs",
    description="The need was cancelled, or merged into a duplicate (merged_into); carries its "
    "state.",
)
NEED_COVERAGE_CHANGED = registry.register(
    "org.kitflow.needs.need.coverage-changed.v1",
    NeedState,
    service="needs",
    description="The need's coverage (planned, reserved, dispatched, delivered per item) and so "
    "its status may have changed; carries the state after the change.",
)
