"""/v1/warehouses: register, change, list and read warehouses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from kitflow_shared.contracts.common import Admin1Pcode, Admin2Pcode, GeoPoint, OrganisationId
from kitflow_shared.contracts.stock import WarehouseCode, WarehouseType
from kitflow_shared.text import PlainText
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.problems import Problem
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed
from pydantic import BaseModel, ConfigDict, Field

from kitflow_stock.api.deps import AnyRole, Context, Planner, Warehouses, actor_of
from kitflow_stock.domain.warehouses import Coordinates, Warehouse, WarehouseDetails, WarehouseKind
from kitflow_stock.handlers.warehouses import (
    ChangeWarehouse,
    RegisterWarehouse,
    WarehouseHandlers,
)

router = APIRouter(prefix="/v1/warehouses", tags=["warehouses"])

Name = Annotated[PlainText, Field(min_length=1, max_length=200)]
# Cubic metres: a finite positive number (JSON has no infinity, but Python's parser reads one).
Capacity = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class WarehouseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "MOP-SUB",
                    "name": "IOM Mopti sub-office warehouse",
                    "organisation": "IOM",
                    "type": "sub-office",
                    "admin1_pcode": "ML05",
                    "admin2_pcode": "ML0501",
                    "location": {"lat": 14.4939, "lon": -4.1966},
                    "capacity_m3": 800,
                }
            ]
        },
    )

    code: WarehouseCode
    name: Name
    organisation: OrganisationId
    type: WarehouseType
    admin1_pcode: Admin1Pcode
    admin2_pcode: Admin2Pcode
    location: GeoPoint | None = None
    capacity_m3: Capacity | None = None


class WarehouseUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    organisation: OrganisationId | None = None
    type: WarehouseType | None = None
    admin1_pcode: Admin1Pcode | None = None
    admin2_pcode: Admin2Pcode | None = None
    location: GeoPoint | None = None
    capacity_m3: Capacity | None = None
    active: bool | None = None


class WarehousePublic(BaseModel):
    code: str
    name: str
    organisation: str
    type: WarehouseType
    admin1_pcode: str
    admin2_pcode: str
    location: GeoPoint | None
    capacity_m3: float | None
    active: bool
    version: int = Field(description="Increases with every change")

    @classmethod
    def of(cls, w: Warehouse) -> WarehousePublic:
        d = w.details
        return cls(
            code=w.code,
            name=d.name,
            organisation=d.organisation,
            type=WarehouseType(d.kind.value),
            admin1_pcode=d.admin1_pcode,
            admin2_pcode=d.admin2_pcode,
            location=GeoPoint(lat=d.coordinates.lat, lon=d.coordinates.lon)
            if d.coordinates
            else None,
            capacity_m3=d.capacity_m3,
            active=d.active,
            version=w.sequence,
        )


class WarehousePage(BaseModel):
    items: list[WarehousePublic]
    total: int
    limit: int
    offset: int


# Fields a PATCH may set to null; the others must keep a value.
_CLEARABLE = {"location", "capacity_m3"}


def _coordinates(point: GeoPoint | None) -> Coordinates | None:
    return Coordinates(point.lat, point.lon) if point else None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WarehousePublic)
async def register(
    body: WarehouseCreate,
    caller: Planner,
    repo: Warehouses,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> WarehousePublic:
    """Register a warehouse (coordinators for their own organisation; admins for any)."""
    details = WarehouseDetails(
        name=body.name,
        organisation=body.organisation,
        kind=WarehouseKind(body.type.value),
        admin1_pcode=body.admin1_pcode,
        admin2_pcode=body.admin2_pcode,
        coordinates=_coordinates(body.location),
        capacity_m3=body.capacity_m3,
    )
    done = await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse(body.code, details), actor_of(caller), context, key
    )
    mark_replayed(response, done.replayed)
    return WarehousePublic.of(done.value)


@router.patch("/{code}", response_model=WarehousePublic)
async def change(
    code: Annotated[str, Path(max_length=32)],
    body: WarehouseUpdate,
    caller: Planner,
    repo: Warehouses,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> WarehousePublic:
    """Change a warehouse's details (its owning organisation's coordinators, or an admin)."""
    given = body.model_dump(exclude_unset=True)
    cleared = sorted(f for f, v in given.items() if v is None and f not in _CLEARABLE)
    if cleared:
        raise Problem(
            422,
            "Invalid request",
            f"{', '.join(cleared)}: cannot be cleared",
            slug="validation",
            errors=[
                {"field": f"body.{f}", "reason": "cannot be null", "type": "none_forbidden"}
                for f in cleared
            ],
        )
    changes: dict[str, object] = {}
    for field, value in given.items():
        if field == "type":
            changes["kind"] = WarehouseKind(value)
        elif field == "location":
            changes["coordinates"] = _coordinates(body.location)
        else:
            changes[field] = value
    done = await WarehouseHandlers(repo).change_warehouse(
        ChangeWarehouse(code, changes), actor_of(caller), context, key
    )
    mark_replayed(response, done.replayed)
    return WarehousePublic.of(done.value)


@router.get("", response_model=WarehousePage)
async def list_warehouses(
    caller: AnyRole,
    repo: Warehouses,
    organisation: Annotated[PlainText | None, Query(max_length=64)] = None,
    admin1_pcode: Annotated[str | None, Query(pattern=r"^ML[0-9]{2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> WarehousePage:
    """List warehouses (every role sees them: they are the cluster's shared picture)."""
    page = await repo.list(
        organisation=organisation, admin1_pcode=admin1_pcode, limit=limit, offset=offset
    )
    return WarehousePage(
        items=[WarehousePublic.of(w) for w in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/{code}", response_model=WarehousePublic)
async def get_warehouse(
    code: Annotated[str, Path(max_length=32)], caller: AnyRole, repo: Warehouses
) -> WarehousePublic:
    """One warehouse by its code."""
    return WarehousePublic.of(await repo.get(code))
