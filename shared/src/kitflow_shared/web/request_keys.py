"""Idempotency-Key on a service's HTTP routes: read, check, and mark replayed answers.

The gateway forwards the caller's Idempotency-Key on every state-changing route; the service
remembers it with the effect (see `kitflow_shared.request_keys`). A route that changes state
declares `key: RequestKeyDep` and hands the key to its handler; when the handler says the
request was a replay, the route answers as the first time with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response

from kitflow_shared.request_keys import (
    MAX_KEY_LENGTH,
    MIN_KEY_LENGTH,
    IdempotencyKeyReused,
    RequestKey,
    fingerprint,
    key_problem,
)
from kitflow_shared.web.identity import CurrentCaller
from kitflow_shared.web.problems import Problem, ProblemFor, install_problem_mapping

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


async def request_key(
    request: Request,
    caller: CurrentCaller,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=MIN_KEY_LENGTH,
            max_length=MAX_KEY_LENGTH,
            description="Repeat the request with the same key to get the first answer back "
            "instead of a second effect.",
        ),
    ] = None,
) -> RequestKey | None:
    """The request's Idempotency-Key with the caller's organisation and the request's
    fingerprint, or None when the client sent no key."""
    if idempotency_key is None:
        return None
    problem = key_problem(idempotency_key)
    if problem is not None:
        field = f"header.{IDEMPOTENCY_HEADER}"
        raise Problem(
            422,
            "Invalid request",
            f"{field}: {problem}",
            slug="validation",
            errors=[{"field": field, "reason": problem, "type": "value"}],
        )
    body = await request.body()
    print_ = fingerprint(
        request.method, request.url.path, request.scope.get("query_string", b"").decode(), body
    )
    return RequestKey(caller.organisation, idempotency_key, print_)


RequestKeyDep = Annotated[RequestKey | None, Depends(request_key)]


def mark_replayed(response: Response, replayed: bool) -> None:
    """Say on the answer that it repeats the first one (the gateway passes the header on)."""
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"


def _reused_errors(exc: IdempotencyKeyReused) -> list[dict[str, str]]:
    return [
        {
            "field": f"header.{IDEMPOTENCY_HEADER}",
            "reason": "already used with a different request",
            "type": "idempotency",
        }
    ]


KEY_REUSED = ProblemFor(422, "Idempotency-Key reused", "idempotency-key-reused", _reused_errors)


def install_request_key_problems(app: FastAPI) -> None:
    """Answer a reused key with the same 422 the gateway gives."""
    install_problem_mapping(app, {IdempotencyKeyReused: KEY_REUSED})
