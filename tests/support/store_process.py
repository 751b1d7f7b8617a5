"""An on-disk store (the H2 backend `make run` uses) of a test's own, that the test can SIGKILL and
start again on the same file: what the session's in-memory store cannot be used for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.infra import LOCAL_TOOL, REPO_ROOT
from tests.support.services import free_port


class OnDiskStore:
    """`kitflow-local start store` with `KITFLOW_STORE_BACKEND=h2` on a free port, its data in a
    folder of the test's own; the built store is shared with the rest of the run (the cache)."""

    def __init__(self, local_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.local_dir = local_dir
        cache = os.environ.get("KITFLOW_CACHE_DIR") or str(
            Path(os.environ.get("KITFLOW_LOCAL_DIR", REPO_ROOT / ".local")) / "cache"
        )
        self.env = {
            **os.environ,
            "KITFLOW_LOCAL_DIR": str(local_dir),
            "KITFLOW_CACHE_DIR": cache,
            "KITFLOW_STORE_PORT": str(self.port),
            "KITFLOW_STORE_BACKEND": "h2",
            "KITFLOW_STORE_HEAP": "256m",
            "PYTHON": os.environ.get("PYTHON", sys.executable),
            **env,
        }

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def home(self) -> Path:
        return self.local_dir / f"store-{self.port}"

    def _tool(self, action: str) -> None:
        subprocess.run([str(LOCAL_TOOL), action, "store"], check=True, env=self.env)

    def start(self) -> OnDiskStore:
        """Returns once a client's ping is answered."""
        self._tool("start")
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no shutdown hook, no final commit."""
        pid = int((self.home / "store.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid):
            if time.monotonic() > deadline:
                raise AssertionError(f"the store (pid {pid}) outlived SIGKILL for 10 s")
            time.sleep(0.02)

    def stop(self) -> None:
        self._tool("stop")

    def log(self) -> str:
        path = self.home / "store.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _alive(pid: int) -> bool:
    """Alive and not a zombie (the store is started detached; its parent shell reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
