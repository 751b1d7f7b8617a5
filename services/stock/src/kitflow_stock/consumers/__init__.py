"""What stock subscribes to: one visible map from event type to handler.

- distribution's plans: reserve their lines, release them on cancellation, dispatch them;
- stock's own movements: a transfer that left one warehouse is announced to the other.
Every handler is idempotent: a redelivered or late message changes nothing.
"""

from __future__ import annotations

from kitflow_shared.contracts.distribution import (
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
)
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED, MovementKind
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied

from kitflow_stock.domain.errors import Conflict
from kitflow_stock.domain.stock import MovementLine, ReservationMode, ReservationStatus
from kitflow_stock.handlers.ports import only
from kitflow_stock.handlers.stock import StockHandlers, StockRecord


def subscriptions(stock: StockHandlers) -> dict[str, Handler]:
    async def plan_approved(event: CloudEvent) -> Applied:
        plan = PLAN_APPROVED.parse(event)
        context = EventContext.caused_by(event)
        mode = ReservationMode(plan.reservation_mode)
        for line in plan.lines:
            await stock.reserve(
                None,
                line.warehouse,
                line.line_id,
                plan.plan_id,
                line.item_code,
                line.quantity,
                mode,
                plan.reservation_expires_at,
                context,
            )
        return Applied.APPLIED

    async def plan_cancelled(event: CloudEvent) -> Applied:
        plan = PLAN_CANCELLED.parse(event)
        context = EventContext.caused_by(event)
        released = [
            await stock.release(
                None, line.warehouse, line.line_id, plan.plan_id, line.item_code, context
            )
            for line in plan.lines
        ]
        return Applied.APPLIED if any(released) else Applied.DUPLICATE

    async def plan_dispatch_requested(event: CloudEvent) -> Applied:
        order = PLAN_DISPATCH_REQUESTED.parse(event)
        context = EventContext.caused_by(event)
        outcome = Applied.DUPLICATE
        for line in order.lines:
            record = StockRecord(
                document_number=line.waybill_number, counterparty=order.destination
            )
            try:
                await stock.dispatch_reservation(
                    None, line.warehouse, line.line_id, line.quantity, record, context
                )
                outcome = Applied.APPLIED
            except Conflict:
                # Already dispatched (a redelivery), or released meanwhile: nothing to issue.
                if await _reservation_status(line.warehouse, line.line_id) not in (
                    ReservationStatus.DISPATCHED,
                    ReservationStatus.RELEASED,
                    ReservationStatus.EXPIRED,
                    ReservationStatus.REJECTED,
                ):
                    raise
        return outcome

    async def _reservation_status(warehouse: str, line_id: str) -> ReservationStatus | None:
        current = await stock.writer.peek(warehouse, only(reservations=[line_id]))
        reservation = current.reservations.get(line_id)
        return reservation.status if reservation else None

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
