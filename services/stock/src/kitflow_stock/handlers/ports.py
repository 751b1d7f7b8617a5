"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kitflow_shared.events.envelope import CloudEvent

from kitflow_stock.domain.warehouses import Warehouse


@dataclass(frozen=True)
class Actor:
    """Who asks, as far as the handlers care: their organisation, and whether they are an admin."""

    user: str
    organisation: str
    admin: bool = False


@dataclass(frozen=True)
class Page:
    items: list[Warehouse]
    total: int


class WarehouseRepository(Protocol):
    async def get(self, code: str) -> Warehouse:
        """The warehouse, or UnknownWarehouse."""

    async def add(self, warehouse: Warehouse, events: Sequence[CloudEvent]) -> None:
        """Store a new warehouse and its events atomically, or raise DuplicateWarehouse."""

    async def save(
        self, warehouse: Warehouse, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        """Store the changed warehouse and its events atomically if it is still at
        `expected_sequence`, or raise ConcurrentChange."""

    async def list(
        self, *, organisation: str | None, admin1_pcode: str | None, limit: int, offset: int
    ) -> Page:
        """Warehouses in code order, filtered."""
