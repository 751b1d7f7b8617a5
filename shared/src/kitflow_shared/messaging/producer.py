"""The idempotent event producer.

`enable_idempotence=True` makes the broker drop the duplicates that the producer's own retries
would otherwise write (and implies acks=all), so a send either lands once or fails loudly.
Records are CloudEvents in structured mode: the value is the whole event as JSON, the key is the
event's partition key (its aggregate id), and the content-type header says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from kitflow_shared.events.envelope import CONTENT_TYPE, CloudEvent
from kitflow_shared.settings import KafkaSettings

CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())


class EventProducer:
    """Publishes CloudEvents to Kafka. The port the outbox relay depends on."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
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

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Send events and wait until the broker acknowledged every one of them.

        Sends are queued together and awaited together: per partition the producer keeps their
        order, and one round trip carries the batch.
        """
        futures = [
            await self._producer.send(
                topic,
                value=event.to_bytes(),
                key=event.partitionkey.encode(),
                headers=[CONTENT_TYPE_HEADER],
            )
            for event in events
        ]
        await asyncio.gather(*futures)

    async def publish_raw(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Send a record as-is (dead letters keep the original bytes)."""
        await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)

    async def ping(self) -> None:
        """A real metadata round trip to the broker (for /readyz)."""
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=5)
