"""`make run` (deploy/local/run_system.py) as a process with the four real services: a service
that crashes is restarted while the others go on answering, and SIGTERM still stops it all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.infra import REPO_ROOT, Infra
from tests.support.services import SERVICES, free_port, service_env

pytestmark = pytest.mark.infra

RUN_SYSTEM = REPO_ROOT / "deploy" / "local" / "run_system.py"


class RunSystem:
    def __init__(self, env: dict[str, str], output: Path) -> None:
        self.env = env
        self.output = output
        self.ports = {name: int(env[f"KITFLOW_{name.upper()}_PORT"]) for name in SERVICES}
        self.process: subprocess.Popen[bytes] | None = None
        self.seen_children: set[int] = set()

    def start(self) -> None:
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(RUN_SYSTEM)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def service_pid(self, service: str) -> int | None:
        """The pid of the service's process among this run_system's children."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except FileNotFoundError:
            return None
        for child in map(int, children):
            self.seen_children.add(child)
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if f"kitflow_{service}".encode() in command and _alive(child):
                return child
        return None

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def wait_until(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.text():
            if not self.alive():
                raise AssertionError(f"run_system exited before {text!r}:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout_s} s:\n{self.text()}")
            time.sleep(0.2)

    def kill_everything(self) -> None:
        """Cleanup after a failure: this run's processes only, by pid."""
        for pid in self.seen_children:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if _alive(pid) and b"kitflow_" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def run_system(infra: Infra, topics: str, tmp_path: Path) -> Iterator[RunSystem]:
    env = service_env(
        infra,
        topics,
        KITFLOW_RUN_INFRA="0",  # the test's broker and store, started and stopped elsewhere
        KITFLOW_LOCAL_DIR=str(tmp_path),
        KITFLOW_LOG_JSON="false",
        **{f"KITFLOW_{name.upper()}_PORT": str(free_port()) for name in SERVICES},
    )
    system = RunSystem(env, tmp_path / "run_system.out")
    try:
        yield system
    finally:
        if system.alive():
            system.kill_everything()


async def _status(client: httpx.AsyncClient, url: str) -> int | str:
    try:
        return (await client.get(url)).status_code
    except httpx.HTTPError as exc:
        return repr(exc)


async def test_a_killed_service_is_restarted_while_the_others_go_on_answering(
    run_system: RunSystem,
) -> None:
    run_system.start()
    run_system.wait_until("kitflow is up.", timeout_s=240)
    killed = run_system.service_pid("stock")
    assert killed is not None, run_system.text()
    others = {name: run_system.service_pid(name) for name in ("needs", "distribution", "gateway")}

    os.kill(killed, signal.SIGKILL)

    # Until stock is back: the supervisor runs on, and the others answer all along (the
    # gateway's readiness needs stock, so its liveness is what shows it still serves).
    answers: list[dict[str, int | str]] = []
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            assert run_system.alive(), run_system.text()
            answers.append(
                {
                    "needs": await _status(client, f"{run_system.url('needs')}/readyz"),
                    "distribution": await _status(
                        client, f"{run_system.url('distribution')}/readyz"
                    ),
                    "gateway": await _status(client, f"{run_system.url('gateway')}/healthz"),
                }
            )
            restarted = run_system.service_pid("stock")
            stock = await _status(client, f"{run_system.url('stock')}/readyz")
            if restarted not in (None, killed) and stock == 200:
                break
            assert time.monotonic() < deadline, f"stock not back: {stock}\n{run_system.text()}"
            await asyncio.sleep(0.2)
        assert all(set(a.values()) == {200} for a in answers), answers
        assert {name: run_system.service_pid(name) for name in others} == others
        gateway_ready = await _status(client, f"{run_system.url('gateway')}/readyz")

    run_system.wait_until("stock is ready again", timeout_s=30)
    said = run_system.text()
    assert f"stock (pid {killed}) killed by SIGKILL" in said
    assert "restarting in 1 s (crash 1 in a row)" in said
    assert f"stock restarted (pid {restarted}, restart 1)" in said
    stock_log = (Path(run_system.env["KITFLOW_LOCAL_DIR"]) / "logs" / "stock.log").read_text()
    assert f"[kitflow supervisor] stock (pid {killed}) killed by SIGKILL" in stock_log
    assert gateway_ready == 200

    # SIGTERM (what `make stop` sends) still stops everything cleanly.
    children = [run_system.service_pid(name) for name in SERVICES]
    os.kill(run_system.pid, signal.SIGTERM)
    assert run_system.process is not None
    assert run_system.process.wait(90) == 0, run_system.text()
    assert "kitflow stopped." in run_system.text()
    assert [pid for pid in children if pid is not None and _alive(pid)] == []
    assert not (Path(run_system.env["KITFLOW_LOCAL_DIR"]) / "run_system.pid").exists()
