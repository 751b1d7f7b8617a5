"""A hand-written fake of the catalogue repository port (never a mock of a library)."""

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
from kitflow_stock.domain.errors import ConcurrentChange, UnknownItem
from kitflow_stock.handlers.ports import Page as CataloguePage


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
    ) -> CataloguePage:
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
        return CataloguePage(items=rows[offset : offset + limit], total=len(rows))
