"""What distribution subscribes to: one visible map from event type to handler."""

from __future__ import annotations

from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WAREHOUSE_UPDATED
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied

from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.ports import WarehouseView


def subscriptions(warehouses: WarehouseView) -> dict[str, Handler]:
    async def on_warehouse(event: CloudEvent) -> Applied:
        return await projections.warehouse_changed(event, warehouses)

    return {
        WAREHOUSE_REGISTERED.type: on_warehouse,
        WAREHOUSE_UPDATED.type: on_warehouse,
    }
