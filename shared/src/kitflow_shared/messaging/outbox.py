"""The transactional outbox, kept inside the aggregate's own document, and its relay.

A command's state change and the events it emits are written in ONE atomic update of ONE
document: the update `$push`es the events onto the document's `outbox` array. Nothing can be
changed without its events, and no event can exist for a change that did not happen, with no
multi-document transaction (which the store does not offer).

The relay then publishes those entries and removes them:
- right after each write (the writer calls `notify`), for low latency;
- by a periodic sweep, for whatever a crash left behind between write and publish.
It prunes an entry only after the broker acknowledged it, so a crash between the two publishes it
again: duplicates are possible, loss is not. Consumers are idempotent for exactly that reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.metrics import OUTBOX_FAILURES, OUTBOX_PENDING, OUTBOX_PUBLISHED

OUTBOX_FIELD = "outbox"
Document = dict[str, Any]

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None: ...


def with_outbox(update: Document, events: Sequence[CloudEvent]) -> Document:
    """Return `update` extended to append `events` to the document's outbox, atomically."""
    if not events:
        return update
    merged = {op: dict(fields) for op, fields in update.items()}
    push = merged.setdefault("$push", {})
    if OUTBOX_FIELD in push:
        raise ValueError("the update already pushes onto the outbox")
    push[OUTBOX_FIELD] = {"$each": [event.to_document() for event in events]}
    return merged


class OutboxRelay:
    """Publishes what the given collections' documents hold in their outbox, then prunes it."""

    def __init__(
        self,
        *,
        service: str,
        publisher: EventPublisher,
        topic: str,
        collections: Sequence[AsyncCollection[Document]],
        sweep_interval_s: float = 2.0,
        batch_size: int = 200,
        after_publish: Callable[[list[CloudEvent]], Awaitable[None]] | None = None,
    ) -> None:
        self._service = service
        self._publisher = publisher
        self._topic = topic
        self._collections = {c.name: c for c in collections}
        self._sweep_interval_s = sweep_interval_s
        self._batch_size = batch_size
        # Crash tests hook in here: the moment after the broker acknowledged, before pruning.
        self._after_publish = after_publish
        self._kicks: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def notify(self, collection: str, doc_id: Any) -> None:
        """Tell the relay that a document just got outbox entries. Never blocks the writer."""
        self._kicks.put_nowait((collection, doc_id))

    async def run(self) -> None:
        """Relay forever: on each kick, and on a sweep at every interval. Survives failures."""
        while True:
            try:
                first = await asyncio.wait_for(self._kicks.get(), self._sweep_interval_s)
            except TimeoutError:
                first = None
            try:
                if first is None:
                    await self.sweep_once()
                else:
                    await self._publish_kicked(first)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The entries stay in the outbox; the next sweep tries again.
                OUTBOX_FAILURES.labels(self._service).inc()
                log.exception("outbox relay round failed; will retry on the next sweep")
                await asyncio.sleep(min(self._sweep_interval_s, 1.0))

    async def _publish_kicked(self, first: tuple[str, Any]) -> None:
        by_collection: dict[str, set[Any]] = {first[0]: {first[1]}}
        while not self._kicks.empty():
            name, doc_id = self._kicks.get_nowait()
            by_collection.setdefault(name, set()).add(doc_id)
        for name, ids in by_collection.items():
            await self._publish_from(self._collections[name], {"_id": {"$in": list(ids)}})

    async def sweep_once(self) -> int:
        """Publish everything pending in every collection; return how many events went out."""
        total = 0
        for collection in self._collections.values():
            pending = 0
            async for doc in collection.find(
                {f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
            ):
                pending += len(doc[OUTBOX_FIELD])
            OUTBOX_PENDING.labels(self._service).set(pending)
            while True:
                published = await self._publish_from(
                    collection, {f"{OUTBOX_FIELD}.0": {"$exists": True}}
                )
                total += published
                if published == 0:
                    break
        return total

    async def _publish_from(self, collection: AsyncCollection[Document], query: Document) -> int:
        docs = await collection.find(
            {**query, f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
        ).to_list(self._batch_size)
        if not docs:
            return 0
        events: list[CloudEvent] = []
        published_ids: dict[Any, list[str]] = {}
        for doc in docs:
            for entry in doc[OUTBOX_FIELD]:
                try:
                    event = CloudEvent.from_document(entry)
                except ValidationError:
                    # Written by our own code, so this is a bug: keep the entry for inspection.
                    log.error("unreadable outbox entry left in %s/%s", collection.name, doc["_id"])
                    continue
                events.append(event)
                published_ids.setdefault(doc["_id"], []).append(event.id)
        if not events:
            return 0
        await self._publisher.publish(self._topic, events)
        OUTBOX_PUBLISHED.labels(self._service, self._topic).inc(len(events))
        if self._after_publish is not None:
            await self._after_publish(events)
        for doc_id, event_ids in published_ids.items():
            # Only the entries we published: a write that raced us keeps its new entries.
            await collection.update_one(
                {"_id": doc_id}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": event_ids}}}}
            )
        return len(events)
