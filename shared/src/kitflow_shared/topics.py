"""Every Kafka topic and consumer group of the system, declared in one place.

The tooling (`python -m kitflow_shared.topics create`) creates exactly these, with these settings;
the broker's auto-creation is switched off so that a typo cannot invent a topic.

- One topic per producing service, keyed by aggregate id, so each aggregate's events stay in order.
- One consumer group per consuming service.
- One dead-letter topic per consumer group, for messages that kept failing.
- One dead-letter topic per event topic (`<topic>.dlq`), for events the outbox relay could never
  publish to it (the broker refuses them: too large, invalid), so they block nothing behind them.
Event topics keep their events forever: read models are rebuilt by replaying them. Dead letters
are kept thirty days; `python -m kitflow_shared.dead_letters` lists, shows and replays them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidReplicationFactorError,
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_fixed,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

KEEP_FOREVER_MS = -1
THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000
# A dead letter keeps the whole record, and an event the broker refused for its size is larger
# than the event topics allow: dead-letter topics take what one store document can hold (an
# outbox entry cannot be larger), and the dead letters travel gzip-compressed.
DEAD_LETTER_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    purpose: str
    max_message_bytes: int | None = None  # None: the broker's default (1 MiB)

    def qualified(self, namespace: str) -> str:
        return qualify(self.name, namespace)

    def config(self) -> dict[str, str]:
        config = {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete"}
        if self.max_message_bytes is not None:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


@dataclass(frozen=True)
class ConsumerGroupSpec:
    name: str
    subscribes: tuple[str, ...]
    dead_letter: TopicSpec = field(compare=False)

    def qualified(self, namespace: str) -> str:
        return qualify(self.name, namespace)


def qualify(name: str, namespace: str) -> str:
    return f"{namespace}.{name}" if namespace else name


STOCK_EVENTS = TopicSpec(
    "kitflow.stock.events", 6, KEEP_FOREVER_MS, "stock: warehouses, balances, reservations"
)
NEEDS_EVENTS = TopicSpec(
    "kitflow.needs.events", 6, KEEP_FOREVER_MS, "needs: assessed needs and their coverage"
)
DISTRIBUTION_EVENTS = TopicSpec(
    "kitflow.distribution.events", 6, KEEP_FOREVER_MS, "distribution: plans, dispatches, deliveries"
)
EVENT_TOPICS: tuple[TopicSpec, ...] = (STOCK_EVENTS, NEEDS_EVENTS, DISTRIBUTION_EVENTS)


def _dead_letter(group: str) -> TopicSpec:
    return TopicSpec(
        f"{group}.dlq",
        1,
        THIRTY_DAYS_MS,
        f"dead letters of consumer group {group}",
        DEAD_LETTER_MAX_BYTES,
    )


def dead_letter_topic_of(topic: str) -> str:
    """The dead-letter topic of an event topic (qualified or not): what its producers' outbox
    relay could never publish to it."""
    return f"{topic}.dlq"


def _outbox_dead_letter(topic: TopicSpec) -> TopicSpec:
    return TopicSpec(
        dead_letter_topic_of(topic.name),
        1,
        THIRTY_DAYS_MS,
        f"events the outbox relay could never publish to {topic.name}",
        DEAD_LETTER_MAX_BYTES,
    )


OUTBOX_DEAD_LETTERS: tuple[TopicSpec, ...] = tuple(_outbox_dead_letter(t) for t in EVENT_TOPICS)


# Stock also reads its own topic: a transfer that leaves one warehouse is announced to the other.
STOCK_GROUP = ConsumerGroupSpec(
    "kitflow.stock",
    (DISTRIBUTION_EVENTS.name, STOCK_EVENTS.name),
    _dead_letter("kitflow.stock"),
)
# Needs reads stock's topic for the catalogue's item events only (its read of item codes).
NEEDS_GROUP = ConsumerGroupSpec(
    "kitflow.needs",
    (DISTRIBUTION_EVENTS.name, STOCK_EVENTS.name),
    _dead_letter("kitflow.needs"),
)
# Distribution also reads its own topic: each plan's published state feeds the needs' coverage.
DISTRIBUTION_GROUP = ConsumerGroupSpec(
    "kitflow.distribution",
    (STOCK_EVENTS.name, NEEDS_EVENTS.name, DISTRIBUTION_EVENTS.name),
    _dead_letter("kitflow.distribution"),
)
CONSUMER_GROUPS: tuple[ConsumerGroupSpec, ...] = (STOCK_GROUP, NEEDS_GROUP, DISTRIBUTION_GROUP)

DEAD_LETTER_TOPICS: tuple[TopicSpec, ...] = (
    tuple(g.dead_letter for g in CONSUMER_GROUPS) + OUTBOX_DEAD_LETTERS
)
ALL_TOPICS: tuple[TopicSpec, ...] = EVENT_TOPICS + DEAD_LETTER_TOPICS


# With three replicas or more, a write (the producers send acks=all) is acknowledged once two of
# them hold it: one broker can be lost without losing an acknowledged event or stopping writes.
MIN_INSYNC_REPLICAS = 2


def topic_config(spec: TopicSpec, replication_factor: int) -> dict[str, str]:
    """The settings a topic is created with, for `replication_factor` replicas."""
    config = spec.config()
    if replication_factor > MIN_INSYNC_REPLICAS:
        config["min.insync.replicas"] = str(MIN_INSYNC_REPLICAS)
    return config


# A cluster just started lists brokers before each of them accepts connections ("node not
# ready"), and refuses a replicated topic until enough brokers have registered: both pass within
# seconds, so they are asked again until this deadline, then raised with the broker's reason.
TOPICS_READY_TIMEOUT_S = 60.0
TOPICS_RETRY_WAIT_S = 0.5


def _worth_asking_again(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return isinstance(exc, KafkaError) and (
        exc.retriable or isinstance(exc, InvalidReplicationFactorError)
    )


async def retry_while_starting(
    action: Callable[[], Awaitable[T]],
    what: str,
    timeout_s: float = TOPICS_READY_TIMEOUT_S,
    wait_s: float = TOPICS_RETRY_WAIT_S,
) -> T:
    """`action()`, asked again on the answers of a broker still starting, until `timeout_s`."""

    def not_ready(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        log.warning("%s: the broker is not ready yet (%r); asking again", what, failure)

    async for attempt in AsyncRetrying(
        stop=stop_after_delay(max(0.0, timeout_s - wait_s)),
        wait=wait_fixed(wait_s),
        retry=retry_if_exception(_worth_asking_again),
        before_sleep=not_ready,
        reraise=True,
    ):
        with attempt:
            return await action()
    raise AssertionError("unreachable: tenacity returns or raises")


async def ensure_topics(
    bootstrap_servers: str,
    namespace: str = "",
    replication_factor: int = 1,
    ready_timeout_s: float = TOPICS_READY_TIMEOUT_S,
) -> list[str]:
    """Create every declared topic that does not exist yet; return the names created."""
    return await retry_while_starting(
        lambda: _ensure_topics_once(bootstrap_servers, namespace, replication_factor),
        "creating the topics",
        ready_timeout_s,
    )


async def _ensure_topics_once(
    bootstrap_servers: str, namespace: str, replication_factor: int
) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="kitflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in ALL_TOPICS if t.qualified(namespace) not in existing]
        created: list[str] = []
        for spec in missing:
            topic = NewTopic(
                name=spec.qualified(namespace),
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=topic_config(spec, replication_factor),
            )
            answer = await admin.create_topics([topic])
            if _created(answer.topic_errors):
                created.append(topic.name)
        await _wait_until_listed(admin, {t.qualified(namespace) for t in ALL_TOPICS})
        return created
    finally:
        await admin.close()


def _created(topic_errors: list[tuple[Any, ...]]) -> bool:
    """Whether the broker created the topic; its refusal raised as the error it names. The admin
    client returns refusals in the answer, it does not raise them: unread, a refused topic
    showed up only as "not visible after creation", without the broker's reason."""
    for name, code, *message in topic_errors:
        if code == 0:
            continue
        error = for_code(int(code))
        if error is TopicAlreadyExistsError:
            # Another process created it between our listing and our request: fine.
            return False
        reason = message[0] if message and message[0] else error.description
        raise error(f"topic {name}: {reason}")
    return True


