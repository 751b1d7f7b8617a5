"""What stock subscribes to: one visible map from event type to handler.

- distribution's plans: reserve their lines, release them on cancellation, dispatch them, each
  request answered for every line (`reservations.answered.v1`), again when asked again;
- stock's own movements: a transfer that left one warehouse is announced to the other.
Every handler is idempotent: a redelivered or late message changes nothing.
"""

from __future__ import annotations

from kitflow_shared.contracts.distribution import (
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
    PlanLineState,
)
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED, MovementKind
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied

from kitflow_stock.domain.stock import MovementLine, PlanLineRequest, ReservationMode
from kitflow_stock.handlers import plan_requests
from kitflow_stock.handlers.stock import StockHandlers


def _request(line: PlanLineState) -> PlanLineRequest:
    return PlanLineRequest(line.line_id, line.item_code, line.quantity)


def subscriptions(stock: StockHandlers) -> dict[str, Handler]:
    async def plan_approved(event: CloudEvent) -> Applied:
        plan = PLAN_APPROVED.parse(event)
        context = EventContext.caused_by(event)
        mode = ReservationMode(plan.reservation_mode)
        requests = [(line.warehouse, _request(line)) for line in plan.lines]
        for warehouse, lines in plan_requests.by_warehouse(requests):
            await plan_requests.reserve(
                stock, warehouse, plan.plan_id, lines, mode, plan.reservation_expires_at, context
            )
        return Applied.APPLIED

    async def plan_cancelled(event: CloudEvent) -> Applied:
        plan = PLAN_CANCELLED.parse(event)
        context = EventContext.caused_by(event)
        reason = f"plan cancelled: {plan.reason}" if plan.reason else "plan cancelled"
        requests = [(line.warehouse, _request(line)) for line in plan.lines]
        for warehouse, lines in plan_requests.by_warehouse(requests):
            await plan_requests.release(stock, warehouse, plan.plan_id, lines, reason, context)
        return Applied.APPLIED

    async def plan_dispatch_requested(event: CloudEvent) -> Applied:
        order = PLAN_DISPATCH_REQUESTED.parse(event)
        context = EventContext.caused_by(event)
        by_waybill: dict[str, list[tuple[str, tuple[str, int | None]]]] = {}
        for line in order.lines:
            by_waybill.setdefault(line.waybill_number, []).append(
                (line.warehouse, (line.line_id, line.quantity))
            )
        for waybill, requests in by_waybill.items():
            for warehouse, lines in plan_requests.by_warehouse(requests):
                await plan_requests.dispatch(
                    stock, warehouse, order.plan_id, lines, waybill, order.destination, context
                )
        return Applied.APPLIED

    async def movement_recorded(event: CloudEvent) -> Applied:
        recorded = MOVEMENT_RECORDED.parse(event)
        movement = recorded.movement
        if movement.kind is not MovementKind.TRANSFER_OUT:
            return Applied.DUPLICATE  # nothing for stock to do
        assert movement.counterparty is not None
        assert movement.transfer_id is not None
        lines = [
            MovementLine(line.item_code, -line.quantity, line.lot, line.expiry, line.owner)
            for line in movement.lines
        ]
        announced = await stock.announce_transfer(
            movement.counterparty,
            movement.transfer_id,
            movement.warehouse,
            lines,
            movement.occurred_at,
            EventContext.caused_by(event),
        )
        return Applied.APPLIED if announced else Applied.DUPLICATE

    return {
        PLAN_APPROVED.type: plan_approved,
        PLAN_CANCELLED.type: plan_cancelled,
        PLAN_DISPATCH_REQUESTED.type: plan_dispatch_requested,
        MOVEMENT_RECORDED.type: movement_recorded,
    }
