"""Distribution's requests for a plan's lines (reserve, release, dispatch), as commands on the
warehouses' stock.

A request names lines of one or more warehouses; each warehouse's share, in parts of at most
`MAX_LINES_PER_EVENT` lines, is ONE command on that warehouse's stock (one atomic write) and is
answered by ONE `reservations.answered.v1` event for all its lines. Every line gets an answer,
every time it is asked: a request that comes again (distribution asks again when an answer is
late, and the first one may have been lost) changes nothing and is answered as things stand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from kitflow_shared.contracts.distribution import (
    MAX_LINES_PER_EVENT,
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
    PlanLineState,
)
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.idempotency import Applied

from kitflow_stock.domain.stock import MovementInfo, PlanLineRequest, ReservationMode
from kitflow_stock.handlers.ports import only
from kitflow_stock.handlers.stock import StockHandlers, new_id

T = TypeVar("T")
SYSTEM_USER = "distribution"


def by_warehouse(lines: Sequence[tuple[str, T]]) -> Iterator[tuple[str, list[T]]]:
    """(warehouse, line) pairs as each warehouse's lines, in parts of at most
    MAX_LINES_PER_EVENT, in the order given."""
    grouped: dict[str, list[T]] = {}
    for warehouse, line in lines:
        grouped.setdefault(warehouse, []).append(line)
    for warehouse, found in grouped.items():
        for start in range(0, len(found), MAX_LINES_PER_EVENT):
            yield warehouse, found[start : start + MAX_LINES_PER_EVENT]


def _request(line: PlanLineState) -> PlanLineRequest:
    return PlanLineRequest(line.line_id, line.item_code, line.quantity)


@dataclass
class PlanRequests:
    """Distribution's plan events, each answered warehouse by warehouse."""

    stock: StockHandlers

    async def approved(self, event: CloudEvent) -> Applied:
        """Reserve an approved plan's lines."""
        plan = PLAN_APPROVED.parse(event)
        context = EventContext.caused_by(event)
        mode = ReservationMode(plan.reservation_mode)
        requests = [(line.warehouse, _request(line)) for line in plan.lines]
        for warehouse, lines in by_warehouse(requests):
            await self._reserve(
                warehouse, plan.plan_id, lines, mode, plan.reservation_expires_at, context
            )
        return Applied.APPLIED

    async def cancelled(self, event: CloudEvent) -> Applied:
        """Release what a cancelled plan held."""
        plan = PLAN_CANCELLED.parse(event)
        context = EventContext.caused_by(event)
        reason = f"plan cancelled: {plan.reason}" if plan.reason else "plan cancelled"
        requests = [(line.warehouse, _request(line)) for line in plan.lines]
        for warehouse, lines in by_warehouse(requests):
            await self._release(warehouse, plan.plan_id, lines, reason, context)
        return Applied.APPLIED

    async def dispatch_requested(self, event: CloudEvent) -> Applied:
        """Issue what a plan reserved, one dispatch per waybill and warehouse."""
        order = PLAN_DISPATCH_REQUESTED.parse(event)
        context = EventContext.caused_by(event)
        by_waybill: dict[str, list[tuple[str, tuple[str, int | None]]]] = {}
        for line in order.lines:
            by_waybill.setdefault(line.waybill_number, []).append(
                (line.warehouse, (line.line_id, line.quantity))
            )
        for waybill, requests in by_waybill.items():
            for warehouse, lines in by_warehouse(requests):
                await self._dispatch(
                    warehouse, order.plan_id, lines, waybill, order.destination, context
                )
        return Applied.APPLIED

    async def _reserve(
        self,
        warehouse: str,
        plan_id: str,
        lines: Sequence[PlanLineRequest],
        mode: ReservationMode,
        expires_at: datetime,
        context: EventContext,
    ) -> None:
        stock = self.stock
        found = await stock.warehouse(warehouse)
        refusal = None
        if not found.details.active:
            refusal = f"{warehouse} is not active"
        elif expires_at <= stock.clock():
            refusal = f"the reservation would expire at {expires_at.isoformat()}, already past"
        await stock.writer.execute(
            warehouse,
            lambda s: s.reserve_plan_lines(plan_id, lines, mode, expires_at, refusal),
            context,
            owner=found.details.organisation,
            parts=only(reservations=[line.line_id for line in lines]),
        )

    async def _release(
        self,
        warehouse: str,
        plan_id: str,
        lines: Sequence[PlanLineRequest],
        reason: str,
        context: EventContext,
    ) -> None:
        found = await self.stock.warehouse(warehouse)
        await self.stock.writer.execute(
            warehouse,
            lambda s: s.release_plan_lines(plan_id, lines, reason),
            context,
            owner=found.details.organisation,
            parts=only(reservations=[line.line_id for line in lines]),
        )

    async def _dispatch(
        self,
        warehouse: str,
        plan_id: str,
        lines: Sequence[tuple[str, int | None]],
        waybill_number: str,
        destination: str,
        context: EventContext,
    ) -> None:
        found = await self.stock.warehouse(warehouse)
        now = self.stock.clock()

        def movement_info() -> MovementInfo:
            return MovementInfo(new_id("MV"), now, SYSTEM_USER, waybill_number, destination)

        await self.stock.writer.execute(
            warehouse,
            lambda s: s.dispatch_plan_lines(plan_id, lines, movement_info),
            context,
            owner=found.details.organisation,
            parts=only(reservations=[line_id for line_id, _ in lines]),
        )
