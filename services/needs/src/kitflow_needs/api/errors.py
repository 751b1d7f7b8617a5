"""Domain errors as problem+json: which field and why, or what conflicts."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kitflow_shared.web.problems import problem_response

from kitflow_needs.domain.errors import (
    ConcurrentChange,
    DuplicateProfile,
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    RequestInProgress,
    UnknownNeed,
    UnknownProfile,
    UnreadableFile,
)


def install_domain_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return problem_response(
            422,
            "Invalid request",
            str(exc),
            instance=request.url.path,
            slug="validation",
            errors=[
                {"field": f"body.{p.field}", "reason": p.reason, "type": "business_rule"}
                for p in exc.problems
            ],
        )

    @app.exception_handler(UnreadableFile)
    async def _unreadable(request: Request, exc: UnreadableFile) -> JSONResponse:
        return problem_response(
            422,
            "File not importable",
            f"{exc.reason}; nothing was imported",
            instance=request.url.path,
            slug="not-importable",
            errors=[
                {"field": f"file.{tag}", "reason": "required column missing", "type": "missing"}
                for tag in exc.missing
            ]
            or [{"field": "file", "reason": exc.reason, "type": "unreadable"}],
        )

    @app.exception_handler(UnknownNeed)
    async def _unknown_need(request: Request, exc: UnknownNeed) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug="unknown-need"
        )

    @app.exception_handler(UnknownProfile)
    async def _unknown_profile(request: Request, exc: UnknownProfile) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug="unknown-norms-profile"
        )

    @app.exception_handler(DuplicateProfile)
    async def _duplicate_profile(request: Request, exc: DuplicateProfile) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="duplicate-norms-profile",
            errors=[{"field": "body.profile_id", "reason": "already taken", "type": "duplicate"}],
        )

    @app.exception_handler(NotPermitted)
    async def _forbidden(request: Request, exc: NotPermitted) -> JSONResponse:
        return problem_response(
            403, "Forbidden", str(exc), instance=request.url.path, slug="forbidden"
        )

    @app.exception_handler(InvalidTransition)
    async def _transition(request: Request, exc: InvalidTransition) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="invalid-transition",
            status_now=exc.status,
        )

    @app.exception_handler(ConcurrentChange)
    async def _conflict(request: Request, exc: ConcurrentChange) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="concurrent-change"
        )

    @app.exception_handler(RequestInProgress)
    async def _in_progress(request: Request, exc: RequestInProgress) -> JSONResponse:
        # As the gateway answers a copy of a request it is still forwarding.
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="idempotency-in-progress",
            headers={"Retry-After": str(exc.retry_after_s)},
        )
