"""How the stock adapters store Idempotency-Keys (ADR 0011), whatever the document.

A document created by a request with a key carries that key's token under a unique index, so a
concurrent copy of the request cannot create a second one. A document changed by such a request
remembers it in its bounded `requests` array, pushed in the same update as the change.
"""

from __future__ import annotations

from typing import Any

from kitflow_shared.request_keys import REQUESTS_FIELD, RememberedRequest
from kitflow_shared.store import IndexSpec

Document = dict[str, Any]
REQUEST_TOKEN = "request_token"  # noqa: S105 (a field name, not a secret)
REQUEST_FINGERPRINT = "request_fingerprint"
REQUEST_AT = "request_at"


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


CREATING_REQUEST_FIELDS = {REQUEST_FINGERPRINT: 1, REQUEST_AT: 1}


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
