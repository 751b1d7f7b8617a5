"""Reading the audit log: administrators only."""

from __future__ import annotations

from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import Forbidden
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.ports import AuditLog, Page


async def find_audit(query: AuditQuery, actor: Principal, log: AuditLog) -> Page[AuditEntry]:
    if not actor.is_admin:
        raise Forbidden("only administrators read the audit log")
    return await log.find(query)
