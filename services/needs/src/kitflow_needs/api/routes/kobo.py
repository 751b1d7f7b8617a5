"""/v1/integrations/kobo: KoboToolbox REST Service submissions, kept and turned into needs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from kitflow_shared.errors import message
from kitflow_shared.i18n import render
from kitflow_shared.web.problems import Problem
from pydantic import BaseModel, Field

from kitflow_needs.adapters.kobo import submission_uuid
from kitflow_needs.api.deps import Context, Reporter, Services, actor_of
from kitflow_needs.handlers.kobo import KoboHandlers, KoboServices, KoboSubmission, Received

router = APIRouter(prefix="/v1/integrations/kobo", tags=["KoboToolbox"])

MAX_QUESTIONS = 500
Uuid = Annotated[str, Path(min_length=1, max_length=100)]
HashtagMapping = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=200)], Annotated[str, Field(max_length=200)]
    ],
    Field(max_length=MAX_QUESTIONS),
]


class RefusalPublic(BaseModel):
    question: str = Field(description="The Kobo question (or HXL column) refused; '' for all")
    reason: str


class KoboSubmissionPublic(BaseModel):
    uuid: str
    state: Literal["accepted", "refused"]
    need_id: str | None
    reasons: list[RefusalPublic]
    attempts: int
    received_at: datetime
    updated_at: datetime
    values: dict[str, Any] = Field(description="The submission as Kobo sent it (and as fixed)")

    @classmethod
    def of(cls, s: KoboSubmission) -> KoboSubmissionPublic:
        return cls(
            uuid=s.uuid,
            state=s.state,
            need_id=s.need_id,
            # Kept as the needs API wrote them (English), read in the caller's language.
            reasons=[
                RefusalPublic(question=r.question, reason=render(r.reason)) for r in s.reasons
            ],
            attempts=s.attempts,
            received_at=s.received_at,
            updated_at=s.updated_at,
            values=s.payload,
        )


class KoboMappingPublic(BaseModel):
    fields: HashtagMapping = Field(
        description="Kobo question path (group/question) → HXL hashtag, e.g. "
        '{"location/cercle": "#adm2+code"}'
    )


class Corrections(BaseModel):
    values: Annotated[dict[str, Any], Field(max_length=MAX_QUESTIONS)] = Field(
        default_factory=dict, description="Question path → corrected value"
    )


def _kobo(request: Request, svc: Services) -> KoboHandlers:
    kobo: KoboServices = request.app.state.kobo
    return KoboHandlers(svc, kobo)


def _answer(received: Received, response: Response) -> KoboSubmissionPublic:
    submission = received.submission
    if submission.state == "refused":
        # 422 so that Kobo's REST Service log shows the failure; the submission is kept.
        raise Problem(
            422,
            "Submission not turned into a need",
            message(
                "the submission {uuid} is kept as refused; fix the mapping or its values and "
                "resubmit it",
                uuid=submission.uuid,
            ),
            slug="kobo-submission-refused",
            errors=[
                {"field": r.question or "submission", "reason": r.reason, "type": "business_rule"}
                for r in submission.reasons
            ],
            submission=submission.uuid,
        )
    if not received.replayed:
        response.status_code = status.HTTP_201_CREATED
    return KoboSubmissionPublic.of(submission)


@router.post("/submissions", response_model=KoboSubmissionPublic)
async def receive_submission(
    request: Request,
    payload: Annotated[dict[str, Any], Body(max_length=MAX_QUESTIONS)],
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    submit: Annotated[bool, Query(description="Submit the need (else a draft)")] = True,
) -> KoboSubmissionPublic:
    """A KoboToolbox REST Service delivery (JSON). Kobo's retries of the same `_uuid` change
    nothing (200); a new submission makes a need (201) or is kept as refused (422)."""
    uuid = submission_uuid(payload)
    if uuid is None:
        raise Problem(
            422,
            "Not a KoboToolbox submission",
            message("expected a KoboToolbox submission in JSON, with its `_uuid` (a string)"),
            slug="validation",
            errors=[{"field": "body._uuid", "reason": "required", "type": "missing"}],
        )
    received = await _kobo(request, svc).receive(uuid, payload, submit, actor_of(caller), context)
    return _answer(received, response)


@router.get("/submissions", response_model=list[KoboSubmissionPublic])
async def list_submissions(
    request: Request,
    caller: Reporter,
    svc: Services,
    state: Literal["accepted", "refused"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[KoboSubmissionPublic]:
    """Your organisation's submissions, oldest first; `?state=refused`: those to fix."""
    found = await _kobo(request, svc).submissions(actor_of(caller), state, limit)
    return [KoboSubmissionPublic.of(s) for s in found]


@router.post("/submissions/{uuid}/resubmit", response_model=KoboSubmissionPublic)
async def resubmit(
    request: Request,
    uuid: Uuid,
    body: Corrections,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
) -> KoboSubmissionPublic:
    """Try a refused submission again, with the mapping as it is now and `values` corrected."""
    received = await _kobo(request, svc).resubmit(uuid, body.values, actor_of(caller), context)
    return _answer(received, response)


@router.get("/mapping", response_model=KoboMappingPublic)
async def get_mapping(request: Request, caller: Reporter, svc: Services) -> KoboMappingPublic:
    """Your organisation's mapping of Kobo questions to HXL hashtags."""
    return KoboMappingPublic(fields=await _kobo(request, svc).mapping(actor_of(caller)))


@router.put("/mapping", response_model=KoboMappingPublic)
async def put_mapping(
    request: Request, body: KoboMappingPublic, caller: Reporter, svc: Services
) -> KoboMappingPublic:
    """Replace your organisation's mapping (question path → HXL hashtag)."""
    await _kobo(request, svc).set_mapping(actor_of(caller), body.fields)
    return body
