"""Events published by the stock service on `kitflow.stock.events` (owned by stock)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kitflow_shared.contracts.common import Admin1Pcode, Admin2Pcode, GeoPoint, OrganisationId
from kitflow_shared.events.registry import registry

WarehouseCode = Annotated[
    str, StringConstraints(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
]


class WarehouseType(StrEnum):
    MAIN = "main"
    SUB_OFFICE = "sub-office"
    PARTNER = "partner"


class WarehouseState(BaseModel):
    """A warehouse as it is after the change (state-carrying: consumers need nothing else)."""

    model_config = ConfigDict(extra="forbid")

    code: WarehouseCode
    name: str = Field(min_length=1, max_length=200)
    organisation: OrganisationId
    type: WarehouseType
    admin1_pcode: Admin1Pcode
    admin2_pcode: Admin2Pcode
    location: GeoPoint | None = None
    capacity_m3: float | None = Field(default=None, gt=0)
    active: bool = True


def warehouse_subject(code: str) -> str:
    """The aggregate id used as event subject and Kafka key."""
    return f"warehouse/{code}"


WAREHOUSE_REGISTERED = registry.register(
    "org.kitflow.stock.warehouse.registered.v1",
    WarehouseState,
    service="stock",
    description="A warehouse was registered; carries its full state.",
)
WAREHOUSE_UPDATED = registry.register(
    "org.kitflow.stock.warehouse.updated.v1",
    WarehouseState,
    service="stock",
    description="A warehouse's details changed; carries its full state after the change.",
)
