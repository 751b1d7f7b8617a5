"""/v1/audit: who did what, when, from which key (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from kitflow_shared.web.paging import MAX_OFFSET
from pydantic import AwareDatetime, BaseModel

from kitflow_gateway.api.deps import Admin, CallerFirst, GatewayDep
from kitflow_gateway.domain.audit import AuditEntry, AuditQuery

router = APIRouter(tags=["audit"], route_class=CallerFirst)


class AuditEntryPublic(BaseModel):
    entry_id: str
    at: datetime
    method: str
    path: str
    status: int
    correlation_id: str | None
    duration_ms: float
    user_id: str | None
    username: str | None
    organisation: str | None
    key_id: str | None
    client: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryPublic:
        return cls(**entry.__dict__)


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int


@router.get("/v1/audit", response_model=AuditPage)
async def audit(
    admin: Admin,
    gateway: GatewayDep,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
    user_id: Annotated[str | None, Query(max_length=80)] = None,
    key_id: Annotated[str | None, Query(max_length=80)] = None,
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None,
    path_prefix: Annotated[str | None, Query(max_length=200, description="e.g. /v1/needs")] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> AuditPage:
    """The audit log of changes, newest first, filtered (admins)."""
    query = AuditQuery(
        organisation=organisation,
        user_id=user_id,
        key_id=key_id,
        method=method,
        path_prefix=path_prefix,
        status=status,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    page = await gateway.audit.find(query, admin)
    return AuditPage(
        items=[AuditEntryPublic.of(e) for e in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )
