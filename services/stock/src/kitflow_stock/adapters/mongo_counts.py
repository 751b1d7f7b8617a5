"""Physical counts in MongoDB: one document per count, its remembered requests inside it.

The status moves draft -> submitting -> submitted by conditional updates; what makes a
submission apply once is the count's marker in the warehouse's stock (see domain.counts).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from kitflow_shared.outboxed import (
    CREATING_REQUEST_FIELDS,
    REQUEST_TOKEN,
    created_by,
    creating_request,
    request_token_index,
    unless_remembered,
)
from kitflow_shared.request_keys import (
    RememberedRequest,
    RequestKey,
    remembered_in,
    requests_projection,
    with_remembered,
)
from kitflow_shared.store import IndexSpec
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_stock.domain.counts import Count, CountStatus
from kitflow_stock.domain.errors import ConcurrentChange
from kitflow_stock.domain.stock import CountedLine

COUNTS = "counts"
INDEXES = [
    IndexSpec(COUNTS, [("warehouse", 1), ("created_at", -1)], name="by_warehouse"),
    request_token_index(COUNTS),
]

Document = dict[str, Any]
# What a count is; its remembered requests are read only for the request key at hand.
_FIELDS = dict.fromkeys(
    ("warehouse", "status", "lines", "created_by", "created_at", "movement_id"), 1
)


def _line_doc(line: CountedLine) -> Document:
    return {
        "item": line.item,
        "lot": line.lot,
        "owner": line.owner,
        "counted": line.counted,
        "expiry": line.expiry.isoformat() if line.expiry else None,
    }


def _line(doc: Document) -> CountedLine:
    expiry = date.fromisoformat(doc["expiry"]) if doc["expiry"] else None
    return CountedLine(doc["item"], doc["lot"], doc["owner"], doc["counted"], expiry)


def _count(doc: Document) -> Count:
    return Count(
        count_id=doc["_id"],
        warehouse=doc["warehouse"],
        status=CountStatus(doc["status"]),
        lines=tuple(_line(x) for x in doc["lines"]),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        movement_id=doc.get("movement_id"),
    )


class MongoCounts:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def add(self, count: Count, request: RememberedRequest | None = None) -> None:
        doc: Document = {
            "_id": count.count_id,
            "warehouse": count.warehouse,
            "status": count.status.value,
            "lines": [_line_doc(line) for line in count.lines],
            "created_by": count.created_by,
            "created_at": count.created_at,
            "updated_at": count.created_at,
            "movement_id": count.movement_id,
        }
        doc.update(created_by(request))
        try:
            await self._collection.insert_one(doc)
        except DuplicateKeyError:
            raise ConcurrentChange("a count was started by this request meanwhile") from None

    async def created_by(self, token: str) -> tuple[Count, RememberedRequest] | None:
        doc = await self._collection.find_one(
            {REQUEST_TOKEN: token}, {**_FIELDS, **CREATING_REQUEST_FIELDS}
        )
        return None if doc is None else (_count(doc), creating_request(token, doc))

    async def get(
        self, warehouse: str, count_id: str, key: RequestKey | None = None
    ) -> tuple[Count | None, RememberedRequest | None]:
        doc = await self._collection.find_one(
            {"_id": count_id, "warehouse": warehouse}, {**_FIELDS, **requests_projection(key)}
        )
        if doc is None:
            return None, None
        return _count(doc), remembered_in(doc, key)

    async def replace_lines(
        self,
        warehouse: str,
        count_id: str,
        lines: list[CountedLine],
        now: datetime,
        request: RememberedRequest | None = None,
    ) -> Count | None:
        """The draft with its new lines; None when it is no draft (or, with a request, when
        that request was remembered meanwhile)."""
        query: Document = {"_id": count_id, "warehouse": warehouse, "status": "draft"}
        update: Document = {
            "$set": {"lines": [_line_doc(line) for line in lines], "updated_at": now}
        }
        doc = await self._collection.find_one_and_update(
            unless_remembered(query, request),
            with_remembered(update, [request] if request else []),
            projection=_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _count(doc)

    async def claim(self, warehouse: str, count_id: str, now: datetime) -> Count | None:
        """Freeze a draft's lines for its submission (a count left `submitting` by a crash is
        taken up again); None when it is not there or already submitted."""
        doc = await self._collection.find_one_and_update(
            {"_id": count_id, "warehouse": warehouse, "status": {"$in": ["draft", "submitting"]}},
            {"$set": {"status": "submitting", "updated_at": now}},
            projection=_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else _count(doc)

    async def release_claim(self, warehouse: str, count_id: str) -> None:
        """The submission was refused and changed nothing: the count is a draft again."""
        await self._collection.update_one(
            {"_id": count_id, "warehouse": warehouse, "status": "submitting"},
            {"$set": {"status": "draft"}},
        )

    async def mark_submitted(
        self,
        warehouse: str,
        count_id: str,
        movement_id: str | None,
        lines: tuple[CountedLine, ...],
        user: str,
        now: datetime,
    ) -> Count:
        """Record the applied submission (the lines it applied, its movement); when another
        submission recorded it first, the count as it recorded it."""
        doc = await self._collection.find_one_and_update(
            {"_id": count_id, "warehouse": warehouse, "status": {"$ne": "submitted"}},
            {
                "$set": {
                    "status": "submitted",
                    "lines": [_line_doc(line) for line in lines],
                    "movement_id": movement_id,
                    "submitted_by": user,
                    "submitted_at": now,
                    "updated_at": now,
                }
            },
            projection=_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            doc = await self._collection.find_one(
                {"_id": count_id, "warehouse": warehouse}, _FIELDS
            )
            assert doc is not None, f"count {count_id} vanished"
        return _count(doc)
