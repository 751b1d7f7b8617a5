"""What distribution does with each event it subscribes to (the consumers map types to these).

- stock: warehouses and balances (read models), reservation answers and dispatches (plans):
  `reservations.answered.v1` (all the lines of one request at once) and, from stock's own API
  or older versions, the per-line `reservation.*` events and dispatch movements;
- needs: the needs' states (read model);
- its own plans' states: folded into each need's coverage, published to the needs service.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from kitflow_shared.contracts import distribution as plans_contract
from kitflow_shared.contracts import stock as stock_contract
from kitflow_shared.events import registry
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.idempotency import Applied

from kitflow_distribution.domain.errors import UnknownPlan
from kitflow_distribution.domain.plans import LineAnswer, LineReservation
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.plans import PlanHandlers
from kitflow_distribution.handlers.ports import NeedsView, StockAlerts, StockView, WarehouseView

_ANSWER = {
    "active": LineReservation.ACTIVE,
    "rejected": LineReservation.REJECTED,
    "released": LineReservation.RELEASED,
    "expired": LineReservation.EXPIRED,
    "dispatched": LineReservation.DISPATCHED,
}
# Plan lines an answer said were dispatched, remembered for a while: their movements follow the
# answer on the same partition and need no second look at the plan (a read of a plan of
# thousands of lines costs tens of milliseconds). Forgotten after a restart: the movement then
# takes the longer way, which changes nothing either.
REMEMBERED_DISPATCHES = 100_000


def _line_answer(answer: stock_contract.ReservationAnswer) -> LineAnswer:
    status = _ANSWER.get(answer.status, LineReservation.RELEASED)  # unknown: nothing is held
    return LineAnswer(
        answer.line_id,
        status,
        reserved=answer.reserved if status is LineReservation.ACTIVE else 0,
        dispatched=answer.reserved if status is LineReservation.DISPATCHED else 0,
        reason=answer.reason,
    )


@dataclass
class DistributionEvents:
    warehouses: WarehouseView
    stock: StockView
    needs: NeedsView
    plans: PlanHandlers
    gap_view: projections.GapProjection
    stock_alerts: StockAlerts
    _dispatched_lines: OrderedDict[str, None] = field(default_factory=OrderedDict)

    async def on_warehouse(self, event: CloudEvent) -> Applied:
        return await projections.warehouse_changed(event, self.warehouses)

    async def on_warehouses(self, events: Sequence[CloudEvent]) -> list[Applied]:
        return await projections.warehouses_changed(events, self.warehouses)

    async def on_needs(self, events: Sequence[CloudEvent]) -> list[Applied]:
        """`on_need` for one poll's events: the needs view in one batch of writes, then the gap
        view's documents in one more and their cells in one per kind (ADR 0033, 0034)."""
        # Side by side: two views, each write guarded on its own (a batch that fails is done
        # again one by one, and the part already written refuses).
        outcomes, gaps = await asyncio.gather(
            projections.needs_changed(events, self.needs), self.gap_view.needs_changed(events)
        )
        return [
            Applied.APPLIED if Applied.APPLIED in pair else Applied.DUPLICATE
            for pair in zip(outcomes, gaps, strict=True)
        ]

    async def on_need(self, event: CloudEvent) -> Applied:
        # Two views, each guarded by the need's sequence: a redelivery completes the one a
        # crash left behind and changes nothing in the other.
        outcome = await projections.need_changed(event, self.needs)
        gaps = await self.gap_view.need_changed(event)
        return Applied.APPLIED if Applied.APPLIED in (outcome, gaps) else Applied.DUPLICATE

    async def on_near_expiry(self, event: CloudEvent) -> Applied:
        return await projections.stock_signal(event, self.stock_alerts)

    async def on_item(self, event: CloudEvent) -> Applied:
        return await self.gap_view.item_changed(event)

    async def on_balances(self, event: CloudEvent) -> Applied:
        outcome = await projections.balances_changed(event, self.stock)
        if event.type == stock_contract.LOW_STOCK.type:
            await projections.stock_signal(event, self.stock_alerts)
        if event.type in (
            stock_contract.RESERVATION_CONFIRMED.type,
            stock_contract.RESERVATION_RELEASED.type,
        ):
            await self.on_reservation_answer(event)
        if event.type == stock_contract.RESERVATIONS_ANSWERED.type:
            await self._answers(event)
        if event.type == stock_contract.MOVEMENT_RECORDED.type:
            await self._movement(event)
        return outcome

    async def _answers(self, event: CloudEvent) -> None:
        answered = stock_contract.RESERVATIONS_ANSWERED.parse(event)
        answers = [_line_answer(a) for a in answered.answers]
        try:
            await self.plans.answers_received(
                answered.plan_id, answers, event.id, EventContext.caused_by(event)
            )
        except UnknownPlan:
            return  # reservations made by hand, not for one of our plans
        for answer in answers:
            if answer.reservation is LineReservation.DISPATCHED:
                self._dispatched_lines[answer.line_id] = None
        while len(self._dispatched_lines) > REMEMBERED_DISPATCHES:
            self._dispatched_lines.popitem(last=False)

    async def on_reservation_answer(self, event: CloudEvent) -> Applied:
        spec = registry.get(event.type)
        payload = spec.parse(event)
        r = payload.reservation
        reason = getattr(payload, "reason", None)
        try:
            applied = await self.plans.reservation_answered(
                r.plan_id,
                r.line_id,
                _ANSWER.get(r.status, LineReservation.RELEASED),
                r.reserved,
                reason,
                event.id,
                EventContext.caused_by(event),
            )
        except UnknownPlan:
            return Applied.DUPLICATE  # a reservation made by hand, not for one of our plans
        return Applied.APPLIED if applied else Applied.DUPLICATE

    async def _movement(self, event: CloudEvent) -> None:
        movement = stock_contract.MOVEMENT_RECORDED.parse(event).movement
        if movement.reversed_plan_line_id is not None:
            await self._dispatch_reversed(event, movement.reversed_plan_line_id, movement)
            return
        if movement.plan_line_id is None:
            return
        if (
            movement.kind is stock_contract.MovementKind.DISPATCH
            and movement.plan_line_id in self._dispatched_lines
        ):
            return  # stock's answer that came just before it said so already
        plan_id = movement.plan_line_id.rsplit(":", 1)[0]
        quantity = -sum(line.quantity for line in movement.lines)
        try:
            await self.plans.dispatch_recorded(
                plan_id, movement.plan_line_id, quantity, event.id, EventContext.caused_by(event)
            )
        except UnknownPlan:
            return

    async def _dispatch_reversed(
        self, event: CloudEvent, line_id: str, movement: stock_contract.MovementState
    ) -> None:
        """Stock reversed a plan's dispatch: what it took back is off the plan's line."""
        plan_id = line_id.rsplit(":", 1)[0]
        returned = sum(line.quantity for line in movement.lines)
        context = EventContext.caused_by(event)
        try:
            await self.plans.dispatch_reversed(plan_id, line_id, returned, event.id, context)
        except UnknownPlan:
            return  # a reservation made by hand, not for one of our plans

    async def on_plan_updated(self, event: CloudEvent) -> Applied:
        state = plans_contract.PLAN_UPDATED.parse(event)
        # A state published before reach was per need has none: its lines carry it.
        per_need = "reached" in state.model_fields_set
        changed = await self.plans.plan_changed(
            state.plan_id,
            event.sequence,
            state.status,
            [line.model_dump() for line in state.lines],
            EventContext.caused_by(event),
            {r.need_id: (r.households, r.individuals) for r in state.reached} if per_need else None,
        )
        return Applied.APPLIED if changed else Applied.DUPLICATE
