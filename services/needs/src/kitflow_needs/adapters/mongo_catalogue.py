"""The read model of stock's catalogue in needs' own database: one document per item or kit,
written only by the consumer of stock's item events (never from stock's database)."""

from __future__ import annotations

from typing import Any

from kitflow_shared.messaging.idempotency import SEQUENCE_FIELD, Applied, apply_if_newer
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_needs.domain.catalogue import CatalogueItem, ItemKind

COLLECTION = "catalogue_view"
INDEXES: list[IndexSpec] = []

Document = dict[str, Any]


class MongoCatalogueRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def apply(self, item: CatalogueItem) -> bool:
        # The guard (stored sequence older) and the effect are one conditional update.
        outcome = await apply_if_newer(
            self._collection,
            item.code,
            item.sequence,
            {"$set": {"name": item.name, "unit": item.unit, "kind": item.kind.value}},
        )
        return outcome is Applied.APPLIED

    async def all(self) -> list[CatalogueItem]:
        return [
            CatalogueItem(
                code=doc["_id"],
                name=doc["name"],
                unit=doc["unit"],
                kind=ItemKind(doc["kind"]),
                sequence=doc[SEQUENCE_FIELD],
            )
            async for doc in self._collection.find({})
        ]
