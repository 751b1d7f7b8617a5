"""`make run-cluster`'s layout: three Kafka nodes, a store, two instances of each service and a
front, on ports of their own (beside `make run`'s), and how to start and stop its infrastructure.

Each Kafka node is broker and controller, the three forming one KRaft quorum (two of three must
be up for the cluster to work). Topics get three replicas and `min.insync.replicas` 2: with the
producers' acks=all, a write is acknowledged once two replicas have it, so one broker can die
without losing an acknowledged event or stopping the writes.

Ports, from two bases (`KITFLOW_CLUSTER_KAFKA_PORT`, `KITFLOW_CLUSTER_FRONT_PORT`):
brokers base, base+1, base+2 and their controllers base+10..12; the front at its base, gateway
instances base+1, +2, stock +11, +12, needs +21, +22, distribution +31, +32.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

HERE = Path(__file__).resolve().parent
LOCAL_TOOL = HERE / "kitflow-local"
NODES = 3
REPLICATION = 3
MIN_INSYNC_REPLICAS = 2
SERVICE_KINDS = ("stock", "needs", "distribution", "gateway")
# The front's port + this + the instance number (1 or 2).
PORT_OFFSETS = {"gateway": 0, "stock": 10, "needs": 20, "distribution": 30}


@dataclass(frozen=True)
class Cluster:
    local_dir: Path
    kafka_port: int
    front_port: int
    store_port: int
    # Small: a broker of a local cluster holds little, and three of them share the machine.
    kafka_heap: str

    @classmethod
    def from_env(cls, local_dir: Path) -> Cluster:
        return cls(
            local_dir=local_dir,
            kafka_port=int(os.environ.get("KITFLOW_CLUSTER_KAFKA_PORT", "19101")),
            front_port=int(os.environ.get("KITFLOW_CLUSTER_FRONT_PORT", "8100")),
            store_port=int(os.environ.get("KITFLOW_CLUSTER_STORE_PORT", "27018")),
            kafka_heap=os.environ.get("KITFLOW_CLUSTER_KAFKA_HEAP", "384m"),
        )

    def broker_port(self, node: int) -> int:
        return self.kafka_port + node - 1

    def controller_port(self, node: int) -> int:
        return self.kafka_port + 10 + node - 1

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.broker_port(n)}" for n in range(1, NODES + 1))

    @property
    def voters(self) -> str:
        return ",".join(f"{n}@127.0.0.1:{self.controller_port(n)}" for n in range(1, NODES + 1))

    def service_port(self, kind: str, instance: int) -> int:
        return self.front_port + PORT_OFFSETS[kind] + instance


@dataclass(frozen=True)
class Instance:
    name: str
    kind: str
    port: int
    env: dict[str, str]
    command: list[str]


def instances(cluster: Cluster, python: str) -> list[Instance]:
    """In start order: the services, then the gateways, then the front (stopped first)."""
    made: list[Instance] = []
    for kind in SERVICE_KINDS:
        for i in (1, 2):
            port = cluster.service_port(kind, i)
            env = {f"KITFLOW_{kind.upper()}_PORT": str(port)}
            if kind == "gateway":
                # Each gateway calls the services' instance of its own number first and fails
                # over to the other one (requests safe to repeat); the front is its proxy, so
                # the client address it passes on is believed.
                for other in SERVICE_KINDS[:-1]:
                    own, next_ = (
                        f"http://127.0.0.1:{cluster.service_port(other, n)}" for n in (i, 3 - i)
                    )
                    env[f"KITFLOW_GATEWAY_{other.upper()}_URL"] = f"{own},{next_}"
                env["KITFLOW_GATEWAY_TRUSTED_PROXIES"] = "127.0.0.1"
            made.append(Instance(f"{kind}-{i}", kind, port, env, []))
    gateways = [f"http://127.0.0.1:{cluster.service_port('gateway', i)}" for i in (1, 2)]
    front = [python, str(HERE / "front.py"), "--port", str(cluster.front_port), *gateways]
    made.append(Instance("front", "front", cluster.front_port, {}, front))
    return made


def service_env(cluster: Cluster) -> dict[str, str]:
    """What every instance shares: the cluster's brokers and store, three replicas a topic."""
    return {
        **os.environ,
        "KITFLOW_LOG_JSON": os.environ.get("KITFLOW_LOG_JSON", "false"),
        "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "KITFLOW_STORE_URL": f"mongodb://127.0.0.1:{cluster.store_port}/",
        "KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR": str(REPLICATION),
    }


