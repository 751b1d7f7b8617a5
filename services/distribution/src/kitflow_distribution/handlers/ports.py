"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kitflow_shared.contracts.needs import NeedState
from kitflow_shared.contracts.stock import BalanceState, WarehouseState
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied

from kitflow_distribution.domain.coverage import NeedCoverage
from kitflow_distribution.domain.plans import Plan


class Concurrency(Exception):
    """Another writer changed the document between our read and our write; retry."""


@dataclass(frozen=True)
class Actor:
    user: str
    organisation: str
    coordinator: bool = False
    admin: bool = False
    partner: bool = False

    @property
    def plans(self) -> bool:
        return self.coordinator or self.admin


class WarehouseView(Protocol):
    """Distribution's read model of the warehouses, built only from stock's events."""

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        """Store `state` if `sequence` is newer than what the view holds; else change nothing."""

    async def all(self) -> list[tuple[WarehouseState, int]]:
        """Every warehouse with the sequence the view holds for it."""


class StockView(Protocol):
    """Available stock per warehouse and item, built from stock's events."""

    async def apply(self, warehouse: str, balance: BalanceState, sequence: int) -> Applied: ...

    async def all(self) -> list[tuple[str, BalanceState]]: ...


class NeedsView(Protocol):
    """Needs as the needs service last published them."""

    async def apply(self, state: NeedState, sequence: int) -> Applied: ...

    async def get(self, need_id: str) -> NeedState | None: ...

    async def all(self) -> list[NeedState]: ...


class PlanRepository(Protocol):
    async def get(self, plan_id: str) -> Plan: ...

    async def add(self, plan: Plan, events: Sequence[CloudEvent]) -> None: ...

    async def save(
        self, plan: Plan, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None: ...

    async def find(
        self, *, status: str | None, need_id: str | None, limit: int, offset: int
    ) -> tuple[list[Plan], int]: ...

    async def waiting_for_answers(self) -> list[str]: ...


class CoverageRepository(Protocol):
    async def get(self, need_id: str, organisation: str) -> NeedCoverage: ...

    async def save(self, coverage: NeedCoverage, events: Sequence[CloudEvent]) -> None: ...

    async def all(self) -> list[NeedCoverage]: ...
