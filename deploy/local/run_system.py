"""`make run`: the whole kitflow system on this machine, on its embedded default.

Starts the real Kafka broker and the MongoDB-wire store (deploy/local/kitflow-local), creates
the topics, starts the four services with their workers, loads the Mali demo data, prints the
URLs, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD, GatewaySettings
from kitflow_shared.settings import CommonSettings
from kitflow_shared.topics import ensure_topics
from kitflow_shared.web.identity import IDENTITY_HEADER, Caller, Role, issue_internal_token
from rich.console import Console

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOCAL_TOOL = HERE / "kitflow-local"
LOG_DIR = Path(os.environ.get("KITFLOW_LOCAL_DIR", REPO / ".local")) / "logs"
DEMO = REPO / "deploy" / "demo" / "mali"
READY_TIMEOUT_S = 90

console = Console()


@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return LOG_DIR / f"{self.name}.log"


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


def _infra(action: str) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run([str(LOCAL_TOOL), action, "all"], check=True, env=env)


async def _wait_ready(service: Service) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited; see {service.log}")
            try:
                if (await client.get(f"{service.url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{service.name} not ready after {READY_TIMEOUT_S}s; see {service.log}")


async def _load_demo_data(stock: Service) -> int:
    """Register the demo warehouses, then the catalogue's items and kits (items first: a kit's
    components must exist), through the API; what exists already is left as it is. Returns how
    many records were created."""
    admin = Caller(user="demo-loader", organisation="IOM", roles=frozenset({Role.ADMIN}))
    token = issue_internal_token(
        admin, CommonSettings().internal_secret.get_secret_value(), timedelta(minutes=5)
    )
    data = json.loads((DEMO / "warehouses.json").read_text())
    catalogue = json.loads((DEMO / "catalogue.json").read_text())
    batches = [
        ("/v1/warehouses", data["warehouses"]),
        ("/v1/items", catalogue["items"]),
        ("/v1/items", catalogue["kits"]),
    ]
    created = 0
    async with httpx.AsyncClient(base_url=stock.url, headers={IDENTITY_HEADER: token}) as client:
        for path, records in batches:
            for record in records:
                # Keys starting with "_" are the file's notes and sources, not API fields.
                body = {k: v for k, v in record.items() if not k.startswith("_")}
                response = await client.post(path, json=body)
                if response.status_code == 201:
                    created += 1
                elif response.status_code != 409:
                    raise RuntimeError(f"demo {path} {record['code']}: {response.text}")
    return created


def _stop_services() -> None:
    for service in reversed(SERVICES):
        if service.process is not None and service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in SERVICES:
        if service.process is not None:
            try:
                service.process.wait(20)
            except subprocess.TimeoutExpired:
                service.process.kill()


def _spawn_services(env: dict[str, str]) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        with service.log.open("ab") as log:
            service.process = subprocess.Popen(
                [sys.executable, "-m", f"kitflow_{service.name}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )


async def _until_ready_with_demo_data() -> None:
    await asyncio.gather(*(_wait_ready(s) for s in SERVICES))
    created = await _load_demo_data(SERVICES[0])
    console.print(
        f"demo data: {created} record(s) registered (warehouses in Bamako, Mopti, Tombouctou, "
        "Gao; the catalogue's items and kits)"
    )


def main() -> None:
    console.print("[bold]kitflow[/bold]: starting Kafka and the store ...")
    _infra("start")
    stop = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        env = _service_env()
        asyncio.run(
            ensure_topics(env["KITFLOW_KAFKA_BOOTSTRAP_SERVERS"], CommonSettings().namespace)
        )
        _spawn_services(env)
        asyncio.run(_until_ready_with_demo_data())
        for s in SERVICES:
            console.print(
                f"  {s.name:<13} {s.url:<24} docs {s.url}/docs   log {s.log.relative_to(REPO)}",
                soft_wrap=True,
            )
        gateway = SERVICES[-1]
        settings = GatewaySettings()
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
            f"Coordinator dashboard: {gateway.url}/ (sign in as above)",
            soft_wrap=True,
        )
        console.print("Press Ctrl-C to stop everything.")
        while not stop:
            for s in SERVICES:
                if s.process is not None and s.process.poll() is not None:
                    console.print(f"[red]{s.name} stopped unexpectedly; see {s.log}[/red]")
                    stop = True
            time.sleep(0.5)
    finally:
        console.print("stopping the services ...")
        _stop_services()
        if os.environ.get("KITFLOW_KEEP_INFRA") != "1":
            _infra("stop")
        console.print("kitflow stopped.")


if __name__ == "__main__":
    main()
