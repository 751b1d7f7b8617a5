"""Domain errors as problem+json (the shared kinds' answers, and the ones the gateway says more
about), with the headers the HTTP specs ask for."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from kitflow_shared.web.problems import Problem, ProblemFor, install_problem_mapping

from kitflow_gateway.domain.errors import (
    AlreadyExists,
    ConcurrentChange,
    NotFound,
    Unauthenticated,
)

# One answer for every credential failure: the caller learns nothing about which check failed.
UNAUTHENTICATED_DETAIL = (
    "Send a valid API key in X-API-Key, or a valid access token in Authorization: Bearer."
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kitflow"'}


def unauthenticated() -> Problem:
    return Problem(
        401, "Unauthenticated", UNAUTHENTICATED_DETAIL, slug="unauthenticated", headers=_CHALLENGE
    )


def _taken(exc: AlreadyExists) -> list[dict[str, Any]]:
    return [{"field": f"body.{exc.field}", "reason": "already taken", "type": "unique"}]


# Not listed: InvalidInput, NotPermitted (the shared kinds' answers).
GATEWAY_PROBLEMS: dict[type[Exception], ProblemFor] = {
    Unauthenticated: ProblemFor(
        401,
        "Unauthenticated",
        "unauthenticated",
        headers=lambda _: _CHALLENGE,
        detail=lambda _: UNAUTHENTICATED_DETAIL,
    ),
    NotFound: ProblemFor(404, "Not found", lambda e: f"unknown-{e.kind}"),
    AlreadyExists: ProblemFor(409, "Conflict", "already-exists", errors=_taken),
    # The gateway has answered this one as a plain conflict since its first release.
    ConcurrentChange: ProblemFor(409, "Conflict", "conflict"),
}


def install_gateway_error_handlers(app: FastAPI) -> None:
    install_problem_mapping(app, GATEWAY_PROBLEMS)
