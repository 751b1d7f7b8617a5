"""Warehouses in MongoDB: one document per warehouse, its outbox inside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.outbox import OUTBOX_FIELD, with_outbox
from kitflow_shared.request_keys import (
    RememberedRequest,
    RequestKey,
    remembered_in,
    requests_projection,
    with_remembered,
)
from kitflow_shared.store import IndexSpec
from kitflow_shared.web.paging import Page
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_stock.adapters.request_keys import (
    CREATING_REQUEST_FIELDS,
    REQUEST_TOKEN,
    created_by,
    creating_request,
    request_token_index,
    unless_remembered,
)
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
Notify = Callable[[str, Any], None]
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
        self._notify = notify

    async def get(self, code: str) -> Warehouse:
        doc = await self._collection.find_one({"_id": code}, _FIELDS)
        if doc is None:
            raise UnknownWarehouse(code)
        return _from_document(doc)

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[Warehouse, RememberedRequest | None]:
        projection = {**_FIELDS, **requests_projection(key)}
        doc = await self._collection.find_one({"_id": code}, projection)
        if doc is None:
            raise UnknownWarehouse(code)
        return _from_document(doc), remembered_in(doc, key)

    async def add(
        self,
        warehouse: Warehouse,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        doc = {
            "_id": warehouse.code,
            **_to_document(warehouse),
            **created_by(request),
            OUTBOX_FIELD: [e.to_document() for e in events],
        }
        try:
            await self._collection.insert_one(doc)
        except DuplicateKeyError:
            raise DuplicateWarehouse(warehouse.code) from None
        self._notify(COLLECTION, warehouse.code)

    async def created_by(self, token: str) -> RememberedRequest | None:
        doc = await self._collection.find_one({REQUEST_TOKEN: token}, CREATING_REQUEST_FIELDS)
        return None if doc is None else creating_request(token, doc)

    async def save(
        self,
        warehouse: Warehouse,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        query = unless_remembered({"_id": warehouse.code, "sequence": expected_sequence}, request)
        update = with_remembered({"$set": _to_document(warehouse)}, [request] if request else [])
        result = await self._collection.update_one(query, with_outbox(update, events))
        if result.matched_count == 0:
            raise ConcurrentChange(f"warehouse {warehouse.code} changed meanwhile")
        self._notify(COLLECTION, warehouse.code)

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