def _cluster_id(cluster: Cluster) -> str:
    """One id for the three nodes' storage, kept with their data so a restart finds it."""
    path = cluster.local_dir / f"kafka-cluster-{cluster.kafka_port}.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def new_cluster_id(draw: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """Kafka's own form of a cluster id: a random UUID, URL-safe base64 without padding. Never
    one starting with "-" (one in 64 would): kafka-storage would take it for an option, and the
    nodes would not start. Kafka's Uuid.randomUuid draws again for the same reason."""
    while True:
        made = base64.urlsafe_b64encode(draw()).decode().rstrip("=")
        if not made.startswith("-"):
            return made


def _tool_env(cluster: Cluster, node: int | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "KITFLOW_LOCAL_DIR": str(cluster.local_dir),
        "KITFLOW_STORE_PORT": str(cluster.store_port),
    }
    if node is not None:
        env |= {
            "KITFLOW_KAFKA_PORT": str(cluster.broker_port(node)),
            "KITFLOW_KAFKA_CONTROLLER_PORT": str(cluster.controller_port(node)),
            "KITFLOW_KAFKA_NODE_ID": str(node),
            "KITFLOW_KAFKA_VOTERS": cluster.voters,
            "KITFLOW_KAFKA_CLUSTER_ID": _cluster_id(cluster),
            "KITFLOW_KAFKA_REPLICATION": str(REPLICATION),
            "KITFLOW_KAFKA_MIN_ISR": str(MIN_INSYNC_REPLICAS),
            "KITFLOW_KAFKA_HEAP": cluster.kafka_heap,
            # A node cannot be ready before a majority of the quorum runs: wait below instead.
            "KITFLOW_START_WAIT": "0",
        }
    return env


def _tool(cluster: Cluster, node: int | None, *args: str) -> None:
    subprocess.run([str(LOCAL_TOOL), *args], check=True, env=_tool_env(cluster, node))


def infra(cluster: Cluster, action: str) -> None:
    """`start`: the three nodes, the store, and back once all three brokers serve; `stop`."""
    if action == "start":
        for node in range(1, NODES + 1):
            _tool(cluster, node, "start", "kafka")
        _tool(cluster, None, "start", "store")
        timeout = float(os.environ.get("KITFLOW_READY_TIMEOUT", "120"))
        try:
            asyncio.run(wait_for_brokers(cluster.bootstrap_servers, NODES, timeout))
        except TimeoutError:
            infra(cluster, "stop")
            raise
    else:
        if action == "stop":
            _signal_brokers(cluster)
        for node in range(1, NODES + 1):
            _tool(cluster, node, action, "kafka")
        _tool(cluster, None, action, "store")


def _signal_brokers(cluster: Cluster) -> None:
    """SIGTERM to the three nodes at once: stopped one after the other, the last one left
    without a quorum waits for one until it is killed (30 s)."""
    for node in range(1, NODES + 1):
        home = cluster.local_dir / f"kafka-{cluster.broker_port(node)}"
        try:
            pid = int((home / "kafka.pid").read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        # Only the node this pid file names (not a recycled pid); kitflow-local waits for it.
        if str(home / "server.properties").encode() in command:
            os.kill(pid, signal.SIGTERM)


async def wait_for_brokers(bootstrap_servers: str, brokers: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen = 0
    # Until the quorum forms, every attempt logs a refused connection: not worth showing.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            seen = len((await admin.describe_cluster()).get("brokers") or [])
            if seen >= brokers:
                return
        except Exception:
            pass  # not up yet (no quorum, no metadata): ask again until the deadline
        finally:
            await admin.close()
        await asyncio.sleep(1)
    raise TimeoutError(f"{seen} of {brokers} Kafka brokers up after {timeout_s:g} s")


def describe(cluster: Cluster) -> str:
    brokers = ", ".join(
        f"127.0.0.1:{cluster.broker_port(n)} (controller {cluster.controller_port(n)})"
        for n in range(1, NODES + 1)
    )
    return (
        f"Kafka cluster: {brokers}; topics with {REPLICATION} replicas, min.insync.replicas "
        f"{MIN_INSYNC_REPLICAS}, broker heap {cluster.kafka_heap}. Store 127.0.0.1:"
        f"{cluster.store_port}. The front (round robin over gateway-1 and gateway-2): "
        f"http://127.0.0.1:{cluster.front_port}"
    )


if __name__ == "__main__":
    # `make stop`: whatever is left of the cluster's brokers and store (`python cluster.py stop`).
    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: cluster.py stop")
    repo = HERE.parents[1]
    infra(Cluster.from_env(Path(os.environ.get("KITFLOW_LOCAL_DIR", repo / ".local"))), "stop")
