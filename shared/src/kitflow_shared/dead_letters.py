"""Dead letters: list them, look at one, and replay one or all onto the topic they came from.

    python -m kitflow_shared.dead_letters list [--group distribution] [--outbox stock]
    python -m kitflow_shared.dead_letters show 12 --group distribution
    python -m kitflow_shared.dead_letters replay 12 --group distribution [--dry-run]
    python -m kitflow_shared.dead_letters replay --all --group distribution [--dry-run]

Two kinds of dead-letter topics (`kitflow_shared.topics`):
- `--group <service>`: what the service's consumer group could not handle (`kitflow.<service>.dlq`);
- `--outbox <service>`: what the service's outbox relay could never publish
  (`kitflow.<service>.events.dlq`).
Each dead letter keeps the record as it was, and headers saying where it came from
(`kitflow-dlq-topic`) and why it was parked. Replaying sends the record, unchanged, back onto
that topic: every consumer group reading it sees it again, and the consumers, idempotent, absorb
what they had applied already. Replay the dead letters once the cause is fixed (a new version
deployed, a topic's limit raised): a record that fails again is parked again.

`replay --all` replays the dead letters no earlier `replay --all` has replayed, and then
remembers how far it went (the committed offset of the consumer group
`<dead-letter topic>.redrive`): running it twice does not replay twice. It stops at the first
record the broker refuses, so nothing after it is marked replayed. `--dry-run` shows what would
go where, and sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.messaging.reading import partitions_of, read_to_end
from kitflow_shared.settings import CommonSettings, KafkaSettings
from kitflow_shared.topics import CONSUMER_GROUPS, EVENT_TOPICS, dead_letter_topic_of, qualify

DLQ_HEADER = "kitflow-dlq-"
REPLAYED_FROM_HEADER = "kitflow-replayed-from"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.key,
            record.value or b"",
            tuple(record.headers or ()),
        )

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def parked_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def why(self) -> dict[str, str]:
        """The kitflow-dlq-* headers, without their prefix (reason, error, topic, ...)."""
        return {
            key.removeprefix(DLQ_HEADER): value.decode(errors="replace")
            for key, value in self.headers
            if key.startswith(DLQ_HEADER)
        }

    @property
    def original_topic(self) -> str | None:
        return self.why.get("topic")

    @property
    def event(self) -> CloudEvent | None:
        try:
            return CloudEvent.from_bytes(self.value)
        except (ValidationError, ValueError):
            return None

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The record's own headers (content type, ...) and where it is replayed from."""
        own = [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER)]
        return [
            *own,
            (REPLAYED_FROM_HEADER, f"{self.topic}:{self.partition}:{self.offset}".encode()),
        ]


def dead_letter_topics(
    namespace: str, group: str | None = None, outbox: str | None = None
) -> list[str]:
    """The dead-letter topics named (a consumer group's, an outbox's), or all of them."""
    groups = {g.name.split(".")[1]: g.dead_letter.name for g in CONSUMER_GROUPS}
    outboxes = {t.name.split(".")[1]: dead_letter_topic_of(t.name) for t in EVENT_TOPICS}
    if group is not None and group not in groups:
        raise ValueError(f"no consumer group {group!r}; one of {', '.join(sorted(groups))}")
    if outbox is not None and outbox not in outboxes:
        raise ValueError(f"no outbox {outbox!r}; one of {', '.join(sorted(outboxes))}")
    if group is None and outbox is None:
        names = [*groups.values(), *outboxes.values()]
    else:
        names = [n for n in (groups.get(group or ""), outboxes.get(outbox or "")) if n]
    return [qualify(name, namespace) for name in names]


def redrive_group(topic: str) -> str:
    return f"{topic}.redrive"


async def read(bootstrap_servers: str, topic: str) -> list[DeadLetter]:
    return [DeadLetter.of(r) for r in await read_to_end(bootstrap_servers, topic)]


