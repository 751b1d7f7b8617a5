"""The gateway checks the caller before it reads a request's body (issue #12 item 13), and keys
the sign-in limit on the client's address when it sits behind the ingress.

A body that never ends is sent over a real socket: only its first chunk goes out, and the test
waits for the answer. A gateway that reads the body first (up to 20 MiB for an import) never
answers; one that checks the caller first answers 401 (no or a wrong credential) or 403 (a role
that may not do this) while the body is still being sent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from kitflow_gateway.bootstrap import create_app

from tests.support.app import running_app
from tests.support.infra import Infra

pytestmark = pytest.mark.infra

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "caller-first-admin-passphrase"
PASSWORD = "a long enough passphrase"
ANSWER_DEADLINE_S = 15
INGRESS = "10.42.0.7"  # the ingress controller's pod, as the gateway sees the connection
SIGN_INS = 5


@pytest.fixture
async def gateway_app(
    infra: Infra, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(
        create_app,
        infra,
        namespace,
        monkeypatch,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        KITFLOW_GATEWAY_SIGN_IN_ATTEMPTS_PER_ADDRESS=str(SIGN_INS),
        KITFLOW_GATEWAY_TRUSTED_PROXIES="10.0.0.0/8",
        # Nothing listens there: nothing may be forwarded anyway.
        KITFLOW_GATEWAY_NEEDS_URL="http://127.0.0.1:9",
    ) as running:
        yield running


@pytest.fixture
async def served(gateway_app: tuple[FastAPI, httpx.AsyncClient]) -> AsyncIterator[int]:
    """The gateway app on a real socket (its lifespan already runs in `gateway_app`)."""
    app, _ = gateway_app
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(
        uvicorn.Config(
            app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _answer_to_an_endless_body(port: int, path: str, headers: dict[str, str]) -> int:
    """Send the headers and the first chunk of a chunked body that is never finished; the status
    of the answer that comes back meanwhile."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"POST {path} HTTP/1.1", "Host: gateway", "Transfer-Encoding: chunked"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        chunk = b"#adm1+code,#x\n" + b"ML05,x\n" * 10_000
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), ANSWER_DEADLINE_S)
        return int(status_line.split()[1])
    finally:
        writer.close()


async def _bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/needs/imports", "text/csv"), ("/v1/users", "application/json")],
)
async def test_a_wrong_credential_is_refused_before_the_body_is_read(
    served: int, path: str, content_type: str
) -> None:
    for credential in ({}, {"X-API-Key": "kf_0123456789abcdef_" + "x" * 43}):
        status = await _answer_to_an_endless_body(
            served, path, {**credential, "Content-Type": content_type}
        )
        assert status == 401, (path, credential)


async def test_a_role_that_may_not_do_this_is_refused_before_the_body_is_read(
    served: int, gateway_app: tuple[FastAPI, httpx.AsyncClient]
) -> None:
    _, client = gateway_app
    admin = await _bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    created = await client.post(
        "/v1/users",
        headers=admin,
        json={
            "username": "storekeeper@iom.int",
            "password": PASSWORD,
            "organisation": "IOM",
            "roles": ["warehouse"],
            "warehouses": ["MOP-SUB"],
        },
    )
    assert created.status_code == 201, created.text
    storekeeper = await _bearer(client, "storekeeper@iom.int", PASSWORD)
    for path, content_type in (
        ("/v1/needs/imports", "text/csv"),
        ("/v1/users", "application/json"),
    ):
        status = await _answer_to_an_endless_body(
            served, path, {**storekeeper, "Content-Type": content_type}
        )
        assert status == 403, path


async def test_behind_the_ingress_sign_ins_are_limited_per_client_not_per_proxy(
    gateway_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = gateway_app
    # Every connection comes from the ingress; it names the client in X-Forwarded-For.
    transport = httpx.ASGITransport(app=app, client=(INGRESS, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as ingress:

        async def sign_in(client_address: str, n: int) -> int:
            response = await ingress.post(
                "/v1/auth/token",
                headers={"X-Forwarded-For": f"203.0.113.99, {client_address}"},
                data={"grant_type": "password", "username": f"u{n}@ngo.org", "password": "guess"},
            )
            return response.status_code

        # Spraying from one client reaches its limit...
        spray = [await sign_in("198.51.100.1", n) for n in range(SIGN_INS + 1)]
        assert spray == [400] * SIGN_INS + [429]
        # ...and another client behind the same ingress is not held by it. The left-most,
        # client-written address in X-Forwarded-For is not trusted: the one the ingress
        # appended is the client.
        assert await sign_in("198.51.100.2", 0) == 400
