"""Events published by the distribution service on `kitflow.distribution.events` (owned by
distribution)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
