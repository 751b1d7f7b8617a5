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

An entry the broker can never take (larger than the topic allows, refused as invalid) or that
cannot even be read back is not retried for ever, which would hold up every entry found with it:
it is parked whole on the topic's dead-letter topic (`<topic>.dlq`) with why, then pruned,
counted (`kitflow_outbox_dead_lettered_total`) and logged as an error. The events behind it go
out. Only when parking succeeded is the entry pruned, so nothing is lost either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from pydantic import ValidationError
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_shared.events.envelope import CONTENT_TYPE, OUTBOX_JSON, CloudEvent
from kitflow_shared.messaging.producer import UnpublishableEvents
from kitflow_shared.metrics import (
    OUTBOX_DEAD_LETTERED,
    OUTBOX_FAILURES,
    OUTBOX_PENDING,
    OUTBOX_PUBLISHED,
)
from kitflow_shared.topics import dead_letter_topic_of

OUTBOX_FIELD = "outbox"
Document = dict[str, Any]

log = logging.getLogger(__name__)


# How a repository tells the relay that a document just got outbox entries: (collection, id).
Notify = Callable[[str, Any], None]


def no_notify(_collection: str, _doc_id: Any) -> None:
    """For a process that runs no relay: its writes wait in the outbox for the next sweep of a
    replica that runs one."""


class EventPublisher(Protocol):
    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Publish and wait for the broker's acknowledgement; raise `UnpublishableEvents` for
        the events it can never take once the others are acknowledged."""

    async def park(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Send a record as-is to a dead-letter topic."""


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
        dead_letter_topic: str | None = None,
        sweeps: Callable[[], bool] = lambda: True,
    ) -> None:
        self._service = service
        self._publisher = publisher
        self._topic = topic
        self._dead_letter_topic = dead_letter_topic or dead_letter_topic_of(topic)
        self._collections = {c.name: c for c in collections}
        self._sweep_interval_s = sweep_interval_s
        self._batch_size = batch_size
        # Crash tests hook in here: the moment after the broker acknowledged, before pruning.
        self._after_publish = after_publish
        self._kicks: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        # Whether this replica sweeps now: only the one holding the sweep's lease does (ADR
        # 0028); every replica publishes what its own writes kick.
        self._sweeps = sweeps

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
                    if self._sweeps():
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
                published, parked = await self._publish_from(
                    collection, {f"{OUTBOX_FIELD}.0": {"$exists": True}}
                )
                total += published
                if published + parked == 0:
                    break
        return total

    async def _publish_from(
        self, collection: AsyncCollection[Document], query: Document
    ) -> tuple[int, int]:
        """Publish what the matching documents hold; return how many events went out and how
        many entries were parked."""
        docs = await collection.find(
            {**query, f"{OUTBOX_FIELD}.0": {"$exists": True}}, {OUTBOX_FIELD: 1}
        ).to_list(self._batch_size)
        if not docs:
            return 0, 0
        events: list[CloudEvent] = []
        owner: dict[str, Any] = {}
        unreadable: list[tuple[Any, Document, ValidationError]] = []
        for doc in docs:
            for entry in doc[OUTBOX_FIELD]:
                try:
                    event = CloudEvent.from_document(entry)
                except ValidationError as error:
                    # Written by our own code, so a bug: parked whole for inspection.
                    unreadable.append((doc["_id"], entry, error))
                    continue
                events.append(event)
                owner[event.id] = doc["_id"]
        failures: dict[str, Exception] = {}
        if events:
            try:
                await self._publisher.publish(self._topic, events)
            except UnpublishableEvents as refused:
                failures = refused.failures
            published = [e for e in events if e.id not in failures]
            OUTBOX_PUBLISHED.labels(self._service, self._topic).inc(len(published))
            if self._after_publish is not None:
                await self._after_publish(published)
        for event in events:
            if event.id in failures:
                await self._park_event(collection.name, owner[event.id], event, failures[event.id])
        for doc_id, entry, unread in unreadable:
            await self._park_entry(collection.name, doc_id, entry, unread)
        await self._prune(collection, owner, unreadable)
        return len(events) - len(failures), len(failures) + len(unreadable)

    async def _prune(
        self,
        collection: AsyncCollection[Document],
        owner: dict[str, Any],
        unreadable: list[tuple[Any, Document, ValidationError]],
    ) -> None:
        by_doc: dict[Any, list[str]] = {}
        for event_id, doc_id in owner.items():
            by_doc.setdefault(doc_id, []).append(event_id)
        for doc_id, entry, _ in unreadable:
            if isinstance(entry.get("id"), str):
                by_doc.setdefault(doc_id, []).append(entry["id"])
            else:
                await collection.update_one({"_id": doc_id}, {"$pull": {OUTBOX_FIELD: entry}})
        for doc_id, event_ids in by_doc.items():
            # Only the entries we handled: a write that raced us keeps its new entries.
            await collection.update_one(
                {"_id": doc_id}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": event_ids}}}}
            )

    async def _park_event(
        self, collection: str, doc_id: Any, event: CloudEvent, error: Exception
    ) -> None:
        value = event.to_bytes()
        await self._park(
            value,
            event.partitionkey.encode(),
            collection,
            doc_id,
            error,
            reason="the broker cannot take this event",
            what=f"event {event.id} ({event.type}, {len(value)} bytes)",
        )

    async def _park_entry(
        self, collection: str, doc_id: Any, entry: Document, error: Exception
    ) -> None:
        raw = entry.get(OUTBOX_JSON)
        value = raw.encode() if isinstance(raw, str) else json.dumps(entry, default=str).encode()
        await self._park(
            value,
            str(doc_id).encode(),
            collection,
            doc_id,
            error,
            reason="unreadable outbox entry",
            what=f"outbox entry {entry.get('id', '?')}",
        )

    async def _park(
        self,
        value: bytes,
        key: bytes,
        collection: str,
        doc_id: Any,
        error: Exception,
        *,
        reason: str,
        what: str,
    ) -> None:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        headers = [
            ("content-type", CONTENT_TYPE.encode()),
            ("kitflow-dlq-reason", reason.encode()),
            ("kitflow-dlq-error", text[:4000].encode()),
            ("kitflow-dlq-error-type", type(error).__name__.encode()),
            ("kitflow-dlq-attempts", b"1"),
            ("kitflow-dlq-service", self._service.encode()),
            ("kitflow-dlq-topic", self._topic.encode()),
            ("kitflow-dlq-document", f"{collection}/{doc_id}".encode()),
        ]
        await self._publisher.park(self._dead_letter_topic, value, key, headers)
        OUTBOX_DEAD_LETTERED.labels(self._service, self._topic).inc()
        log.error(
            "parked %s of %s/%s on %s instead of %s: %s (%s)",
            what,
            collection,
            doc_id,
            self._dead_letter_topic,
            self._topic,
            reason,
            text,
        )