async def _wait_until_listed(admin: AIOKafkaAdminClient, names: set[str]) -> None:
    for _ in range(100):
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics not visible after creation: {sorted(names)}")


def main() -> None:
    import typer
    from rich.console import Console
    from rich.table import Table

    from kitflow_shared.settings import CommonSettings, KafkaSettings

    app = typer.Typer(help="kitflow's Kafka topics", add_completion=False)

    @app.command()
    def create() -> None:
        """Create every declared topic that is missing (idempotent)."""
        kafka = KafkaSettings()
        namespace = CommonSettings().namespace
        created = asyncio.run(
            ensure_topics(kafka.bootstrap_servers, namespace, kafka.topic_replication_factor)
        )
        Console().print(f"created {len(created)} topic(s): {', '.join(created) or 'none missing'}")

    @app.command("list")
    def list_() -> None:
        """Show the declared topics and consumer groups."""
        namespace = CommonSettings().namespace
        table = Table("topic", "partitions", "retention", "purpose")
        for spec in ALL_TOPICS:
            keep = "forever" if spec.retention_ms < 0 else f"{spec.retention_ms // 86_400_000} d"
            table.add_row(spec.qualified(namespace), str(spec.partitions), keep, spec.purpose)
        Console().print(table)

    app()


if __name__ == "__main__":
    main()
