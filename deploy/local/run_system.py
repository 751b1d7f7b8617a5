"""`make run`: the whole kitflow system on this machine, on its embedded default.

Starts the real Kafka broker and the MongoDB-wire store (deploy/local/kitflow-local), creates
the topics, starts the four services with their workers, loads the Mali demo data, prints the
URLs, and stops everything cleanly on Ctrl-C or SIGTERM (`make stop`). A service that crashes is
restarted with backoff while the rest goes on (supervision.py).

`KITFLOW_RUN_INFRA=0` starts no broker or store: the services use the ones named by
`KITFLOW_KAFKA_BOOTSTRAP_SERVERS` and `KITFLOW_STORE_URL`, and they are left running at the end.

`--cluster` (`make run-cluster`, cluster.py) starts a three-node Kafka cluster instead, a store
of its own, two instances of each service and a round-robin front before the two gateways, all
on ports of their own so that it can run beside `make run`.

`--ready-timeout SECONDS` (or `KITFLOW_SERVICES_READY_TIMEOUT_S`) is how long the services get to
answer /readyz before the start is given up: 90 s, 240 s with `--cluster`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cluster
import demo_operation
import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD, GatewaySettings
from kitflow_shared.settings import CommonSettings
from kitflow_shared.topics import ensure_topics
from rich.console import Console
from rich.markup import escape
from supervision import RestartPolicy, SupervisedProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCAL_TOOL = HERE / "kitflow-local"
LOCAL_DIR = Path(os.environ.get("KITFLOW_LOCAL_DIR", REPO / ".local"))
LOG_DIR = LOCAL_DIR / "logs"
# Lets `make stop` reach this process, which then stops everything in order.
PID_FILE = LOCAL_DIR / "run_system.pid"
# How long the services get to answer /readyz; `--cluster`: eight services and three brokers on a
# small machine get longer.
READY_TIMEOUT_S = {"one-process": 90.0, "cluster": 240.0}
READY_TIMEOUT_ENV = "KITFLOW_SERVICES_READY_TIMEOUT_S"
TICK_S = 0.2

console = Console()


@dataclass
class Service:
    name: str
    port: int
    # The package (kitflow_<kind>) when the name is one instance's (`gateway-2`).
    kind: str = ""
    # This instance's own settings, over the shared ones.
    env: dict[str, str] = field(default_factory=dict)
    # Instead of `python -m kitflow_<kind>` (the cluster's front).
    command: list[str] = field(default_factory=list)
    supervised: SupervisedProcess | None = None
    # After a restart: not yet said to be ready again.
    awaiting_ready: bool = False

    def __post_init__(self) -> None:
        self.kind = self.kind or self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return LOG_DIR / f"{self.name}.log"

    def shown_log(self) -> Path:
        return self.log.relative_to(REPO) if self.log.is_relative_to(REPO) else self.log


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"KITFLOW_{name.upper()}_PORT", default))


SERVICES = [
    Service("stock", _port("stock", 8001)),
    Service("needs", _port("needs", 8002)),
    Service("distribution", _port("distribution", 8003)),
    Service("gateway", _port("gateway", 8000)),
]


def _service_env() -> dict[str, str]:
    env = {**os.environ, "KITFLOW_LOG_JSON": os.environ.get("KITFLOW_LOG_JSON", "false")}
    kafka_port = os.environ.get("KITFLOW_KAFKA_PORT", "19092")
    store_port = os.environ.get("KITFLOW_STORE_PORT", "27017")
    env.setdefault("KITFLOW_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{kafka_port}")
    env.setdefault("KITFLOW_STORE_URL", f"mongodb://127.0.0.1:{store_port}/")
    for service in SERVICES:
        env[f"KITFLOW_{service.name.upper()}_PORT"] = str(service.port)
        if service.name != "gateway":
            env.setdefault(f"KITFLOW_GATEWAY_{service.name.upper()}_URL", service.url)
    return env


def _runs_infra() -> bool:
    return os.environ.get("KITFLOW_RUN_INFRA", "1") != "0"


def _infra(action: str) -> None:
    if CLUSTER is not None:
        cluster.infra(CLUSTER, action)
        return
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run([str(LOCAL_TOOL), action, "all"], check=True, env=env)


def _ready(client: httpx.Client, service: Service) -> bool:
    try:
        return client.get(f"{service.url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _seed_demo_operation(gateway: Service) -> None:
    """The demo operation is a convenience: when it cannot be completed, the system stays up and
    says why; seeding again finishes it (every request of it is idempotent)."""
    settings = GatewaySettings()
    console.print("seeding the demo Mali operation through the gateway ...")
    try:
        seeded = demo_operation.run(
            gateway.url,
            settings.bootstrap_admin_username,
            settings.bootstrap_admin_password.get_secret_value(),
        )
    except (demo_operation.SeedError, httpx.HTTPError) as exc:
        console.print(
            f"[red]demo operation not completed: {escape(str(exc))}[/red]; the services are up, "
            "and the next `make run` completes it",
            soft_wrap=True,
        )
        return
    console.print(
        f"demo operation: {seeded.summary()} (4 warehouses with stock, {len(seeded.need_ids)} "
        "needs from NRC, DRC, AMSS and IOM in Mopti, Tombouctou, Gao and Ménaka, one plan "
        "delivered, one waiting for stock, a transfer on its way to Gao)",
        soft_wrap=True,
    )


def _announce(message: str, trouble: bool) -> None:
    stamp = time.strftime("%H:%M:%S")
    style = "red" if trouble else "yellow"
    console.print(f"[{style}]{stamp} {escape(message)}[/{style}]", soft_wrap=True)


def _spawn_services(env: dict[str, str], policy: RestartPolicy) -> None:
    for service in SERVICES:
        service.supervised = SupervisedProcess(
            name=service.name,
            command=service.command or [sys.executable, "-m", f"kitflow_{service.kind}"],
            env={**env, **service.env},
            cwd=REPO,
            log=service.log,
            policy=policy,
            announce=_announce,
        )
        service.supervised.start()


def _supervise(client: httpx.Client) -> None:
    """One round: restart what died once its delay is over, and say when a restarted service
    is ready again."""
    for service in SERVICES:
        assert service.supervised is not None
        restarts = service.supervised.restarts
        service.supervised.check()
        if service.supervised.restarts != restarts:
            service.awaiting_ready = True
        elif service.awaiting_ready and service.supervised.running() and _ready(client, service):
            service.awaiting_ready = False
            _announce(f"{service.name} is ready again", False)


def _wait_all_ready(client: httpx.Client, stopping: Callable[[], bool], timeout_s: float) -> None:
    """Until every service answers /readyz (a crash meanwhile is restarted like any other)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(SERVICES)
    while waiting and not stopping():
        _supervise(client)
        waiting = [s for s in waiting if not _ready(client, s)]
        if waiting and time.monotonic() > deadline:
            names = ", ".join(f"{s.name} (log {s.shown_log()})" for s in waiting)
            raise RuntimeError(f"not ready after {timeout_s:g}s: {names}")
        time.sleep(TICK_S)
    for service in SERVICES:
        service.awaiting_ready = False


