"""The whole system as `make run` or `make run-cluster` starts it, for the benches that measure
the stack rather than one service: its processes, their memory, a signed-in client.

`Stack("one-process")` runs `deploy/local/run_system.py`, `Stack("cluster")` the same with
`--cluster` (tools/local_system.py: each in a directory of its own with ports of its own, beside
a running `make run` and the tests), the store in memory for both (the same store on both sides
of a comparison), and waits for "kitflow is up." (the demo operation seeded). `stop()` sends the
SIGTERM `make stop` sends, then kills by pid whatever of this run is left, and removes the
directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
from kitflow_gateway.config import DEV_ADMIN_PASSWORD

from tools.local_system import LocalSystem, Mode, cpu_seconds, rss_bytes, tree

__all__ = ["ADMIN", "COORDINATOR", "PARTNER", "Mode", "Stack", "sign_in"]

DEMO_PASSWORD = "kitflow-demo-passphrase"  # deploy/local/demo_operation.py's demo users
ADMIN = ("admin@iom.int", DEV_ADMIN_PASSWORD)
COORDINATOR = ("coordinator@iom.int", DEMO_PASSWORD)
PARTNER = ("needs@nrc.no", DEMO_PASSWORD)


class Stack(LocalSystem):
    def __init__(self, mode: Mode, store_heap: str = "1g") -> None:
        super().__init__(
            mode,
            Path(tempfile.mkdtemp(prefix="kf-stack-")),
            {
                "KITFLOW_STORE_HEAP": store_heap,
                "KITFLOW_LOG_LEVEL": "WARNING",
                # The benches measure the system's throughput, not the gateway's per-caller limit.
                "KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS": "1000000",
                # A soak outlasts the 15-minute default; a bench signs in once.
                "KITFLOW_GATEWAY_ACCESS_TOKEN_TTL_S": "86400",
            },
            # The caller's own settings (a `make run` in the same shell) would mix the sides.
            inherit_settings=False,
        )

    def start(self, timeout_s: float = 600, new_session: bool = False, attempts: int = 2) -> None:
        """Up once "kitflow is up."; tried again once, since `make run` gives its services 90 s
        to get ready, which a loaded 2-core machine does not always meet."""
        for attempt in range(1, attempts + 1):
            try:
                super().start(timeout_s, new_session)
                return
            except RuntimeError:
                self.stop()  # and its directory: the next attempt starts afresh
                if attempt == attempts:
                    raise
                print(f"the {self.mode} stack did not come up; starting it again", flush=True)

    def memory(self) -> dict[str, dict[str, int]]:
        """RSS in bytes: each service instance with its own children, and the infrastructure."""
        return {
            "services": {n: sum(map(rss_bytes, tree(p))) for n, p in self.service_pids().items()},
            "infrastructure": {n: rss_bytes(p) for n, p in self.infra_pids().items()},
        }

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far: each service instance with its own children (by name, as
        in `memory`), each broker and the store."""
        services = {n: sum(map(cpu_seconds, tree(p))) for n, p in self.service_pids().items()}
        return {**services, **{n: cpu_seconds(p) for n, p in self.infra_pids().items()}}

    def stop(self, grace_s: float = 180) -> None:
        super().stop(grace_s)
        shutil.rmtree(self.directory, ignore_errors=True)


async def sign_in(client: httpx.AsyncClient, url: str, who: tuple[str, str]) -> dict[str, str]:
    response = await client.post(
        f"{url}/v1/auth/token",
        data={"grant_type": "password", "username": who[0], "password": who[1]},
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
