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

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kitflow_shared.logging import log_context
from kitflow_shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from kitflow_shared.web.problems import install_problem_handlers, problem_response

CORRELATION_HEADER = "X-Correlation-Id"
READINESS_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    check: Callable[[], Awaitable[None]]


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

    @app.middleware("http")
    async def correlate_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        started = time.perf_counter()
        with log_context(correlation_id):
            response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, template, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, template).observe(
            time.perf_counter() - started
        )
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"], response_model=None)
    async def readyz() -> JSONResponse:
        """Readiness: every dependency (broker, store, ...) answers a real call."""
        results = await asyncio.gather(*(_run(c) for c in readiness(app)))
        checks = dict(results)
        if all(status == "ok" for status in checks.values()):
            return JSONResponse({"status": "ready", "service": service, "checks": checks})
        failing = ", ".join(f"{k} ({v})" for k, v in checks.items() if v != "ok")
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


async def _run(check: ReadinessCheck) -> tuple[str, Any]:
    try:
        await asyncio.wait_for(check.check(), READINESS_TIMEOUT_S)
    except Exception as exc:
        return check.name, f"failed: {type(exc).__name__}"
    return check.name, "ok"
