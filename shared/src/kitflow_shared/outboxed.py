"""The repository every service's aggregates share: one document per aggregate, its outbox
inside it (ADR 0003), and the Idempotency-Keys it remembers (ADR 0011).

A service's Mongo adapter keeps what is particular to its aggregate: how it maps to a document,
what its errors are called, its queries. `OutboxedDocuments` does the rest of the
get / add / save-with-expected-sequence trio, the same way for every service:
- `add` inserts the new document with its events in its outbox, and with the request that
  created it (its key's token under a unique index, so a concurrent copy of the request cannot
  create a second one);
- `save` sets the changes, pushes the events and remembers the request in ONE conditional
  update: only if the document is still at the sequence it was read at and does not remember
  that request yet (a change that alters nothing keeps the sequence, so the sequence alone
  cannot stop a concurrent copy of it);
- after a write with events it tells the relay (`Notify`), which publishes them at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.outbox import OUTBOX_FIELD, Notify, with_outbox
from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    RequestKey,
    remembered_in,
    requests_projection,
    with_remembered,
)
from kitflow_shared.store import IndexSpec

Document = dict[str, Any]
# The request that created a document, kept on it: its key's token (under a unique index), its
# fingerprint and when it came.
REQUEST_TOKEN = "request_token"  # noqa: S105 (a field name, not a secret)
REQUEST_FINGERPRINT = "request_fingerprint"
REQUEST_AT = "request_at"
CREATING_REQUEST_FIELDS = {REQUEST_FINGERPRINT: 1, REQUEST_AT: 1}


def request_token_index(collection: str) -> IndexSpec:
    return IndexSpec(collection, [(REQUEST_TOKEN, 1)], name=REQUEST_TOKEN, unique=True, sparse=True)


def created_by(request: RememberedRequest | None) -> Document:
    """The fields a new document gets from the request that creates it (none without a key)."""
    if request is None:
        return {}
    return {
        REQUEST_TOKEN: request.token,
        REQUEST_FINGERPRINT: request.fingerprint,
        REQUEST_AT: request.at,
    }


def creating_request(token: str, doc: Document) -> RememberedRequest:
    """The request that created `doc` (read with CREATING_REQUEST_FIELDS); its result is the
    document's id."""
    return RememberedRequest(token, doc[REQUEST_FINGERPRINT], str(doc["_id"]), doc[REQUEST_AT])


def unless_remembered(query: Document, request: RememberedRequest | None) -> Document:
    """`query`, matching only while `request` is not remembered yet: a change that alters
    nothing keeps the sequence, so the sequence alone cannot stop a concurrent copy of it."""
    if request is None:
        return query
    return {**query, f"{REQUESTS_FIELD}.token": {"$ne": request.token}}


def unchanged_since(
    doc_id: Any, expected_sequence: int, request: RememberedRequest | None = None
) -> Document:
    """The conditional update's filter: the document as it was read and, for a request with a
    key, that key not remembered meanwhile."""
    return unless_remembered({"_id": doc_id, "sequence": expected_sequence}, request)


class OutboxedDocuments:
    """One collection of aggregates. `read` is the projection an aggregate is read with (what
    it is: not its outbox, nor every request it remembers)."""

    def __init__(
        self, collection: AsyncCollection[Document], notify: Notify, *, read: Document
    ) -> None:
        self.collection = collection
        self._notify = notify
        self._read = read

    @property
    def name(self) -> str:
        return self.collection.name

    async def get(self, doc_id: Any) -> Document | None:
        return await self.collection.find_one({"_id": doc_id}, self._read)

    async def load(
        self, doc_id: Any, key: RequestKey | None
    ) -> tuple[Document | None, RememberedRequest | None]:
        """The document and, for a request with a key, whether it remembers that request."""
        doc = await self.collection.find_one(
            {"_id": doc_id}, {**self._read, **requests_projection(key)}
        )
        return doc, remembered_in(doc, key)

    async def created_by(self, token: str) -> Document | None:
        """The document the request with this key's token created, with CREATING_REQUEST_FIELDS
        besides what it is."""
        return await self.collection.find_one(
            {REQUEST_TOKEN: token}, {**self._read, **CREATING_REQUEST_FIELDS}
        )

    async def add(
        self, doc_id: Any, fields: Document, events: Sequence[CloudEvent], created: Document
    ) -> None:
        """Insert the document with its events in its outbox and `created` (the fields of the
        request that created it). A DuplicateKeyError (the id, or the request, is taken) is the
        caller's to name."""
        await self.collection.insert_one(
            {"_id": doc_id, **fields, **created, OUTBOX_FIELD: [e.to_document() for e in events]}
        )
        self._notify(self.name, doc_id)

    async def save(
        self,
        doc_id: Any,
        expected_sequence: int,
        changes: Document,
        events: Sequence[CloudEvent],
        request: RememberedRequest | None = None,
    ) -> bool:
        """Set `changes`, push `events` and remember `request`, atomically, if the document is
        still at `expected_sequence` and does not remember `request` yet; False otherwise (it
        changed meanwhile: the caller raises its own concurrency error)."""
        update = with_remembered(
            with_outbox({"$set": changes}, events), [request] if request else []
        )
        result = await self.collection.update_one(
            unchanged_since(doc_id, expected_sequence, request), update
        )
        if result.matched_count == 0:
            return False
        if events:
            self._notify(self.name, doc_id)
        return True

    async def remember(
        self, doc_id: Any, expected_sequence: int, request: RememberedRequest
    ) -> bool:
        """Remember a request that found its effect already there (no change, no event), on the
        same condition as `save`; False if the document changed meanwhile."""
        result = await self.collection.update_one(
            unchanged_since(doc_id, expected_sequence, request), with_remembered({}, [request])
        )
        return result.matched_count > 0
