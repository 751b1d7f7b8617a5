"""The Idempotency-Keys of HXL imports in MongoDB: one document per key, its answer compressed.

`_id` is the key's token (organisation and key), so claiming a key is one insert that a
concurrent copy of the request fails."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from bson import Binary
from kitflow_shared.request_keys import RequestKey
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_needs.handlers.ports import HeldRequest

COLLECTION = "import_requests"
INDEXES = [IndexSpec(COLLECTION, [("since", 1)], name="by_start")]
# Well under the store's 16 MiB per document. An import's report lists the ids it created and
# its bad rows; compressed, a 20 MB file's report is a few megabytes at most.
MAX_ANSWER_BYTES = 12 * 1024 * 1024
CLAIM_ATTEMPTS = 3

Document = dict[str, Any]


def _held(doc: Document) -> HeldRequest:
    answer = doc.get("answer")
    return HeldRequest(
        fingerprint=doc["fingerprint"],
        since=doc["since"],
        answer=None if answer is None else zlib.decompress(answer).decode(),
    )


class MongoImportRequestRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def claim(self, key: RequestKey, now: datetime) -> HeldRequest | None:
        for _ in range(CLAIM_ATTEMPTS):
            try:
                await self._collection.insert_one(
                    {"_id": key.token, "fingerprint": key.fingerprint, "since": now, "answer": None}
                )
            except DuplicateKeyError:
                doc = await self._collection.find_one({"_id": key.token})
                if doc is not None:
                    return _held(doc)
                continue  # released meanwhile: claim it again
            return None
        raise RuntimeError(f"could not claim the import key {key.key!r}")

    async def take_over(self, key: RequestKey, since: datetime, now: datetime) -> bool:
        result = await self._collection.update_one(
            {"_id": key.token, "since": since, "answer": None}, {"$set": {"since": now}}
        )
        return result.modified_count == 1

    async def complete(self, key: RequestKey, answer: str) -> bool:
        packed = zlib.compress(answer.encode())
        if len(packed) > MAX_ANSWER_BYTES:
            return False
        await self._collection.update_one({"_id": key.token}, {"$set": {"answer": Binary(packed)}})
        return True

    async def release(self, key: RequestKey) -> None:
        await self._collection.delete_one({"_id": key.token, "answer": None})

    async def forget_before(self, moment: datetime) -> int:
        result = await self._collection.delete_many({"since": {"$lt": moment}})
        return result.deleted_count
