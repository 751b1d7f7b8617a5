"""Hand-written fakes of the stock service's ports (never mocks of libraries)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    DuplicateItem,
    item_search_key,
    search_key,
)
from kitflow_stock.domain.errors import (
    ConcurrentChange,
    DuplicateWarehouse,
    UnknownItem,
    UnknownWarehouse,
)
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


class FakeCatalogueRepository:
    def __init__(self) -> None:
        self.rows: dict[str, CatalogueItem] = {}
        self.published: list[CloudEvent] = []
        # Simulates another writer getting in first, this many times.
        self.conflicts_to_inject = 0
        # Idempotency-Keys: the request that created each document, and those it remembers.
        self.created: dict[str, RememberedRequest] = {}
        self.remembered: dict[str, dict[str, RememberedRequest]] = {}

    async def get(self, code: str) -> CatalogueItem:
        if code not in self.rows:
            raise UnknownItem(code)
        return copy.deepcopy(self.rows[code])

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[CatalogueItem, RememberedRequest | None]:
        found = await self.get(code)
        return found, self.remembered.get(code, {}).get(key.token) if key else None

    async def created_by(self, token: str) -> RememberedRequest | None:
        return self.created.get(token)

    async def get_many(self, codes: Collection[str]) -> dict[str, CatalogueItem]:
        return {c: copy.deepcopy(self.rows[c]) for c in set(codes) if c in self.rows}

    async def add(
        self,
        item: CatalogueItem,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if item.code in self.rows or (request is not None and request.token in self.created):
            raise DuplicateItem(item.code)
        if request is not None:
            self.created[request.token] = request
        self.rows[item.code] = item.snapshot()
        self.published.extend(events)

    async def save(
        self,
        item: CatalogueItem,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrentChange("injected")
        if self.rows[item.code].sequence != expected_sequence:
            raise ConcurrentChange("stale")
        remembered = self.remembered.setdefault(item.code, {})
        if request is not None:
            if request.token in remembered:
                raise ConcurrentChange("already remembered")
            remembered[request.token] = request
        self.rows[item.code] = item.snapshot()
        self.published.extend(events)

    async def list(
        self,
        *,
        category: str | None,
        is_kit: bool | None,
        text: str | None,
        component: str | None,
        limit: int,
        offset: int,
    ) -> Page[CatalogueItem]:
        needle = search_key(text.strip()) if text and text.strip() else None
        rows = [
            item
            for _, item in sorted(self.rows.items())
            if (category is None or item.details.category.value == category)
            and (is_kit is None or item.is_kit == is_kit)
            and (needle is None or needle in item_search_key(item))
            and (
                component is None or any(c.item_code == component for c in item.details.components)
            )
        ]
        return Page(items=rows[offset : offset + limit], total=len(rows))
