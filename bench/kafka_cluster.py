"""The brokers and the store of `make run-cluster`, without its services: for the benches that
measure a consumer on the cluster (bench.catch_up_cluster, bench.rebuild --cluster).

deploy/local/cluster.py starts them as `make run-cluster` does: three Kafka nodes forming one
KRaft quorum (`min.insync.replicas` 2, the producers' acks=all) and the store, here on ports of
their own in a directory of its own (a running `make run-cluster` and the tests are not
touched), the store in memory with the heap the tests give the one-broker store, so that the
one-process and the cluster figures differ by the brokers only. The benches create their topics
with `REPLICATION` replicas, as the cluster's services do.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from unittest import mock

from tests.support.infra import REPO_ROOT, Infra

CLUSTER_SCRIPT = REPO_ROOT / "deploy" / "local" / "cluster.py"
REPLICATION = 3
# deploy/local/cluster.py's layout: brokers at base, +1, +2; their controllers at +10 .. +12.
BROKER_OFFSETS = (0, 1, 2, 10, 11, 12)


def _cluster_script() -> ModuleType:
    """deploy/local/cluster.py is a script, not a package: loaded by its path."""
    spec = importlib.util.spec_from_file_location("kitflow_local_cluster", CLUSTER_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def _free_base(offsets: tuple[int, ...]) -> int:
    def free(port: int) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    for _ in range(200):
        base = random.randrange(50_000, 60_000)
        if all(free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free ports for the cluster")


def start_cluster_infra(store_heap: str = "2g") -> tuple[Infra, Callable[[], None]]:
    """Three brokers and the store, up; and the function that stops them and deletes their
    data."""
    script = _cluster_script()
    directory = Path(tempfile.mkdtemp(prefix="kf-bench-cluster-"))
    cluster = script.Cluster(
        local_dir=directory,
        kafka_port=_free_base(BROKER_OFFSETS),
        front_port=0,  # no services, no front
        store_port=_free_base((0,)),
        kafka_heap=os.environ.get("KITFLOW_CLUSTER_KAFKA_HEAP", "384m"),
    )
    # What deploy/local/kitflow-local reads besides what cluster.py passes it: this checkout's
    # downloaded Kafka and store, and the store in memory.
    tool_env = {
        "KITFLOW_CACHE_DIR": str(REPO_ROOT / ".local" / "cache"),
        "KITFLOW_STORE_BACKEND": "memory",
        "KITFLOW_STORE_HEAP": store_heap,
    }

    def stop() -> None:
        with mock.patch.dict(os.environ, tool_env):
            script.infra(cluster, "stop")
        shutil.rmtree(directory, ignore_errors=True)

    try:
        with mock.patch.dict(os.environ, tool_env):
            script.infra(cluster, "start")
    except BaseException:
        stop()
        raise
    infra = Infra(
        kafka_bootstrap=cluster.bootstrap_servers,
        store_url=f"mongodb://127.0.0.1:{cluster.store_port}/",
        kind=f"three Kafka brokers ({REPLICATION} replicas, min ISR 2), the store in memory",
    )
    return infra, stop
