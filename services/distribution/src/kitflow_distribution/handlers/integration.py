"""Distribution's domain events as integration events (the shared contracts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitflow_shared.contracts import distribution as contract
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.events.registry import EventSpec
from pydantic import BaseModel

from kitflow_distribution.domain.coverage import NeedCoverage
from kitflow_distribution.domain.plans import (
    DispatchRequestedEvent,
    Plan,
    PlanApprovedEvent,
    PlanCancelledEvent,
    PlanChangedEvent,
    PlanEvent,
    PlanLine,
)


def _line(line: PlanLine) -> contract.PlanLineState:
    return contract.PlanLineState(
        line_id=line.line_id,
        warehouse=line.warehouse,
        item_code=line.item,
        quantity=line.quantity,
        need_id=line.need_id,
    )


def _progress(x: PlanLine) -> contract.PlanLineProgress:
    return contract.PlanLineProgress(
        line_id=x.line_id,
        warehouse=x.warehouse,
        need_id=x.need_id,
        item_code=x.item,
        quantity=x.quantity,
        reservation=x.reservation.value,
        reserved=x.reserved,
        dispatched=x.dispatched,
        delivered=x.delivered,
        returned=x.returned,
    )


def plan_state(plan: Plan, lines: Sequence[PlanLine] | None = None) -> contract.PlanState:
    """The plan's header with `lines` (all of them when None)."""
    part = plan.lines if lines is None else lines
    needs = {x.need_id for x in part}
    return contract.PlanState(
        plan_id=plan.id,
        status=plan.status.value,
        title=plan.title,
        created_by=plan.created_by,
        approved_by=plan.approved_by,
        lines=[_progress(x) for x in part],
        # Only the needs whose lines this part carries: the coverage fold takes a need's reach
        # from the part that has its lines.
        reached=[
            contract.NeedReached(need_id=n, households=r.households, individuals=r.individuals)
            for n, r in sorted(plan.reach.items())
            if n in needs
        ],
    )


def plan_state_parts(plan: Plan, need_ids: frozenset[str] | None) -> list[contract.PlanState]:
    """The plan's state for the needs named (None: every need), in parts of whole needs of at
    most MAX_LINES_PER_EVENT lines (a need with more lines is a part of its own)."""
    by_need: dict[str, list[PlanLine]] = {}
    for line in plan.lines:
        if need_ids is None or line.need_id in need_ids:
            by_need.setdefault(line.need_id, []).append(line)
    parts: list[list[PlanLine]] = []
    current: list[PlanLine] = []
    for need_id in sorted(by_need):
        lines = by_need[need_id]
        if current and len(current) + len(lines) > contract.MAX_LINES_PER_EVENT:
            parts.append(current)
            current = []
        current.extend(lines)
    if current:
        parts.append(current)
    return [plan_state(plan, part) for part in parts]


def _per_warehouse(lines: Sequence[PlanLine]) -> list[list[PlanLine]]:
    """The lines of each warehouse, in parts of at most MAX_LINES_PER_EVENT: stock takes each
    part as one command on one warehouse."""
    by_warehouse: dict[str, list[PlanLine]] = {}
    for line in lines:
        by_warehouse.setdefault(line.warehouse, []).append(line)
    size = contract.MAX_LINES_PER_EVENT
    return [
        found[start : start + size]
        for _, found in sorted(by_warehouse.items())
        for start in range(0, len(found), size)
    ]


def _requests(plan: Plan, event: PlanEvent) -> list[BaseModel]:
    """A request to stock as the payloads of its events."""
    match event:
        case PlanApprovedEvent(lines=lines, expires_at=expires, all_or_nothing=whole):
            return [
                contract.PlanApproved(
                    plan_id=plan.id,
                    lines=[_line(x) for x in part],
                    reservation_mode="all-or-nothing" if whole else "partial",
                    reservation_expires_at=expires,
                )
                for part in _per_warehouse(lines)
            ]
        case PlanCancelledEvent(lines=lines, reason=reason):
            return [
                contract.PlanCancelled(
                    plan_id=plan.id, lines=[_line(x) for x in part], reason=reason
                )
                for part in _per_warehouse(lines)
            ]
        case DispatchRequestedEvent(lines=lines, waybill_number=waybill, destination=dest):
            return [
                contract.PlanDispatchRequested(
                    plan_id=plan.id,
                    destination=dest,
                    lines=[
                        contract.DispatchLine(
                            line_id=x.line_id,
                            warehouse=x.warehouse,
                            quantity=x.reserved,
                            waybill_number=waybill,
                        )
                        for x in part
                    ],
                )
                for part in _per_warehouse(lines)
            ]
    return []


_SPECS: dict[type[BaseModel], EventSpec[Any]] = {
    contract.PlanApproved: contract.PLAN_APPROVED,
    contract.PlanCancelled: contract.PLAN_CANCELLED,
    contract.PlanDispatchRequested: contract.PLAN_DISPATCH_REQUESTED,
}


def plan_events(plan: Plan, events: Sequence[PlanEvent], context: EventContext) -> list[CloudEvent]:
    """The plan's requests to stock, then its new state. All keyed by the plan, in order, and
    each far under the broker's limit whatever the plan's size (MAX_LINES_PER_EVENT)."""
    subject = contract.plan_subject(plan.id)
    out: list[CloudEvent] = []
    for event in events:
        for payload in _requests(plan, event):
            out.append(
                _SPECS[type(payload)].new(
                    payload, subject=subject, sequence=plan.sequence, context=context
                )
            )
    changed = [e for e in events if isinstance(e, PlanChangedEvent)]
    if changed:
        needs: frozenset[str] | None = frozenset()
        for e in changed:
            needs = None if needs is None or e.need_ids is None else needs | e.need_ids
        out.extend(
            contract.PLAN_UPDATED.new(
                part, subject=subject, sequence=plan.sequence, context=context
            )
            for part in plan_state_parts(plan, needs)
        )
    return out


def coverage_events(coverage: NeedCoverage, context: EventContext) -> list[CloudEvent]:
    if not coverage.events:
        return []
    items, households, individuals = coverage.totals()
    state = contract.NeedCoverageState(
        need_id=coverage.need_id,
        organisation=coverage.organisation,
        items=[
            contract.ItemCoverage(
                item_code=code,
                planned=p.planned,
                reserved=p.reserved,
                dispatched=p.dispatched,
                delivered=p.delivered,
            )
            for code, p in sorted(items.items())
        ],
        households_reached=households,
        individuals_reached=individuals,
    )
    return [
        contract.NEED_COVERAGE_CHANGED.new(
            state,
            subject=contract.need_coverage_subject(coverage.need_id),
            sequence=coverage.sequence,
            context=context,
        )
    ]
