"""Every service's correlation-id and metrics middleware (kitflow_shared.web.app)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Response
from kitflow_shared.logging import correlation_id_var
from kitflow_shared.metrics import HTTP_REQUESTS
from kitflow_shared.web.app import CORRELATION_HEADER, create_service_app


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield


def _app(service: str) -> FastAPI:
    app = create_service_app(
        service=service,
        title="t",
        description="t",
        version="0",
        lifespan=_lifespan,
        readiness=lambda _app: [],
        internal_secret="s" * 32,
    )

    @app.get("/things/{thing}")
    async def thing(thing: str) -> Response:
        # What the route's log lines (and its calls to other services) carry.
        headers = {CORRELATION_HEADER: "set-by-the-route"} if thing == "own-header" else {}
        return Response(str(correlation_id_var.get()), headers=headers)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    return app


def _count(service: str, template: str, status: str) -> float:
    value = HTTP_REQUESTS.labels(service, "GET", template, status)._value.get()
    return float(value)


async def test_the_callers_correlation_id_reaches_the_route_and_the_answer() -> None:
    transport = httpx.ASGITransport(app=_app("svc-a"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/things/1", headers={CORRELATION_HEADER: "caller-7"})
    assert answer.text == "caller-7"
    assert answer.headers.get_list(CORRELATION_HEADER) == ["caller-7"]


async def test_without_one_a_new_id_is_made_and_it_is_the_only_one_answered() -> None:
    transport = httpx.ASGITransport(app=_app("svc-b"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/things/own-header")
    [given] = answer.headers.get_list(CORRELATION_HEADER)
    assert given == answer.text
    assert uuid.UUID(given)


async def test_requests_are_counted_by_route_template_and_status_failures_included() -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    transport = httpx.ASGITransport(app=_app(service), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for n in range(3):
            assert (await client.get(f"/things/{n}")).status_code == 200
        assert (await client.get("/broken")).status_code == 500
        assert (await client.get("/nowhere")).status_code == 404
    assert _count(service, "/things/{thing}", "200") == 3
    assert _count(service, "/broken", "500") == 1
    assert _count(service, "unmatched", "404") == 1
