"""A change written with its outbox event in stock is applied exactly once by distribution,
even when the consumer is SIGKILLed mid-batch and when the relay dies between publishing and
pruning."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kitflow_shared.settings import CommonSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP, STOCK_EVENTS
from pymongo import AsyncMongoClient

from tests.support.infra import REPO_ROOT, Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import ServiceProcess, identity, service_env, service_process

pytestmark = pytest.mark.infra

WAREHOUSES = 30
UPDATES_EACH = 9


def _body(i: int) -> dict[str, Any]:
    return {
        "code": f"WH-{i:03d}",
        "name": f"Warehouse {i}",
        "organisation": "IOM",
        "type": "partner",
        "admin1_pcode": "ML05",
        "admin2_pcode": "ML0501",
        "capacity_m3": 100,
    }


def _db(client: AsyncMongoClient[dict[str, Any]], namespace: str, service: str) -> Any:
    return client[CommonSettings(namespace=namespace).database_name(service)]


async def _register_and_update(stock: ServiceProcess, count: int, updates: int) -> None:
    headers = identity("IOM")
    async with httpx.AsyncClient(base_url=stock.url, headers=headers, timeout=10) as client:
        for i in range(count):
            response = await client.post("/v1/warehouses", json=_body(i))
            assert response.status_code == 201, response.text
        for n in range(updates):
            for i in range(count):
                response = await client.patch(
                    f"/v1/warehouses/WH-{i:03d}", json={"capacity_m3": 200 + n}
                )
                assert response.status_code == 200, response.text


async def _view(store: AsyncMongoClient[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    return await _db(store, namespace, "distribution")["warehouse_view"].find({}).to_list(None)


async def _applied(store: AsyncMongoClient[dict[str, Any]], namespace: str) -> int:
    return sum(doc["events_applied"] for doc in await _view(store, namespace))


async def _committed(infra: Infra, namespace: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(DISTRIBUTION_GROUP.qualified(namespace))
    finally:
        await admin.close()
    stock_topic = STOCK_EVENTS.qualified(namespace)
    return sum(
        meta.offset
        for tp, meta in offsets.items()
        if isinstance(tp, TopicPartition) and tp.topic == stock_topic and meta.offset > 0
    )


def _assert_exactly_once(view: list[dict[str, Any]], count: int, final_sequence: int) -> None:
    assert len(view) == count
    for doc in view:
        assert doc["sequence"] == final_sequence, doc["_id"]  # nothing lost
        assert doc["events_applied"] == final_sequence, doc["_id"]  # nothing applied twice


async def _freeze_inside_a_batch(
    consumer: ServiceProcess,
    store: AsyncMongoClient[dict[str, Any]],
    infra: Infra,
    namespace: str,
    total: int,
) -> None:
    """Leave `consumer` stopped at a moment when it has applied records it has not committed:
    at a batch boundary (applied equal to committed) there would be nothing to redeliver, and
    the test would prove nothing."""
    assert consumer.process is not None
    pid = consumer.process.pid
    seen: list[tuple[int, int]] = []
    while True:
        await asyncio.sleep(random.uniform(0.005, 0.05))
        os.kill(pid, signal.SIGSTOP)
        applied, committed = await _applied(store, namespace), await _committed(infra, namespace)
        seen.append((applied, committed))
        if 0 < applied < total and applied > committed:
            return
        assert applied < total, f"never caught inside a batch (applied, committed): {seen}"
        os.kill(pid, signal.SIGCONT)


async def test_a_consumer_killed_mid_batch_resumes_without_losing_or_doubling_anything(
    infra: Infra,
    topics: str,
    processes: list[ServiceProcess],
    store_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    total = WAREHOUSES * (1 + UPDATES_EACH)
    stock = service_process("stock", infra, topics)
    processes.append(stock.start())
    await stock.wait_ready()
    await _register_and_update(stock, WAREHOUSES, UPDATES_EACH)
    await eventually(
        lambda: read_topic(
            infra.kafka_bootstrap, STOCK_EVENTS.qualified(topics), expect=total, timeout_s=5
        ),
        lambda records: len(records) >= total,
        what="all events published",
    )

    # Small polls, so the run is many batches. A poll's view writes are one bulk write and its
    # offsets are committed right after (ADR 0033): the moment between the two is short, so the
    # consumer is frozen (SIGSTOP) at random moments until one catches it there, then killed.
    distribution = service_process(
        "distribution", infra, topics, KITFLOW_KAFKA_MAX_POLL_RECORDS="5"
    )
    processes.append(distribution.start())
    await _freeze_inside_a_batch(distribution, store_client, infra, topics, total)
    distribution.kill()
    applied_at_kill = await _applied(store_client, topics)
    committed_at_kill = await _committed(infra, topics)
    assert 0 < applied_at_kill < total, "the kill must land while events are being applied"
    # Effects stored beyond the committed offsets: those records WILL be delivered again.
    assert applied_at_kill > committed_at_kill

    restarted = service_process("distribution", infra, topics)
    processes.append(restarted.start())
    await eventually(
        lambda: _applied(store_client, topics),
        lambda n: n >= total,
        timeout_s=60,
        what="everything applied after the restart",
    )
    await asyncio.sleep(1.5)  # let any redelivery land before judging
    _assert_exactly_once(await _view(store_client, topics), WAREHOUSES, 1 + UPDATES_EACH)
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{restarted.url}/metrics")).text
    assert 'outcome="duplicate"' in metrics  # the redelivered records were seen, and absorbed


async def test_a_relay_killed_after_publishing_but_before_pruning_publishes_again_harmlessly(
    infra: Infra,
    topics: str,
    processes: list[ServiceProcess],
    store_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    # Stock without workers: writes land in the outbox and nobody publishes them yet.
    quiet_stock = service_process("stock", infra, topics, KITFLOW_STOCK_RUN_WORKERS="false")
    processes.append(quiet_stock.start())
    await quiet_stock.wait_ready()
    await _register_and_update(quiet_stock, WAREHOUSES, 0)
    quiet_stock.stop()

    crash = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.relay_crash",
        env=service_env(infra, topics),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(crash.communicate(), 60)
    assert crash.returncode == -9, output.decode()
    stock_topic = STOCK_EVENTS.qualified(topics)
    published = await read_topic(infra.kafka_bootstrap, stock_topic, expect=10, timeout_s=10)
    assert len(published) == 10  # the first batch reached the broker...
    outbox = _db(store_client, topics, "stock")["warehouses"]
    pending = await outbox.count_documents({"outbox.0": {"$exists": True}})
    assert pending == WAREHOUSES  # ...but nothing was pruned

    distribution = service_process("distribution", infra, topics)
    stock = service_process("stock", infra, topics)
    processes.extend([distribution.start(), stock.start()])
    await eventually(
        lambda: _applied(store_client, topics),
        lambda n: n >= WAREHOUSES,
        timeout_s=60,
        what="every warehouse in distribution's view",
    )
    await eventually(
        lambda: outbox.count_documents({"outbox.0": {"$exists": True}}),
        lambda n: n == 0,
        what="outbox drained",
    )
    await asyncio.sleep(1.5)
    records = await read_topic(infra.kafka_bootstrap, stock_topic, expect=WAREHOUSES + 10)
    assert len(records) == WAREHOUSES + 10  # the first batch went out twice
    _assert_exactly_once(await _view(store_client, topics), WAREHOUSES, 1)
