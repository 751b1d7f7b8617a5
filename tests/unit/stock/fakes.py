"""Hand-written fakes of the stock service's ports (never mocks of libraries)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Sequence
from typing import Generic, Protocol, Self, TypeVar

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
from kitflow_stock.domain.stock import WarehouseStock
from kitflow_stock.domain.warehouses import Warehouse
from kitflow_stock.handlers.ports import ALL_PARTS, Page, StockParts


class _Outboxed(Protocol):
    code: str
    sequence: int

    def snapshot(self) -> Self: ...


D = TypeVar("D", bound=_Outboxed)


class _FakeOutboxedDocuments(Generic[D]):
    """The get / load / add / save of an outboxed document (kitflow_shared.outboxed), in memory,
    with the Idempotency-Keys each document was created or changed by."""

    unknown: Callable[[str], Exception]
    duplicate: Callable[[str], Exception]

    def __init__(self) -> None:
        self.rows: dict[str, D] = {}
        self.published: list[CloudEvent] = []
        # Simulates another writer getting in first, this many times.
        self.conflicts_to_inject = 0
        # Idempotency-Keys: the request that created each document, and those it remembers.
        self.created: dict[str, RememberedRequest] = {}
        self.remembered: dict[str, dict[str, RememberedRequest]] = {}

    async def get(self, code: str) -> D:
        if code not in self.rows:
            raise type(self).unknown(code)
        return copy.deepcopy(self.rows[code])

    async def load(self, code: str, key: RequestKey | None) -> tuple[D, RememberedRequest | None]:
        found = await self.get(code)
        return found, self.remembered.get(code, {}).get(key.token) if key else None

    async def created_by(self, token: str) -> RememberedRequest | None:
        return self.created.get(token)

    async def add(
        self, document: D, events: Sequence[CloudEvent], request: RememberedRequest | None = None
    ) -> None:
        if document.code in self.rows or (request is not None and request.token in self.created):
            raise type(self).duplicate(document.code)
        if request is not None:
            self.created[request.token] = request
        self.rows[document.code] = document.snapshot()
        self.published.extend(events)

    async def save(
        self,
        document: D,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrentChange("injected")
        if self.rows[document.code].sequence != expected_sequence:
            raise ConcurrentChange("stale")
        remembered = self.remembered.setdefault(document.code, {})
        if request is not None:
            if request.token in remembered:
                raise ConcurrentChange("already remembered")
            remembered[request.token] = request
        self.rows[document.code] = document.snapshot()
        self.published.extend(events)


class FakeWarehouseRepository(_FakeOutboxedDocuments[Warehouse]):
    unknown = UnknownWarehouse
    duplicate = DuplicateWarehouse

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


class FakeCatalogueRepository(_FakeOutboxedDocuments[CatalogueItem]):
    unknown = UnknownItem
    duplicate = DuplicateItem

    async def get_many(self, codes: Collection[str]) -> dict[str, CatalogueItem]:
        return {c: copy.deepcopy(self.rows[c]) for c in set(codes) if c in self.rows}

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


class RivalledStockRepository:
    """One warehouse's stock in memory, written by another replica too: the next
    `rival_writes` saves (every save, if None) miss because the rival wrote first, as the
    conditional update on the sequence would; the rival's own change is left out."""

    def __init__(self, warehouse: str, rival_writes: int | None) -> None:
        self.stock = WarehouseStock(warehouse)
        self.rival_writes = rival_writes
        self.misses = 0
        self.saves = 0

    async def load(self, warehouse: str, parts: StockParts = ALL_PARTS) -> WarehouseStock:
        return copy.deepcopy(self.stock)

    async def load_remembered(
        self, warehouse: str, parts: StockParts, tokens: Collection[str]
    ) -> tuple[WarehouseStock, dict[str, RememberedRequest]]:
        return copy.deepcopy(self.stock), {}

    async def save(
        self,
        stock: WarehouseStock,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        journal: Sequence[dict[str, object]],
        remembered: Sequence[RememberedRequest] = (),
    ) -> None:
        if self.rival_writes is None or self.misses < self.rival_writes:
            self.misses += 1
            raise ConcurrentChange(f"the stock of {stock.warehouse} changed meanwhile")
        assert expected_sequence == self.stock.sequence
        stock.changed_items.clear()
        stock.changed_entries.clear()
        self.stock = copy.deepcopy(stock)
        self.saves += 1
