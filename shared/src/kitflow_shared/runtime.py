"""The service kit: the process-wide connections of one service, the background workers it
runs and the app it serves, assembled the same way in every service (ADR 0018).

A service's `bootstrap.py` builds one `ServiceRuntime` (`ServiceRuntime.of`), asks it for the
outbox relay (`relay`), the consumer (`consume`) and the periodic jobs (`add_periodic`) it needs,
wires what is particular to the service, and ends with `runtime.create_app(...)`: the
connections open before the first request and everything stops cleanly on SIGTERM / Ctrl-C.

Retries (waiting for the store and broker at start-up, restarting a crashed worker, a periodic
job that failed) use tenacity: exponential backoff with jitter, so replicas that failed together
do not retry in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from kitflow_shared.leases import (
    LEASES,
    LeaseKeeper,
    LeaseStore,
    MongoLeases,
    replica_id,
    run_owned,
)
from kitflow_shared.messaging.consumer import BatchHandler, ConsumerRunner, Handler
from kitflow_shared.messaging.outbox import Notify, OutboxRelay, no_notify
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.metrics import PERIODIC_RUNS
from kitflow_shared.settings import CommonSettings, KafkaSettings, ServiceSettings, StoreSettings
from kitflow_shared.store import Document, IndexSpec, create_client, ensure_indexes, ping
from kitflow_shared.topics import ConsumerGroupSpec, TopicSpec, ensure_topics
from kitflow_shared.web.app import Lifespan, ReadinessCheck, create_service_app

log = logging.getLogger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]
Job = Callable[[], Coroutine[Any, Any, Any]]
# At start-up the store and broker get about a minute to answer (compose and `make run` start
# everything side by side): 30 attempts, waits doubling from 0.2 s up to 2 s.
STARTUP_ATTEMPTS = 30
STARTUP_WAIT_MAX_S = 2.0
# A crashed worker starts again after 1 s, then after waits doubling up to 30 s while it keeps
# crashing: a worker that fails at once (a store that is gone) does not spin.
RESTART_WAIT_MAX_S = 30.0
# Added to every wait, so that replicas that failed together do not retry in step.
JITTER_S = 0.5


def _backoff(first_s: float, max_s: float) -> wait_base:
    """Waits doubling from `first_s` up to `max_s`, each with up to JITTER_S more."""
    return wait_exponential(multiplier=first_s, max=max_s) + wait_random(0, JITTER_S)


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
        leases: LeaseStore | None = None,
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
        self._relay: OutboxRelay | None = None
        # Who this replica is in the job leases, and where they are (ADR 0028).
        self.replica = replica_id(service)
        self._leases = leases or MongoLeases(self.db[LEASES])
        self.keepers: dict[str, LeaseKeeper] = {}

    @classmethod
    def of(
        cls,
        service: str,
        settings: ServiceSettings,
        *,
        indexes: list[IndexSpec],
        publishes: bool = True,
    ) -> ServiceRuntime:
        """The runtime of `service`, its common, broker and store settings read from the
        environment; `publishes=False` for a service with no events (no broker at all)."""
        return cls(
            service,
            common=CommonSettings(),
            kafka=KafkaSettings() if publishes else None,
            store=StoreSettings(),
            indexes=indexes,
            run_workers=settings.run_workers,
        )

    def collection(self, name: str) -> AsyncCollection[Document]:
        return self.db[name]

    def relay(self, topic: TopicSpec, collections: list[AsyncCollection[Document]]) -> OutboxRelay:
        """The outbox relay of the service's events (ADR 0003), run as the "outbox-relay"
        worker; the repositories that write to `collections` get `self.notify`.

        Every replica publishes what its own writes kick; only the holder of the
        "outbox-sweep" lease sweeps for what a crash left behind (ADR 0028)."""
        sweep = self._keeper("outbox-sweep")
        self._relay = OutboxRelay(
            service=self.service,
            publisher=self._producer(),
            topic=topic.qualified(self.common.namespace),
            collections=collections,
            sweep_interval_s=self.common.outbox_sweep_interval_s,
            sweeps=lambda: sweep.owned,
        )
        self.add_worker("outbox-relay", self._relay.run)
        self.add_worker("outbox-sweep", self._owned(sweep, _hold))
        return self._relay

    @property
    def notify(self) -> Notify:
        """What a repository calls after a write with events: the relay's kick where this
        process runs the relay; else nothing, and a replica that runs workers publishes them on
        its next sweep."""
        if self._relay is None or not self._run_workers:
            return no_notify
        return self._relay.notify

    def consume(
        self,
        group: ConsumerGroupSpec,
        handlers: dict[str, Handler],
        batch_handlers: dict[str, BatchHandler] | None = None,
    ) -> ConsumerRunner:
        """The consumer of `group`, run as the "consumer" worker; a record that keeps failing
        is parked on the group's dead-letter topic. `batch_handlers`: see `ConsumerRunner`."""
        if self.kafka is None:
            raise RuntimeError(f"{self.service} has no broker settings to consume with")
        consumer = ConsumerRunner(
            kafka=self.kafka,
            group=group,
            namespace=self.common.namespace,
            handlers=handlers,
            dead_letters=self._producer(),
            client_id=f"kitflow-{self.service}",
            batch_handlers=batch_handlers,
        )
        self.add_worker("consumer", consumer.run)
        return consumer

    def add_periodic(
        self,
        name: str,
        interval_s: float,
        job: Job,
        *,
        wait_first: bool = False,
        one_owner: bool = True,
    ) -> None:
        """Run `job` every `interval_s` seconds (after a first wait if `wait_first`). A failure
        is logged and retried after 1 s, 2 s, 4 s ... up to the interval (with jitter): a
        passing hiccup costs seconds, not a whole round, and a lasting failure is retried about
        once a round.

        With `one_owner` (the default) only the replica holding the job's lease runs it; the
        others stand by and take it over when the owner dies (ADR 0028). `one_owner=False` for
        a job every replica must run for itself (refreshing an in-process cache)."""

        def rounds() -> Coroutine[Any, Any, None]:
            return _every(self.service, name, interval_s, job, wait_first=wait_first)

        self.add_worker(name, self._owned(self._keeper(name), rounds) if one_owner else rounds)

    def _keeper(self, job: str) -> LeaseKeeper:
        keeper = LeaseKeeper(
            self._leases,
            service=self.service,
            job=job,
            owner=self.replica,
            lease_s=self.common.job_lease_s,
        )
        self.keepers[job] = keeper
        return keeper

    def _owned(self, keeper: LeaseKeeper, job: Worker) -> Worker:
        return lambda: run_owned(keeper, self.common.job_lease_renew_s, job)

    def _producer(self) -> EventProducer:
        if self.producer is None:
            raise RuntimeError(f"{self.service} has no broker settings to publish with")
        return self.producer

    def create_app(
        self,
        *,
        title: str,
        description: str,
        version: str,
        lifespan: Lifespan | None = None,
        readiness: Callable[[], list[ReadinessCheck]] | None = None,
    ) -> FastAPI:
        """The service's app: problem+json, correlation ids, metrics, `/healthz`, and `/readyz`
        over the store and broker (and `readiness`, if given: it replaces the default list).
        `lifespan` wraps `self.lifespan` where the service has start-up work of its own."""
        checks = readiness or self.readiness_checks
        app = create_service_app(
            service=self.service,
            title=title,
            description=description,
            version=version,
            lifespan=lifespan or self.lifespan,
            readiness=lambda _app: checks(),
            internal_secret=self.common.internal_secret.get_secret_value(),
        )
        app.state.runtime = self
        if self._relay is not None:
            app.state.relay = self._relay
        return app

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
        await _wait_for("store", lambda: ensure_indexes(self.db, self._indexes))
        if self.producer is not None and self.kafka is not None:
            kafka = self.kafka
            await _wait_for(
                "broker",
                lambda: ensure_topics(
                    kafka.bootstrap_servers, self.common.namespace, kafka.topic_replication_factor
                ),
            )
            await _wait_for("producer", self.producer.start)
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


