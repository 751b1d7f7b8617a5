"""/v1/reference: the gazetteer and the item codes the service checks needs against."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from kitflow_needs.adapters.bundled import gazetteer_metadata
from kitflow_needs.api.deps import AnyRole, Services
from kitflow_needs.domain.gazetteer import AdminArea

router = APIRouter(prefix="/v1/reference", tags=["reference data"])


class AdminAreaPublic(BaseModel):
    pcode: str
    name: str
    parent: str | None
    aliases: list[str]


class GazetteerPublic(BaseModel):
    vintage: str
    metadata: dict[str, str]
    admin1: list[AdminAreaPublic]
    admin2: list[AdminAreaPublic]


class ItemPublic(BaseModel):
    code: str
    name: str
    unit: str
    kind: str


@router.get("/gazetteer", response_model=GazetteerPublic)
async def gazetteer(caller: AnyRole, svc: Services) -> GazetteerPublic:
    """The P-codes needs are checked against, with the gazetteer's vintage and coverage."""
    g = svc.gazetteer

    def areas(items: list[AdminArea]) -> list[AdminAreaPublic]:
        return [
            AdminAreaPublic(pcode=a.pcode, name=a.name, parent=a.parent, aliases=list(a.aliases))
            for a in items
        ]

    return GazetteerPublic(
        vintage=g.vintage,
        metadata=gazetteer_metadata(),
        admin1=areas(g.admin1),
        admin2=areas(g.admin2),
    )


@router.get("/items", response_model=list[ItemPublic])
async def items(caller: AnyRole, svc: Services) -> list[ItemPublic]:
    """The item and kit codes a need may ask for: stock's catalogue and the planning measures."""
    return [
        ItemPublic(code=i.code, name=i.name, unit=i.unit, kind=i.kind.value)
        for i in (await svc.catalogue.refresh()).all()
    ]
