"""Consumer-side idempotency: apply an event's effect to a document at most once.

Kafka delivers at least once (and the outbox relay may publish twice), so every effect must be
guarded. The guard and the effect are one atomic conditional update of one document, so there is
no window in which the effect is stored but the guard is not, or the other way round.

Two guards, for the two kinds of event:
- `apply_if_newer`: for state-carrying events with the aggregate's sequence. The update matches
  only while the stored sequence is lower, so redelivered and stale (out-of-order) events change
  nothing. This is the preferred form.
- `apply_once`: for events that carry a delta. The document remembers the ids of the last events
  it applied (a bounded list); an event whose id is there changes nothing.

With `upsert=True` a document that does not exist yet is created; when it exists and the guard
does not match, the upsert collides with the existing `_id`, which is how "already applied" shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

Document = dict[str, Any]
DUPLICATE_KEY = 11000

APPLIED_FIELD = "applied_event_ids"
SEQUENCE_FIELD = "sequence"
# Enough to cover any redelivery window: Kafka redelivers from the last committed offset, and a
# consumer commits every poll batch.
DEFAULT_REMEMBERED_EVENTS = 500


class Applied(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"


def _merge(update: Document, extra_op: str, extra: Document) -> Document:
    merged = {op: dict(fields) for op, fields in update.items()}
    target = merged.setdefault(extra_op, {})
    clash = set(target) & set(extra)
    if clash:
        raise ValueError(f"the update already sets {sorted(clash)}")
    target.update(extra)
    return merged


async def apply_if_newer(
    collection: AsyncCollection[Document],
    doc_id: Any,
    sequence: int,
    update: Document,
    *,
    upsert: bool = True,
) -> Applied:
    """Apply `update` only if the stored sequence is lower than `sequence`; store `sequence`."""
    guarded = _merge(update, "$set", {SEQUENCE_FIELD: sequence})
    return await _guarded_update(
        collection, {"_id": doc_id, SEQUENCE_FIELD: {"$lt": sequence}}, guarded, upsert
    )


@dataclass(frozen=True)
class Newer:
    """One `apply_if_newer` of a batch: `update` for `doc_id` if `sequence` is newer."""

    doc_id: Any
    sequence: int
    update: Document


async def apply_many_if_newer(
    collection: AsyncCollection[Document], writes: Sequence[Newer]
) -> list[Applied]:
    """`apply_if_newer` for each write, in few round trips (one poll's worth, ADR 0033).

    The writes go in rounds: a document's first write in the first round, its second in the
    second, ... so a document's writes keep their order, and a round (one unordered bulk
    write) touches each document once. Each write keeps its own sequence guard, so what
    `apply_if_newer` guarantees holds write by write: a redelivered batch changes nothing.
    """
    outcomes: list[Applied] = [Applied.APPLIED] * len(writes)
    for round_ in _rounds(writes):
        await _bulk_round(collection, [(i, writes[i]) for i in round_], outcomes)
    return outcomes


def _rounds(writes: Sequence[Newer]) -> list[list[int]]:
    rounds: list[list[int]] = []
    seen: dict[Any, int] = {}
    for index, write in enumerate(writes):
        depth = seen.get(write.doc_id, 0)
        seen[write.doc_id] = depth + 1
        if depth == len(rounds):
            rounds.append([])
        rounds[depth].append(index)
    return rounds


async def _bulk_round(
    collection: AsyncCollection[Document],
    writes: list[tuple[int, Newer]],
    outcomes: list[Applied],
) -> None:
    def guarded(write: Newer) -> tuple[Document, Document]:
        update = _merge(write.update, "$set", {SEQUENCE_FIELD: write.sequence})
        return {"_id": write.doc_id, SEQUENCE_FIELD: {"$lt": write.sequence}}, update

    ops = [UpdateOne(*guarded(write), upsert=True) for _, write in writes]
    try:
        await collection.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        # A guard that refused on an existing document shows as a duplicate key (see
        # `_guarded_update`): told apart from a racing creation write by write, as one by one.
        for error in errors:
            position, write = writes[error["index"]]
            guard, update = guarded(write)
            result = await collection.update_one(guard, update, upsert=False)
            outcomes[position] = Applied.APPLIED if result.matched_count else Applied.DUPLICATE


async def apply_once(
    collection: AsyncCollection[Document],
    doc_id: Any,
    event_id: str,
    update: Document,
    *,
    upsert: bool = True,
    remember: int = DEFAULT_REMEMBERED_EVENTS,
) -> Applied:
    """Apply `update` only if `event_id` is not among the ids this document already applied."""
    guarded = _merge(update, "$push", {APPLIED_FIELD: {"$each": [event_id], "$slice": -remember}})
    return await _guarded_update(
        collection, {"_id": doc_id, APPLIED_FIELD: {"$ne": event_id}}, guarded, upsert
    )


async def _guarded_update(
    collection: AsyncCollection[Document], guard: Document, update: Document, upsert: bool
) -> Applied:
    try:
        result = await collection.update_one(guard, update, upsert=upsert)
    except DuplicateKeyError:
        # Either the document exists and the guard refused (already applied), or another writer
        # created the document between our match and our insert: MongoDB retries such upserts
        # only when the filter is pure equality, which a guard is not. A plain conditional
        # update tells the two apart, since the document exists now.
        result = await collection.update_one(guard, update, upsert=False)
        return Applied.APPLIED if result.matched_count else Applied.DUPLICATE
    if result.matched_count == 0 and result.upserted_id is None:
        return Applied.DUPLICATE
    return Applied.APPLIED
