"""The gateway's HTTP client for the services (aiohttp) against a real uvicorn server: what the
caller sent goes out unchanged, what the service answered comes back unchanged, and a silent or
absent service becomes the errors the proxy turns into 504 and 503."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from kitflow_gateway.adapters.upstream import IDLE_REUSE_S, AiohttpUpstream
from kitflow_gateway.handlers.ports import UpstreamTimeout, UpstreamUnavailable
from kitflow_shared.serve import KEEP_ALIVE_S
from starlette.types import Receive, Scope, Send


class Service:
    """A stand-in service that answers with what it received, or never answers on /silent."""

    def __init__(self) -> None:
        self.never = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if scope["path"] == "/silent":
            await self.never.wait()
        echoed = {
            "method": scope["method"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "client_port": scope["client"][1],
            "body": body.decode(),
        }
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"location", b"/v1/needs/N-1"),
                    (b"x-repeated", b"one"),
                    (b"x-repeated", b"two"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(echoed).encode()})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def service() -> AsyncIterator[tuple[str, Service]]:
    app = Service()
    # Listening before the server runs: the first call waits in the backlog, no polling needed.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.never.set()
        server.should_exit = True
        await task
        sock.close()


async def test_the_request_goes_out_as_sent_and_the_answer_comes_back_whole(
    service: tuple[str, Service],
) -> None:
    url, _ = service
    upstream = AiohttpUpstream(url, timeout_s=10)
    try:
        answer = await upstream.request(
            "POST",
            "/v1/needs/caf%C3%A9%2Fx?status=draft&status=submitted",
            body=b'{"a": 1}',
            headers={"X-Kitflow-Identity": "token", "content-type": "application/json"},
        )
    finally:
        await upstream.aclose()
    assert answer.status == 201
    echoed = json.loads(answer.body)
    # Still percent-encoded, %2F included: the service decides what the path means.
    assert echoed["raw_path"] == "/v1/needs/caf%C3%A9%2Fx"
    assert echoed["query"] == "status=draft&status=submitted"
    assert (echoed["method"], echoed["body"]) == ("POST", '{"a": 1}')
    assert echoed["headers"]["x-kitflow-identity"] == "token"
    assert ("Location", "/v1/needs/N-1") in answer.headers
    assert [v for k, v in answer.headers if k.lower() == "x-repeated"] == ["one", "two"]


async def test_connections_are_reused_and_a_body_less_call_sends_no_body(
    service: tuple[str, Service],
) -> None:
    url, _ = service
    upstream = AiohttpUpstream(url, timeout_s=10)
    try:
        answers = await asyncio.gather(
            *(upstream.request("GET", f"/v1/needs/{n}", body=b"", headers={}) for n in range(20))
        )
        await upstream.alive()
    finally:
        await upstream.aclose()
    assert [json.loads(a.body)["raw_path"] for a in answers] == [
        f"/v1/needs/{n}" for n in range(20)
    ]
    assert all(json.loads(a.body)["body"] == "" for a in answers)


async def test_an_idle_connection_is_given_up_before_the_service_would_close_it(
    service: tuple[str, Service],
) -> None:
    # Reusing a connection the service is closing at that very moment fails the request, so
    # connections idle past the reuse window (shorter than the services' keep-alive) are not used.
    url, _ = service
    upstream = AiohttpUpstream(url, timeout_s=10, idle_reuse_s=1.0)
    try:

        async def port() -> int:
            answer = await upstream.request("GET", "/v1/needs", body=b"", headers={})
            client_port: int = json.loads(answer.body)["client_port"]
            return client_port

        first = await port()
        assert await port() == first  # reused while fresh
        await asyncio.sleep(1.1)
        assert await port() != first
    finally:
        await upstream.aclose()
    assert IDLE_REUSE_S < KEEP_ALIVE_S


async def test_a_service_that_does_not_answer_in_time_is_a_timeout(
    service: tuple[str, Service],
) -> None:
    url, _ = service
    upstream = AiohttpUpstream(url, timeout_s=0.2)
    try:
        with pytest.raises(UpstreamTimeout):
            await upstream.request("POST", "/silent", body=b"{}", headers={})
    finally:
        await upstream.aclose()


async def test_a_service_that_is_not_there_is_unavailable() -> None:
    upstream = AiohttpUpstream(f"http://127.0.0.1:{_free_port()}", timeout_s=5)
    try:
        with pytest.raises(UpstreamUnavailable):
            await upstream.request("GET", "/v1/needs", body=b"", headers={})
    finally:
        await upstream.aclose()
