"""Runs stock's outbox relay once and SIGKILLs itself right after the broker acknowledged the
first batch, before pruning it: the worst moment for a relay to die.

Usage: python -m tests.support.relay_crash  (configured by the same KITFLOW_* variables as stock)
"""

from __future__ import annotations

import asyncio
import os
import signal

from kitflow_shared.events import CloudEvent
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.store import create_client
from kitflow_shared.topics import STOCK_EVENTS


async def main() -> None:
    common = CommonSettings()
    producer = EventProducer(KafkaSettings(), client_id="relay-crash")
    await producer.start()
    client = create_client(StoreSettings(), "relay-crash")
    collection = client[common.database_name("stock")]["warehouses"]

    async def die(events: list[CloudEvent]) -> None:
        print(f"published {len(events)} events; dying before pruning", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    relay = OutboxRelay(
        service="stock",
        publisher=producer,
        topic=STOCK_EVENTS.qualified(common.namespace),
        collections=[collection],
        batch_size=int(os.environ.get("RELAY_BATCH", "10")),
        after_publish=die,
    )
    await relay.sweep_once()
    raise SystemExit("the relay found nothing to publish")


if __name__ == "__main__":
    asyncio.run(main())
