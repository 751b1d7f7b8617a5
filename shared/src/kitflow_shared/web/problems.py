"""RFC 9457 problem details (application/problem+json) for every error a client can see.

Bad input gets a 4xx that names each offending field and why; nothing else leaks. An unexpected
exception still answers problem+json (500) with the correlation id to quote to an operator,
never a stack trace.

`title`, `detail` and each field's `reason` are in the caller's language (Accept-Language,
French or English: `kitflow_shared.i18n`), rendered here, so every service and the gateway
answer alike; `type`, `field` and the extension members stay as they are, for programs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from kitflow_shared.errors import (
    ConcurrentChange,
    Conflict,
    InvalidInput,
    NotFound,
    NotPermitted,
)
from kitflow_shared.i18n import (
    Language,
    MessageLike,
    Text,
    field_reason,
    negotiate,
    render,
    speaking,
    translate,
)
from kitflow_shared.i18n_catalogue import STORE_UNAVAILABLE_DETAIL
from kitflow_shared.logging import correlation_id_var
from kitflow_shared.offload import PoolFull

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)
# A store restart takes a few seconds; a client coming back sooner only adds to the queue.
STORE_RETRY_AFTER_S = 2


class Problem(Exception):
    """Raise from a route or a dependency to answer with a problem document that no domain
    error stands for (a refused credential, a rate limit)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: Text,
        *,
        slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(str(detail) if isinstance(detail, str) else render(detail, "en"))
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.errors = errors
        # Those the HTTP specs ask for with some answers (Retry-After, WWW-Authenticate).
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    status: int,
    title: str,
    detail: Text,
    *,
    instance: str | None = None,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    language: Language | None = None,
    **extensions: Any,
) -> JSONResponse:
    """The problem document, in `language` (default: the request's, see `kitflow_shared.i18n`)."""
    with speaking(language) if language else nullcontext():
        body: dict[str, Any] = {
            # A relative URI reference (RFC 9457 §3.1.1); "about:blank" when the status says
            # it all.
            "type": f"/problems/{slug}" if slug else "about:blank",
            "title": translate(title),
            "status": status,
            "detail": render(detail),
        }
        if errors:
            body["errors"] = [_rendered_reason(error) for error in errors]
    if instance:
        body["instance"] = instance
    correlation_id = correlation_id_var.get()
    if correlation_id:
        body["correlation_id"] = correlation_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _rendered_reason(error: dict[str, Any]) -> dict[str, Any]:
    reason = error.get("reason")
    if isinstance(reason, str | MessageLike):
        return {**error, "reason": render(reason)}
    return error


def field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """One entry per offending field: where it is (`body.quantity`) and why, in the request's
    language (pydantic's error type and context give the French)."""
    out = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        error_type = error.get("type", "value_error")
        out.append(
            {
                "field": ".".join(location),
                "reason": field_reason(error_type, error.get("ctx"), error.get("msg", "invalid")),
                "type": error_type,
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            slug=exc.slug,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(PoolFull)
    async def _busy(request: Request, exc: PoolFull) -> JSONResponse:
        # The server's own bound (not the caller's rate): 503, and when to come back.
        return problem_response(
            503,
            "Too busy",
            f"Every {exc.pool} worker is busy and its queue is full; retry in "
            f"{exc.retry_after_s} s.",
            instance=request.url.path,
            slug="busy",
            headers={"Retry-After": str(exc.retry_after_s)},
            pool=exc.pool,
        )

    @app.exception_handler(ConnectionFailure)
    async def _store_unreachable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # The store restarting or out of reach: retrying is what helps, and the service is not
        # broken, so 503 with when to come back rather than 500. What pymongo says names the
        # store's address: the log has it, the caller does not.
        log.warning("store unreachable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503,
            "Store unavailable",
            STORE_UNAVAILABLE_DETAIL,
            instance=request.url.path,
            slug="store-unavailable",
            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
            language=negotiate(request.headers.get("accept-language")),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem_response(
            422,
            "Invalid request",
            detail or "The request is invalid.",
            instance=request.url.path,
            slug="validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            _reason(exc.status_code),
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # Answered outside the middleware that sets the request's language: ask the request.
        return problem_response(
            500,
            "Internal error",
            "The request could not be completed. Quote the correlation id to an operator.",
            instance=request.url.path,
            language=negotiate(request.headers.get("accept-language")),
        )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass(frozen=True)
class ProblemFor:
    """How one kind of exception answers: status, title, slug (fixed, or taken from the
    exception), and optionally the offending fields, extension members, response headers and a
    detail other than the error's message."""

    status: int
    title: str
    slug: str | Callable[[Any], str]
    errors: Callable[[Any], list[dict[str, Any]]] | None = None
    extensions: Callable[[Any], dict[str, Any]] | None = None
    headers: Callable[[Any], dict[str, str]] | None = None
    detail: Callable[[Any], str] | None = None


def field_problems(exc: InvalidInput) -> list[dict[str, Any]]:
    """Each field a business rule refused (in the request body) and why."""
    return [
        {"field": f"body.{p.field}", "reason": p.reason, "type": "business_rule"}
        for p in exc.problems
    ]


# The five kinds every service's domain errors derive from, answered the same way everywhere. A
# service's own table adds the errors that answer more precisely (their own slug, the fields or
# figures a client needs); the most specific class listed wins (Starlette follows the MRO).
KIND_PROBLEMS: Mapping[type[Exception], ProblemFor] = {
    NotFound: ProblemFor(404, "Not found", "not-found"),
    NotPermitted: ProblemFor(403, "Forbidden", "forbidden"),
    Conflict: ProblemFor(409, "Conflict", "conflict"),
    ConcurrentChange: ProblemFor(409, "Conflict", "concurrent-change"),
    InvalidInput: ProblemFor(422, "Invalid request", "validation", errors=field_problems),
}


def message_of(exc: Exception) -> Text:
    """The sentence an error carries: its Message (template and parameters) when it has one,
    so that it is rendered in the caller's language, else its English text."""
    message = getattr(exc, "message", None)
    return message if isinstance(message, MessageLike) else str(exc)


def install_problem_mapping(app: FastAPI, mapping: Mapping[type[Exception], ProblemFor]) -> None:
    """Answer each error kind with its problem document: the five shared kinds
    (`KIND_PROBLEMS`), then the service's own `mapping` (which may override them)."""

    def handler_for(spec: ProblemFor) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return problem_response(
                spec.status,
                spec.title,
                spec.detail(exc) if spec.detail else message_of(exc),
                instance=request.url.path,
                slug=spec.slug if isinstance(spec.slug, str) else spec.slug(exc),
                errors=spec.errors(exc) if spec.errors else None,
                headers=spec.headers(exc) if spec.headers else None,
                **(spec.extensions(exc) if spec.extensions else {}),
            )

        return handle

    for exc_type, spec in {**KIND_PROBLEMS, **mapping}.items():
        app.add_exception_handler(exc_type, handler_for(spec))
