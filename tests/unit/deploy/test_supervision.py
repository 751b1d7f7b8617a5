"""`make run`'s restart policy: a crashed service is started again after a delay that doubles
while it keeps crashing, up to a cap, and starts over once it has stayed up a while."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.scripts import load_script

supervision = load_script("supervision")


def test_the_delay_doubles_while_a_service_keeps_crashing_and_is_capped() -> None:
    backoff = supervision.Backoff(supervision.RestartPolicy())
    delays = [backoff.after_exit(uptime_s=0.5) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_service_that_stayed_up_a_while_starts_the_doubling_over() -> None:
    backoff = supervision.Backoff(
        supervision.RestartPolicy(first_delay_s=0.5, max_delay_s=10, stable_after_s=60)
    )
    assert [backoff.after_exit(uptime_s=1) for _ in range(3)] == [0.5, 1, 2]
    assert backoff.after_exit(uptime_s=59.9) == 4
    assert backoff.after_exit(uptime_s=60) == 0.5
    assert backoff.after_exit(uptime_s=3) == 1


def test_the_policy_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITFLOW_RESTART_FIRST_DELAY_S", "0.2")
    monkeypatch.setenv("KITFLOW_RESTART_MAX_DELAY_S", "5")
    monkeypatch.setenv("KITFLOW_RESTART_STABLE_AFTER_S", "10")
    assert supervision.RestartPolicy.from_env() == supervision.RestartPolicy(0.2, 5, 10)
    monkeypatch.setenv("KITFLOW_RESTART_MAX_DELAY_S", "-1")
    with pytest.raises(ValueError, match="KITFLOW_RESTART_MAX_DELAY_S"):
        supervision.RestartPolicy.from_env()


def test_an_exit_is_described_by_its_signal_or_code() -> None:
    assert supervision.describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert supervision.describe_exit(3) == "exited with code 3"


def test_a_crashed_process_is_restarted_after_its_delay_and_said_so(tmp_path: Path) -> None:
    """With a real child process (a Python that exits at once) and a hand-driven clock."""
    now = [100.0]
    said: list[tuple[str, bool]] = []
    child = supervision.SupervisedProcess(
        name="stock",
        command=[sys.executable, "-c", "raise SystemExit(3)"],
        env={},
        cwd=tmp_path,
        log=tmp_path / "stock.log",
        policy=supervision.RestartPolicy(first_delay_s=1, max_delay_s=30, stable_after_s=60),
        announce=lambda message, trouble: said.append((message, trouble)),
        clock=lambda: now[0],
    )
    child.start()
    first = child.pid
    assert child.process.wait(30) == 3
    now[0] = 102.0
    child.check()
    assert child.restart_at == 103.0
    [(crash, trouble)] = said
    assert trouble
    assert f"stock (pid {first}) exited with code 3 after 2.0 s; restarting in 1 s" in crash
    now[0] = 102.9
    child.check()
    assert child.pid == first  # not before its delay
    now[0] = 103.0
    child.check()
    assert child.pid != first
    assert child.restarts == 1
    assert said[-1] == (f"stock restarted (pid {child.pid}, restart 1)", False)
    assert child.process.wait(30) == 3
    now[0] = 103.5
    child.check()
    assert "restarting in 2 s (crash 2 in a row)" in said[-1][0]
    log = (tmp_path / "stock.log").read_text()
    assert "[kitflow supervisor] stock restarted" in log
    assert "exited with code 3" in log


def test_a_process_asked_to_stop_is_not_restarted(tmp_path: Path) -> None:
    said: list[tuple[str, bool]] = []
    child = supervision.SupervisedProcess(
        name="needs",
        command=[sys.executable, "-c", "import time; time.sleep(60)"],
        env={},
        cwd=tmp_path,
        log=tmp_path / "needs.log",
        policy=supervision.RestartPolicy(first_delay_s=0),
        announce=lambda message, trouble: said.append((message, trouble)),
    )
    child.start()
    child.terminate()
    child.wait_stopped(30)
    child.check()
    assert child.process.returncode == -signal.SIGTERM
    assert child.restart_at is None
    assert said == []
