"""Stock's own movements, heard back: a transfer that left one warehouse is announced to the
other, where it is in transit until received."""

from __future__ import annotations

from dataclasses import dataclass

from kitflow_shared.contracts.stock import MOVEMENT_RECORDED, MovementKind
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.idempotency import Applied

from kitflow_stock.domain.stock import MovementLine
from kitflow_stock.handlers.stock import StockHandlers


@dataclass
class TransferArrivals:
    stock: StockHandlers

    async def movement_recorded(self, event: CloudEvent) -> Applied:
        movement = MOVEMENT_RECORDED.parse(event).movement
        if movement.kind is not MovementKind.TRANSFER_OUT:
            return Applied.DUPLICATE  # nothing for stock to do
        assert movement.counterparty is not None
        assert movement.transfer_id is not None
        lines = [
            MovementLine(line.item_code, -line.quantity, line.lot, line.expiry, line.owner)
            for line in movement.lines
        ]
        announced = await self.stock.announce_transfer(
            movement.counterparty,
            movement.transfer_id,
            movement.warehouse,
            lines,
            movement.occurred_at,
            EventContext.caused_by(event),
        )
        return Applied.APPLIED if announced else Applied.DUPLICATE
