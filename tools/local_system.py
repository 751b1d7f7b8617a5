"""The whole system as `make run` or `make run-cluster` starts it, run as a child process by the
tools, benches and tests that need all of it (tools/chaos.py, bench/stack.py,
tests/e2e/test_run_cluster.py), and what /proc says of its processes.

`LocalSystem("cluster", directory)` runs `deploy/local/run_system.py --cluster` (without the
option: one process per service) on free ports and in a directory of its own, so beside a
running `make run`, `make run-cluster` and the tests; `start()` returns once it printed "kitflow
is up." (the demo operation seeded). `stop()` sends the SIGTERM `make stop` sends, then SIGKILLs
by pid whatever of this run is left: only processes that name this run's directory.

It lives in tools/ rather than deploy/local/ (a folder of scripts, not a package) so that
bench/, tests/ and tools/ import it alike, and mypy checks it with the tools.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
RUN_SYSTEM = REPO / "deploy" / "local" / "run_system.py"
UP = "kitflow is up."
Mode = Literal["one-process", "cluster"]
# Port offsets from the bases: deploy/local/cluster.py's layout (brokers and their controllers;
# the front, then two instances of each service) and make run's (four services; broker and its
# controller at +10, +11).
CLUSTER_BROKERS = (0, 1, 2, 10, 11, 12)
CLUSTER_FRONT = (0, 1, 2, 11, 12, 21, 22, 31, 32)
ONE_PROCESS = (0, 1, 2, 3, 10, 11)
# cluster.py's PORT_OFFSETS: an instance listens on the front's port + this + its number.
CLUSTER_OFFSETS = {"gateway": 0, "stock": 10, "needs": 20, "distribution": 30}
# Below the kernel's ephemeral range (32768-60999 by default): a port from that range can be
# taken, between the draw and the server's bind, as the source port of any outbound connection
# (the brokers', the store's, the services' own), and then a service cannot listen on it. The
# benches and the chaos run draw here; bench/kafka_cluster.py and the cluster test use ranges of
# their own beside it, so that they can run side by side.
PORTS = (10_000, 19_000)
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
EPHEMERAL_DEFAULT = (32_768, 60_999)


def cluster_script() -> ModuleType:
    """deploy/local/cluster.py (a script, not a package): the brokers' and the store's start
    and stop, loaded by its path."""
    path = REPO / "deploy" / "local" / "cluster.py"
    spec = importlib.util.spec_from_file_location("kitflow_local_cluster", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- /proc


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def ephemeral_ports(source: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int]:
    """The kernel's range for outbound connections' source ports (inclusive)."""
    try:
        low, high = (int(part) for part in source.read_text().split())
    except (OSError, ValueError):
        return EPHEMERAL_DEFAULT
    return low, high


def free_base(
    offsets: tuple[int, ...],
    rng: random.Random | None = None,
    ports: tuple[int, int] = PORTS,
    ephemeral: tuple[int, int] | None = None,
) -> int:
    """A port from which every offset is free (checked now) and outside the ephemeral range
    (which an outbound connection could take before the server listens)."""
    low, high = ephemeral or ephemeral_ports()
    draw = rng or random.Random()
    for _ in range(200):
        base = draw.randrange(*ports)
        if any(low <= base + o <= high for o in offsets):
            continue
        if all(port_free(base + o) for o in offsets):
            return base
    raise RuntimeError(
        f"no free ports for offsets {offsets} in {ports} outside the ephemeral range {low}-{high}"
    )


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of one process so far (with its reaped children's), 0 once it
    is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # After the command's ")": state is field 3, so utime (14) .. cstime (17) are 11 .. 14.
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --------------------------------------------------------------------------- the system


class LocalSystem:
    """run_system.py as a child process; `settings` go over the environment it is given
    (`inherit_settings=False`: none of the caller's own KITFLOW_* variables)."""

    def __init__(
        self,
        mode: Mode,
        directory: Path,
        settings: dict[str, str] | None = None,
        *,
        inherit_settings: bool = True,
        rng: random.Random | None = None,
        ports: tuple[int, int] = PORTS,
    ) -> None:
        self.mode = mode
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.seen: set[int] = set()
        base = {
            k: v for k, v in os.environ.items() if inherit_settings or not k.startswith("KITFLOW_")
        }
        self.env = {
            **base,
            "KITFLOW_LOCAL_DIR": str(directory),
            "KITFLOW_CACHE_DIR": base.get("KITFLOW_CACHE_DIR", str(REPO / ".local" / "cache")),
            "KITFLOW_STORE_BACKEND": "memory",
            "KITFLOW_LOG_JSON": "false",
            **self._ports(rng, ports),
            **(settings or {}),
        }
        self.store_url = f"mongodb://127.0.0.1:{self.store_port}/"
        self.output = directory / "run_system.out"

    def _ports(self, rng: random.Random | None, ports: tuple[int, int]) -> dict[str, str]:
        self.store_port = free_base((0,), rng, ports)
        if self.mode == "cluster":
            self.kafka_port = free_base(CLUSTER_BROKERS, rng, ports)
            self.front_port = free_base(CLUSTER_FRONT, rng, ports)
            self.bootstrap = ",".join(f"127.0.0.1:{self.kafka_port + i}" for i in range(3))
            return {
                "KITFLOW_CLUSTER_KAFKA_PORT": str(self.kafka_port),
                "KITFLOW_CLUSTER_FRONT_PORT": str(self.front_port),
                "KITFLOW_CLUSTER_STORE_PORT": str(self.store_port),
            }
        base = free_base(ONE_PROCESS, rng, ports)
        self.front_port, self.kafka_port = base, base + 10
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        return {
            "KITFLOW_GATEWAY_PORT": str(base),
            "KITFLOW_STOCK_PORT": str(base + 1),
            "KITFLOW_NEEDS_PORT": str(base + 2),
            "KITFLOW_DISTRIBUTION_PORT": str(base + 3),
            "KITFLOW_KAFKA_PORT": str(self.kafka_port),
            "KITFLOW_KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
            "KITFLOW_STORE_PORT": str(self.store_port),
        }

    @property
    def url(self) -> str:
        """Where clients go: the front in cluster mode, the gateway in one-process mode."""
        return f"http://127.0.0.1:{self.front_port}"

    def gateway_urls(self) -> list[str]:
        if self.mode == "cluster":
            return [f"http://127.0.0.1:{self.front_port + i}" for i in (1, 2)]
        return [self.url]

    def text(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def start(self, timeout_s: float = 600, new_session: bool = True) -> None:
        """Until "kitflow is up."; RuntimeError with the output's end when run_system exits
        first or the time is up (the caller stops what started). `new_session`: a Ctrl-C at
        the terminal reaches the caller only, which then stops the system in order."""
        args = [sys.executable, str(RUN_SYSTEM), *(["--cluster"] if self.mode == "cluster" else [])]
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 (our own script)
                args,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=new_session,
            )
        deadline = time.monotonic() + timeout_s
        while UP not in self.text():
            self.remember()
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.mode} system exited:\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the {self.mode} system not up in {timeout_s:g} s:\n{self.text()[-4000:]}"
                )
            time.sleep(0.5)
        self.remember()

    def remember(self) -> None:
        """Notes every process of this run seen so far, for `stop()` to find the strays."""
        if self.process is not None:
            self.seen |= set(tree(self.process.pid))
        self.seen |= set(self.infra_pids().values())

    def broker_pid_file(self, node: int) -> Path:
        """Node 1, 2 or 3 of the cluster; 1, the broker, in one-process mode."""
        return self.directory / f"kafka-{self.kafka_port + node - 1}" / "kafka.pid"

    def store_pid_file(self) -> Path:
        return self.directory / f"store-{self.store_port}" / "store.pid"

    def infra_pids(self) -> dict[str, int]:
        """The brokers and the store (started detached, not our children: by their pid files),
        by name: `kafka-1` .. `kafka-3` (`kafka` in one-process mode) and `store`."""
        nodes = 3 if self.mode == "cluster" else 1
        files = {
            f"kafka-{n}" if nodes > 1 else "kafka": self.broker_pid_file(n)
            for n in range(1, nodes + 1)
        }
        files["store"] = self.store_pid_file()
        found = {}
        for name, path in files.items():
            with contextlib.suppress(OSError, ValueError):
                found[name] = int(path.read_text())
        return found

    def service_pids(self) -> dict[str, int]:
        """Each service instance by name (`needs`; in the cluster `needs-2`) and the front."""
        if self.process is None:
            return {}
        found: dict[str, int] = {}
        for pid in children(self.process.pid):
            command = cmdline(pid)
            kind = next(
                (c.removeprefix("kitflow_") for c in command if c.startswith("kitflow_")), None
            )
            if kind is None:
                if any(c.endswith("front.py") for c in command):
                    found["front"] = pid
                continue
            name = kind
            if self.mode == "cluster":
                port = int(environ(pid).get(f"KITFLOW_{kind.upper()}_PORT", "0"))
                name = f"{kind}-{port - self.front_port - CLUSTER_OFFSETS.get(kind, 0)}"
            found[name] = pid
        return found

    def stop(self, grace_s: float = 180) -> None:
        """SIGTERM to run_system (it stops the services, then the brokers and the store) and
        `grace_s` for it; then SIGKILL to whatever of this run is left (0: at once)."""
        self.remember()
        if self.process is not None and self.process.poll() is None:
            if grace_s > 0:
                self.process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(grace_s)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        for pid in self.seen | set(self.infra_pids().values()):
            if alive(pid) and self._ours(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _ours(self, pid: int) -> bool:
        """Names this run's directory (a pid seen earlier may since be another's)."""
        here = str(self.directory)
        return here in " ".join(cmdline(pid)) or here in " ".join(environ(pid).values())
