"""Domain errors as problem+json: 404 for what does not exist (or is not yours), 409 for a
state that does not allow the request, 422 for input that breaks a rule."""

from __future__ import annotations

from fastapi import FastAPI
from kitflow_shared.web.problems import ProblemFor, install_problem_mapping

from kitflow_distribution.domain.planner import InvalidPlanningInput
from kitflow_distribution.domain.plans import InvalidPlanInput, PlanConflict, UnknownPlan
from kitflow_distribution.handlers.plans import NotPermitted
from kitflow_distribution.handlers.ports import Concurrency


def install_domain_error_handlers(app: FastAPI) -> None:
    install_problem_mapping(
        app,
        {
            UnknownPlan: ProblemFor(404, "Not found", "unknown-plan"),
            PlanConflict: ProblemFor(409, "Conflict", "plan-state"),
            Concurrency: ProblemFor(409, "Conflict", "concurrent-change"),
            InvalidPlanInput: ProblemFor(
                422,
                "Invalid request",
                "validation",
                errors=lambda e: [
                    {"field": f"body.{e.field}", "reason": e.reason, "type": "business_rule"}
                ],
            ),
            InvalidPlanningInput: ProblemFor(422, "Invalid request", "validation"),
            NotPermitted: ProblemFor(403, "Forbidden", "forbidden"),
        },
    )
