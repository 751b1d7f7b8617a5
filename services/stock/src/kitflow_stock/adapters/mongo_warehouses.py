"""Warehouses in MongoDB: one document per warehouse, its outbox inside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.outbox import Notify
from kitflow_shared.outboxed import (
    OutboxedDocuments,
    created_by,
    creating_request,
    request_token_index,
)
from kitflow_shared.request_keys import RememberedRequest, RequestKey
from kitflow_shared.store import IndexSpec
from kitflow_shared.web.paging import Page
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_stock.domain.errors import ConcurrentChange, DuplicateWarehouse, UnknownWarehouse
from kitflow_stock.domain.warehouses import (
    Coordinates,
    Warehouse,
    WarehouseDetails,
    WarehouseKind,
)

COLLECTION = "warehouses"
INDEXES = [
    IndexSpec(COLLECTION, [("organisation", 1), ("_id", 1)], name="by_organisation"),
    IndexSpec(COLLECTION, [("admin1_pcode", 1), ("_id", 1)], name="by_admin1"),
    request_token_index(COLLECTION),
]

Document = dict[str, Any]
# What a warehouse is (not its outbox, nor the requests it remembers).
_FIELDS = dict.fromkeys(
    (
        "name",
        "organisation",
        "kind",
        "admin1_pcode",
        "admin2_pcode",
        "coordinates",
        "capacity_m3",
        "active",
        "sequence",
    ),
    1,
)


def _to_document(w: Warehouse) -> Document:
    d = w.details
    return {
        "name": d.name,
        "organisation": d.organisation,
        "kind": d.kind.value,
        "admin1_pcode": d.admin1_pcode,
        "admin2_pcode": d.admin2_pcode,
        "coordinates": (
            {"lat": d.coordinates.lat, "lon": d.coordinates.lon} if d.coordinates else None
        ),
        "capacity_m3": d.capacity_m3,
        "active": d.active,
        "sequence": w.sequence,
    }


def _from_document(doc: Document) -> Warehouse:
    coords = doc.get("coordinates")
    return Warehouse(
        code=doc["_id"],
        details=WarehouseDetails(
            name=doc["name"],
            organisation=doc["organisation"],
            kind=WarehouseKind(doc["kind"]),
            admin1_pcode=doc["admin1_pcode"],
            admin2_pcode=doc["admin2_pcode"],
            coordinates=Coordinates(coords["lat"], coords["lon"]) if coords else None,
            capacity_m3=doc.get("capacity_m3"),
            active=doc.get("active", True),
        ),
        sequence=doc["sequence"],
    )


class MongoWarehouseRepository:
    def __init__(self, collection: AsyncCollection[Document], notify: Notify) -> None:
        self._collection = collection
        self._documents = OutboxedDocuments(collection, notify, read=_FIELDS)

    async def get(self, code: str) -> Warehouse:
        doc = await self._documents.get(code)
        if doc is None:
            raise UnknownWarehouse(code)
        return _from_document(doc)

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[Warehouse, RememberedRequest | None]:
        doc, remembered = await self._documents.load(code, key)
        if doc is None:
            raise UnknownWarehouse(code)
        return _from_document(doc), remembered

    async def add(
        self,
        warehouse: Warehouse,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        try:
            await self._documents.add(
                warehouse.code, _to_document(warehouse), events, created_by(request)
            )
        except DuplicateKeyError:
            raise DuplicateWarehouse(warehouse.code) from None

    async def created_by(self, token: str) -> RememberedRequest | None:
        doc = await self._documents.created_by(token)
        return None if doc is None else creating_request(token, doc)

    async def save(
        self,
        warehouse: Warehouse,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        changes = _to_document(warehouse)
        if not await self._documents.save(
            warehouse.code, expected_sequence, changes, events, request
        ):
            raise ConcurrentChange(f"warehouse {warehouse.code} changed meanwhile")

    async def list(
        self, *, organisation: str | None, admin1_pcode: str | None, limit: int, offset: int
    ) -> Page[Warehouse]:
        query: Document = {}
        if organisation:
            query["organisation"] = organisation
        if admin1_pcode:
            query["admin1_pcode"] = admin1_pcode
        total = await self._collection.count_documents(query)
        cursor = self._collection.find(query, _FIELDS).sort("_id", 1).skip(offset).limit(limit)
        return Page(items=[_from_document(doc) async for doc in cursor], total=total)