def _stop_services() -> None:
    """The gateway first (it calls the others), then the rest; SIGKILL after 20 s."""
    for service in reversed(SERVICES):
        if service.supervised is not None:
            service.supervised.terminate()
    for service in SERVICES:
        if service.supervised is not None:
            service.supervised.wait_stopped(20)


def _write_pid_file() -> None:
    PID_FILE.parent.mkdir(parents=True, exist_ok=True)
    PID_FILE.write_text(f"{os.getpid()}\n")


def _remove_pid_file() -> None:
    if PID_FILE.exists() and PID_FILE.read_text().strip() == str(os.getpid()):
        PID_FILE.unlink()


def main(ready_timeout_s: float) -> None:
    policy = RestartPolicy.from_env()
    stop = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    _write_pid_file()
    try:
        if _runs_infra():
            console.print("[bold]kitflow[/bold]: starting Kafka and the store ...")
            _infra("start")  # on failure it stops what it started itself
        try:
            run(policy, lambda: stop, ready_timeout_s)
        finally:
            console.print("stopping the services ...")
            _stop_services()
            if _runs_infra() and os.environ.get("KITFLOW_KEEP_INFRA") != "1":
                _infra("stop")
            console.print("kitflow stopped.")
    finally:
        _remove_pid_file()


def run(policy: RestartPolicy, stopping: Callable[[], bool], ready_timeout_s: float) -> None:
    if stopping():
        return
    env = cluster.service_env(CLUSTER) if CLUSTER is not None else _service_env()
    replication = int(env.get("KITFLOW_KAFKA_TOPIC_REPLICATION_FACTOR", "1"))
    asyncio.run(
        ensure_topics(
            env["KITFLOW_KAFKA_BOOTSTRAP_SERVERS"], CommonSettings().namespace, replication
        )
    )
    _spawn_services(env, policy)
    with httpx.Client(timeout=1) as client:
        _wait_all_ready(client, stopping, ready_timeout_s)
        if stopping():
            return
        # The gateway, or in the cluster the front before the two gateways: the last started.
        gateway = SERVICES[-1]
        _seed_demo_operation(gateway)
        settings = GatewaySettings()
        for s in SERVICES:
            console.print(
                f"  {s.name:<15} {s.url:<24} docs {s.url}/docs   log {s.shown_log()}",
                soft_wrap=True,
            )
        if CLUSTER is not None:
            console.print(cluster.describe(CLUSTER), soft_wrap=True)
        console.print(
            f"[bold green]kitflow is up.[/bold green] Public API: {gateway.url}/docs",
            soft_wrap=True,
        )
        console.print(
            f"Sign in: curl -d grant_type=password -d username={settings.bootstrap_admin_username} "
            f"-d password=<KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD, development default "
            f"'{DEV_ADMIN_PASSWORD}'> {gateway.url}/v1/auth/token",
            soft_wrap=True,
        )
        console.print(
            f"Coordinator dashboard: {gateway.url}/ (sign in as above, or as a demo user)",
            soft_wrap=True,
        )
        console.print("Demo users (development only):", soft_wrap=True)
        for username, who, password in demo_operation.sign_ins():
            console.print(f"  {username:<28} {password}   {escape(who)}", soft_wrap=True)
        console.print(
            f"A service that crashes is restarted (after {policy.first_delay_s:g} s, doubling "
            f"to {policy.max_delay_s:g} s while it keeps crashing). Press Ctrl-C to stop "
            "everything.",
            soft_wrap=True,
        )
        while not stopping():
            _supervise(client)
            time.sleep(TICK_S)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the whole kitflow system on this machine.")
    parser.add_argument(
        "--cluster", action="store_true", help="three Kafka nodes, two instances of each service"
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        # A string default is converted (and refused) as the option's value would be.
        default=os.environ.get(READY_TIMEOUT_ENV),
        metavar="SECONDS",
        help=f"how long the services get to be ready (${READY_TIMEOUT_ENV}; default 90, 240 with "
        "--cluster)",
    )
    arguments = parser.parse_args(argv)
    if arguments.ready_timeout is None:
        arguments.ready_timeout = READY_TIMEOUT_S["cluster" if arguments.cluster else "one-process"]
    if not arguments.ready_timeout > 0:  # NaN too
        parser.error("--ready-timeout: a number of seconds above 0")
    return arguments


CLUSTER: cluster.Cluster | None = None

if __name__ == "__main__":
    ARGUMENTS = _arguments(sys.argv[1:])
    if ARGUMENTS.cluster:
        CLUSTER = cluster.Cluster.from_env(LOCAL_DIR)
        SERVICES[:] = [
            Service(i.name, i.port, kind=i.kind, env=i.env, command=i.command)
            for i in cluster.instances(CLUSTER, sys.executable)
        ]
        PID_FILE = LOCAL_DIR / "run_cluster.pid"
    main(ARGUMENTS.ready_timeout)