async def replayed_up_to(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """Per partition, the offset up to which `replay --all` has replayed (0: nothing yet)."""
    partitions = await partitions_of(bootstrap_servers, topic)
    if not partitions:
        return {}
    consumer = _redrive_consumer(bootstrap_servers, topic)
    await consumer.start()
    try:
        consumer.assign(partitions)
        committed = {tp.partition: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()
    return {partition: offset or 0 for partition, offset in committed.items()}


async def remember_replayed(bootstrap_servers: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = _redrive_consumer(bootstrap_servers, topic)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in offsets]
        consumer.assign(partitions)
        await consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
    finally:
        await consumer.stop()


def _redrive_consumer(bootstrap_servers: str, topic: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=redrive_group(topic),
        enable_auto_commit=False,
    )


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    to: str | None
    error: str | None = None


async def replay(
    bootstrap_servers: str, letters: Sequence[DeadLetter], *, dry_run: bool
) -> list[Replayed]:
    """Send each dead letter back onto its topic, in order; stop at the first one that cannot
    be sent (no topic in its headers, or the broker refuses it)."""
    outcomes: list[Replayed] = []
    producer = (
        None
        if dry_run
        else EventProducer(
            KafkaSettings(bootstrap_servers=bootstrap_servers), client_id="kitflow-dead-letters"
        )
    )
    if producer is not None:
        await producer.start()
    try:
        for letter in letters:
            to = letter.original_topic
            if to is None:
                outcomes.append(Replayed(letter, None, "no kitflow-dlq-topic header"))
                break
            if producer is not None:
                try:
                    await producer.publish_raw(
                        to, letter.value, letter.key, letter.replay_headers()
                    )
                except Exception as error:
                    outcomes.append(Replayed(letter, to, f"{type(error).__name__}: {error}"))
                    break
            outcomes.append(Replayed(letter, to))
    finally:
        if producer is not None:
            await producer.stop()
    return outcomes


def parse_ref(ref: str) -> tuple[int, int]:
    """`offset` (partition 0: dead-letter topics have one) or `partition:offset`."""
    partition, _, offset = ref.rpartition(":")
    try:
        return int(partition or 0), int(offset)
    except ValueError:
        raise ValueError(
            f"not a dead letter's reference: {ref!r} (offset, or partition:offset)"
        ) from None


# ---------------------------------------------------------------------- command line

app = typer.Typer(help="kitflow's dead letters: list, show, replay", add_completion=False)
_console = Console()
_group_option = typer.Option(
    None, "--group", help="A consumer group's dead letters: stock, needs, distribution"
)
_outbox_option = typer.Option(
    None, "--outbox", help="An outbox's dead letters: stock, needs, distribution"
)
_namespace_option = typer.Option(None, "--namespace", help="Default: KITFLOW_NAMESPACE")
_bootstrap_option = typer.Option(
    None, "--bootstrap", help="Default: KITFLOW_KAFKA_BOOTSTRAP_SERVERS"
)


def _settings(namespace: str | None, bootstrap: str | None) -> tuple[str, str]:
    return (
        CommonSettings().namespace if namespace is None else namespace,
        bootstrap or KafkaSettings().bootstrap_servers,
    )


def _one_topic(namespace: str, group: str | None, outbox: str | None) -> str:
    if (group is None) == (outbox is None):
        raise typer.BadParameter("name one dead-letter topic: --group or --outbox")
    return dead_letter_topics(namespace, group, outbox)[0]


def _find(letters: list[DeadLetter], ref: str) -> DeadLetter:
    partition, offset = parse_ref(ref)
    for letter in letters:
        if (letter.partition, letter.offset) == (partition, offset):
            return letter
    raise typer.BadParameter(f"no dead letter {ref} there")


@app.command("list")
def list_(
    group: str | None = _group_option,
    outbox: str | None = _outbox_option,
    namespace: str | None = _namespace_option,
    bootstrap: str | None = _bootstrap_option,
) -> None:
    """The dead letters of one topic, or of every dead-letter topic."""
    ns, servers = _settings(namespace, bootstrap)
    for topic in dead_letter_topics(ns, group, outbox):
        letters = asyncio.run(read(servers, topic))
        done = asyncio.run(replayed_up_to(servers, topic)) if letters else {}
        table = Table(
            "ref", "parked at", "event", "subject", "from", "reason", "error", "replayed",
            title=f"{topic}: {len(letters)} dead letter(s)",
        )  # fmt: skip
        for letter in letters:
            event, why = letter.event, letter.why
            table.add_row(
                letter.ref,
                letter.parked_at.strftime("%Y-%m-%d %H:%M:%S"),
                event.type if event else "(unreadable)",
                event.subject if event else "",
                why.get("group") or why.get("service", ""),
                why.get("reason", ""),
                why.get("error", "").splitlines()[-1][:80] if why.get("error") else "",
                "yes" if letter.offset < done.get(letter.partition, 0) else "no",
            )
        _console.print(table)


@app.command()
def show(
    ref: str = typer.Argument(..., help="offset, or partition:offset, as `list` shows"),
    group: str | None = _group_option,
    outbox: str | None = _outbox_option,
    namespace: str | None = _namespace_option,
    bootstrap: str | None = _bootstrap_option,
    max_chars: int = typer.Option(20_000, help="Show at most this much of the record"),
) -> None:
    """One dead letter: why it was parked, where it came from, and the record itself."""
    ns, servers = _settings(namespace, bootstrap)
    topic = _one_topic(ns, group, outbox)
    letter = _find(asyncio.run(read(servers, topic)), ref)
    table = Table("header", "value", title=f"{topic} {letter.ref}")
    table.add_row("key", (letter.key or b"").decode(errors="replace"))
    table.add_row("parked at", letter.parked_at.isoformat())
    table.add_row("size", f"{len(letter.value)} bytes")
    for key, value in letter.why.items():
        table.add_row(key, value)
    _console.print(table)
    text = letter.value.decode(errors="replace")
    if letter.event is not None and len(text) <= max_chars:
        _console.print(JSON(text))
    else:
        _console.print(text[:max_chars] + ("..." if len(text) > max_chars else ""))


@app.command("replay")
def replay_(
    ref: str | None = typer.Argument(None, help="The one to replay (offset, or p:offset)"),
    all_: bool = typer.Option(False, "--all", help="Every one not replayed by --all yet"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent where"),
    group: str | None = _group_option,
    outbox: str | None = _outbox_option,
    namespace: str | None = _namespace_option,
    bootstrap: str | None = _bootstrap_option,
) -> None:
    """Send dead letters back onto the topic they came from."""
    if (ref is None) == (not all_):
        raise typer.BadParameter("give one dead letter's reference, or --all")
    ns, servers = _settings(namespace, bootstrap)
    topic = _one_topic(ns, group, outbox)
    letters = asyncio.run(read(servers, topic))
    if all_:
        done = asyncio.run(replayed_up_to(servers, topic))
        chosen = [x for x in letters if x.offset >= done.get(x.partition, 0)]
    else:
        chosen = [_find(letters, ref or "")]
    outcomes = asyncio.run(replay(servers, chosen, dry_run=dry_run))
    verb = "would replay" if dry_run else "replayed"
    for outcome in outcomes:
        event = outcome.letter.event
        what = f"{event.type} {event.subject}" if event else "(unreadable)"
        if outcome.error:
            _console.print(f"[red]not replayed[/red] {outcome.letter.ref} {what}: {outcome.error}")
        else:
            _console.print(f"{verb} {outcome.letter.ref} {what} -> {outcome.to}")
    sent = [o for o in outcomes if o.error is None]
    if all_ and sent and not dry_run:
        last: dict[int, int] = {}
        for outcome in sent:
            last[outcome.letter.partition] = outcome.letter.offset + 1
        asyncio.run(remember_replayed(servers, topic, last))
    _console.print(f"{len(sent)} dead letter(s) {verb}" + ("" if chosen else " (none new)"))
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
