"""KoboToolbox submissions and field mappings in MongoDB.

One document per organisation and `_uuid` (`_id` = both), replaced whole on each attempt: a
submission's state, reasons and values change together. One mapping document per organisation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_needs.handlers.kobo import KoboSubmission, Refusal, State

SUBMISSIONS = "kobo_submissions"
MAPPINGS = "kobo_mappings"
INDEXES = [
    IndexSpec(SUBMISSIONS, [("organisation", 1), ("state", 1), ("received_at", 1)], "by_state")
]

Document = dict[str, Any]


def _id(organisation: str, uuid: str) -> str:
    return f"{organisation}\x1f{uuid}"


def _document(s: KoboSubmission) -> Document:
    return {
        "_id": _id(s.organisation, s.uuid),
        "organisation": s.organisation,
        "uuid": s.uuid,
        # As Kobo sent it, as text: its question names hold '/' and may start with '_', '#' or
        # '$' (any JSON a partner's form sends is kept, whatever the store accepts as keys).
        "payload": json.dumps(s.payload, ensure_ascii=False),
        "state": s.state,
        "received_at": s.received_at,
        "updated_at": s.updated_at,
        "need_id": s.need_id,
        "reasons": [{"question": r.question, "reason": r.reason} for r in s.reasons],
        "attempts": s.attempts,
        "submit": s.submit,
    }


def _submission(doc: Document) -> KoboSubmission:
    return KoboSubmission(
        organisation=doc["organisation"],
        uuid=doc["uuid"],
        payload=json.loads(doc["payload"]),
        state=doc["state"],
        received_at=doc["received_at"],
        updated_at=doc["updated_at"],
        need_id=doc.get("need_id"),
        reasons=tuple(Refusal(r["question"], r["reason"]) for r in doc.get("reasons", [])),
        attempts=doc.get("attempts", 1),
        submit=doc.get("submit", True),
    )


class MongoKoboSubmissions:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def get(self, organisation: str, uuid: str) -> KoboSubmission | None:
        doc = await self._collection.find_one({"_id": _id(organisation, uuid)})
        return None if doc is None else _submission(doc)

    async def save(self, submission: KoboSubmission) -> None:
        doc = _document(submission)
        await self._collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def list(
        self, organisation: str, state: State | None, limit: int
    ) -> list[KoboSubmission]:
        query: Document = {"organisation": organisation}
        if state is not None:
            query["state"] = state
        cursor = self._collection.find(query).sort("received_at", 1).limit(limit)
        return [_submission(doc) async for doc in cursor]


class MongoKoboMappings:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def get(self, organisation: str) -> dict[str, str]:
        doc = await self._collection.find_one({"_id": organisation})
        return {} if doc is None else dict(doc["fields"])

    async def put(self, organisation: str, mapping: Mapping[str, str]) -> None:
        fields = [[k, v] for k, v in mapping.items()]
        await self._collection.replace_one(
            {"_id": organisation}, {"_id": organisation, "fields": fields}, upsert=True
        )
