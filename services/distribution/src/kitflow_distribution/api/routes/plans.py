"""/v1/plans: draft with the planner, approve, follow the reservations, dispatch, record
deliveries, close, cancel. /v1/reports/5w: the 5W report as HXL CSV or XLSX.

Every route that changes a plan takes an Idempotency-Key (ADR 0011): a retry of a request already
applied answers as the first time, with `Idempotent-Replayed: true`, and changes nothing."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from kitflow_shared.spreadsheet import csv_row, xlsx_cell
from kitflow_shared.text import (
    MultilineText,
    PeopleCount,
    PlainText,
    Quantity,
    QuantityOrZero,
)
from kitflow_shared.web.event_context import Context
from kitflow_shared.web.identity import Caller, Role, require_roles
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict, Field

from kitflow_distribution.domain.planner import PartnerCap
from kitflow_distribution.domain.plans import DeliveredLine, Delivery, Plan
from kitflow_distribution.handlers.plans import MAX_PLAN_LINES, Answer, DraftRequest, PlanHandlers
from kitflow_distribution.handlers.ports import Actor
from kitflow_distribution.handlers.reports import COLUMNS

router = APIRouter(tags=["plans"])

Planner = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]
Reader = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN, Role.PARTNER))]
PlanId = Annotated[str, Path(max_length=64, description="e.g. PLN-3F2A...")]


async def _plans(request: Request) -> PlanHandlers:
    handlers: PlanHandlers = request.app.state.plans
    return handlers


Plans = Annotated[PlanHandlers, Depends(_plans)]


def actor_of(caller: Caller) -> Actor:
    return Actor(
        user=caller.user,
        organisation=caller.organisation,
        coordinator=Role.COORDINATOR in caller.roles,
        admin=Role.ADMIN in caller.roles,
        partner=Role.PARTNER in caller.roles,
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Codes and ids named in a draft: one line of printable text, as the services that own them
# define them (need ids, item codes, warehouse codes, P-codes, organisation ids).
Code = Annotated[PlainText, Field(min_length=1, max_length=64)]


class PartnerCapIn(_Strict):
    partner: Code
    item_code: Code
    max_units: QuantityOrZero


class PlanDraftCreate(_Strict):
    """What to plan for. Everything is optional: by default every validated need with something
    left, every item, every warehouse."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Mopti emergency shelter, December round",
                    "need_ids": ["NEED-01", "NEED-02"],
                    "item_codes": ["KIT-SHELTER", "KIT-NFI"],
                    "allowed_warehouses": {"ML05": ["MOP-SUB", "BKO-MAIN"]},
                    "partner_caps": [{"partner": "NRC", "item_code": "KIT-NFI", "max_units": 200}],
                }
            ]
        },
    )

    title: PlainText = Field(min_length=1, max_length=200)
    need_ids: list[Code] | None = Field(default=None, min_length=1, max_length=MAX_PLAN_LINES)
    item_codes: list[Code] | None = Field(default=None, min_length=1, max_length=1000)
    allowed_warehouses: dict[Code, list[Code]] | None = Field(
        default=None,
        max_length=100,
        description="admin1 P-code -> warehouse codes allowed to serve it",
    )
    partner_caps: list[PartnerCapIn] = Field(default_factory=list, max_length=10_000)


class PlanApprove(_Strict):
    all_or_nothing: bool = Field(default=False, description="Reserve each line whole or not at all")


class PlanCancel(_Strict):
    reason: MultilineText = Field(min_length=1, max_length=500)


class PlanClose(_Strict):
    reason: MultilineText | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Why the plan ends here; needed while it still waits for stock's answer "
        "to its dispatch order",
    )


class PlanDispatch(_Strict):
    waybill_number: PlainText = Field(min_length=1, max_length=64)
    destination: PlainText = Field(min_length=1, max_length=200)


class DeliveredLineIn(_Strict):
    line_id: PlainText = Field(min_length=1, max_length=80, description="A line for this need")
    quantity: Quantity = Field(description="Handed out from this line, in the item's unit")


class DeliveryIn(_Strict):
    """One distribution at one need's site: the items handed out (one entry per plan line) and
    the households and people reached, counted once however many items each received."""

    need_id: PlainText = Field(min_length=1, max_length=64)
    lines: list[DeliveredLineIn] = Field(min_length=1, max_length=200)
    households: PeopleCount = Field(
        description="Households reached by this delivery and not counted in an earlier one for "
        "this need (0 when the same households receive another item)"
    )
    individuals: PeopleCount = Field(description="People in those households")
    note: MultilineText | None = Field(
        default=None,
        max_length=500,
        description="Why more were reached than the need targeted (required then), or any remark",
    )
    delivered_on: date | None = Field(
        default=None,
        description="The day of the distribution (not in the future); the plan keeps the "
        "latest per need",
    )


class DeliveriesCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "deliveries": [
                        {
                            "need_id": "NEED-01",
                            "lines": [
                                {"line_id": "PLN-7:L001", "quantity": 100},
                                {"line_id": "PLN-7:L002", "quantity": 100},
                            ],
                            "households": 100,
                            "individuals": 520,
                        }
                    ]
                }
            ]
        },
    )

    deliveries: list[DeliveryIn] = Field(min_length=1, max_length=1000)


class PlanLinePublic(BaseModel):
    line_id: str
    warehouse: str
    need_id: str
    item_code: str
    quantity: int
    reservation: str
    reserved: int
    dispatched: int = Field(description="Issued and not taken back by a reversal")
    delivered: int
    returned: int = Field(description="Taken back into the warehouse by a reversal of the dispatch")
    shortfall_reason: str | None


class NeedReachedPublic(BaseModel):
    need_id: str
    households: int = Field(description="Households reached, each counted once")
    individuals: int
    note: str | None = Field(description="The latest remark of a delivery to this need")
    delivered_on: date | None = Field(description="The latest day a delivery to it named")


class PlanPublic(BaseModel):
    plan_id: str
    title: str
    status: str
    version: int
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    closed_at: datetime | None
    reason: str | None = Field(description="Why it was cancelled, or closed before delivery")
    lines: list[PlanLinePublic]
    reached: list[NeedReachedPublic] = Field(description="Per need: households and people reached")
    explanation: dict[str, Any] = Field(
        description="The planner's objectives, per-need coverage and why not more"
    )

    @classmethod
    def of(cls, plan: Plan) -> PlanPublic:
        return cls(
            plan_id=plan.id,
            title=plan.title,
            status=plan.status.value,
            version=plan.sequence,
            created_by=plan.created_by,
            created_at=plan.created_at,
            approved_by=plan.approved_by,
            approved_at=plan.approved_at,
            closed_at=plan.closed_at,
            reason=plan.reason,
            lines=[
                PlanLinePublic(
                    line_id=x.line_id,
                    warehouse=x.warehouse,
                    need_id=x.need_id,
                    item_code=x.item,
                    quantity=x.quantity,
                    reservation=x.reservation.value,
                    reserved=x.reserved,
                    dispatched=x.dispatched,
                    delivered=x.delivered,
                    returned=x.returned,
                    shortfall_reason=x.shortfall_reason,
                )
                for x in plan.lines
            ],
            reached=[
                NeedReachedPublic(
                    need_id=need_id,
                    households=r.households,
                    individuals=r.individuals,
                    note=r.note,
                    delivered_on=r.delivered_on,
                )
                for need_id, r in sorted(plan.reach.items())
            ],
            explanation=plan.explanation,
        )


class PlanPage(BaseModel):
    items: list[PlanPublic]
    total: int
    limit: int
    offset: int


def _answer(answer: Answer, response: Response) -> PlanPublic:
    mark_replayed(response, answer.replayed)
    return PlanPublic.of(answer.plan)


