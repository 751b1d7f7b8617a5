"""/v1/views: what distribution currently knows of other services' data (its read models)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from kitflow_shared.contracts.stock import WarehouseState
from kitflow_shared.web.identity import Caller, Role, require_roles
from pydantic import BaseModel

from kitflow_distribution.handlers.ports import WarehouseView

router = APIRouter(prefix="/v1/views", tags=["read models"])


class WarehouseInView(BaseModel):
    warehouse: WarehouseState
    sequence: int


def _view(request: Request) -> WarehouseView:
    view: WarehouseView = request.app.state.warehouse_view
    return view


@router.get("/warehouses", response_model=list[WarehouseInView])
async def warehouses(
    caller: Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))],
    view: Annotated[WarehouseView, Depends(_view)],
) -> list[WarehouseInView]:
    """The warehouses as distribution sees them, built from stock's events."""
    return [WarehouseInView(warehouse=s, sequence=n) for s, n in await view.all()]
