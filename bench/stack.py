"""The whole system as `make run` or `make run-cluster` starts it, for the benches that measure
the stack rather than one service: its processes, their memory, a signed-in client.

`Stack("one-process")` runs `deploy/local/run_system.py`, `Stack("cluster")` the same with
`--cluster`, each in a directory of its own with ports of its own (beside a running `make run`
and the tests), the store in memory for both (the same store on both sides of a comparison),
and waits for "kitflow is up." (the demo operation seeded). `stop()` sends the SIGTERM `make
stop` sends, then kills by pid whatever of this run is left.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD

from tests.support.infra import REPO_ROOT

RUN_SYSTEM = REPO_ROOT / "deploy" / "local" / "run_system.py"
DEMO_PASSWORD = "kitflow-demo-passphrase"  # deploy/local/demo_operation.py's demo users
ADMIN = ("admin@iom.int", DEV_ADMIN_PASSWORD)
COORDINATOR = ("coordinator@iom.int", DEMO_PASSWORD)
PARTNER = ("needs@nrc.no", DEMO_PASSWORD)
Mode = Literal["one-process", "cluster"]
# Port offsets from the bases (deploy/local/cluster.py's layout; make run's four services).
CLUSTER_BROKERS = (0, 1, 2, 10, 11, 12)
CLUSTER_FRONT = (0, 1, 2, 11, 12, 21, 22, 31, 32)
ONE_PROCESS = (0, 1, 2, 3, 10, 11)  # gateway, stock, needs, distribution; broker, controller
SERVICE_KINDS = ("stock", "needs", "distribution", "gateway")
CLUSTER_OFFSETS = {"gateway": 0, "stock": 10, "needs": 20, "distribution": 30}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_base(offsets: tuple[int, ...]) -> int:
    for _ in range(200):
        base = random.randrange(40_000, 50_000)
        if all(_free(base + o) for o in offsets):
            return base
    raise RuntimeError("no free ports for the stack")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found = [pid]
    for child in children(pid):
        found += tree(child)
    return found


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (VmRSS), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


@dataclass
class Stack:
    mode: Mode
    store_heap: str = "1g"
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kf-stack-")))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    seen: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KITFLOW_")},
            "KITFLOW_LOCAL_DIR": str(self.directory),
            "KITFLOW_CACHE_DIR": str(REPO_ROOT / ".local" / "cache"),
            "KITFLOW_STORE_BACKEND": "memory",
            "KITFLOW_STORE_HEAP": self.store_heap,
            "KITFLOW_LOG_JSON": "false",
            "KITFLOW_LOG_LEVEL": "WARNING",
            # The benches measure the system's throughput, not the gateway's per-caller limit.
            "KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS": "1000000",
            # A soak outlasts the 15-minute default; a bench signs in once.
            "KITFLOW_GATEWAY_ACCESS_TOKEN_TTL_S": "86400",
        }
        if self.mode == "cluster":
            self.kafka_port = _free_base(CLUSTER_BROKERS)
            self.front_port = _free_base(CLUSTER_FRONT)
            self.store_port = _free_base((0,))
            self.env |= {
                "KITFLOW_CLUSTER_KAFKA_PORT": str(self.kafka_port),
                "KITFLOW_CLUSTER_FRONT_PORT": str(self.front_port),
                "KITFLOW_CLUSTER_STORE_PORT": str(self.store_port),
            }
            self.bootstrap = ",".join(f"127.0.0.1:{self.kafka_port + i}" for i in range(3))
        else:
            base = _free_base(ONE_PROCESS)
            self.front_port, self.kafka_port = base, base + 10
            self.store_port = _free_base((0,))
            self.env |= {
                "KITFLOW_GATEWAY_PORT": str(base),
                "KITFLOW_STOCK_PORT": str(base + 1),
                "KITFLOW_NEEDS_PORT": str(base + 2),
                "KITFLOW_DISTRIBUTION_PORT": str(base + 3),
                "KITFLOW_KAFKA_PORT": str(self.kafka_port),
                "KITFLOW_KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
                "KITFLOW_STORE_PORT": str(self.store_port),
            }
            self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.store_url = f"mongodb://127.0.0.1:{self.store_port}/"
        self.output = self.directory / "run_system.out"

    @property
    def url(self) -> str:
        """Where clients go: the front in cluster mode, the gateway in one-process mode."""
        return f"http://127.0.0.1:{self.front_port}"

    def gateway_urls(self) -> list[str]:
        if self.mode == "cluster":
            return [f"http://127.0.0.1:{self.front_port + i}" for i in (1, 2)]
        return [self.url]

    def start(self, timeout_s: float = 600, attempts: int = 2) -> Stack:
        """Up once "kitflow is up."; tried again once, since `make run` gives its services 90 s
        to get ready, which a loaded 2-core machine does not always meet."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start(timeout_s)
            except RuntimeError:
                if attempt == attempts:
                    raise
                print(f"the {self.mode} stack did not come up; starting it again", flush=True)
                self.directory.mkdir(parents=True, exist_ok=True)
        raise AssertionError("unreachable")

    def _start(self, timeout_s: float) -> Stack:
        args = [sys.executable, str(RUN_SYSTEM), *(["--cluster"] if self.mode == "cluster" else [])]
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT
            )
        deadline = time.monotonic() + timeout_s
        while "kitflow is up." not in self.output.read_text(errors="replace"):
            self._remember()
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = self.output.read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"the {self.mode} stack did not come up:\n{text[-3000:]}")
            time.sleep(0.5)
        self._remember()
        return self

    def _remember(self) -> None:
        if self.process is not None:
            self.seen |= set(tree(self.process.pid))
        self.seen |= set(self.infra_pids().values())

    def infra_pids(self) -> dict[str, int]:
        """The brokers and the store (started detached, so found by their pid files)."""
        brokers = 3 if self.mode == "cluster" else 1
        files = {
            f"kafka-{i + 1}" if brokers > 1 else "kafka": self.directory
            / f"kafka-{self.kafka_port + i}"
            / "kafka.pid"
            for i in range(brokers)
        }
        files["store"] = self.directory / f"store-{self.store_port}" / "store.pid"
        found = {}
        for name, path in files.items():
            with contextlib.suppress(OSError, ValueError):
                found[name] = int(path.read_text())
        return found

    def service_pids(self) -> dict[str, int]:
        """Each service instance (and the cluster's front) by name: `needs`, or `needs-2`."""
        assert self.process is not None
        found: dict[str, int] = {}
        for pid in children(self.process.pid):
            command = _cmdline(pid)
            kind = next(
                (c.removeprefix("kitflow_") for c in command if c.startswith("kitflow_")), None
            )
            if kind is None:
                if any(c.endswith("front.py") for c in command):
                    found["front"] = pid
                continue
            name = kind
            if self.mode == "cluster":
                port = int(_environ(pid).get(f"KITFLOW_{kind.upper()}_PORT", "0"))
                name = f"{kind}-{port - self.front_port - CLUSTER_OFFSETS.get(kind, 0)}"
            found[name] = pid
        return found

    def memory(self) -> dict[str, dict[str, int]]:
        """RSS in bytes: each service instance with its own children, and the infrastructure."""
        return {
            "services": {n: sum(map(rss_bytes, tree(p))) for n, p in self.service_pids().items()},
            "infrastructure": {n: rss_bytes(p) for n, p in self.infra_pids().items()},
        }

    def stop(self) -> None:
        self._remember()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(180)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in self.seen:
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z" and str(self.directory) in " ".join(
                    _cmdline(pid)
                ) + " ".join(_environ(pid).values()):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.directory, ignore_errors=True)


async def sign_in(client: httpx.AsyncClient, url: str, who: tuple[str, str]) -> dict[str, str]:
    response = await client.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "password", "username": who[0], "password": who[1]},
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
