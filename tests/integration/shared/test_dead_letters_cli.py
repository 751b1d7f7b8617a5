"""`python -m kitflow_shared.dead_letters` against the real broker: list the dead letters, show
one, replay one or all (a dry run first) onto the topic they came from, where the idempotent
consumers absorb what they had applied already."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_UPDATED, WarehouseState
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.messaging.idempotency import Applied, apply_if_newer
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, STOCK_EVENTS
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import REPO_ROOT, Infra
from tests.support.kafka import eventually, read_all

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]


def _event(code: str) -> CloudEvent:
    state = WarehouseState(
        code=code,
        name=code,
        organisation="IOM",
        type="main",
        admin1_pcode="ML09",
        admin2_pcode="ML0901",
    )
    return WAREHOUSE_UPDATED.new(
        state, subject=f"warehouse/{code}", sequence=1, context=EventContext.new()
    )


async def _cli(infra: Infra, namespace: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kitflow_shared.dead_letters",
        *args,
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "KITFLOW_NAMESPACE": namespace,
            "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "COLUMNS": "250",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    text = out.decode()
    assert process.returncode == 0, text
    return text


async def _run_until(runner: ConsumerRunner, done: Any, what: str) -> None:
    task = asyncio.create_task(runner.run())
    try:
        await eventually(done, lambda ok: bool(ok), what=what)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_dead_letters_are_listed_shown_and_replayed_once_each(
    db: Db, producer: EventProducer, topics: str, kafka_settings: KafkaSettings, infra: Infra
) -> None:
    source = STOCK_EVENTS.qualified(topics)
    dead_letters = DISTRIBUTION_GROUP.dead_letter.qualified(topics)
    events = [_event("W1"), _event("BAD1"), _event("BAD2")]
    await producer.publish(source, events)

    async def failing(event: CloudEvent) -> Applied:
        if "BAD" in event.subject:
            raise RuntimeError("the view is being migrated")
        return await apply_if_newer(db["view"], event.subject, event.sequence, {"$inc": {"n": 1}})

    def runner(handler: Any) -> ConsumerRunner:
        return ConsumerRunner(
            kafka=kafka_settings.model_copy(update={"max_attempts": 1}),
            group=DISTRIBUTION_GROUP,
            namespace=topics,
            handlers={WAREHOUSE_UPDATED.type: handler},
            dead_letters=producer,
            client_id="test",
        )

    async def parked() -> int:
        return len(await read_all(infra.kafka_bootstrap, dead_letters))

    await _run_until(runner(failing), lambda: _two(parked), "two dead letters")

    listed = await _cli(infra, topics, "list", "--group", "distribution")
    assert "2 dead letter(s)" in listed
    assert "warehouse/BAD1" in listed
    assert "warehouse/BAD2" in listed
    assert "handler kept failing" in listed
    assert "the view is being migrated" in listed
    # The two come from different partitions of the source: which was parked second depends on
    # the order the consumer met them in.
    second = next(r for r in await read_all(infra.kafka_bootstrap, dead_letters) if r.offset == 1)
    second_event = CloudEvent.from_bytes(second.value)
    shown = await _cli(infra, topics, "show", "1", "--group", "distribution")
    assert second_event.subject in shown
    assert source in shown
    assert WAREHOUSE_UPDATED.type in shown

    dry = await _cli(infra, topics, "replay", "--all", "--dry-run", "--group", "distribution")
    assert "would replay 0:0" in dry
    assert "would replay 0:1" in dry
    assert len(await read_all(infra.kafka_bootstrap, source)) == 3, "a dry run sends nothing"

    await _cli(infra, topics, "replay", "1", "--group", "distribution")
    after_one = await read_all(infra.kafka_bootstrap, source)
    assert len(after_one) == 4
    [replayed] = [r for r in after_one if "kitflow-replayed-from" in dict(r.headers)]
    assert replayed.value == second.value
    assert dict(replayed.headers)["kitflow-replayed-from"] == f"{dead_letters}:0:1".encode()

    everything = await _cli(infra, topics, "replay", "--all", "--group", "distribution")
    assert "2 dead letter(s) replayed" in everything
    again = await _cli(infra, topics, "replay", "--all", "--group", "distribution")
    assert "0 dead letter(s) replayed (none new)" in again
    assert len(await read_all(infra.kafka_bootstrap, source)) == 6
    assert "yes" in await _cli(infra, topics, "list", "--group", "distribution")

    # The cause is fixed: the replayed events apply, each once, whatever the repeats.
    async def fixed(event: CloudEvent) -> Applied:
        return await apply_if_newer(db["view"], event.subject, event.sequence, {"$inc": {"n": 1}})

    async def applied() -> list[int]:
        return [doc["n"] async for doc in db["view"].find({}).sort("_id", 1)]

    await _run_until(runner(fixed), lambda: _all_three(applied), "the replayed ones applied")
    assert await applied() == [1, 1, 1]
    assert await parked() == 2, "nothing parked again"


async def _two(parked: Any) -> bool:
    return bool(await parked() == 2)


async def _all_three(applied: Any) -> bool:
    return len(await applied()) == 3
