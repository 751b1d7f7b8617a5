"""Idempotency-Key at the service: the key is remembered WITH the effect, in the same atomic write.

A client that retries a request (its answer was lost, the gateway timed out, the warehouse app
came back online) must never cause a second effect. The gateway's own record of a key is a fast
first line, but it is written apart from the effect, so it cannot be the proof: only the document
the command changed can say "this request was applied". So every state-changing command that
carries a key:

- loads the aggregate together with the entry remembered for that key, if any;
- if the key was used for this very request (same fingerprint), answers with the first result
  and changes nothing; for another request, refuses (`IdempotencyKeyReused`, a 422);
- otherwise applies the command and pushes `{token, fingerprint, result, at}` onto the
  document's bounded `requests` array in the SAME conditional update as the change and its
  outbox events. A concurrent duplicate loses that conditional update, reloads, and finds the key.

A command that creates a document stores the token on the new document instead, under a unique
index, so the duplicate's insert fails and it answers with the document the first one made.

Keys belong to an organisation (two partners may choose the same key); the token joins the two
with a character organisation ids cannot contain. `result` is what the first request produced
(the id of the movement, plan, need, ...), from which the service renders its answer again.
This module is pure (no I/O): domain and handler code may use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 200
REQUESTS_FIELD = "requests"
# Per document. A retry follows its lost answer within minutes or, for an app that was offline,
# hours; a warehouse does not record hundreds of movements in between.
DEFAULT_REMEMBERED = 500

Document = dict[str, Any]


def key_problem(key: str) -> str | None:
    """Why `key` is not an acceptable Idempotency-Key, or None."""
    if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
        return f"must be {MIN_KEY_LENGTH} to {MAX_KEY_LENGTH} characters"
    if not key.isascii() or not key.isprintable():
        return "must be printable ASCII"
    return None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests 'the same request': method, path, query and body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part)
        digest.update(b"\x00")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyKeyReused(Exception):
    """The key was already used by this organisation for a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request; use a new key"
        )
        self.key = key


@dataclass(frozen=True)
class RequestKey:
    organisation: str
    key: str
    fingerprint: str

    @property
    def token(self) -> str:
        # Organisation ids are [A-Za-z0-9._-]: a colon cannot occur in them.
        return f"{self.organisation}:{self.key}"


@dataclass(frozen=True)
class RememberedRequest:
    token: str
    fingerprint: str
    result: str
    at: datetime

    @classmethod
    def of(cls, key: RequestKey, result: str, at: datetime) -> RememberedRequest:
        return cls(key.token, key.fingerprint, result, at)

    def to_document(self) -> Document:
        return {
            "token": self.token,
            "fingerprint": self.fingerprint,
            "result": self.result,
            "at": self.at,
        }

    @classmethod
    def from_document(cls, doc: Document) -> RememberedRequest:
        return cls(doc["token"], doc["fingerprint"], doc["result"], doc["at"])


def replayed_result(remembered: RememberedRequest | None, key: RequestKey) -> str | None:
    """The first request's result when `key` was already used for this very request; None when
    the key is new; `IdempotencyKeyReused` when it was used for another request."""
    if remembered is None:
        return None
    if remembered.token != key.token:
        raise ValueError("the remembered request belongs to another key")
    if remembered.fingerprint != key.fingerprint:
        raise IdempotencyKeyReused(key.key)
    return remembered.result


def requests_projection(key: RequestKey | None) -> Document:
    """Projection fields that load the one remembered entry of `key` (nothing without a key)."""
    if key is None:
        return {}
    return {REQUESTS_FIELD: {"$elemMatch": {"token": key.token}}}


def remembered_in(doc: Document | None, key: RequestKey | None) -> RememberedRequest | None:
    """The entry for `key` in a document loaded with `requests_projection`."""
    if doc is None or key is None:
        return None
    for entry in doc.get(REQUESTS_FIELD, ()):
        if entry.get("token") == key.token:
            return RememberedRequest.from_document(entry)
    return None


def with_remembered(
    update: Document,
    remembered: Sequence[RememberedRequest],
    keep: int = DEFAULT_REMEMBERED,
) -> Document:
    """`update` extended to remember `remembered` on the document, atomically with the change."""
    if not remembered:
        return update
    merged = {op: dict(fields) for op, fields in update.items()}
    push = merged.setdefault("$push", {})
    if REQUESTS_FIELD in push:
        raise ValueError("the update already pushes onto the remembered requests")
    push[REQUESTS_FIELD] = {
        "$each": [entry.to_document() for entry in remembered],
        "$slice": -keep,
    }
    return merged
