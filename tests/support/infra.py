"""The real broker and store for the test run.

In order of preference:
1. `KITFLOW_TEST_KAFKA_BOOTSTRAP` and `KITFLOW_TEST_STORE_URL` name servers someone else runs;
2. `KITFLOW_TEST_DOCKER=1` with a reachable Docker engine: testcontainers' Kafka and MongoDB
   (the real MongoDB, so the store contract suite also proves the production target);
3. otherwise the local processes of `deploy/local/kitflow-local` (real Apache Kafka, and the
   MongoDB-wire server in memory), on ports of their own so a running `make run` is untouched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.local_system import port_free

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_TOOL = REPO_ROOT / "deploy" / "local" / "kitflow-local"

DEFAULT_TEST_PORTS = {
    "KITFLOW_KAFKA_PORT": ("KITFLOW_TEST_KAFKA_PORT", 29092),
    "KITFLOW_KAFKA_CONTROLLER_PORT": ("KITFLOW_TEST_KAFKA_CONTROLLER_PORT", 29093),
    "KITFLOW_STORE_PORT": ("KITFLOW_TEST_STORE_PORT", 27019),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_PORT_VARIABLES = list(DEFAULT_TEST_PORTS.values())


def choose_ports() -> dict[str, str]:
    """The ports for this run: the ones named by KITFLOW_TEST_*_PORT, else the defaults, else
    (when a default is taken, e.g. by another checkout's run) free ones."""
    ports: dict[str, str] = {}
    for target, (variable, default) in DEFAULT_TEST_PORTS.items():
        given = os.environ.get(variable)
        if given:
            ports[target] = given
        else:
            ports[target] = str(default if port_free(default) else _free_port())
    return ports


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    store_url: str
    kind: str


def start_infra() -> tuple[Infra, Callable[[], None]]:
    kafka = os.environ.get("KITFLOW_TEST_KAFKA_BOOTSTRAP")
    store = os.environ.get("KITFLOW_TEST_STORE_URL")
    if kafka and store:
        return Infra(kafka, store, "external"), lambda: None
    if os.environ.get("KITFLOW_TEST_DOCKER") == "1":
        return _start_containers()
    return _start_local()


START_ATTEMPTS = 3


def _start_local() -> tuple[Infra, Callable[[], None]]:
    ports = choose_ports()
    for attempt in range(1, START_ATTEMPTS + 1):
        # The in-memory store holds every test's data in its heap; give it room.
        env = {
            **os.environ,
            **ports,
            "KITFLOW_STORE_BACKEND": "memory",
            "KITFLOW_STORE_HEAP": "2g",
        }
        env.setdefault("PYTHON", sys.executable)
        subprocess.run([str(LOCAL_TOOL), "install"], check=True, env=env)
        # Test data is disposable: start from nothing, so an interrupted run's store and the
        # topics of earlier runs (every test makes its own) do not pile up in the test broker.
        subprocess.run([str(LOCAL_TOOL), "reset", "all"], check=True, env=env)
        started = subprocess.run([str(LOCAL_TOOL), "start", "all"], check=False, env=env)
        if started.returncode == 0:
            break
        subprocess.run([str(LOCAL_TOOL), "stop", "all"], check=False, env=env)
        if attempt == START_ATTEMPTS or any(os.environ.get(v) for v, _ in _PORT_VARIABLES):
            raise subprocess.CalledProcessError(started.returncode, started.args)
        # A port found free a moment ago was taken meanwhile (another checkout's run on the
        # same machine): try again on ports the system hands out now.
        ports = {target: str(_free_port()) for target in DEFAULT_TEST_PORTS}

    # Data on ports of this run only (the defaults were taken) would never be reused, and each
    # such run would leave its own broker and store folders behind: delete them with the run.
    one_off = any(ports[t] != str(default) for t, (_, default) in DEFAULT_TEST_PORTS.items())

    def stop() -> None:
        subprocess.run(
            [str(LOCAL_TOOL), "reset" if one_off else "stop", "all"], check=False, env=env
        )

    infra = Infra(
        kafka_bootstrap=f"127.0.0.1:{ports['KITFLOW_KAFKA_PORT']}",
        store_url=f"mongodb://127.0.0.1:{ports['KITFLOW_STORE_PORT']}/",
        kind="local processes (Apache Kafka + mongo-java-server in memory)",
    )
    return infra, stop


def _start_containers() -> tuple[Infra, Callable[[], None]]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    # As in every deployment of ours (deploy/local, compose, k8s): only declared topics exist.
    kafka = (
        KafkaContainer("confluentinc/cp-kafka:7.9.0")
        .with_kraft()
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    mongo = MongoDbContainer("mongo:8.0")
    kafka.start()
    mongo.start()

    def stop() -> None:
        kafka.stop()
        mongo.stop()

    return (
        Infra(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers"),
        stop,
    )
