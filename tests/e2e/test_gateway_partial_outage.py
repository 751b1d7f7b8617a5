"""One service down takes only its own routes off the gateway (issue #17): the gateway stays
ready while its store answers, lists each service's state in /readyz, answers the down service's
routes with a 503 problem naming it (with Retry-After), serves the others' routes, and serves the
returning service again as soon as it is back."""

from __future__ import annotations

import httpx
import pytest
from kitflow_gateway.config import DEV_ADMIN_PASSWORD

from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import SERVICES, ServiceProcess, service_process

pytestmark = pytest.mark.infra

ADMIN = "admin@iom.int"


async def test_a_service_that_is_down_takes_only_its_own_routes_off_the_gateway(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    backends = {s: service_process(s, infra, topics) for s in SERVICES if s != "gateway"}
    gateway = service_process(
        "gateway",
        infra,
        topics,
        **{f"KITFLOW_GATEWAY_{s.upper()}_URL": p.url for s, p in backends.items()},
    )
    for process in [*backends.values(), gateway]:
        processes.append(process.start())
    for process in processes:
        await process.wait_ready()

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        token = await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN, "password": DEV_ADMIN_PASSWORD},
        )
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        assert (await client.get("/v1/needs")).status_code == 200

        backends["needs"].stop()

        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
        assert ready.json()["checks"]["store"] == "ok"
        assert ready.json()["checks"]["needs"].startswith("failed")
        assert ready.json()["unavailable"] == ["needs"]

        down = await client.get("/v1/needs")
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        assert down.json()["service"] == "needs"
        assert "needs" in down.json()["detail"]
        for path in ("/v1/warehouses", "/v1/items", "/v1/plans"):
            assert (await client.get(path)).status_code == 200, path

        backends["needs"].start()
        await backends["needs"].wait_ready()
        back = await eventually(
            lambda: client.get("/v1/needs"), lambda r: r.status_code == 200, what="needs back"
        )
        assert back.status_code == 200
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["needs"]) == (200, "ok")
        assert ready.json()["unavailable"] == []
