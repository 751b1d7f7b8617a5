"""The idempotent event producer.

`enable_idempotence=True` makes the broker drop the duplicates that the producer's own retries
would otherwise write (and implies acks=all), so a send either lands once or fails loudly.
Records are CloudEvents in structured mode: the value is the whole event as JSON, the key is the
event's partition key (its aggregate id), and the content-type header says so.

A record the broker can never take (larger than the topic allows, or refused as invalid) fails
on its own: the others of the call are still sent and acknowledged, and the caller learns which
ones failed (`UnpublishableEvents`) so it can park them instead of retrying for ever. Dead
letters go through a second producer, started on first use, that compresses and allows records
up to `DEAD_LETTER_MAX_BYTES`: a dead letter keeps the whole record, even one refused for its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from kitflow_shared.events.envelope import CONTENT_TYPE, CloudEvent
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DEAD_LETTER_MAX_BYTES

CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
Headers = list[tuple[str, bytes]]

# What the broker (or the client, before sending) refuses for the record itself: sending it
# again cannot succeed. Everything else (timeouts, leader changes, a broker away) is retried.
NEVER_PUBLISHABLE: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    InvalidMessageError,
    CorruptRecordException,
)
# Room for the dead-letter headers (the error text, where it came from) around the record.
_DEAD_LETTER_HEADROOM = 64 * 1024


class UnpublishableEvents(Exception):
    """Some events can never be published; every other event of the call was acknowledged."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__(
            f"{len(failures)} event(s) the broker cannot take: "
            + "; ".join(f"{event_id}: {error}" for event_id, error in failures.items())
        )
        self.failures = failures


class EventProducer:
    """Publishes CloudEvents to Kafka. The port the outbox relay depends on."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            request_timeout_ms=settings.request_timeout_ms,
            compression_type=None,
        )
        self._started = False
        self._dead_letters: AIOKafkaProducer | None = None
        self._dead_letters_lock = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._dead_letters is not None:
            await self._dead_letters.stop()
            self._dead_letters = None
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Send events and wait until the broker acknowledged every one of them.

        Sends are queued together and awaited together: per partition the producer keeps their
        order, and one round trip carries the batch. Raises `UnpublishableEvents` naming the
        events the broker can never take once all the others are acknowledged; any other
        failure is raised as it is (the caller retries the lot).
        """
        failures: dict[str, Exception] = {}
        sent: list[tuple[CloudEvent, asyncio.Future[object]]] = []
        retry: Exception | None = None
        for event in events:
            try:
                future = await self._producer.send(
                    topic,
                    value=event.to_bytes(),
                    key=event.partitionkey.encode(),
                    headers=[CONTENT_TYPE_HEADER],
                )
            except NEVER_PUBLISHABLE as error:
                failures[event.id] = error
                continue
            except Exception as error:
                retry = error
                break
            sent.append((event, future))
        outcomes = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        for (event, _), outcome in zip(sent, outcomes, strict=True):
            if isinstance(outcome, NEVER_PUBLISHABLE):
                failures[event.id] = outcome
            elif isinstance(outcome, Exception) and retry is None:
                retry = outcome
        if retry is not None:
            raise retry
        if failures:
            raise UnpublishableEvents(failures)

    async def publish_raw(
        self, topic: str, value: bytes, key: bytes | None, headers: Headers
    ) -> None:
        """Send a record as-is (a dead letter replayed onto its topic keeps its bytes)."""
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def park(self, topic: str, value: bytes, key: bytes | None, headers: Headers) -> None:
        """Send a record as-is to a dead-letter topic, whatever its size (up to the limit of
        dead-letter topics)."""
        producer = await self._dead_letter_producer()
        await producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def _dead_letter_producer(self) -> AIOKafkaProducer:
        async with self._dead_letters_lock:
            if self._dead_letters is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.bootstrap_servers,
                    client_id=f"{self._client_id}-dead-letters",
                    enable_idempotence=True,
                    acks="all",
                    request_timeout_ms=self._settings.request_timeout_ms,
                    compression_type="gzip",
                    max_request_size=DEAD_LETTER_MAX_BYTES + _DEAD_LETTER_HEADROOM,
                )
                await producer.start()
                self._dead_letters = producer
            return self._dead_letters

    async def ping(self) -> None:
        """A real metadata round trip to the broker (for /readyz)."""
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=5)
