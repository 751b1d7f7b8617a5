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

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from tests.support.infra import REPO_ROOT, Infra
from tools.local_system import CLUSTER_BROKERS, cluster_script, free_base

REPLICATION = 3
BROKER_OFFSETS = CLUSTER_BROKERS
# Apart from the ports the tests and the other cluster tools draw from, and below the ephemeral
# range (tools/local_system.py's PORTS says why).
PORTS = (20_000, 24_000)


def start_cluster_infra(store_heap: str = "2g") -> tuple[Infra, Callable[[], None]]:
    """Three brokers and the store, up; and the function that stops them and deletes their
    data."""
    script = cluster_script()
    directory = Path(tempfile.mkdtemp(prefix="kf-bench-cluster-"))
    cluster = script.Cluster(
        local_dir=directory,
        kafka_port=free_base(BROKER_OFFSETS, ports=PORTS),
        front_port=0,  # no services, no front
        store_port=free_base((0,), ports=PORTS),
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
