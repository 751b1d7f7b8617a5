"""Registering and changing warehouses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result

from kitflow_stock.domain.errors import ConcurrentChange, DuplicateWarehouse, NotPermitted
from kitflow_stock.domain.warehouses import Warehouse, WarehouseDetails
from kitflow_stock.handlers.integration import warehouse_events
from kitflow_stock.handlers.ports import Actor, Done, WarehouseRepository

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


@dataclass
class WarehouseHandlers:
    """Registering and changing warehouses (their organisation's coordinators, or admins)."""

    repo: WarehouseRepository

    async def register_warehouse(
        self,
        command: RegisterWarehouse,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Warehouse]:
        if not actor.admin and command.details.organisation != actor.organisation:
            raise NotPermitted("only an admin registers a warehouse for another organisation")
        if key is not None and (replay := await self._created_by(key)) is not None:
            return replay
        warehouse = Warehouse.register(command.code, command.details)
        request = RememberedRequest.of(key, command.code, datetime.now(UTC)) if key else None
        try:
            await self.repo.add(warehouse, warehouse_events(warehouse.events, context), request)
        except DuplicateWarehouse:
            # Its code is taken, or a copy of this request created it meanwhile.
            if key is not None and (replay := await self._created_by(key)) is not None:
                return replay
            raise
        return Done(warehouse)

    async def _created_by(self, key: RequestKey) -> Done[Warehouse] | None:
        code = replayed_result(await self.repo.created_by(key.token), key)
        return None if code is None else Done(await self.repo.get(code), replayed=True)

    async def change_warehouse(
        self,
        command: ChangeWarehouse,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Warehouse]:
        for _ in range(MAX_ATTEMPTS):
            warehouse, remembered = await self.repo.load(command.code, key)
            if not actor.admin and warehouse.details.organisation != actor.organisation:
                raise NotPermitted("only the owning organisation or an admin changes a warehouse")
            if key is not None and replayed_result(remembered, key) is not None:
                return Done(warehouse, replayed=True)
            new_details: WarehouseDetails = replace(warehouse.details, **command.changes)
            if not actor.admin and new_details.organisation != warehouse.details.organisation:
                raise NotPermitted("only an admin transfers a warehouse to another organisation")
            expected = warehouse.sequence
            # A change to what it already is changes nothing, but its key is remembered all the
            # same: repeated after someone else's change, it must not undo that one.
            if not warehouse.change(new_details) and key is None:
                return Done(warehouse)
            request = RememberedRequest.of(key, command.code, datetime.now(UTC)) if key else None
            try:
                await self.repo.save(
                    warehouse, expected, warehouse_events(warehouse.events, context), request
                )
            except ConcurrentChange:
                continue
            return Done(warehouse)
        raise ConcurrentChange(f"warehouse {command.code} kept changing; try again")
