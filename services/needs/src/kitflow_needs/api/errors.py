"""Domain errors as problem+json: the shared kinds' answers, and the ones needs says more about."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from kitflow_shared.web.problems import ProblemFor, install_problem_mapping

from kitflow_needs.domain.errors import (
    DuplicateProfile,
    InvalidTransition,
    RequestInProgress,
    UnknownKoboSubmission,
    UnknownNeed,
    UnknownProfile,
    UnreadableFile,
)


def _unreadable_fields(exc: UnreadableFile) -> list[dict[str, Any]]:
    return [
        {"field": f"file.{tag}", "reason": "required column missing", "type": "missing"}
        for tag in exc.missing
    ] or [{"field": "file", "reason": exc.reason, "type": "unreadable"}]


# Not listed: InvalidInput, NotPermitted, ConcurrentChange (the shared kinds' answers).
NEEDS_PROBLEMS: dict[type[Exception], ProblemFor] = {
    UnreadableFile: ProblemFor(
        422,
        "File not importable",
        "not-importable",
        errors=_unreadable_fields,
        detail=lambda e: f"{e.reason}; nothing was imported",
    ),
    UnknownNeed: ProblemFor(404, "Not found", "unknown-need"),
    UnknownProfile: ProblemFor(404, "Not found", "unknown-norms-profile"),
    UnknownKoboSubmission: ProblemFor(404, "Not found", "unknown-kobo-submission"),
    DuplicateProfile: ProblemFor(
        409,
        "Conflict",
        "duplicate-norms-profile",
        errors=lambda _: [
            {"field": "body.profile_id", "reason": "already taken", "type": "duplicate"}
        ],
    ),
    InvalidTransition: ProblemFor(
        409, "Conflict", "invalid-transition", extensions=lambda e: {"status_now": e.status}
    ),
    # As the gateway answers a copy of a request it is still forwarding.
    RequestInProgress: ProblemFor(
        409,
        "Conflict",
        "idempotency-in-progress",
        headers=lambda e: {"Retry-After": str(e.retry_after_s)},
    ),
}


def install_domain_error_handlers(app: FastAPI) -> None:
    install_problem_mapping(app, NEEDS_PROBLEMS)
