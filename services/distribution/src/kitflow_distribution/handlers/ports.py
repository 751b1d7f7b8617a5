"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from typing import Protocol

from kitflow_shared.contracts.stock import WarehouseState
from kitflow_shared.messaging.idempotency import Applied


class WarehouseView(Protocol):
    """Distribution's read model of the warehouses, built only from stock's events."""

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        """Store `state` if `sequence` is newer than what the view holds; else change nothing."""

    async def all(self) -> list[tuple[WarehouseState, int]]:
        """Every warehouse with the sequence the view holds for it."""
