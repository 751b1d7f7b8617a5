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


async def test_a_gateway_given_two_replicas_of_a_service_fails_over_when_one_is_down(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    """`make chaos` found it: gateway-1 called only needs-1, so while needs-1 was down (killed,
    not yet restarted) every needs route through gateway-1 answered 503 though needs-2 was up.
    Given both (a comma-separated list, its own first), a request that is safe to repeat (a
    read, or a change with an Idempotency-Key) goes to the next replica instead."""
    first = service_process("needs", infra, topics)
    second = service_process("needs", infra, topics)
    others = {s: service_process(s, infra, topics) for s in ("stock", "distribution")}
    gateway = service_process(
        "gateway",
        infra,
        topics,
        KITFLOW_GATEWAY_NEEDS_URL=f"{first.url},{second.url}",
        **{f"KITFLOW_GATEWAY_{s.upper()}_URL": p.url for s, p in others.items()},
    )
    for process in [first, second, *others.values(), gateway]:
        processes.append(process.start())
    for process in processes:
        await process.wait_ready(timeout_s=180)  # five services starting on a small machine

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        token = await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN, "password": DEV_ADMIN_PASSWORD},
        )
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        assert (await client.get("/v1/needs")).status_code == 200

        first.stop()

        read = await client.get("/v1/needs")
        assert read.status_code == 200, read.text
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()["checks"]["needs"]) == (200, "ok"), ready.text
        need = {
            "external_ref": "FAILOVER-1",
            "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": "Sévaré"},
            "population": {"households": 10, "individuals": 60},
            "displacement_status": "idp",
            "assessment": {"date": "2026-11-16", "source": "partner-assessment"},
            "severity": 3,
            "items": [{"item_code": "KIT-NFI", "quantity": 10}],
        }
        user = {
            "username": "coordinator@failover.test",
            "password": "failover-passphrase",
            "organisation": "IOM",
            "roles": ["coordinator"],
            "warehouses": [],
        }
        assert (await client.post("/v1/users", json=user)).status_code == 201
        signed_in = await client.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": user["username"],
                "password": user["password"],
            },
        )
        coordinator = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        keyed = await client.post(
            "/v1/needs", json=need, headers={**coordinator, "Idempotency-Key": "failover-need-1"}
        )
        assert keyed.status_code == 201, keyed.text
        made = await client.get(f"/v1/needs/{keyed.json()['id']}", headers=coordinator)
        assert made.status_code == 200, made.text
