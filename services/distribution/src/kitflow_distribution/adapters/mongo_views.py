"""Distribution's read models in MongoDB."""

from __future__ import annotations

from typing import Any

from kitflow_shared.contracts.stock import WarehouseState
from kitflow_shared.messaging.idempotency import SEQUENCE_FIELD, Applied, apply_if_newer
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection

WAREHOUSES = "warehouse_view"
INDEXES: list[IndexSpec] = []

Document = dict[str, Any]


class MongoWarehouseView:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        # `events_applied` counts the changes this document was built from: operators compare
        # it with `sequence` to see that no version was skipped or applied twice.
        return await apply_if_newer(
            self._collection,
            state.code,
            sequence,
            {"$set": {"state": state.model_dump(mode="json")}, "$inc": {"events_applied": 1}},
        )

    async def all(self) -> list[tuple[WarehouseState, int]]:
        docs = self._collection.find({}).sort("_id", 1)
        return [
            (WarehouseState.model_validate(doc["state"]), doc[SEQUENCE_FIELD]) async for doc in docs
        ]
