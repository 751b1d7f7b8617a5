"""The ports the handlers depend on; adapters implement them (MongoDB), tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_shared.web.paging import Page as Page

from kitflow_stock.domain.catalogue import CatalogueItem
from kitflow_stock.domain.counts import Count
from kitflow_stock.domain.stock import CountedLine, Movement, WarehouseStock
from kitflow_stock.domain.warehouses import Warehouse

T = TypeVar("T")


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a command produced; `replayed` when its Idempotency-Key says it was applied before
    and `value` is the first request's result (ADR 0011)."""

    value: T
    replayed: bool = False


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

    def may_reserve_in(self, organisation: str) -> bool:
        """Reserve or release the stock of a warehouse of this organisation."""
        return self.admin or (self.coordinator and organisation == self.organisation)


class WarehouseRepository(Protocol):
    async def get(self, code: str) -> Warehouse:
        """The warehouse, or UnknownWarehouse."""

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[Warehouse, RememberedRequest | None]:
        """The warehouse (or UnknownWarehouse) with the request it remembers for `key`."""

    async def add(
        self,
        warehouse: Warehouse,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        """Store a new warehouse, its events and the request that created it atomically, or
        raise DuplicateWarehouse (its code, or the request, is taken)."""

    async def created_by(self, token: str) -> RememberedRequest | None:
        """The request (by its key's token) that created a warehouse, if one did."""

    async def save(
        self,
        warehouse: Warehouse,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        """Store the changed warehouse, its events and the request that changed it atomically
        if it is still at `expected_sequence` and does not remember that request yet, or raise
        ConcurrentChange."""

    async def list(
        self, *, organisation: str | None, admin1_pcode: str | None, limit: int, offset: int
    ) -> Page[Warehouse]:
        """Warehouses in code order, filtered."""


class CatalogueReader(Protocol):
    """What the stock handlers need of the catalogue."""

    async def get_many(self, codes: Collection[str]) -> dict[str, CatalogueItem]:
        """The catalogue items with these codes; codes not in the catalogue are absent."""


class CatalogueRepository(CatalogueReader, Protocol):
    """The catalogue as the catalogue handlers and routes use it (also a CatalogueReader)."""

    async def get(self, code: str) -> CatalogueItem:
        """The item, or UnknownItem."""

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[CatalogueItem, RememberedRequest | None]:
        """The item (or UnknownItem) with the request it remembers for `key`."""

    async def add(
        self,
        item: CatalogueItem,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        """Store a new item, its events and the request that created it atomically, or raise
        DuplicateItem (its code, or the request, is taken)."""

    async def created_by(self, token: str) -> RememberedRequest | None:
        """The request (by its key's token) that created an item, if one did."""

    async def save(
        self,
        item: CatalogueItem,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        """Store the changed item, its events and the request that changed it atomically if it
        is still at `expected_sequence` and does not remember that request yet, or raise
        ConcurrentChange."""

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

    async def load_remembered(
        self, warehouse: str, parts: StockParts, tokens: Collection[str]
    ) -> tuple[WarehouseStock, dict[str, RememberedRequest]]:
        """The stock as `load` gives it, and the requests it remembers among `tokens`."""

    async def save(
        self,
        stock: WarehouseStock,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        journal: Sequence[dict[str, object]],
        remembered: Sequence[RememberedRequest] = (),
    ) -> None:
        """Store the changed entries, the events, the ledger rows and the requests to remember
        in one atomic update if the stock is still at `expected_sequence` and remembers none of
        those requests yet, or raise ConcurrentChange. A change the store cannot hold raises
        Unstorable."""


class Ledger(Protocol):
    """The stock card: every movement line, with the running balance, never edited."""

    async def movement(self, warehouse: str, movement_id: str) -> Movement | None:
        """A recorded movement (for reversals and replays), as soon as its write is stored."""

    async def card(
        self, warehouse: str, item: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, object]], int]:
        """Ledger rows of one item in one warehouse, oldest first, and their total."""


class CountRepository(Protocol):
    """Physical counts, one stored document each (see domain.counts for their life)."""

    async def add(self, count: Count, request: RememberedRequest | None = None) -> None:
        """Store a new count with the request that started it, or raise ConcurrentChange when
        that request started one meanwhile."""

    async def created_by(self, token: str) -> tuple[Count, RememberedRequest] | None:
        """The count the request with this key token started, if any."""

    async def get(
        self, warehouse: str, count_id: str, key: RequestKey | None = None
    ) -> tuple[Count | None, RememberedRequest | None]:
        """The count (None if not there) with the request it remembers for `key`."""

    async def replace_lines(
        self,
        warehouse: str,
        count_id: str,
        lines: list[CountedLine],
        now: datetime,
        request: RememberedRequest | None = None,
    ) -> Count | None:
        """The draft with its new lines, `request` remembered with them; None when it is not
        a draft or already remembers `request`."""

    async def claim(self, warehouse: str, count_id: str, now: datetime) -> Count | None:
        """Freeze a draft (or a count left `submitting`) for its submission; None when it is
        not there or already submitted."""

    async def release_claim(self, warehouse: str, count_id: str) -> None:
        """Make a count whose submission changed nothing a draft again."""

    async def mark_submitted(
        self,
        warehouse: str,
        count_id: str,
        movement_id: str | None,
        lines: tuple[CountedLine, ...],
        user: str,
        now: datetime,
    ) -> Count:
        """Record the applied submission; the count as submitted."""
