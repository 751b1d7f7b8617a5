"""Read models kept from other services' events (rebuildable by replaying the topics)."""

from __future__ import annotations

from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WAREHOUSE_UPDATED
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied

from kitflow_distribution.handlers.ports import WarehouseView


async def warehouse_changed(event: CloudEvent, view: WarehouseView) -> Applied:
    """Registered and updated both carry the full state: keep the newest."""
    spec = WAREHOUSE_REGISTERED if event.type == WAREHOUSE_REGISTERED.type else WAREHOUSE_UPDATED
    return await view.apply(spec.parse(event), event.sequence)
