"""One warehouse's stock in MongoDB: one document with its outbox and its journal.

The document holds the balances (per item, with lots), the reservations, the transfers on their
way in and the document numbers already used. A save writes only the entries that changed, the
new sequence, the outgoing events (outbox) and the new ledger rows (journal), in one
conditional update on the sequence it loaded. The journal writer then moves the rows into the
append-only `ledger` collection (the stock card), the way the relay moves events to Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from bson.errors import InvalidDocument
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.outbox import with_outbox
from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    with_remembered,
)
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, WriteError

from kitflow_stock.domain.errors import ConcurrentChange, Unstorable
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    IncomingTransfer,
    ItemBalance,
    LotBalance,
    Movement,
    MovementLine,
    MovementType,
    Reservation,
    ReservationMode,
    ReservationStatus,
    WarehouseStock,
)
from kitflow_stock.handlers.ports import ALL_PARTS, StockParts

STOCK = "stock"
LEDGER = "ledger"
JOURNAL_FIELD = "journal"
INDEXES = [
    IndexSpec(
        LEDGER, [("warehouse", 1), ("item", 1), ("sequence", 1), ("line", 1)], name="stock_card"
    ),
    IndexSpec(LEDGER, [("warehouse", 1), ("movement_id", 1)], name="by_movement"),
]

Document = dict[str, Any]
# The relay's Notify (kitflow_shared.messaging.outbox) with one more argument: whether the
# document has journal rows to move too.
NotifyWithJournal = Callable[[str, Any, bool], None]
log = logging.getLogger(__name__)


@contextmanager
def storable() -> Iterator[None]:
    """The driver's and the store's refusals of what a command asked to store, as Unstorable:
    a value beyond BSON (an integer past int64, a NUL in a field name), a document too large.
    A duplicate key is not one of them: it means another writer got there first."""
    try:
        yield
    except DuplicateKeyError:
        raise
    except (InvalidDocument, OverflowError, DocumentTooLarge, WriteError) as exc:
        raise Unstorable(f"the change cannot be stored: {exc}") from exc


def encode_key(key: str) -> str:
    """Document numbers become field names: dots and dollars are not allowed there."""
    return key.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def decode_key(key: str) -> str:
    return key.replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _lot_doc(lot: LotBalance) -> Document:
    return {
        "lot": lot.lot,
        "expiry": lot.expiry.isoformat() if lot.expiry else None,
        "owner": lot.owner,
        "on_hand": lot.on_hand,
        "near_expiry_signalled": lot.near_expiry_signalled,
    }


def _item_doc(b: ItemBalance) -> Document:
    return {
        "lots": [_lot_doc(lot) for lot in b.lots],
        "reserved": b.reserved,
        "in_transit": b.in_transit,
        "minimum": b.minimum,
        "low_signalled": b.low_signalled,
    }


def _item(code: str, doc: Document) -> ItemBalance:
    return ItemBalance(
        item=code,
        lots=[
            LotBalance(
                x["lot"],
                _date(x["expiry"]),
                x["owner"],
                x["on_hand"],
                x.get("near_expiry_signalled", False),
            )
            for x in doc["lots"]
        ],
        reserved=doc["reserved"],
        in_transit=doc["in_transit"],
        minimum=doc["minimum"],
        low_signalled=doc["low_signalled"],
    )


def _reservation_doc(r: Reservation) -> Document:
    return {
        "plan_id": r.plan_id,
        "item": r.item,
        "requested": r.requested,
        "quantity": r.quantity,
        "status": r.status.value,
        "expires_at": r.expires_at,
        "mode": r.mode.value,
    }


def _reservation(line_id: str, doc: Document) -> Reservation:
    return Reservation(
        line_id,
        doc["plan_id"],
        doc["item"],
        doc["requested"],
        doc["quantity"],
        ReservationStatus(doc["status"]),
        doc["expires_at"],
        ReservationMode(doc["mode"]),
    )


def _line_doc(line: MovementLine) -> Document:
    return {
        "item": line.item,
        "quantity": line.quantity,
        "lot": line.lot,
        "expiry": line.expiry.isoformat() if line.expiry else None,
        "owner": line.owner,
    }


def _incoming_doc(t: IncomingTransfer) -> Document:
    return {
        "from_warehouse": t.from_warehouse,
        "sent_at": t.sent_at,
        "lines": [_line_doc(line) for line in t.lines],
    }


def _incoming(transfer_id: str, doc: Document) -> IncomingTransfer:
    return IncomingTransfer(
        transfer_id,
        doc["from_warehouse"],
        tuple(
            MovementLine(x["item"], x["quantity"], x["lot"], _date(x["expiry"]), x["owner"])
            for x in doc["lines"]
        ),
        doc["sent_at"],
    )


class MongoWarehouseStockRepository:
    def __init__(self, collection: AsyncCollection[Document], notify: NotifyWithJournal) -> None:
        self._collection = collection
        self._notify = notify

    async def load(self, warehouse: str, parts: StockParts = ALL_PARTS) -> WarehouseStock:
        stock, _ = await self.load_remembered(warehouse, parts, ())
        return stock

    async def load_remembered(
        self, warehouse: str, parts: StockParts, tokens: Collection[str]
    ) -> tuple[WarehouseStock, dict[str, RememberedRequest]]:
        projection: Document = {"owner": 1, "sequence": 1, "items": 1, "incoming": 1}
        if parts.reservations is None:
            projection["reservations"] = 1
        else:
            projection.update({f"reservations.{encode_key(k)}": 1 for k in parts.reservations})
        if parts.documents is None:
            projection["documents"] = 1
        else:
            projection.update({f"documents.{encode_key(k)}": 1 for k in parts.documents})
        # One key (the usual case) is looked up in the same read; several, in a second one
        # (a find projection cannot pick several array elements on every store).
        if len(tokens) == 1:
            [token] = tokens
            projection[REQUESTS_FIELD] = {"$elemMatch": {"token": token}}
        with storable():
            doc = await self._collection.find_one({"_id": warehouse}, projection)
            if len(tokens) > 1:
                entries = await self._remembered(warehouse, tokens)
            else:
                found = (doc or {}).get(REQUESTS_FIELD, [])
                entries = [RememberedRequest.from_document(entry) for entry in found]
        remembered = {entry.token: entry for entry in entries if entry.token in tokens}
        return self._stock(warehouse, doc), remembered

    async def _remembered(self, warehouse: str, tokens: Collection[str]) -> list[RememberedRequest]:
        cursor = await self._collection.aggregate(
            [
                {"$match": {"_id": warehouse}},
                {
                    "$project": {
                        REQUESTS_FIELD: {
                            "$filter": {
                                "input": f"${REQUESTS_FIELD}",
                                "as": "request",
                                "cond": {"$in": ["$$request.token", sorted(tokens)]},
                            }
                        }
                    }
                },
            ]
        )
        return [
            RememberedRequest.from_document(entry)
            async for doc in cursor
            for entry in doc.get(REQUESTS_FIELD) or []
        ]

    @staticmethod
    def _stock(warehouse: str, doc: Document | None) -> WarehouseStock:
        if doc is None:
            return WarehouseStock(warehouse)
        return WarehouseStock(
            warehouse=warehouse,
            owner=doc.get("owner", ""),
            items={code: _item(code, x) for code, x in doc.get("items", {}).items()},
            reservations={
                decode_key(k): _reservation(decode_key(k), x)
                for k, x in doc.get("reservations", {}).items()
            },
            incoming={k: _incoming(k, x) for k, x in doc.get("incoming", {}).items()},
            documents={decode_key(k): v for k, v in doc.get("documents", {}).items()},
            sequence=doc["sequence"],
        )

    async def save(
        self,
        stock: WarehouseStock,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        journal: Sequence[dict[str, object]],
        remembered: Sequence[RememberedRequest] = (),
    ) -> None:
        set_: Document = {"sequence": stock.sequence, "owner": stock.owner}
        unset: Document = {}
        for item in stock.changed_items:
            set_[f"items.{item}"] = _item_doc(stock.items[item])
        for section, key in stock.changed_entries:
            path = f"{section}.{encode_key(key)}"
            if section == "reservations":
                set_[path] = _reservation_doc(stock.reservations[key])
            elif section == "documents":
                set_[path] = stock.documents[key]
            elif key in stock.incoming:
                set_[path] = _incoming_doc(stock.incoming[key])
            else:
                unset[path] = ""
        update: Document = {"$set": set_}
        if unset:
            update["$unset"] = unset
        if journal:
            update["$push"] = {JOURNAL_FIELD: {"$each": list(journal)}}
        query: Document = {"_id": stock.warehouse, "sequence": expected_sequence}
        if remembered:
            # Not every change moves the sequence: the key itself must not be remembered yet.
            query[f"{REQUESTS_FIELD}.token"] = {"$nin": [entry.token for entry in remembered]}
        try:
            with storable():
                result = await self._collection.update_one(
                    query,
                    with_outbox(with_remembered(update, remembered), events),
                    upsert=expected_sequence == 0,
                )
        except DuplicateKeyError:
            raise ConcurrentChange(f"the stock of {stock.warehouse} changed meanwhile") from None
        if result.matched_count == 0 and result.upserted_id is None:
            raise ConcurrentChange(f"the stock of {stock.warehouse} changed meanwhile")
        stock.changed_items.clear()
        stock.changed_entries.clear()
        if events or journal:
            self._notify(STOCK, stock.warehouse, bool(journal))

    async def all_warehouses(self) -> list[str]:
        return [doc["_id"] async for doc in self._collection.find({}, {"_id": 1})]


def _movement_line(row: Document) -> MovementLine:
    return MovementLine(
        row["item"],
        row["quantity"],
        row["lot"],
        _date(row["expiry"]),
        row["owner"],
        row["on_hand_after"],
        row["damaged"],
        row["missing"],
    )


def _movement(movement_id: str, rows: list[Document]) -> Movement:
    first = rows[0]
    return Movement(
        id=movement_id,
        type=MovementType(first["kind"]),
        lines=tuple(_movement_line(row) for row in rows),
        occurred_at=first["occurred_at"],
        recorded_by=first["recorded_by"],
        document_number=first["document_number"],
        counterparty=first["counterparty"],
        reason=AdjustmentReason(first["reason"]) if first["reason"] else None,
        note=first["note"],
        transfer_id=first["transfer_id"],
        reverses=first["reverses"],
        plan_line_id=first["plan_line_id"],
    )


class MongoLedger:
    """The stock card, read from the append-only `ledger` collection.

    A movement's rows reach the ledger one journal round after its write; until then they are
    in the stock document's journal. The journal writer inserts them into the ledger before it
    removes them from the journal, so a movement missing from both places at one moment is in
    the ledger at the next."""

    def __init__(
        self, collection: AsyncCollection[Document], stock: AsyncCollection[Document]
    ) -> None:
        self._collection = collection
        self._stock = stock

    async def movement(self, warehouse: str, movement_id: str) -> Movement | None:
        rows = await self._rows(warehouse, movement_id)
        if not rows:
            rows = await self._journal_rows(warehouse, movement_id)
        if not rows:
            rows = await self._rows(warehouse, movement_id)
        return _movement(movement_id, rows) if rows else None

    async def _rows(self, warehouse: str, movement_id: str) -> list[Document]:
        return (
            await self._collection.find({"warehouse": warehouse, "movement_id": movement_id})
            .sort("line", 1)
            .to_list(None)
        )

    async def _journal_rows(self, warehouse: str, movement_id: str) -> list[Document]:
        cursor = await self._stock.aggregate(
            [
                {"$match": {"_id": warehouse}},
                {
                    "$project": {
                        JOURNAL_FIELD: {
                            "$filter": {
                                "input": f"${JOURNAL_FIELD}",
                                "as": "row",
                                "cond": {"$eq": ["$$row.movement_id", movement_id]},
                            }
                        }
                    }
                },
            ]
        )
        rows = [row async for doc in cursor for row in doc.get(JOURNAL_FIELD) or []]
        return sorted(rows, key=lambda row: row["line"])

    async def card(
        self, warehouse: str, item: str, *, limit: int, offset: int
    ) -> tuple[list[dict[str, object]], int]:
        query = {"warehouse": warehouse, "item": item}
        total = await self._collection.count_documents(query)
        rows = (
            await self._collection.find(query, {"_id": 0})
            .sort([("sequence", 1), ("line", 1)])
            .skip(offset)
            .limit(limit)
            .to_list(None)
        )
        return rows, total


class JournalWriter:
    """Moves journal rows from stock documents into the ledger: on a kick after each save, and
    by a sweep for what a crash left behind. Rows are inserted by id, so a repeat is harmless."""

    def __init__(
        self,
        stock: AsyncCollection[Document],
        ledger: AsyncCollection[Document],
        sweep_interval_s: float = 2.0,
    ) -> None:
        self._stock = stock
        self._ledger = ledger
        self._sweep_interval_s = sweep_interval_s
        self._kicks: asyncio.Queue[str] = asyncio.Queue()

    def notify(self, _collection: str, warehouse: Any) -> None:
        self._kicks.put_nowait(str(warehouse))

    async def run(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._kicks.get(), self._sweep_interval_s)
            except TimeoutError:
                first = None
            try:
                if first is None:
                    await self.write_pending(None)
                else:
                    ids = {first}
                    while not self._kicks.empty():
                        ids.add(self._kicks.get_nowait())
                    await self.write_pending(sorted(ids))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("journal writer round failed; the sweep will retry")
                await asyncio.sleep(1)

    async def write_pending(self, warehouses: list[str] | None) -> int:
        query: Document = {f"{JOURNAL_FIELD}.0": {"$exists": True}}
        if warehouses is not None:
            query["_id"] = {"$in": warehouses}
        written = 0
        async for doc in self._stock.find(query, {JOURNAL_FIELD: 1}):
            rows = doc[JOURNAL_FIELD]
            try:
                await self._ledger.insert_many(rows, ordered=False)
            except BulkWriteError as exc:
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                    raise
            await self._stock.update_one(
                {"_id": doc["_id"]},
                {"$pull": {JOURNAL_FIELD: {"_id": {"$in": [row["_id"] for row in rows]}}}},
            )
            written += len(rows)
        return written