async def _wait_for(what: str, action: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Wait for a dependency at start-up (compose and `make run` start things side by side)."""

    def not_yet(state: RetryCallState) -> None:
        log.warning("%s not available yet (%s); retrying", what, _failure_of(state))

    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(STARTUP_ATTEMPTS),
            wait=_backoff(0.2, STARTUP_WAIT_MAX_S),
            retry=retry_if_exception_type(Exception),
            before_sleep=not_yet,
            reraise=True,
        ):
            with attempt:
                await action()
    except Exception as exc:
        raise RuntimeError(f"{what} did not become available: {exc}") from exc


async def _supervised(name: str, worker: Worker) -> None:
    """Run a worker; if it dies unexpectedly, log it and start it again (cancelling it, at
    stop, is not a failure: tenacity retries `Exception`s only)."""

    def crashed(state: RetryCallState) -> None:
        log.error(
            "worker %s crashed; restarting in %.1f s",
            name,
            _wait_of(state),
            exc_info=_failure_of(state),
        )

    async for attempt in AsyncRetrying(
        wait=_backoff(1.0, RESTART_WAIT_MAX_S),
        retry=retry_if_exception_type(Exception),
        before_sleep=crashed,
    ):
        with attempt:
            await worker()


async def _every(service: str, name: str, interval_s: float, job: Job, *, wait_first: bool) -> None:
    def failed(state: RetryCallState) -> None:
        log.error(
            "%s failed; retrying in %.1f s",
            name,
            _wait_of(state),
            exc_info=_failure_of(state),
        )

    if wait_first:
        await asyncio.sleep(interval_s)
    while True:
        async for attempt in AsyncRetrying(
            wait=_backoff(min(1.0, interval_s), interval_s),
            retry=retry_if_exception_type(Exception),
            before_sleep=failed,
        ):
            with attempt:
                await job()
        PERIODIC_RUNS.labels(service, name).inc()
        await asyncio.sleep(interval_s)


async def _hold() -> None:
    """The work of a lease that only marks its holder (the outbox sweep): wait to be cancelled."""
    await asyncio.Event().wait()


def _failure_of(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _wait_of(state: RetryCallState) -> float:
    return state.next_action.sleep if state.next_action is not None else 0.0
