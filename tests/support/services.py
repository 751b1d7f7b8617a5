"""The four services as real processes (uvicorn), the way `make run` starts them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kitflow_shared.settings import DEV_INTERNAL_SECRET
from kitflow_shared.web.identity import (
    DEFAULT_TTL,
    IDENTITY_HEADER,
    Caller,
    Role,
    issue_internal_token,
)

from tests.support.infra import REPO_ROOT, Infra

ARTIFACTS = REPO_ROOT / "test-artifacts" / "logs"
SERVICES = ("stock", "needs", "distribution", "gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_env(infra: Infra, namespace: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KITFLOW_ENV": "test",
        "KITFLOW_NAMESPACE": namespace,
        "KITFLOW_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KITFLOW_STORE_URL": infra.store_url,
        "KITFLOW_OUTBOX_SWEEP_INTERVAL_S": "0.5",
        # A SIGKILLed replica's jobs and outbox sweep pass to its successor within 3.5 s, not
        # the production 20 s (ADR 0028).
        "KITFLOW_JOB_LEASE_S": "3",
        "KITFLOW_JOB_LEASE_RENEW_S": "0.5",
        "KITFLOW_LOG_JSON": "true",
        **extra,
    }


@dataclass
class ServiceProcess:
    service: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**self.env, f"KITFLOW_{self.service.upper()}_PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"kitflow_{self.service}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        return self

    async def wait_ready(self, timeout_s: float = 60) -> dict[str, object]:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise AssertionError(
                        f"{self.service} exited with {self.process.returncode}; see {self.log_path}"
                    )
                try:
                    response = await client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        body: dict[str, object] = response.json()
                        return body
                    last = response.text
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.2)
        raise AssertionError(f"{self.service} not ready after {timeout_s}s: {last}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def service_process(service: str, infra: Infra, namespace: str, **extra: str) -> ServiceProcess:
    return ServiceProcess(
        service=service,
        port=free_port(),
        env=service_env(infra, namespace, **extra),
        log_path=ARTIFACTS / f"{namespace}-{service}.log",
    )


class FreshIdentity(Mapping[str, str]):
    """The header the gateway adds for a caller, signed when it is read (and again once half the
    token's life has gone).

    Services accept the identity only for the gateway's 60 s (plus a small skew), while
    module-level headers are made at collection and a test may run much later: so the token is
    issued when a request reads the headers, not when the mapping is made. `identity(...) |
    {"Content-Type": ...}` adds headers and stays fresh (`{**identity(...)}` would freeze it)."""

    def __init__(self, caller: Caller, extra: Mapping[str, str] | None = None) -> None:
        self.caller = caller
        self.extra = dict(extra or {})
        self._signed: tuple[float, str] | None = None

    def __getitem__(self, name: str) -> str:
        if name != IDENTITY_HEADER:
            return self.extra[name]
        # Reused for half its life, as the gateway does: the benchmarks' direct path must not
        # pay a signature per request that the gateway path does not.
        now = time.monotonic()
        if self._signed is None or now - self._signed[0] > DEFAULT_TTL.total_seconds() / 2:
            self._signed = (now, issue_internal_token(self.caller, DEV_INTERNAL_SECRET))
        return self._signed[1]

    def __iter__(self) -> Iterator[str]:
        return iter((IDENTITY_HEADER, *self.extra))

    def __len__(self) -> int:
        return 1 + len(self.extra)

    def __or__(self, other: Mapping[str, str]) -> FreshIdentity:  # type: ignore[override]
        return FreshIdentity(self.caller, {**self.extra, **other})


def signed_by(headers: FreshIdentity) -> Callable[[httpx.Request], httpx.Request]:
    """An httpx `auth` that puts a fresh identity on every request of a long-lived client
    (`AsyncClient(headers=identity(...))` would copy one token for the client's whole life)."""

    def sign(request: httpx.Request) -> httpx.Request:
        request.headers.update(dict(headers))
        return request

    return sign


def identity(
    organisation: str = "IOM", *roles: Role, warehouses: frozenset[str] = frozenset()
) -> FreshIdentity:
    """The header the gateway adds for a caller (services trust nothing else)."""
    caller = Caller(
        user=f"{organisation.lower()}-user",
        organisation=organisation,
        roles=frozenset(roles or (Role.COORDINATOR,)),
        warehouses=warehouses,
    )
    return FreshIdentity(caller)