@router.post("/v1/plans", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def draft(
    body: PlanDraftCreate,
    caller: Planner,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> PlanPublic:
    """Draft a plan with the optimal, fair allocation of the stock in reach to open needs."""
    request = DraftRequest(
        title=body.title,
        need_ids=frozenset(body.need_ids) if body.need_ids else None,
        item_codes=frozenset(body.item_codes) if body.item_codes else None,
        allowed_warehouses={k: frozenset(v) for k, v in body.allowed_warehouses.items()}
        if body.allowed_warehouses is not None
        else None,
        partner_caps=tuple(
            PartnerCap(c.partner, c.item_code, c.max_units) for c in body.partner_caps
        ),
    )
    return _answer(await plans.draft(actor_of(caller), request, context, key), response)


@router.get("/v1/plans", response_model=PlanPage)
async def list_plans(
    caller: Reader,
    plans: Plans,
    status_: Annotated[str | None, Query(alias="status")] = None,
    need_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> PlanPage:
    """Plans, newest first, filtered by status or need. Partners list the plans serving their
    own needs, each with only those needs' lines."""
    page = await plans.find_for(
        actor_of(caller), status=status_, need_id=need_id, limit=limit, offset=offset
    )
    return PlanPage(
        items=[PlanPublic.of(p) for p in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/v1/plans/{plan_id}", response_model=PlanPublic)
async def get_plan(plan_id: PlanId, caller: Reader, plans: Plans) -> PlanPublic:
    """One plan with its lines, their progress and the planner's explanation.

    Partners see a plan only when it serves one of their needs, and then only those lines."""
    actor = actor_of(caller)
    return PlanPublic.of(await plans.as_seen_by(actor, await plans.plans.get(plan_id)))


@router.post("/v1/plans/{plan_id}/approve", response_model=PlanPublic)
async def approve(
    plan_id: PlanId,
    body: PlanApprove,
    caller: Planner,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> PlanPublic:
    """Approve a draft: stock is asked to reserve every line."""
    answer = await plans.approve(actor_of(caller), plan_id, body.all_or_nothing, context, key)
    return _answer(answer, response)


@router.post("/v1/plans/{plan_id}/cancel", response_model=PlanPublic)
async def cancel(
    plan_id: PlanId,
    body: PlanCancel,
    caller: Planner,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> PlanPublic:
    """Cancel a plan nothing of which has left a warehouse (also while its dispatch order
    waits for stock's answer); what stock reserved for it is released."""
    answer = await plans.cancel(actor_of(caller), plan_id, body.reason, context, key)
    return _answer(answer, response)


@router.post("/v1/plans/{plan_id}/dispatch", response_model=PlanPublic)
async def dispatch(
    plan_id: PlanId,
    body: PlanDispatch,
    caller: Planner,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> PlanPublic:
    """Order the reserved lines out of the warehouses under one waybill."""
    answer = await plans.request_dispatch(
        actor_of(caller), plan_id, body.waybill_number, body.destination, context, key
    )
    return _answer(answer, response)


@router.post("/v1/plans/{plan_id}/deliveries", response_model=PlanPublic)
async def deliveries(
    plan_id: PlanId,
    body: DeliveriesCreate,
    caller: Reader,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> PlanPublic:
    """Record what reached households, per need: the quantities handed out from each of its
    lines (never more than was dispatched) and the households and people reached, counted once."""
    items = [
        Delivery(
            d.need_id,
            tuple(DeliveredLine(x.line_id, x.quantity) for x in d.lines),
            d.households,
            d.individuals,
            d.note,
            d.delivered_on,
        )
        for d in body.deliveries
    ]
    actor = actor_of(caller)
    answer = await plans.record_deliveries(actor, plan_id, items, context, key)
    mark_replayed(response, answer.replayed)
    # A partner's replay, like its first answer, shows only its own needs' lines.
    return PlanPublic.of(await plans.as_seen_by(actor, answer.plan))


@router.post("/v1/plans/{plan_id}/close", response_model=PlanPublic)
async def close(
    plan_id: PlanId,
    caller: Planner,
    plans: Plans,
    context: Context,
    response: Response,
    key: RequestKeyDep,
    body: PlanClose | None = None,
) -> PlanPublic:
    """Close a dispatched or delivered plan, or, with a reason, one still waiting for stock's
    answer to its dispatch order (what stock still holds for it is released)."""
    reason = body.reason if body is not None else None
    answer = await plans.close(actor_of(caller), plan_id, context, reason, key)
    return _answer(answer, response)


async def _five_w(caller: Caller, plans: PlanHandlers) -> list[list[Any]]:
    rows = await plans.five_w(actor_of(caller))
    return [[c[0] for c in COLUMNS], [c[1] for c in COLUMNS], *[list(r.values) for r in rows]]


@router.get(
    "/v1/reports/5w.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
async def five_w_csv(caller: Reader, plans: Plans) -> Response:
    """The 5W report as HXL-tagged CSV (row 1: OCHA Mali 5W headers, row 2: HXL tags)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in await _five_w(caller, plans):
        # Partners' text (site names, notes) stays data: never a formula in a spreadsheet.
        writer.writerow(csv_row(["" if v is None else v for v in row]))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="kitflow-5w.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/v1/reports/5w.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}}
)
async def five_w_xlsx(caller: Reader, plans: Plans) -> Response:
    """The 5W report as an XLSX workbook (sheet ML_5W, HXL tags in row 2)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "ML_5W"
    for row in await _five_w(caller, plans):
        # Never a formula, and no character XML cannot hold (which would fail the whole report).
        sheet.append([xlsx_cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="kitflow-5w.xlsx"'},
    )
