"""The FastAPI application every service starts from: problem+json errors, correlation ids,
request metrics, `/healthz` (the process is alive), `/readyz` (its broker and store answer),
and Prometheus `/metrics`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kitflow_shared.i18n import negotiate, speaking
from kitflow_shared.logging import log_context
from kitflow_shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from kitflow_shared.web.problems import install_problem_handlers, problem_response

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_KEY = CORRELATION_HEADER.lower().encode()
READINESS_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    check: Callable[[], Awaitable[None]]
    # A dependency the process can serve without (the gateway's services: only their own
    # routes need them). It is checked and listed, and named in "unavailable" when it fails,
    # but does not take the process off the load balancer.
    required: bool = True


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    version: str,
    lifespan: Lifespan,
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]],
    internal_secret: str,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.internal_secret = internal_secret
    install_problem_handlers(app)

    app.add_middleware(CorrelateAndMeasure, service=service)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"], response_model=None)
    async def readyz() -> JSONResponse:
        """Readiness: every dependency it cannot serve without (broker, store, ...) answers a
        real call; the others are listed, and those failing named in "unavailable"."""
        wanted = list(readiness(app))
        checks = dict(await asyncio.gather(*(_run(c) for c in wanted)))
        required = [c.name for c in wanted if c.required]
        if all(checks[name] == "ok" for name in required):
            unavailable = [c.name for c in wanted if not c.required and checks[c.name] != "ok"]
            return JSONResponse(
                {
                    "status": "ready",
                    "service": service,
                    "checks": checks,
                    "unavailable": unavailable,
                }
            )
        failing = ", ".join(f"{k} ({checks[k]})" for k in required if checks[k] != "ok")
        return problem_response(
            503,
            "Not ready",
            f"Dependencies not answering: {failing}",
            slug="not-ready",
            checks=checks,
        )

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class CorrelateAndMeasure:
    """Gives every request a correlation id (the caller's, else a new one) that its log lines
    and its answer carry, and the language its problems are written in (Accept-Language), and
    counts it in the request metrics.

    Plain ASGI rather than Starlette's BaseHTTPMiddleware: that one runs the rest of the app in a
    task group of its own and streams the answer through a memory channel, several times the
    cost of this on every request (it was about a tenth of the gateway's CPU in its profile)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        correlation_id = headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        language = negotiate(headers.get("accept-language"))
        raw_id = correlation_id.encode("latin-1")
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before it starts its answer

        async def send_correlated(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != CORRELATION_KEY
                ]
                headers.append((CORRELATION_KEY, raw_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with log_context(correlation_id), speaking(language):
                await self.app(scope, receive, send_correlated)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(
                time.perf_counter() - started
            )


async def _run(check: ReadinessCheck) -> tuple[str, Any]:
    try:
        await asyncio.wait_for(check.check(), READINESS_TIMEOUT_S)
    except Exception as exc:
        return check.name, f"failed: {type(exc).__name__}"
    return check.name, "ok"
