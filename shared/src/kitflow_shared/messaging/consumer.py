"""The consumer runner: at-least-once delivery, exactly-once effect, poison messages parked.

The documented aiokafka pattern (manual commit after processing, plus a rebalance listener):
- offsets are committed only after the handler stored the effect, never before; a crash in the
  middle of a batch redelivers the rest of it, and the idempotent handlers absorb the repeats;
- when partitions are revoked in a rebalance, what was already processed is committed first, so
  the next owner does not redo more than it must;
- a poll's records are handled for at most `batch_budget_s`; the rest are fetched again by the
  next poll (the partitions are rewound to them). A batch of heavy records (a plan's state for
  hundreds of needs each) would otherwise keep the consumer from polling past the broker's
  `max.poll.interval.ms` (5 min): it would be put out of its group, and its uncommitted records
  handed to another member to redo, again and again;
- a handler failure is retried a bounded number of times with backoff, then the record is parked
  on the group's dead-letter topic with the error, and the partition moves on;
- a record that cannot be read at all (not a CloudEvent, or a payload that breaks its contract,
  which `EventSpec.parse` reports as `UnreadablePayload`) is parked at once: retrying cannot help.
  Any other error, a pydantic `ValidationError` the handler raises itself included (a model it
  builds from what it read elsewhere), is a handler failure and retried like the rest;
- when the store is unreachable the record is NOT parked (the message is fine, the store is not):
  the runner waits and retries until the store is back, holding the partition's order;
- event types the service does not subscribe to are skipped: each service lists its handlers in
  one place, and a newer producer's additional event types must not break older consumers;
- a type with a batch handler (ADR 0033) has the poll's consecutive records of one partition
  that share it handled together (one bulk write of a view instead of one write per record);
  when the batch handler fails, for any reason, its records are handled again one by one by
  their single handlers, with the retries and parking above: a poison record in a batch is
  parked and the others applied. Batch handlers must be idempotent record by record (guarded
  by each record's sequence), since a batch that failed half way is redone.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from pymongo.errors import ConnectionFailure

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.events.registry import UnreadablePayload
from kitflow_shared.logging import log_context
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.metrics import CONSUMER_LAG, EVENTS_CONSUMED, HANDLER_RETRIES
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import ConsumerGroupSpec, qualify

log = logging.getLogger(__name__)

Handler = Callable[[CloudEvent], Awaitable[Applied | None]]
# A record read: its event, or why it is not a readable CloudEvent.
Read: TypeAlias = CloudEvent | ValueError
# Consecutive records of one partition in one poll; one outcome per event, in order.
BatchHandler = Callable[[Sequence[CloudEvent]], Awaitable[Sequence[Applied]]]
# aiokafka ships no type information: a ConsumerRecord[bytes, bytes].
Record: TypeAlias = Any

MAX_TRANSIENT_BACKOFF_S = 5.0
# How long a poll's records may be handled before the consumer polls again: well under aiokafka's
# max_poll_interval_ms (300 s), past which the member is put out of its group.
BATCH_BUDGET_S = 60.0
# The last commit when a consumer stops: bounded, so a broker that is gone or rebalancing
# cannot hold up the process (the uncommitted records are only delivered again).
FINAL_COMMIT_TIMEOUT_S = 5.0


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.commit_processed(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class ConsumerRunner:
    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        group: ConsumerGroupSpec,
        namespace: str,
        handlers: Mapping[str, Handler],
        dead_letters: EventProducer,
        client_id: str,
        batch_budget_s: float = BATCH_BUDGET_S,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
    ) -> None:
        self._kafka = kafka
        self._group = group.qualified(namespace)
        self._topics = [qualify(name, namespace) for name in group.subscribes]
        self._dead_letter_topic = group.dead_letter.qualified(namespace)
        self._handlers = dict(handlers)
        self._dead_letters = dead_letters
        self._client_id = client_id
        self._consumer: AIOKafkaConsumer | None = None
        self._processed: dict[TopicPartition, int] = {}
        self._batch_budget_s = batch_budget_s
        self._batch_handlers = dict(batch_handlers or {})

    async def run(self) -> None:
        """Consume until cancelled; restart the consumer after an unexpected failure."""
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s failed; restarting in 2 s", self._group)
                await asyncio.sleep(2)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka.bootstrap_servers,
            group_id=self._group,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._kafka.max_poll_records,
            request_timeout_ms=self._kafka.request_timeout_ms,
        )
        consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        self._consumer = consumer
        self._processed = {}
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                await self._handle_batch(consumer, batch)
                self._record_lag(consumer)
        finally:
            try:
                # Bounded: a broker that is gone or rebalancing would keep the commit retrying,
                # and what is not committed is only delivered again.
                await asyncio.wait_for(self.commit_processed(None), FINAL_COMMIT_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "consumer %s stopped without committing its last offsets within %s s; "
                    "they will be delivered again",
                    self._group,
                    FINAL_COMMIT_TIMEOUT_S,
                )
            finally:
                self._consumer = None
                await consumer.stop()

    async def _handle_batch(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[Record]]
    ) -> None:
        deadline = time.monotonic() + self._batch_budget_s
        for tp, records in batch.items():
            for run in self._runs(records):
                if time.monotonic() > deadline:
                    # The rest of this partition's records (and of the partitions after it)
                    # come again with the next poll.
                    consumer.seek(tp, run[0][0].offset)
                    break
                await self._handle_run(run)
                self._processed[tp] = run[-1][0].offset + 1
            await self.commit_processed({tp})

    def _runs(self, records: list[Record]) -> list[list[tuple[Record, Read]]]:
        """The records in order, consecutive ones with the same batch handler grouped."""
        runs: list[list[tuple[Record, Read]]] = []
        previous: BatchHandler | None = None
        for record in records:
            event = _read(record)
            batch_handler = (
                self._batch_handlers.get(event.type) if isinstance(event, CloudEvent) else None
            )
            # Equal, not the same object: each look-up of a bound method (`events.on_needs`)
            # makes a new one, and types mapped that way must still share their runs.
            if batch_handler is None or batch_handler != previous:
                runs.append([])
            runs[-1].append((record, event))
            previous = batch_handler
        return runs

    async def _handle_run(self, run: list[tuple[Record, Read]]) -> None:
        first = run[0][1]
        batch_handler = (
            self._batch_handlers.get(first.type) if isinstance(first, CloudEvent) else None
        )
        if isinstance(first, CloudEvent) and batch_handler is not None and len(run) > 1:
            # Only readable events share a batch handler (see `_runs`).
            events = [event for _, event in run if isinstance(event, CloudEvent)]
            try:
                outcomes = await batch_handler(events)
            except Exception as exc:
                log.warning(
                    "batch of %d %s failed (%s); handling them one by one",
                    len(run),
                    first.type,
                    exc,
                )
            else:
                for (record, _), outcome in zip(run, outcomes, strict=True):
                    EVENTS_CONSUMED.labels(self._group, record.topic, outcome.value).inc()
                return
        for record, event in run:
            await self._handle(record, event)

    async def commit_processed(self, partitions: set[TopicPartition] | None) -> None:
        """Commit what is fully processed (for the given partitions, or all we own)."""
        consumer = self._consumer
        if consumer is None:
            return
        owned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._processed.items()
            if tp in owned and (partitions is None or tp in partitions)
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance took the partition first; its next owner redoes a little, idempotently.
            log.warning("offset commit skipped (%s); records will be redelivered", exc)

    def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            processed = self._processed.get(tp)
            if highwater is not None and processed is not None:
                CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(
                    max(0, highwater - processed)
                )

    async def _handle(self, record: Record, event: Read) -> None:
        if isinstance(event, ValueError):
            await self._park(record, event, attempts=1, reason="not a readable CloudEvent")
            return
        handler = self._handlers.get(event.type)
        if handler is None:
            EVENTS_CONSUMED.labels(self._group, record.topic, "ignored").inc()
            return
        with log_context(event.correlationid, event.id):
            await self._handle_event(record, event, handler)

    async def _handle_event(self, record: Record, event: CloudEvent, handler: Handler) -> None:
        attempts = 0
        transient_backoff = self._kafka.retry_backoff_ms / 1000
        while True:
            try:
                outcome = await handler(event)
            except UnreadablePayload as exc:
                await self._park(record, exc, attempts + 1, reason="payload breaks its contract")
                return
            except ConnectionFailure as exc:
                log.warning("store unreachable while handling %s (%s); retrying", event.id, exc)
                await asyncio.sleep(transient_backoff)
                transient_backoff = min(transient_backoff * 2, MAX_TRANSIENT_BACKOFF_S)
                continue
            except Exception as exc:
                attempts += 1
                if attempts >= self._kafka.max_attempts:
                    await self._park(record, exc, attempts, reason="handler kept failing")
                    return
                HANDLER_RETRIES.labels(self._group).inc()
                log.warning(
                    "handler for %s failed (attempt %d of %d): %s",
                    event.type,
                    attempts,
                    self._kafka.max_attempts,
                    exc,
                )
                await asyncio.sleep(self._kafka.retry_backoff_ms / 1000 * 2 ** (attempts - 1))
                continue
            outcome_label = (outcome or Applied.APPLIED).value
            EVENTS_CONSUMED.labels(self._group, record.topic, outcome_label).inc()
            return

    async def _park(self, record: Record, exc: BaseException, attempts: int, reason: str) -> None:
        """Send the record, untouched, to the dead-letter topic with why it failed."""
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        headers: list[tuple[str, bytes]] = [
            *[(k, v) for k, v in (record.headers or ())],
            ("kitflow-dlq-reason", reason.encode()),
            ("kitflow-dlq-error", error[:4000].encode()),
            ("kitflow-dlq-error-type", type(exc).__name__.encode()),
            ("kitflow-dlq-attempts", str(attempts).encode()),
            ("kitflow-dlq-group", self._group.encode()),
            ("kitflow-dlq-topic", record.topic.encode()),
            ("kitflow-dlq-partition", str(record.partition).encode()),
            ("kitflow-dlq-offset", str(record.offset).encode()),
        ]
        await self._dead_letters.park(
            self._dead_letter_topic, value=record.value or b"", key=record.key, headers=headers
        )
        EVENTS_CONSUMED.labels(self._group, record.topic, "dead_lettered").inc()
        log.error(
            "parked %s[%d]@%d on %s: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            self._dead_letter_topic,
            reason,
            error,
        )


def _read(record: Record) -> Read:
    """The record's event, or why it is not a readable CloudEvent (it is then parked)."""
    try:
        return CloudEvent.from_bytes(record.value or b"")
    except ValueError as exc:  # pydantic's ValidationError included
        return exc


def dead_letter_headers(headers: Any) -> dict[str, str]:
    """Read the kitflow-dlq-* headers of a parked record (for tools and tests)."""
    return {key: value.decode() for key, value in headers or () if key.startswith("kitflow-dlq-")}
