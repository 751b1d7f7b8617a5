"""Domain errors as problem+json: 404 for what does not exist (or is not yours), 409 for a
state that does not allow the request, 422 for input that breaks a rule."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kitflow_shared.web.problems import problem_response

from kitflow_distribution.domain.planner import InvalidPlanningInput
from kitflow_distribution.domain.plans import InvalidPlanInput, PlanConflict, UnknownPlan
from kitflow_distribution.handlers.plans import NotPermitted
from kitflow_distribution.handlers.ports import Concurrency


def install_domain_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(UnknownPlan)
    async def _unknown(request: Request, exc: UnknownPlan) -> JSONResponse:
        return problem_response(
            404, "Not found", str(exc), instance=request.url.path, slug="unknown-plan"
        )

    @app.exception_handler(PlanConflict)
    async def _conflict(request: Request, exc: PlanConflict) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="plan-state"
        )

    @app.exception_handler(Concurrency)
    async def _concurrency(request: Request, exc: Concurrency) -> JSONResponse:
        return problem_response(
            409, "Conflict", str(exc), instance=request.url.path, slug="concurrent-change"
        )

    @app.exception_handler(InvalidPlanInput)
    async def _invalid(request: Request, exc: InvalidPlanInput) -> JSONResponse:
        return problem_response(
            422,
            "Invalid request",
            str(exc),
            instance=request.url.path,
            slug="validation",
            errors=[{"field": f"body.{exc.field}", "reason": exc.reason, "type": "business_rule"}],
        )

    @app.exception_handler(InvalidPlanningInput)
    async def _invalid_planning(request: Request, exc: InvalidPlanningInput) -> JSONResponse:
        return problem_response(
            422, "Invalid request", str(exc), instance=request.url.path, slug="validation"
        )

    @app.exception_handler(NotPermitted)
    async def _forbidden(request: Request, exc: NotPermitted) -> JSONResponse:
        return problem_response(
            403, "Forbidden", str(exc), instance=request.url.path, slug="forbidden"
        )
