"""tools/local_system.py without starting the system: the ports and settings each mode is
given, and what /proc says of a process (chaos, the stack benches and the cluster test rely on
both)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.local_system import (
    CLUSTER_BROKERS,
    CLUSTER_FRONT,
    ONE_PROCESS,
    PORTS,
    LocalSystem,
    alive,
    children,
    cpu_seconds,
    ephemeral_ports,
    free_base,
    port_free,
    tree,
)


def test_a_cluster_gets_the_layouts_ports_and_this_runs_directory(tmp_path: Path) -> None:
    system = LocalSystem("cluster", tmp_path, {"KITFLOW_STORE_HEAP": "512m"}, rng=random.Random(1))

    assert system.env["KITFLOW_CLUSTER_FRONT_PORT"] == str(system.front_port)
    assert system.env["KITFLOW_LOCAL_DIR"] == str(tmp_path)
    assert system.env["KITFLOW_STORE_HEAP"] == "512m"
    assert system.gateway_urls() == [
        f"http://127.0.0.1:{system.front_port + 1}",
        f"http://127.0.0.1:{system.front_port + 2}",
    ]
    assert system.bootstrap.count(",") == 2
    assert system.broker_pid_file(3).parent.name == f"kafka-{system.kafka_port + 2}"


def test_one_process_leaves_out_the_callers_own_settings_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS", "5")

    system = LocalSystem("one-process", tmp_path, inherit_settings=False)

    assert "KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS" not in system.env
    assert system.env["KITFLOW_GATEWAY_PORT"] == str(system.front_port)
    assert system.env["KITFLOW_KAFKA_PORT"] == str(system.front_port + 10)
    assert system.gateway_urls() == [system.url]


NO_EPHEMERAL = (65_535, 65_535)


def _bound_below_the_ephemeral_range() -> socket.socket:
    """A socket on a port whose predecessor is free, both below the ephemeral range."""
    for port in range(12_001, 13_000):
        if not port_free(port - 1):
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        return s
    raise RuntimeError("no free port in 12000-12999 to take")


def test_free_base_never_gives_a_base_whose_offset_is_taken() -> None:
    with _bound_below_the_ephemeral_range() as taken:
        port = taken.getsockname()[1]

        assert free_base((0,), random.Random(2), (port - 1, port + 1), NO_EPHEMERAL) == port - 1
        with pytest.raises(RuntimeError, match="no free ports"):
            free_base((1,), random.Random(2), (port - 1, port), NO_EPHEMERAL)


def test_free_base_never_gives_a_port_an_outbound_connection_could_take() -> None:
    # 15000 and 15001 are free here, but as a source port the kernel might hand either out.
    with pytest.raises(RuntimeError, match="outside the ephemeral range 15001-15100"):
        free_base((0, 1), random.Random(3), (15_000, 15_001), (15_001, 15_100))

    bases = {
        free_base((0, 1), random.Random(s), (14_990, 15_010), (15_001, 15_100)) for s in range(20)
    }
    assert max(bases) + 1 < 15_001


def test_the_ephemeral_range_is_read_from_the_kernel_or_else_linuxs_default(
    tmp_path: Path,
) -> None:
    given = tmp_path / "ip_local_port_range"
    given.write_text("20000\t40000\n")
    assert ephemeral_ports(given) == (20_000, 40_000)
    assert ephemeral_ports(tmp_path / "absent") == (32_768, 60_999)


def test_the_default_ranges_stay_below_this_machines_ephemeral_range() -> None:
    low, _ = ephemeral_ports()
    assert PORTS[1] + max(CLUSTER_FRONT + CLUSTER_BROKERS + ONE_PROCESS) < low


def test_a_child_is_in_the_tree_while_it_runs_and_not_alive_once_reaped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
        assert child.pid in tree(os.getpid())
        assert alive(child.pid)
    finally:
        child.kill()
        child.wait(10)

    assert not alive(child.pid)


def test_cpu_seconds_grow_with_work_and_are_zero_once_the_process_is_gone() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) >= before + 0.2

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert cpu_seconds(child.pid) == 0.0
