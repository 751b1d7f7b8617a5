"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from kitflow_shared.events.envelope import CloudEvent

from kitflow_stock.domain.catalogue import CatalogueItem
from kitflow_stock.domain.stock import Movement, WarehouseStock
from kitflow_stock.domain.warehouses import Warehouse


@dataclass(frozen=True)
class Actor:
    """Who asks, as far as the handlers care: organisation, powers, assigned warehouses."""

    user: str
    organisation: str
    admin: bool = False
    coordinator: bool = False
    # Warehouse staff operate the stock of these warehouses only.
    warehouses: frozenset[str] = frozenset()

    def may_operate(self, warehouse: str) -> bool:
        """Record movements (receipts, dispatches, counts, ...) in this warehouse."""
        return self.admin or warehouse in self.warehouses

    def may_read_stock(self, warehouse: str) -> bool:
        return self.admin or self.coordinator or warehouse in self.warehouses

    @property
    def may_reserve(self) -> bool:
        return self.admin or self.coordinator


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


class CatalogueReader(Protocol):
    """What the stock handlers need of the catalogue."""

    async def get_many(self, codes: Collection[str]) -> dict[str, CatalogueItem]:
        """The catalogue items with these codes; codes not in the catalogue are absent."""


@dataclass(frozen=True)
class CataloguePage:
    items: list[CatalogueItem]
    total: int


class CatalogueRepository(CatalogueReader, Protocol):
    """The catalogue as the catalogue handlers and routes use it (also a CatalogueReader)."""

    async def get(self, code: str) -> CatalogueItem:
        """The item, or UnknownItem."""

    async def add(self, item: CatalogueItem, events: Sequence[CloudEvent]) -> None:
        """Store a new item and its events atomically, or raise DuplicateItem."""

    async def save(
        self, item: CatalogueItem, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        """Store the changed item and its events atomically if it is still at
        `expected_sequence`, or raise ConcurrentChange."""

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
        """Items in code order, filtered: by category (an ItemCategory value), kits or plain
        items, `text` within the code or either name (see domain.catalogue.search_key), and
        `component` (the kits that contain this item code)."""


@dataclass(frozen=True)
class StockParts:
    """Which reservations and document numbers a command needs loaded (None: all of them).

    A warehouse accumulates reservations and document numbers; a command looks up only its
    own, so loading just those keeps every command's cost flat as the warehouse's history
    grows. Everything else (balances, lots, transfers in transit) is always loaded."""

    reservations: frozenset[str] | None = None
    documents: frozenset[str] | None = None

    def __or__(self, other: StockParts) -> StockParts:
        def join(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            return None if a is None or b is None else a | b

        return StockParts(
            join(self.reservations, other.reservations), join(self.documents, other.documents)
        )


ALL_PARTS = StockParts()


def only(reservations: Collection[str] = (), documents: Collection[str | None] = ()) -> StockParts:
    return StockParts(frozenset(reservations), frozenset(d for d in documents if d))


class WarehouseStockRepository(Protocol):
    """One warehouse's stock, stored as one document with its outbox and journal."""

    async def load(self, warehouse: str, parts: StockParts = ALL_PARTS) -> WarehouseStock:
        """The stock (empty, at sequence 0, when nothing was ever recorded), with the
        reservations and document numbers `parts` names."""

    async def save(
        self,
        stock: WarehouseStock,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        journal: Sequence[dict[str, object]],
    ) -> None:
        """Store the changed entries, the events and the ledger rows in one atomic update if
        the stock is still at `expected_sequence`, or raise ConcurrentChange."""


class Ledger(Protocol):
    """The stock card: every movement line, with the running balance, never edited."""

    async def movement(self, warehouse: str, movement_id: str) -> Movement | None:
        """A recorded movement (for reversals)."""

    async def card(
        self, warehouse: str, item: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, object]], int]:
        """Ledger rows of one item in one warehouse, oldest first, and their total."""
