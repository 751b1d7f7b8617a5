"""Domain errors as problem+json: 404 for what does not exist (or is not yours), 409 for a
state that does not allow the request, 422 for input that breaks a rule. The shared kinds'
answers, and the ones distribution says more about."""

from __future__ import annotations

from fastapi import FastAPI
from kitflow_shared.web.problems import ProblemFor, install_problem_mapping

from kitflow_distribution.domain.errors import InvalidTransition, UnknownPlan
from kitflow_distribution.domain.planner import InvalidPlanningInput

# Not listed: InvalidInput, NotPermitted, ConcurrentChange (the shared kinds' answers).
DISTRIBUTION_PROBLEMS: dict[type[Exception], ProblemFor] = {
    UnknownPlan: ProblemFor(404, "Not found", "unknown-plan"),
    InvalidTransition: ProblemFor(409, "Conflict", "plan-state"),
    # Its fields are paths in the planner's input, which a client did not send.
    InvalidPlanningInput: ProblemFor(422, "Invalid request", "validation"),
}


def install_domain_error_handlers(app: FastAPI) -> None:
    install_problem_mapping(app, DISTRIBUTION_PROBLEMS)
