"""tools/local_system.py without starting the system: the ports and settings each mode is
given, and what /proc says of a process (chaos, the stack benches and the cluster test rely on
both)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tools.local_system import LocalSystem, alive, children, free_base, tree


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


def test_free_base_never_gives_a_base_whose_offset_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]

        with pytest.raises(RuntimeError, match="no free ports"):
            free_base((0,), random.Random(2), ports=(port, port + 1))


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
