"""Domain events out, integration events (the shared contracts) in: the only place they meet."""

from __future__ import annotations

from collections.abc import Sequence

from kitflow_shared.contracts.common import GeoPoint
from kitflow_shared.contracts.stock import (
    WAREHOUSE_REGISTERED,
    WAREHOUSE_UPDATED,
    WarehouseState,
    WarehouseType,
    warehouse_subject,
)
from kitflow_shared.events.envelope import CloudEvent, EventContext

from kitflow_stock.domain.warehouses import Warehouse, WarehouseEvent, WarehouseRegistered


def warehouse_state(warehouse: Warehouse) -> WarehouseState:
    d = warehouse.details
    return WarehouseState(
        code=warehouse.code,
        name=d.name,
        organisation=d.organisation,
        type=WarehouseType(d.kind.value),
        admin1_pcode=d.admin1_pcode,
        admin2_pcode=d.admin2_pcode,
        location=GeoPoint(lat=d.coordinates.lat, lon=d.coordinates.lon) if d.coordinates else None,
        capacity_m3=d.capacity_m3,
        active=d.active,
    )


def warehouse_events(events: Sequence[WarehouseEvent], context: EventContext) -> list[CloudEvent]:
    out = []
    for event in events:
        spec = WAREHOUSE_REGISTERED if isinstance(event, WarehouseRegistered) else WAREHOUSE_UPDATED
        out.append(
            spec.new(
                warehouse_state(event.warehouse),
                subject=warehouse_subject(event.warehouse.code),
                sequence=event.warehouse.sequence,
                context=context,
            )
        )
    return out
