"""Domain errors as problem+json: the shared kinds' answers, and the ones stock says more about."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from kitflow_shared.web.problems import ProblemFor, install_problem_mapping

from kitflow_stock.domain.catalogue import DuplicateItem
from kitflow_stock.domain.errors import (
    CountAlreadySubmitted,
    DuplicateDocument,
    DuplicateWarehouse,
    InsufficientStock,
    UnknownCount,
    UnknownItem,
    UnknownReservation,
    UnknownWarehouse,
    Unstorable,
)


def _code_taken(_: Any) -> list[dict[str, Any]]:
    return [{"field": "body.code", "reason": "already taken", "type": "duplicate"}]


# Not listed: InvalidInput, NotPermitted, Conflict, ConcurrentChange (the shared kinds' answers).
STOCK_PROBLEMS: dict[type[Exception], ProblemFor] = {
    UnknownWarehouse: ProblemFor(404, "Not found", "unknown-warehouse"),
    DuplicateWarehouse: ProblemFor(409, "Conflict", "duplicate-warehouse", errors=_code_taken),
    UnknownItem: ProblemFor(404, "Not found", "unknown-item"),
    DuplicateItem: ProblemFor(409, "Conflict", "duplicate-item", errors=_code_taken),
    InsufficientStock: ProblemFor(
        409,
        "Not enough stock",
        "insufficient-stock",
        extensions=lambda e: {
            "warehouse": e.warehouse,
            "item_code": e.item,
            "requested": e.requested,
            "available": e.available,
        },
    ),
    DuplicateDocument: ProblemFor(
        409,
        "Conflict",
        "duplicate-document",
        errors=lambda _: [
            {"field": "body.document_number", "reason": "already recorded", "type": "duplicate"}
        ],
        extensions=lambda e: {"movement_id": e.movement_id},
    ),
    CountAlreadySubmitted: ProblemFor(
        409, "Conflict", "conflict", extensions=lambda e: {"movement_id": e.movement_id}
    ),
    UnknownCount: ProblemFor(404, "Not found", "unknown-count"),
    UnknownReservation: ProblemFor(404, "Not found", "unknown-reservation"),
    # What the validation let through but the store cannot hold (a sum past its integers, say):
    # this request fails, with nothing written, and no other.
    Unstorable: ProblemFor(422, "Invalid request", "unstorable"),
}


def install_domain_error_handlers(app: FastAPI) -> None:
    install_problem_mapping(app, STOCK_PROBLEMS)
