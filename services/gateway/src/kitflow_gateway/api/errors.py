"""Domain errors and refusals as problem+json, with the headers the HTTP specs ask for."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kitflow_shared.web.problems import problem_response

from kitflow_gateway.domain.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)


class Refused(Exception):
    """A problem answer that needs response headers (Retry-After, WWW-Authenticate)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.headers = headers or {}
        self.errors = errors
        self.extensions = extensions


# One answer for every credential failure: the caller learns nothing about which check failed.
UNAUTHENTICATED_DETAIL = (
    "Send a valid API key in X-API-Key, or a valid access token in Authorization: Bearer."
)


def unauthenticated() -> Refused:
    return Refused(
        401,
        "Unauthenticated",
        UNAUTHENTICATED_DETAIL,
        slug="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="kitflow"'},
    )


def install_gateway_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            slug=exc.slug,
            headers=exc.headers,
            errors=exc.errors,
            **exc.extensions,
        )

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
        return await _refused(request, unauthenticated())

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug=f"unknown-{exc.kind}"
        )

    @app.exception_handler(AlreadyExists)
    async def _exists(request: Request, exc: AlreadyExists) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="already-exists",
            errors=[{"field": f"body.{exc.field}", "reason": "already taken", "type": "unique"}],
        )

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="conflict"
        )

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return problem_response(
            422,
            "Invalid request",
            str(exc),
            instance=request.url.path,
            slug="validation",
            errors=[{"field": f"body.{exc.field}", "reason": exc.reason, "type": "business_rule"}],
        )

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return problem_response(
            403, "Forbidden", str(exc), instance=request.url.path, slug="forbidden"
        )
