"""Idempotency-Key through the gateway (ADR 0011): every state-changing route forwards the key,
and a timeout after the service applied a command never becomes a second effect.

The services behind the gateway are a stand-in here, served by uvicorn on a real socket so that
the gateway's upstream timeout is real: it applies a request and then does not answer in time
(the gateway answers 504 and releases its claim); the client's retry with the same key must reach
the service with that key, which answers with the first result instead of applying again."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from kitflow_gateway.api.proxy import ROUTES, Body, ProxyRoute
from kitflow_gateway.bootstrap import create_app
from starlette.types import Receive, Scope, Send

from tests.support.app import running_app
from tests.support.infra import Infra

pytestmark = pytest.mark.infra

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "idempotency-admin-passphrase"
PASSWORD = "a long enough passphrase"
WAREHOUSE = "MOP-SUB"
UPSTREAM_TIMEOUT_S = 0.3

STATE_CHANGING = [route for route in ROUTES if route.method != "GET"]


@dataclass
class StandIn:
    """A service that remembers keys with their effect, like ADR 0011 asks. The first request
    with a key is applied and then left unanswered past the gateway's timeout; a request whose
    key was applied before is answered with the first result, marked replayed."""

    effects: list[str] = field(default_factory=list)
    keys_seen: list[str | None] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)
    never: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        self.keys_seen.append(key)
        replayed = key is not None and key in self.applied
        if replayed:
            result = self.applied[key]  # type: ignore[index]
        else:
            result = f"R{len(self.effects) + 1}"
            self.effects.append(f"{scope['method']} {scope['path']}")
            if key is not None:
                self.applied[key] = result
                # Applied, and the answer does not come back in time.
                await self.never.wait()
                return
        answer = [(b"content-type", b"application/json")]
        if replayed:
            answer.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": 200, "headers": answer})
        await send({"type": "http.response.body", "body": json.dumps({"id": result}).encode()})


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[str, StandIn]]:
    app = StandIn()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.never.set()
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def gateway(
    infra: Infra, namespace: str, monkeypatch: pytest.MonkeyPatch, stand_in: tuple[str, StandIn]
) -> AsyncIterator[httpx.AsyncClient]:
    url, _ = stand_in
    async with running_app(
        create_app,
        infra,
        namespace,
        monkeypatch,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS="100000",
        KITFLOW_GATEWAY_UPSTREAM_TIMEOUT_S=str(UPSTREAM_TIMEOUT_S),
        KITFLOW_GATEWAY_STOCK_URL=url,
        KITFLOW_GATEWAY_NEEDS_URL=url,
        KITFLOW_GATEWAY_DISTRIBUTION_URL=url,
    ) as (_, client):
        yield client


async def _bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _every_role(client: httpx.AsyncClient) -> dict[str, str]:
    """A user who may call every route (all four roles, assigned to the warehouse used)."""
    admin = await _bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    response = await client.post(
        "/v1/users",
        headers=admin,
        json={
            "username": "everyone@iom.int",
            "password": PASSWORD,
            "organisation": "IOM",
            "roles": ["partner", "warehouse", "coordinator", "admin"],
            "warehouses": [WAREHOUSE],
        },
    )
    assert response.status_code == 201, response.text
    return await _bearer(client, "everyone@iom.int", PASSWORD)


def _path(route: ProxyRoute) -> str:
    return re.sub(r"{(\w+)}", lambda m: WAREHOUSE if m[1] == "code" else "X-1", route.path)


def _body(route: ProxyRoute) -> tuple[bytes, dict[str, str]]:
    if route.body is Body.JSON:
        return b"{}", {"content-type": "application/json"}
    if route.body is Body.FILE:
        return b"#adm1+code\nML05\n", {"content-type": "text/csv"}
    return b"", {}


async def test_a_retry_after_a_timeout_reaches_the_service_with_the_same_key_on_every_route(
    gateway: httpx.AsyncClient, stand_in: tuple[str, StandIn]
) -> None:
    _, service = stand_in
    caller = await _every_role(gateway)
    wrong: list[str] = []
    for number, route in enumerate(STATE_CHANGING):
        key = f"retry-{number:04d}-after-timeout"
        body, content = _body(route)
        headers = {**caller, **content, "Idempotency-Key": key}
        before = (len(service.effects), len(service.keys_seen))
        first = await gateway.request(route.method, _path(route), content=body, headers=headers)
        retry = await gateway.request(route.method, _path(route), content=body, headers=headers)
        effects = len(service.effects) - before[0]
        keys = service.keys_seen[before[1] :]
        replayed = retry.headers.get("Idempotent-Replayed")
        outcome = (first.status_code, retry.status_code, effects, keys, replayed)
        if outcome != (504, 200, 1, [key, key], "true") or retry.json() != first_result(
            service, key
        ):
            wrong.append(
                f"{route.method} {route.path}: (first, retry, effects, keys, replayed) = {outcome}"
            )
    assert not wrong, "\n".join(wrong)


def first_result(service: StandIn, key: str) -> dict[str, str] | None:
    result = service.applied.get(key)
    return None if result is None else {"id": result}


# ---- the gateway's own state-changing routes -----------------------------------------------


async def _admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await _bearer(client, ADMIN_USER, ADMIN_PASSWORD)


async def test_a_repeated_creation_answers_with_what_the_first_one_created(
    gateway: httpx.AsyncClient,
) -> None:
    admin = await _admin(gateway)
    keyed = {**admin, "Idempotency-Key": "create-nrc-0001"}
    body = {"organisation_id": "NRC", "name": "Norwegian Refugee Council", "kind": "ngo"}
    first = await gateway.post("/v1/organisations", headers=keyed, json=body)
    again = await gateway.post("/v1/organisations", headers=keyed, json=body)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = await gateway.post(
        "/v1/organisations", headers=keyed, json={**body, "organisation_id": "DRC"}
    )
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"

    user = {
        "username": "coordinator@nrc.no",
        "password": PASSWORD,
        "organisation": "NRC",
        "roles": ["coordinator"],
    }
    users = [
        await gateway.post(
            "/v1/users", headers={**admin, "Idempotency-Key": "create-user-0001"}, json=user
        )
        for _ in range(2)
    ]
    assert [u.status_code for u in users] == [201, 201], users[1].text
    assert users[1].json()["user_id"] == users[0].json()["user_id"]


async def test_a_repeated_key_issue_makes_one_key_and_does_not_show_its_secret_again(
    gateway: httpx.AsyncClient,
) -> None:
    admin = await _admin(gateway)
    keyed = {**admin, "Idempotency-Key": "issue-key-00001"}
    first = await gateway.post("/v1/api-keys", headers=keyed, json={"name": "upload script"})
    again = await gateway.post("/v1/api-keys", headers=keyed, json={"name": "upload script"})
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["key_id"] == first.json()["key_id"]
    assert "key" not in again.json()
    listed = (await gateway.get("/v1/api-keys", headers=admin)).json()
    assert [k["name"] for k in listed["items"]].count("upload script") == 1


async def test_a_late_retry_of_a_change_does_not_undo_a_later_change(
    gateway: httpx.AsyncClient,
) -> None:
    admin = await _admin(gateway)
    created = await gateway.post(
        "/v1/organisations",
        headers=admin,
        json={"organisation_id": "ACF", "name": "Action contre la Faim", "kind": "ngo"},
    )
    assert created.status_code == 201, created.text
    deactivate = {**admin, "Idempotency-Key": "deactivate-acf-1"}
    first = await gateway.patch("/v1/organisations/ACF", headers=deactivate, json={"active": False})
    assert first.status_code == 200
    assert first.json()["active"] is False
    activated = await gateway.patch(
        "/v1/organisations/ACF",
        headers={**admin, "Idempotency-Key": "activate-acf-01"},
        json={"active": True},
    )
    assert activated.json()["active"] is True
    # The first request's answer was lost; its client retries after the organisation was
    # activated again. The retry is the same request: it must not deactivate it a second time.
    retry = await gateway.patch("/v1/organisations/ACF", headers=deactivate, json={"active": False})
    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == "true"
    now = await gateway.get("/v1/organisations/ACF", headers=admin)
    assert now.json()["active"] is True
