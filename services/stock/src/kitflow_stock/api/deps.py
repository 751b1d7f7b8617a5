"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from kitflow_shared.web.event_context import Context as Context
from kitflow_shared.web.identity import Caller, Role, require_roles

from kitflow_stock.handlers.ports import Actor, WarehouseRepository


async def _warehouses(request: Request) -> WarehouseRepository:
    repo: WarehouseRepository = request.app.state.warehouses
    return repo


Warehouses = Annotated[WarehouseRepository, Depends(_warehouses)]
AnyRole = Annotated[Caller, Depends(require_roles(*Role))]
Planner = Annotated[Caller, Depends(require_roles(Role.ADMIN, Role.COORDINATOR))]


def actor_of(caller: Caller) -> Actor:
    return Actor(
        user=caller.user,
        organisation=caller.organisation,
        admin=Role.ADMIN in caller.roles,
        coordinator=Role.COORDINATOR in caller.roles,
        warehouses=caller.warehouses if Role.WAREHOUSE in caller.roles else frozenset(),
    )
