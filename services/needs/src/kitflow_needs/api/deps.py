"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from kitflow_shared.web.event_context import Context as Context
from kitflow_shared.web.identity import Caller, Role, require_roles

from kitflow_needs.handlers.ports import Actor, NeedsServices


async def _services(request: Request) -> NeedsServices:
    services: NeedsServices = request.app.state.services
    return services


Services = Annotated[NeedsServices, Depends(_services)]
# Partners post and follow their own organisation's needs; coordinators and admins see all.
Reader = Annotated[Caller, Depends(require_roles(Role.PARTNER, Role.COORDINATOR, Role.ADMIN))]
Reporter = Annotated[Caller, Depends(require_roles(Role.PARTNER, Role.COORDINATOR))]
Coordinator = Annotated[Caller, Depends(require_roles(Role.COORDINATOR))]
Admin = Annotated[Caller, Depends(require_roles(Role.ADMIN))]
AnyRole = Annotated[Caller, Depends(require_roles(*Role))]


def actor_of(caller: Caller) -> Actor:
    return Actor(
        user=caller.user,
        organisation=caller.organisation,
        coordinator=Role.COORDINATOR in caller.roles,
        admin=Role.ADMIN in caller.roles,
    )
