"""`make run`'s supervision: each service a child process, restarted with backoff when it dies.

A service that exits without being asked to (a crash, the OOM killer, a SIGKILL) is started
again after a delay that doubles with each crash in a row (1 s, 2 s, 4 s, ... up to 30 s), so a
service that cannot start does not spin; a service that stayed up for a minute counts as
healthy again and its next crash waits 1 s. The other services, the broker and the store go on
meanwhile. Each crash and each restart is said on the console and in the service's own log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    # Up this long, a service is healthy again: its next crash starts the doubling over.
    stable_after_s: float = 60.0

    @classmethod
    def from_env(cls) -> RestartPolicy:
        """`KITFLOW_RESTART_FIRST_DELAY_S`, `_MAX_DELAY_S`, `_STABLE_AFTER_S` (the defaults
        above when unset)."""
        defaults = cls()
        return cls(
            first_delay_s=_env_seconds("KITFLOW_RESTART_FIRST_DELAY_S", defaults.first_delay_s),
            max_delay_s=_env_seconds("KITFLOW_RESTART_MAX_DELAY_S", defaults.max_delay_s),
            stable_after_s=_env_seconds("KITFLOW_RESTART_STABLE_AFTER_S", defaults.stable_after_s),
        )


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    value = float(raw)
    if value < 0:
        raise ValueError(f"{name} must be 0 or more seconds, not {raw!r}")
    return value


@dataclass
class Backoff:
    """How long to wait before the next start, from how long the last run lasted."""

    policy: RestartPolicy
    crashes_in_a_row: int = 0

    def after_exit(self, uptime_s: float) -> float:
        if uptime_s >= self.policy.stable_after_s:
            self.crashes_in_a_row = 0
        self.crashes_in_a_row += 1
        delay: float = self.policy.first_delay_s * 2.0 ** (self.crashes_in_a_row - 1)
        return min(self.policy.max_delay_s, delay)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class SupervisedProcess:
    """One service: started, watched with `check()`, restarted after an exit nobody asked for."""

    name: str
    command: Sequence[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    policy: RestartPolicy
    announce: Callable[[str, bool], None]  # (message, is_trouble)
    clock: Callable[[], float] = time.monotonic
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    restarts: int = 0
    started_at: float = 0.0
    restart_at: float | None = None
    stopping: bool = False
    backoff: Backoff = field(init=False)

    def __post_init__(self) -> None:
        self.backoff = Backoff(self.policy)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                list(self.command),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                # Its own session: a Ctrl-C in the terminal reaches the supervisor only, which
                # then stops every service in order.
                start_new_session=True,
            )
        self.started_at = self.clock()
        self.restart_at = None

    def check(self) -> None:
        """Called regularly: notices an exit, and starts the service again when its delay is
        over."""
        if self.stopping:
            return
        now = self.clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start()
                self._say(f"{self.name} restarted (pid {self.pid}, restart {self.restarts})")
            return
        if self.process is None or self.process.poll() is None:
            return
        uptime = now - self.started_at
        delay = self.backoff.after_exit(uptime)
        self.restart_at = now + delay
        self._say(
            f"{self.name} (pid {self.pid}) {describe_exit(self.process.returncode)} after "
            f"{uptime:.1f} s; restarting in {delay:g} s (crash {self.backoff.crashes_in_a_row} "
            f"in a row); the other services go on; log {self.log}",
            trouble=True,
        )

    def terminate(self) -> None:
        self.stopping = True
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout_s: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def _say(self, message: str, *, trouble: bool = False) -> None:
        self.announce(message, trouble)
        # The same line in the service's own log, where its last words before the crash are.
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"{stamp} [kitflow supervisor] {message}\n")
