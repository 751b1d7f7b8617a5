"""Physical counts in MongoDB: a draft the warehouse team fills in, then submits.

A draft changes no stock, so it is a plain document; submitting it applies the differences as
one count-correction movement through the stock writer. Submitting twice is harmless: once the
stock equals the counted figures, there is no difference left to apply.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kitflow_shared.store import IndexSpec
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_stock.domain.errors import Conflict
from kitflow_stock.domain.stock import CountedLine

COUNTS = "counts"
INDEXES = [IndexSpec(COUNTS, [("warehouse", 1), ("created_at", -1)], name="by_warehouse")]

Document = dict[str, Any]


def _line_doc(line: CountedLine) -> Document:
    return {
        "item": line.item,
        "lot": line.lot,
        "owner": line.owner,
        "counted": line.counted,
        "expiry": line.expiry.isoformat() if line.expiry else None,
    }


def counted_lines(doc: Document) -> list[CountedLine]:
    return [
        CountedLine(
            x["item"],
            x["lot"],
            x["owner"],
            x["counted"],
            date.fromisoformat(x["expiry"]) if x["expiry"] else None,
        )
        for x in doc["lines"]
    ]


class MongoCounts:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def create(
        self, count_id: str, warehouse: str, lines: list[CountedLine], user: str, now: datetime
    ) -> Document:
        doc = {
            "_id": count_id,
            "warehouse": warehouse,
            "status": "draft",
            "lines": [_line_doc(line) for line in lines],
            "created_by": user,
            "created_at": now,
            "updated_at": now,
            "movement_id": None,
        }
        await self._collection.insert_one(doc)
        return doc

    async def get(self, warehouse: str, count_id: str) -> Document | None:
        return await self._collection.find_one({"_id": count_id, "warehouse": warehouse})

    async def replace_lines(
        self, warehouse: str, count_id: str, lines: list[CountedLine], now: datetime
    ) -> Document:
        doc = await self._collection.find_one_and_update(
            {"_id": count_id, "warehouse": warehouse, "status": "draft"},
            {"$set": {"lines": [_line_doc(line) for line in lines], "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise Conflict(f"count {count_id} is not a draft of {warehouse}")
        return doc

    async def mark_submitted(
        self, warehouse: str, count_id: str, movement_id: str | None, user: str, now: datetime
    ) -> Document:
        doc = await self._collection.find_one_and_update(
            {"_id": count_id, "warehouse": warehouse},
            {
                "$set": {
                    "status": "submitted",
                    "movement_id": movement_id,
                    "submitted_by": user,
                    "submitted_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise Conflict(f"no count {count_id} in {warehouse}")
        return doc
