"""Hand-written fakes of our own ports (never mocks of libraries)."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from kitflow_shared.contracts.stock import WarehouseState
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_stock.domain.errors import ConcurrentChange, DuplicateWarehouse, UnknownWarehouse
from kitflow_stock.domain.warehouses import Warehouse
from kitflow_stock.handlers.ports import Page


class FakeWarehouseRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Warehouse] = {}
        self.published: list[CloudEvent] = []
        # Simulates another writer getting in first, this many times.
        self.conflicts_to_inject = 0
        # Idempotency-Keys: the request that created each document, and those it remembers.
        self.created: dict[str, RememberedRequest] = {}
        self.remembered: dict[str, dict[str, RememberedRequest]] = {}

    async def get(self, code: str) -> Warehouse:
        if code not in self.rows:
            raise UnknownWarehouse(code)
        return copy.deepcopy(self.rows[code])

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[Warehouse, RememberedRequest | None]:
        found = await self.get(code)
        return found, self.remembered.get(code, {}).get(key.token) if key else None

    async def created_by(self, token: str) -> RememberedRequest | None:
        return self.created.get(token)

    async def add(
        self,
        warehouse: Warehouse,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if warehouse.code in self.rows or (request is not None and request.token in self.created):
            raise DuplicateWarehouse(warehouse.code)
        if request is not None:
            self.created[request.token] = request
        self.rows[warehouse.code] = warehouse.snapshot()
        self.published.extend(events)

    async def save(
        self,
        warehouse: Warehouse,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrentChange("injected")
        if self.rows[warehouse.code].sequence != expected_sequence:
            raise ConcurrentChange("stale")
        remembered = self.remembered.setdefault(warehouse.code, {})
        if request is not None:
            if request.token in remembered:
                raise ConcurrentChange("already remembered")
            remembered[request.token] = request
        self.rows[warehouse.code] = warehouse.snapshot()
        self.published.extend(events)

    async def list(
        self, *, organisation: str | None, admin1_pcode: str | None, limit: int, offset: int
    ) -> Page:
        rows = [
            w
            for _, w in sorted(self.rows.items())
            if (organisation is None or w.details.organisation == organisation)
            and (admin1_pcode is None or w.details.admin1_pcode == admin1_pcode)
        ]
        return Page(items=rows[offset : offset + limit], total=len(rows))


class FakeWarehouseView:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[WarehouseState, int]] = {}

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        held = self.rows.get(state.code)
        if held is not None and held[1] >= sequence:
            return Applied.DUPLICATE
        self.rows[state.code] = (state, sequence)
        return Applied.APPLIED

    async def all(self) -> list[tuple[WarehouseState, int]]:
        return [self.rows[k] for k in sorted(self.rows)]


class FakePublisher:
    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []
        self.parked: list[tuple[str, bytes, dict[str, bytes]]] = []
        self.fail_times = fail_times

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("broker down")
        self.sent.extend((topic, e) for e in events)

    async def park(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.parked.append((topic, value, dict(headers)))
