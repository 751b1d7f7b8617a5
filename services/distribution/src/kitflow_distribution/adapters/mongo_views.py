"""Distribution's read models in MongoDB, each built only from other services' events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kitflow_shared.contracts.needs import NeedState
from kitflow_shared.contracts.stock import BalanceState, WarehouseState
from kitflow_shared.messaging.idempotency import (
    SEQUENCE_FIELD,
    Applied,
    Newer,
    apply_if_newer,
    apply_many_if_newer,
)
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection

WAREHOUSES = "warehouse_view"
STOCK = "stock_view"
NEEDS = "needs_view"
VIEWS = (WAREHOUSES, STOCK, NEEDS)
INDEXES: list[IndexSpec] = [
    IndexSpec(NEEDS, [("state.status", 1)], name="by_status"),
]

Document = dict[str, Any]


class MongoWarehouseView:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        return await apply_if_newer(self._collection, state.code, sequence, self._update(state))

    async def apply_many(self, changes: Sequence[tuple[WarehouseState, int]]) -> list[Applied]:
        writes = [Newer(state.code, sequence, self._update(state)) for state, sequence in changes]
        return await apply_many_if_newer(self._collection, writes)

    @staticmethod
    def _update(state: WarehouseState) -> Document:
        # `events_applied` counts the changes this document was built from: operators compare
        # it with `sequence` to see that no version was skipped or applied twice.
        return {"$set": {"state": state.model_dump(mode="json")}, "$inc": {"events_applied": 1}}

    async def all(self) -> list[tuple[WarehouseState, int]]:
        docs = self._collection.find({}).sort("_id", 1)
        return [
            (WarehouseState.model_validate(doc["state"]), doc[SEQUENCE_FIELD]) async for doc in docs
        ]


class MongoStockView:
    """One document per warehouse and item; the stock aggregate's sequence guards it (one
    warehouse's events are in order on one partition, and carry that warehouse's version)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def apply(self, warehouse: str, balance: BalanceState, sequence: int) -> Applied:
        return await apply_if_newer(
            self._collection,
            f"{warehouse}/{balance.item_code}",
            sequence,
            {"$set": {"warehouse": warehouse, "balance": balance.model_dump(mode="json")}},
        )

    async def all(self) -> list[tuple[str, BalanceState]]:
        docs = self._collection.find({}).sort("_id", 1)
        return [
            (doc["warehouse"], BalanceState.model_validate(doc["balance"])) async for doc in docs
        ]


class MongoNeedsView:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def apply(self, state: NeedState, sequence: int, at: datetime | None = None) -> Applied:
        return await apply_if_newer(
            self._collection, state.need_id, sequence, self._update(state, at)
        )

    async def apply_many(
        self, changes: Sequence[tuple[NeedState, int, datetime | None]]
    ) -> list[Applied]:
        writes = [Newer(s.need_id, seq, self._update(s, at)) for s, seq, at in changes]
        return await apply_many_if_newer(self._collection, writes)

    @staticmethod
    def _update(state: NeedState, at: datetime | None) -> Document:
        # `changed_at`: since when a need has been as it is (how long it has waited).
        fields: Document = {"state": state.model_dump(mode="json")}
        if at is not None:
            fields["changed_at"] = at
        return {"$set": fields}

    async def get(self, need_id: str) -> NeedState | None:
        doc = await self._collection.find_one({"_id": need_id})
        return NeedState.model_validate(doc["state"]) if doc else None

    async def all(self) -> list[NeedState]:
        docs = self._collection.find({}).sort("_id", 1)
        return [NeedState.model_validate(doc["state"]) async for doc in docs]

    async def ids_of(self, organisation: str) -> list[str]:
        docs = self._collection.find({"state.organisation": organisation}, {"_id": 1})
        return [doc["_id"] async for doc in docs]
