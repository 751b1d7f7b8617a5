"""/v1/views: what distribution currently knows of other services' data (its read models)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from kitflow_shared.contracts.needs import NeedState
from kitflow_shared.contracts.stock import BalanceState, WarehouseState
from kitflow_shared.web.identity import Caller, Role, require_roles
from pydantic import BaseModel

from kitflow_distribution.handlers.ports import NeedsView, StockView, WarehouseView

router = APIRouter(prefix="/v1/views", tags=["read models"])
Coordinator = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]


class WarehouseInView(BaseModel):
    warehouse: WarehouseState
    sequence: int


class StockInView(BaseModel):
    warehouse: str
    balance: BalanceState


async def _warehouses(request: Request) -> WarehouseView:
    view: WarehouseView = request.app.state.warehouse_view
    return view


async def _stock(request: Request) -> StockView:
    view: StockView = request.app.state.stock_view
    return view


async def _needs(request: Request) -> NeedsView:
    view: NeedsView = request.app.state.needs_view
    return view


@router.get("/warehouses", response_model=list[WarehouseInView])
async def warehouses(
    caller: Coordinator, view: Annotated[WarehouseView, Depends(_warehouses)]
) -> list[WarehouseInView]:
    """The warehouses as distribution sees them, built from stock's events."""
    return [WarehouseInView(warehouse=s, sequence=n) for s, n in await view.all()]


@router.get("/stock", response_model=list[StockInView])
async def stock(
    caller: Coordinator, view: Annotated[StockView, Depends(_stock)]
) -> list[StockInView]:
    """Stock per warehouse and item as distribution sees it (what the planner uses)."""
    return [StockInView(warehouse=w, balance=b) for w, b in await view.all()]


@router.get("/needs", response_model=list[NeedState])
async def needs(
    caller: Coordinator, view: Annotated[NeedsView, Depends(_needs)]
) -> list[NeedState]:
    """Needs as distribution sees them (their latest published state)."""
    return await view.all()
