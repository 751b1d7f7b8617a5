"""Registering and changing warehouses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kitflow_shared.events.envelope import EventContext

from kitflow_stock.domain.errors import ConcurrentChange, NotPermitted
from kitflow_stock.domain.warehouses import Warehouse, WarehouseDetails
from kitflow_stock.handlers.integration import warehouse_events
from kitflow_stock.handlers.ports import Actor, WarehouseRepository

# Optimistic concurrency: a few re-reads settle any realistic contention on one warehouse.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RegisterWarehouse:
    code: str
    details: WarehouseDetails


@dataclass(frozen=True)
class ChangeWarehouse:
    code: str
    changes: dict[str, Any]


async def register_warehouse(
    command: RegisterWarehouse, actor: Actor, repo: WarehouseRepository, context: EventContext
) -> Warehouse:
    if not actor.admin and command.details.organisation != actor.organisation:
        raise NotPermitted("only an admin registers a warehouse for another organisation")
    warehouse = Warehouse.register(command.code, command.details)
    await repo.add(warehouse, warehouse_events(warehouse.events, context))
    return warehouse


async def change_warehouse(
    command: ChangeWarehouse, actor: Actor, repo: WarehouseRepository, context: EventContext
) -> Warehouse:
    for _ in range(MAX_ATTEMPTS):
        warehouse = await repo.get(command.code)
        if not actor.admin and warehouse.details.organisation != actor.organisation:
            raise NotPermitted("only the owning organisation or an admin changes a warehouse")
        new_details: WarehouseDetails = replace(warehouse.details, **command.changes)
        if not actor.admin and new_details.organisation != warehouse.details.organisation:
            raise NotPermitted("only an admin transfers a warehouse to another organisation")
        expected = warehouse.sequence
        if not warehouse.change(new_details):
            return warehouse
        try:
            await repo.save(warehouse, expected, warehouse_events(warehouse.events, context))
        except ConcurrentChange:
            continue
        return warehouse
    raise ConcurrentChange(f"warehouse {command.code} kept changing; try again")
