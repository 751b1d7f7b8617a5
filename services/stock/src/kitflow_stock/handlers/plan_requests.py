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
from datetime import datetime
from typing import TypeVar

from kitflow_shared.contracts.distribution import MAX_LINES_PER_EVENT
from kitflow_shared.events.envelope import EventContext

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


async def reserve(
    stock: StockHandlers,
    warehouse: str,
    plan_id: str,
    lines: Sequence[PlanLineRequest],
    mode: ReservationMode,
    expires_at: datetime,
    context: EventContext,
) -> None:
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


async def release(
    stock: StockHandlers,
    warehouse: str,
    plan_id: str,
    lines: Sequence[PlanLineRequest],
    reason: str,
    context: EventContext,
) -> None:
    found = await stock.warehouse(warehouse)
    await stock.writer.execute(
        warehouse,
        lambda s: s.release_plan_lines(plan_id, lines, reason),
        context,
        owner=found.details.organisation,
        parts=only(reservations=[line.line_id for line in lines]),
    )


async def dispatch(
    stock: StockHandlers,
    warehouse: str,
    plan_id: str,
    lines: Sequence[tuple[str, int | None]],
    waybill_number: str,
    destination: str,
    context: EventContext,
) -> None:
    found = await stock.warehouse(warehouse)
    now = stock.clock()

    def movement_info() -> MovementInfo:
        return MovementInfo(new_id("MV"), now, SYSTEM_USER, waybill_number, destination)

    await stock.writer.execute(
        warehouse,
        lambda s: s.dispatch_plan_lines(plan_id, lines, movement_info),
        context,
        owner=found.details.organisation,
        parts=only(reservations=[line_id for line_id, _ in lines]),
    )
