"""Request size limits and the audit log, as ASGI middleware around every route."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kitflow_shared.i18n import negotiate
from kitflow_shared.web.app import CORRELATION_HEADER
from kitflow_shared.web.problems import problem_response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kitflow_gateway.domain.audit import AuditEntry
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.domain.rate_limits import Verdict
from kitflow_gateway.handlers.audit import AuditTrail

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UPLOAD_PATHS = ("/v1/needs/imports",)


class BodyTooLarge(HTTPException):
    """Raised from the request's `receive` once the body passes the limit: FastAPI passes
    HTTPExceptions raised while it reads a body on, and the gateway answers it with a 413
    problem (`install_body_limit_problem`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")
        self.limit = limit


class BodySizeLimit:
    """Refuses bodies over the limit (file uploads have a larger one) with a 413 problem, whether
    or not the client declares Content-Length.

    Nothing is read here: a route checks the caller first and only then reads the body (ADR
    0006), so an unknown caller cannot make the gateway take in 20 MiB before it is refused. A
    declared length over the limit is refused at once; otherwise the body is counted as the
    route reads it, and reading stops at the limit, so memory per request stays bounded by it."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.max_upload_bytes if path.startswith(UPLOAD_PATHS) else self.max_json_bytes
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = problem_response(
                413,
                "Request too large",
                f"The request body is larger than {limit} bytes.",
                instance=path,
                slug="request-too-large",
                headers={CORRELATION_HEADER: headers.get(CORRELATION_HEADER) or str(uuid.uuid4())},
                # Outside the service app's middleware, which sets the request's language.
                language=negotiate(headers.get("accept-language")),
            )
            await response(scope, receive, send)
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def install_body_limit_problem(app: FastAPI) -> None:
    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return problem_response(
            413,
            "Request too large",
            str(exc.detail),
            instance=request.url.path,
            slug="request-too-large",
        )


class AuditMiddleware:
    """Writes one audit entry per mutating /v1 request once it is answered: who (user,
    organisation, key), what (method, path), the status, when, and the correlation id. Refused
    credentials are recorded too, without a user."""

    def __init__(self, app: ASGIApp, *, log: AuditTrail) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        # The route stores the authenticated principal here; the same dict is seen by every layer.
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        at = datetime.now(UTC)
        status = 500
        correlation_id: str | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, correlation_id
            if message["type"] == "http.response.start":
                status = message["status"]
                correlation_id = Headers(raw=message.get("headers", [])).get("x-correlation-id")
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            await self._record(scope, state, at, started, status, correlation_id)

    async def _record(
        self,
        scope: Scope,
        state: dict[str, object],
        at: datetime,
        started: float,
        status: int,
        correlation_id: str | None,
    ) -> None:
        principal = state.get("principal")
        if not isinstance(principal, Principal):
            principal = None
        client = scope.get("client")
        try:
            await self.log.record(
                AuditEntry(
                    entry_id=str(uuid.uuid4()),
                    at=at,
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    correlation_id=correlation_id,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    user_id=principal.user_id if principal else None,
                    username=principal.username if principal else None,
                    organisation=principal.organisation if principal else None,
                    key_id=principal.key_id if principal else None,
                    client=client[0] if client else None,
                )
            )
        except Exception:
            # The answer has gone out already; an operator must see the gap in the trail.
            log.exception("audit entry lost for %s %s", scope["method"], scope["path"])


class RateLimitHeaders:
    """Tells an authenticated caller its organisation's limit and what is left of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict: Verdict | None = state.get("rate_verdict")
                if verdict is not None:
                    headers = list(message.get("headers", []))
                    headers.append((b"ratelimit-limit", str(verdict.limit).encode()))
                    headers.append((b"ratelimit-remaining", str(verdict.remaining).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_limits)
