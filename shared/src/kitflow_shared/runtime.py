"""The process-wide connections of one service and the background workers it runs.

A service's `bootstrap.py` builds one `ServiceRuntime`, registers its workers (outbox relay,
consumers) and hands `runtime.lifespan` to FastAPI: the connections open before the first request
and everything stops cleanly on SIGTERM / Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.store import Document, IndexSpec, create_client, ensure_indexes, ping
from kitflow_shared.topics import ensure_topics
from kitflow_shared.web.app import ReadinessCheck

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]
STARTUP_ATTEMPTS = 30
# How long stopping may wait for the workers, and then for the producer. A consumer's last
# commit and its leaving the group go to the broker, and a broker that is gone or rebalancing
# would keep them retrying; past this the process stops anyway (what was not committed is
# delivered again, and consumers are idempotent). Below the 30 s a container gets to stop.
STOP_TIMEOUT_S = 10.0


class ServiceRuntime:
    def __init__(
        self,
        service: str,
        *,
        common: CommonSettings,
        kafka: KafkaSettings | None,
        store: StoreSettings,
        indexes: list[IndexSpec],
        run_workers: bool = True,
    ) -> None:
        self.service = service
        self.common = common
        self.kafka = kafka
        self.client: AsyncMongoClient[Document] = create_client(store, f"kitflow-{service}")
        self.db: AsyncDatabase[Document] = self.client[common.database_name(service)]
        self.producer = (
            EventProducer(kafka, client_id=f"kitflow-{service}") if kafka is not None else None
        )
        self._indexes = indexes
        self._run_workers = run_workers
        self._workers: list[tuple[str, Worker]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closers: list[Callable[[], Coroutine[Any, Any, Any]]] = []

    def add_worker(self, name: str, worker: Worker) -> None:
        """A coroutine to run for the life of the process (only where workers are enabled)."""
        self._workers.append((name, worker))

    def add_closer(self, close: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Something else to close at shutdown (an HTTP client, ...)."""
        self._closers.append(close)

    def readiness_checks(self) -> list[ReadinessCheck]:
        checks = [ReadinessCheck("store", lambda: ping(self.client))]
        if self.producer is not None:
            checks.append(ReadinessCheck("broker", self.producer.ping))
        return checks

    async def start(self) -> None:
        await _retry("store", lambda: ensure_indexes(self.db, self._indexes))
        if self.producer is not None and self.kafka is not None:
            kafka = self.kafka
            await _retry(
                "broker",
                lambda: ensure_topics(
                    kafka.bootstrap_servers, self.common.namespace, kafka.topic_replication_factor
                ),
            )
            await _retry("producer", self.producer.start)
        if self._run_workers:
            for name, worker in self._workers:
                self._tasks.append(asyncio.create_task(_supervised(name, worker), name=name))

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=timeout_s)
            if stuck:
                log.error(
                    "workers %s did not stop within %s s; stopping without them (their "
                    "uncommitted messages will be delivered again)",
                    ", ".join(sorted(t.get_name() for t in stuck)),
                    timeout_s,
                )
        self._tasks.clear()
        if self.producer is not None:
            try:
                await asyncio.wait_for(self.producer.stop(), timeout_s)
            except TimeoutError:
                log.error("the producer did not stop within %s s", timeout_s)
        for close in self._closers:
            await close()
        await self.client.close()

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


async def _retry(what: str, action: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Wait for a dependency at start-up (compose and `make run` start things side by side)."""
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            await action()
            return
        except Exception as exc:
            if attempt == STARTUP_ATTEMPTS:
                raise RuntimeError(f"{what} did not become available: {exc}") from exc
            log.warning("%s not available yet (%s); retrying", what, exc)
            await asyncio.sleep(min(2.0, 0.2 * attempt))


async def _supervised(name: str, worker: Worker) -> None:
    """Run a worker; if it dies unexpectedly, log it and start it again."""
    while True:
        try:
            await worker()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker %s crashed; restarting in 1 s", name)
            await asyncio.sleep(1)
