"""/v1/reference: the gazetteer and the item codes the service checks needs against."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from kitflow_needs.adapters.bundled import gazetteer_vintages
from kitflow_needs.api.deps import AnyRole, Services
from kitflow_needs.domain.gazetteer import AdminArea

router = APIRouter(prefix="/v1/reference", tags=["reference data"])


class AdminAreaPublic(BaseModel):
    pcode: str
    name: str
    parent: str | None
    aliases: list[str]


class GazetteerPublic(BaseModel):
    vintage: str = Field(description="The vintage listed here (codes without one are read in it)")
    metadata: dict[str, str]
    admin1: list[AdminAreaPublic]
    admin2: list[AdminAreaPublic]
    reporting_vintage: str = Field(
        description="The vintage needs are reported in (KITFLOW_NEEDS_REPORTING_VINTAGE)"
    )
    vintages: list[dict[str, str]] = Field(
        description="Every bundled vintage a need may declare (location.vintage), with its source"
    )


class ItemPublic(BaseModel):
    code: str
    name: str
    unit: str
    kind: str


@router.get("/gazetteer", response_model=GazetteerPublic)
async def gazetteer(
    caller: AnyRole,
    svc: Services,
    vintage: Annotated[
        str | None, Query(max_length=32, description="List this vintage's areas instead")
    ] = None,
) -> GazetteerPublic:
    """The P-codes needs are checked against, with the gazetteer's vintages and coverage."""
    known = svc.gazetteer.known_vintages
    g = known.get(vintage) if vintage else svc.gazetteer
    if g is None:
        reason = f"unknown vintage {vintage!r}; known: {', '.join(known)}"
        raise RequestValidationError(
            [{"loc": ("query", "vintage"), "msg": reason, "type": "value_error"}]
        )
    vintages = gazetteer_vintages()

    def areas(items: list[AdminArea]) -> list[AdminAreaPublic]:
        return [
            AdminAreaPublic(pcode=a.pcode, name=a.name, parent=a.parent, aliases=list(a.aliases))
            for a in items
        ]

    return GazetteerPublic(
        vintage=g.vintage,
        metadata=next(m for m in vintages if m["vintage"] == g.vintage),
        admin1=areas(g.admin1),
        admin2=areas(g.admin2),
        reporting_vintage=svc.gazetteer.reporting_vintage,
        vintages=vintages,
    )


@router.get("/items", response_model=list[ItemPublic])
async def items(caller: AnyRole, svc: Services) -> list[ItemPublic]:
    """The item and kit codes a need may ask for: stock's catalogue and the planning measures."""
    return [
        ItemPublic(code=i.code, name=i.name, unit=i.unit, kind=i.kind.value)
        for i in (await svc.catalogue.refresh()).all()
    ]
