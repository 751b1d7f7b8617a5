"""/v1/alerts: low stock, near expiry, plans waiting on stock, reservations about to lapse,
needs waiting for validation, dead letters waiting; one list, newest first (issue 16)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from kitflow_shared.web.identity import Caller, Role, require_roles

from kitflow_distribution.domain.alerts import AlertKind
from kitflow_distribution.handlers.alerts import AlertQueries

router = APIRouter(tags=["alerts"])
Coordinator = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]


async def _queries(request: Request) -> AlertQueries:
    queries: AlertQueries = request.app.state.alerts
    return queries


@router.get("/v1/alerts")
async def alerts(
    caller: Coordinator,
    queries: Annotated[AlertQueries, Depends(_queries)],
    kind: Annotated[list[AlertKind] | None, Query(description="Only these kinds")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """What is stuck and why, newest first: each alert's kind, when it arose, what it is about
    (a warehouse and item, a lot, a plan, a need, a dead letter) and a sentence."""
    found = await queries.alerts(datetime.now(UTC), frozenset(kind or ()), limit)
    return [{**asdict(a), "kind": a.kind.value, "at": a.at.isoformat()} for a in found]
