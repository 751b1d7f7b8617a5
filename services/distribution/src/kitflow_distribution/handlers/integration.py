"""Distribution's domain events as integration events (the shared contracts)."""

from __future__ import annotations

from collections.abc import Sequence

from kitflow_shared.contracts import distribution as contract
from kitflow_shared.events.envelope import CloudEvent, EventContext

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


def plan_state(plan: Plan) -> contract.PlanState:
    return contract.PlanState(
        plan_id=plan.id,
        status=plan.status.value,
        title=plan.title,
        created_by=plan.created_by,
        approved_by=plan.approved_by,
        lines=[
            contract.PlanLineProgress(
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
            for x in plan.lines
        ],
        reached=[
            contract.NeedReached(need_id=n, households=r.households, individuals=r.individuals)
            for n, r in sorted(plan.reach.items())
        ],
    )


def plan_events(plan: Plan, events: Sequence[PlanEvent], context: EventContext) -> list[CloudEvent]:
    """The plan's commands to stock, then its new state. All keyed by the plan, in order."""
    subject = contract.plan_subject(plan.id)
    out: list[CloudEvent] = []
    for event in events:
        match event:
            case PlanApprovedEvent(lines=lines, expires_at=expires, all_or_nothing=whole):
                out.append(
                    contract.PLAN_APPROVED.new(
                        contract.PlanApproved(
                            plan_id=plan.id,
                            lines=[_line(x) for x in lines],
                            reservation_mode="all-or-nothing" if whole else "partial",
                            reservation_expires_at=expires,
                        ),
                        subject=subject,
                        sequence=plan.sequence,
                        context=context,
                    )
                )
            case PlanCancelledEvent(lines=lines, reason=reason):
                out.append(
                    contract.PLAN_CANCELLED.new(
                        contract.PlanCancelled(
                            plan_id=plan.id, lines=[_line(x) for x in lines], reason=reason
                        ),
                        subject=subject,
                        sequence=plan.sequence,
                        context=context,
                    )
                )
            case DispatchRequestedEvent(lines=lines, waybill_number=waybill, destination=dest):
                out.append(
                    contract.PLAN_DISPATCH_REQUESTED.new(
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
                                for x in lines
                            ],
                        ),
                        subject=subject,
                        sequence=plan.sequence,
                        context=context,
                    )
                )
            case PlanChangedEvent():
                pass
    if any(isinstance(e, PlanChangedEvent) for e in events):
        out.append(
            contract.PLAN_UPDATED.new(
                plan_state(plan), subject=subject, sequence=plan.sequence, context=context
            )
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
