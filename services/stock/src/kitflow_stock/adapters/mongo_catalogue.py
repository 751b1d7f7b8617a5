"""The catalogue in MongoDB: one document per item or kit, its outbox inside it."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
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

from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    DuplicateItem,
    ItemCategory,
    ItemDetails,
    KitComponent,
    item_search_key,
    search_key,
)
from kitflow_stock.domain.errors import ConcurrentChange, UnknownItem

COLLECTION = "catalogue"
INDEXES = [
    IndexSpec(COLLECTION, [("category", 1), ("_id", 1)], name="by_category"),
    IndexSpec(COLLECTION, [("is_kit", 1), ("_id", 1)], name="by_kind"),
    # "Which kits contain this item?": the kit rules ask it, and so can the API.
    IndexSpec(COLLECTION, [("components.item_code", 1)], name="by_component"),
    request_token_index(COLLECTION),
]

Document = dict[str, Any]
# What an item is (not its outbox, nor the requests it remembers).
_FIELDS = dict.fromkeys(
    (
        "name_en",
        "name_fr",
        "category",
        "unit",
        "pack_size",
        "weight_kg",
        "volume_m3",
        "components",
        "is_kit",
        "search",
        "sequence",
    ),
    1,
)


def _to_document(item: CatalogueItem) -> Document:
    d = item.details
    return {
        "name_en": d.name_en,
        "name_fr": d.name_fr,
        "category": d.category.value,
        "unit": d.unit,
        "pack_size": d.pack_size,
        "weight_kg": d.weight_kg,
        "volume_m3": d.volume_m3,
        "components": [{"item_code": c.item_code, "quantity": c.quantity} for c in d.components],
        # Derived, for the filters: kits or plain items, and text search without accents.
        "is_kit": d.is_kit,
        "search": item_search_key(item),
        "sequence": item.sequence,
    }


def _from_document(doc: Document) -> CatalogueItem:
    return CatalogueItem(
        code=doc["_id"],
        details=ItemDetails(
            name_en=doc["name_en"],
            name_fr=doc["name_fr"],
            category=ItemCategory(doc["category"]),
            unit=doc["unit"],
            pack_size=doc.get("pack_size", 1),
            weight_kg=doc.get("weight_kg"),
            volume_m3=doc.get("volume_m3"),
            components=tuple(
                KitComponent(c["item_code"], c["quantity"]) for c in doc.get("components", [])
            ),
        ),
        sequence=doc["sequence"],
    )


class MongoCatalogueRepository:
    def __init__(self, collection: AsyncCollection[Document], notify: Notify) -> None:
        self._collection = collection
        self._documents = OutboxedDocuments(collection, notify, read=_FIELDS)

    async def get(self, code: str) -> CatalogueItem:
        doc = await self._documents.get(code)
        if doc is None:
            raise UnknownItem(code)
        return _from_document(doc)

    async def get_many(self, codes: Collection[str]) -> dict[str, CatalogueItem]:
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        cursor = self._collection.find({"_id": {"$in": wanted}}, _FIELDS)
        return {doc["_id"]: _from_document(doc) async for doc in cursor}

    async def load(
        self, code: str, key: RequestKey | None
    ) -> tuple[CatalogueItem, RememberedRequest | None]:
        doc, remembered = await self._documents.load(code, key)
        if doc is None:
            raise UnknownItem(code)
        return _from_document(doc), remembered

    async def add(
        self,
        item: CatalogueItem,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        try:
            await self._documents.add(item.code, _to_document(item), events, created_by(request))
        except DuplicateKeyError:
            raise DuplicateItem(item.code) from None

    async def created_by(self, token: str) -> RememberedRequest | None:
        doc = await self._documents.created_by(token)
        return None if doc is None else creating_request(token, doc)

    async def save(
        self,
        item: CatalogueItem,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> None:
        if not await self._documents.save(
            item.code, expected_sequence, _to_document(item), events, request
        ):
            raise ConcurrentChange(f"item {item.code} changed meanwhile")

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
        query: Document = {}
        if category:
            query["category"] = category
        if is_kit is not None:
            query["is_kit"] = is_kit
        if text and text.strip():
            # A literal substring of the normalised code and names, never a user-given regex.
            query["search"] = {"$regex": re.escape(search_key(text.strip()))}
        if component:
            query["components.item_code"] = component
        total = await self._collection.count_documents(query)
        cursor = self._collection.find(query, _FIELDS).sort("_id", 1).skip(offset).limit(limit)
        return Page(items=[_from_document(doc) async for doc in cursor], total=total)
