"""`make run-cluster` (deploy/local/run_system.py --cluster) as a process: three Kafka brokers with
every topic replicated three times, two instances of each service behind a round-robin front; a
receipt sent through the front reads back from both gateway instances; SIGTERM stops it all."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from kitflow_gateway.config import DEV_ADMIN_PASSWORD
from kitflow_shared.topics import ALL_TOPICS

from tests.support.infra import REPO_ROOT

pytestmark = pytest.mark.infra

RUN_SYSTEM = REPO_ROOT / "deploy" / "local" / "run_system.py"
# The cluster's port layout (deploy/local/cluster.py): offsets from its two bases.
BROKER_OFFSETS = (0, 1, 2, 10, 11, 12)
FRONT_OFFSETS = (0, 1, 2, 11, 12, 21, 22, 31, 32)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_base(offsets: tuple[int, ...]) -> int:
    for _ in range(200):
        base = random.randrange(30_000, 40_000)
        if all(_free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free ports for the cluster")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return found
    for child in map(int, children):
        found |= {child, *_descendants(child)}
    return found


class RunCluster:
    def __init__(self, tmp: Path) -> None:
        self.local = tmp
        self.kafka_port = _free_base(BROKER_OFFSETS)
        self.front_port = _free_base(FRONT_OFFSETS)
        self.store_port = _free_base((0,))
        self.env = {
            **os.environ,
            "KITFLOW_LOCAL_DIR": str(tmp),
            "KITFLOW_CACHE_DIR": str(REPO_ROOT / ".local" / "cache"),
            "KITFLOW_STORE_BACKEND": "memory",
            "KITFLOW_STORE_HEAP": "512m",
            "KITFLOW_CLUSTER_KAFKA_PORT": str(self.kafka_port),
            "KITFLOW_CLUSTER_FRONT_PORT": str(self.front_port),
            "KITFLOW_CLUSTER_STORE_PORT": str(self.store_port),
            "KITFLOW_LOG_JSON": "false",
        }
        self.output = tmp / "run_cluster.out"
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()

    def start(self) -> None:
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(RUN_SYSTEM), "--cluster"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + i}" for i in range(3))

    def url(self, offset: int) -> str:
        return f"http://127.0.0.1:{self.front_port + offset}"

    def infra_pids(self) -> set[int]:
        """The brokers and the store, launched detached (not our children): from their pid files."""
        files = [self.local / f"kafka-{self.kafka_port + i}" / "kafka.pid" for i in range(3)]
        files.append(self.local / f"store-{self.store_port}" / "store.pid")
        return {int(f.read_text()) for f in files if f.exists()}

    def wait_until(self, text: str, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while text not in self.text():
            self.seen |= _descendants(self.process.pid) | self.infra_pids()
            if self.process.poll() is not None:
                raise AssertionError(f"run_system exited before {text!r}:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout_s} s:\n{self.text()}")
            time.sleep(0.5)

    def kill_everything(self) -> None:
        """Cleanup after a failure: this run's processes only, by pid."""
        for pid in self.seen | self.infra_pids():
            with contextlib.suppress(ProcessLookupError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def run_cluster(tmp_path: Path) -> Iterator[RunCluster]:
    system = RunCluster(tmp_path)
    try:
        yield system
    finally:
        system.kill_everything()


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
    run_cluster: RunCluster,
) -> None:
    run_cluster.start()
    run_cluster.wait_until("kitflow is up.", timeout_s=480)
    assert f"http://127.0.0.1:{run_cluster.front_port}" in run_cluster.text()

    topic = ALL_TOPICS[0].qualified("")
    partitions, min_isr = await _topic_replication(run_cluster.bootstrap, topic)
    assert partitions
    assert [sorted(p["replicas"]) for p in partitions] == [[1, 2, 3]] * len(partitions)
    assert [sorted(p["isr"]) for p in partitions] == [[1, 2, 3]] * len(partitions)
    assert min_isr == "2"

    front, gateways = run_cluster.url(0), [run_cluster.url(1), run_cluster.url(2)]
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
    run_cluster.seen |= _descendants(run_cluster.process.pid) | run_cluster.infra_pids()  # type: ignore[union-attr]
    started = set(run_cluster.seen)
    assert len(started) >= 9 + 4, run_cluster.text()  # 8 services and the front; 3 brokers, store
    assert run_cluster.process is not None
    os.kill(run_cluster.process.pid, signal.SIGTERM)
    assert run_cluster.process.wait(180) == 0, run_cluster.text()
    assert "kitflow stopped." in run_cluster.text()
    # Every process stopped on its SIGTERM: none had to be killed (the last broker of three
    # stopped one by one once waited for a lost quorum until it was).
    assert "SIGKILL" not in run_cluster.text()
    assert sorted(pid for pid in started if _alive(pid)) == []
    assert not (run_cluster.local / "run_cluster.pid").exists()
