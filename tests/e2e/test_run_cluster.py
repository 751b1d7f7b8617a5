"""`make run-cluster` (deploy/local/run_system.py --cluster) as a process: three Kafka brokers with
every topic replicated three times, two instances of each service behind a round-robin front; a
receipt sent through the front reads back from both gateway instances; SIGTERM stops it all."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from kitflow_gateway.config import DEV_ADMIN_PASSWORD
from kitflow_shared.topics import ALL_TOPICS

from tools.local_system import LocalSystem, alive

# Starting three brokers and eight services takes minutes on a loaded 2-core machine: its own
# deadlines (480 s to be up, 180 s to stop) are the verdicts, not the suite's 300 s default.
pytestmark = [pytest.mark.infra, pytest.mark.timeout(900)]


@pytest.fixture
def run_cluster(tmp_path: Path) -> Iterator[LocalSystem]:
    # Apart from the benches' and the chaos run's ports, which may run beside it, and below the
    # ephemeral range (CI once lost gateway-1's port to an outbound connection's source port).
    system = LocalSystem(
        "cluster", tmp_path, {"KITFLOW_STORE_HEAP": "512m"}, ports=(24_000, 26_900)
    )
    try:
        yield system
    finally:
        system.stop(grace_s=0)  # after a failure: this run's processes only, by pid


async def _topic_replication(bootstrap: str, topic: str) -> tuple[list[Any], str | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    partitions = described[0]["partitions"]
    entries = configs[0].to_object()["resources"][0]["config_entries"]
    min_isr = next(
        (e["config_value"] for e in entries if e["config_names"] == "min.insync.replicas"), None
    )
    return partitions, min_isr


async def test_the_cluster_replicates_every_topic_and_serves_through_the_front(
    run_cluster: LocalSystem,
) -> None:
    run_cluster.start(timeout_s=480)
    assert f"http://127.0.0.1:{run_cluster.front_port}" in run_cluster.text()

    topic = ALL_TOPICS[0].qualified("")
    partitions, min_isr = await _topic_replication(run_cluster.bootstrap, topic)
    assert partitions
    assert [sorted(p["replicas"]) for p in partitions] == [[1, 2, 3]] * len(partitions)
    assert [sorted(p["isr"]) for p in partitions] == [[1, 2, 3]] * len(partitions)
    assert min_isr == "2"

    front, gateways = run_cluster.url, run_cluster.gateway_urls()
    async with httpx.AsyncClient(timeout=30) as client:
        token = await client.post(
            f"{front}/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "admin@iom.int",
                "password": DEV_ADMIN_PASSWORD,
            },
        )
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        receipt = await client.post(
            f"{front}/v1/warehouses/BKO-MAIN/receipts",
            json={
                "grn_number": "GRN-CLUSTER-TEST-1",
                "source": "ECHO",
                "lines": [{"item_code": "KIT-NFI", "quantity": 7, "lot": "CLUSTER-1"}],
            },
            headers={**auth, "Idempotency-Key": "cluster-test-receipt-1"},
        )
        assert receipt.status_code == 201, receipt.text
        movement = receipt.json()["movement_id"]
        # Whichever instance took it, both read it back (the token too is good on both).
        read_back = [
            await client.get(f"{g}/v1/warehouses/BKO-MAIN/movements/{movement}", headers=auth)
            for g in gateways
        ]
    assert [r.status_code for r in read_back] == [200, 200], [r.text for r in read_back]
    assert {r.json()["document_number"] for r in read_back} == {"GRN-CLUSTER-TEST-1"}

    # SIGTERM (what `make stop` sends) stops the services, the front, the brokers and the store.
    run_cluster.remember()
    started = set(run_cluster.seen)
    assert len(started) >= 9 + 4, run_cluster.text()  # 8 services and the front; 3 brokers, store
    assert run_cluster.process is not None
    os.kill(run_cluster.process.pid, signal.SIGTERM)
    assert run_cluster.process.wait(180) == 0, run_cluster.text()
    assert "kitflow stopped." in run_cluster.text()
    # Every process stopped on its SIGTERM: none had to be killed (the last broker of three
    # stopped one by one once waited for a lost quorum until it was).
    assert "SIGKILL" not in run_cluster.text()
    assert sorted(pid for pid in started if alive(pid)) == []
    assert not (run_cluster.directory / "run_cluster.pid").exists()
