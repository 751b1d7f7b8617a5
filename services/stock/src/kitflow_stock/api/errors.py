"""Domain errors as problem+json: which field and why, or what conflicts."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kitflow_shared.web.problems import problem_response

from kitflow_stock.domain.catalogue import DuplicateItem
from kitflow_stock.domain.errors import (
    ConcurrentChange,
    Conflict,
    DuplicateDocument,
    DuplicateWarehouse,
    InsufficientStock,
    InvalidInput,
    NotPermitted,
    UnknownItem,
    UnknownWarehouse,
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
            errors=[{"field": f"body.{exc.field}", "reason": exc.reason, "type": "business_rule"}],
        )

    @app.exception_handler(UnknownWarehouse)
    async def _unknown(request: Request, exc: UnknownWarehouse) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug="unknown-warehouse"
        )

    @app.exception_handler(DuplicateWarehouse)
    async def _duplicate(request: Request, exc: DuplicateWarehouse) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="duplicate-warehouse",
            errors=[{"field": "body.code", "reason": "already taken", "type": "duplicate"}],
        )

    @app.exception_handler(NotPermitted)
    async def _forbidden(request: Request, exc: NotPermitted) -> JSONResponse:
        return problem_response(
            403, "Forbidden", str(exc), instance=request.url.path, slug="forbidden"
        )

    @app.exception_handler(ConcurrentChange)
    async def _conflict(request: Request, exc: ConcurrentChange) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="concurrent-change"
        )

    @app.exception_handler(UnknownItem)
    async def _unknown_item(request: Request, exc: UnknownItem) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug="unknown-item"
        )

    @app.exception_handler(DuplicateItem)
    async def _duplicate_item(request: Request, exc: DuplicateItem) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="duplicate-item",
            errors=[{"field": "body.code", "reason": "already taken", "type": "duplicate"}],
        )

    @app.exception_handler(InsufficientStock)
    async def _insufficient(request: Request, exc: InsufficientStock) -> JSONResponse:
        return problem_response(
            409,
            "Not enough stock",
            str(exc),
            instance=request.url.path,
            slug="insufficient-stock",
            warehouse=exc.warehouse,
            item_code=exc.item,
            requested=exc.requested,
            available=exc.available,
        )

    @app.exception_handler(DuplicateDocument)
    async def _duplicate_document(request: Request, exc: DuplicateDocument) -> JSONResponse:
        return problem_response(
            409,
            "Conflict",
            str(exc),
            instance=request.url.path,
            slug="duplicate-document",
            movement_id=exc.movement_id,
            errors=[
                {"field": "body.document_number", "reason": "already recorded", "type": "duplicate"}
            ],
        )

    @app.exception_handler(Conflict)
    async def _state_conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="conflict"
        )
