"""/v1/warehouses/{code}/...: balances, the stock card, movements, counts and reservations.

Business keys everywhere: warehouse code, item code, lot, document numbers. Warehouse staff
operate the warehouses they are assigned to; coordinators read every warehouse's stock and
reserve it for plans; admins do everything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from kitflow_shared.contracts.common import OrganisationId
from kitflow_shared.contracts.distribution import LineId
from kitflow_shared.contracts.stock import ItemCode, WarehouseCode
from kitflow_shared.text import (
    MultilineText,
    PlainText,
    Quantity,
    QuantityOrZero,
    SignedQuantity,
)
from kitflow_shared.web.identity import Caller, Role, require_roles
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.problems import Problem
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kitflow_stock.api.deps import Context, actor_of
from kitflow_stock.domain.counts import Count
from kitflow_stock.domain.errors import DuplicateDocument
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    CountedLine,
    InboundLine,
    ItemBalance,
    Movement,
    OutboundLine,
    ReceivedLine,
    ReservationMode,
    ReservationStatus,
)
from kitflow_stock.handlers.counts import CountHandlers
from kitflow_stock.handlers.ports import Done, only
from kitflow_stock.handlers.stock import StockHandlers, StockRecord

router = APIRouter(prefix="/v1/warehouses/{code}", tags=["stock"])

Code = Annotated[str, Path(max_length=32, description="Warehouse code, e.g. MOP-SUB")]
Staff = Annotated[Caller, Depends(require_roles(Role.WAREHOUSE, Role.COORDINATOR, Role.ADMIN))]
Reserver = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]
# Document numbers become keys in the stored stock: one line of printable text.
DocNumber = Annotated[PlainText, Field(min_length=1, max_length=64)]
Text = Annotated[PlainText, Field(min_length=1, max_length=500)]
Note = Annotated[MultilineText, Field(min_length=1, max_length=500)]
Lot = Annotated[PlainText, Field(max_length=64)]
# A typing error (0202 for 2022, 9999) would sort a lot first or last for first-expiry-first-out.
Expiry = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
# Not in the future either (checked against the clock when the movement is recorded).
OccurredAt = Annotated[AwareDatetime, Field(ge=datetime(2000, 1, 1, tzinfo=UTC))]
# Ids this service hands out (TR-..., MV-..., CNT-...), and plan line ids.
_ID_PATTERN = r"^[A-Za-z0-9_:-]+$"
DocumentId = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID_PATTERN)]
LineInPath = Annotated[str, Path(min_length=1, max_length=80, pattern=_ID_PATTERN)]
ItemInPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")]


async def _handlers(request: Request) -> StockHandlers:
    handlers: StockHandlers = request.app.state.stock
    return handlers


async def _counts(request: Request) -> CountHandlers:
    counts: CountHandlers = request.app.state.counts
    return counts


Handlers = Annotated[StockHandlers, Depends(_handlers)]
Counts = Annotated[CountHandlers, Depends(_counts)]


# ---- schemas ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptLineIn(_Strict):
    item_code: ItemCode
    quantity: Quantity
    lot: Lot = ""
    expiry: Expiry | None = None
    owner: OrganisationId | None = Field(
        default=None, description="Who owns the goods (default: the warehouse's organisation)"
    )


class ReceiptCreate(_Strict):
    """A goods-received note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "grn_number": "GRN-MOP-2026-0141",
                    "waybill_number": "WB-ECHO-7781",
                    "source": "ECHO",
                    "lines": [
                        {"item_code": "TARPAULIN-4X6", "quantity": 400, "lot": "T-2026-11"},
                        {
                            "item_code": "SOAP-BAR-250G",
                            "quantity": 2000,
                            "lot": "S-88",
                            "expiry": "2028-06-30",
                        },
                    ],
                }
            ]
        },
    )

    grn_number: DocNumber
    waybill_number: DocNumber | None = None
    source: Text = Field(description="Donor or supplier")
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)


class OutboundLineIn(_Strict):
    item_code: ItemCode
    quantity: Quantity
    lot: Lot | None = Field(default=None, description="None: first-expiry-first-out across lots")


class DispatchCreate(_Strict):
    waybill_number: DocNumber
    destination: Text = Field(description="Distribution site or partner, with its P-code")
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[OutboundLineIn] = Field(min_length=1, max_length=500)


class AdjustmentCreate(_Strict):
    item_code: ItemCode
    quantity: SignedQuantity = Field(
        description="Signed: negative for lost, damaged, expired; positive "
        "for found; either for a count correction"
    )
    reason: AdjustmentReason
    lot: Lot = ""
    occurred_at: OccurredAt | None = None
    note: Note | None = None


class TransferCreate(_Strict):
    to_warehouse: WarehouseCode
    waybill_number: DocNumber
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[OutboundLineIn] = Field(min_length=1, max_length=500)


class ReceivedLineIn(_Strict):
    item_code: ItemCode
    lot: Lot = ""
    owner: OrganisationId
    received: QuantityOrZero
    damaged: QuantityOrZero = 0


class TransferReceiptCreate(_Strict):
    grn_number: DocNumber | None = None
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[ReceivedLineIn] = Field(
        max_length=500, description="Lines not listed arrived with nothing (all missing)"
    )


class KittingCreate(_Strict):
    kit_code: ItemCode
    count: Quantity
    action: Literal["assemble", "break"]
    occurred_at: OccurredAt | None = None
    note: Note | None = None


class CountedLineIn(_Strict):
    item_code: ItemCode
    lot: Lot = ""
    owner: OrganisationId | None = None
    counted: QuantityOrZero
    expiry: Expiry | None = None


class CountCreate(_Strict):
    lines: list[CountedLineIn] = Field(min_length=1, max_length=2000)


class ReversalCreate(_Strict):
    note: Note = Field(description="Why the movement is undone")


class MinimumSet(_Strict):
    minimum: QuantityOrZero = Field(description="Signal low stock below this available quantity")


class ReservationCreate(_Strict):
    line_id: LineId
    plan_id: PlainText = Field(min_length=1, max_length=80)
    item_code: ItemCode
    quantity: Quantity
    mode: ReservationMode = ReservationMode.PARTIAL
    expires_at: AwareDatetime = Field(description="In the future, within 90 days")


class ReservationDispatch(_Strict):
    waybill_number: DocNumber
    destination: Text
    quantity: Quantity | None = None


class MovementLineOut(BaseModel):
    item_code: str
    quantity: int
    lot: str
    expiry: date | None
    owner: str
    on_hand_after: int
    damaged: int
    missing: int


class MovementPublic(BaseModel):
    movement_id: str
    kind: str
    occurred_at: datetime
    recorded_by: str
    document_number: str | None
    counterparty: str | None
    reason: str | None
    note: str | None
    transfer_id: str | None
    reverses: str | None
    plan_line_id: str | None
    lines: list[MovementLineOut]

    @classmethod
    def of(cls, m: Movement) -> MovementPublic:
        return cls(
            movement_id=m.id,
            kind=m.type.value,
            occurred_at=m.occurred_at,
            recorded_by=m.recorded_by,
            document_number=m.document_number,
            counterparty=m.counterparty,
            reason=m.reason.value if m.reason else None,
            note=m.note,
            transfer_id=m.transfer_id,
            reverses=m.reverses,
            plan_line_id=m.plan_line_id,
            lines=[
                MovementLineOut(
                    item_code=x.item,
                    quantity=x.quantity,
                    lot=x.lot,
                    expiry=x.expiry,
                    owner=x.owner,
                    on_hand_after=x.on_hand_after,
                    damaged=x.damaged,
                    missing=x.missing,
                )
                for x in m.lines
            ],
        )


class LotPublic(BaseModel):
    lot: str
    expiry: date | None
    owner: str
    on_hand: int


class BalancePublic(BaseModel):
    item_code: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int
    minimum: int
    low: bool
    lots: list[LotPublic]

    @classmethod
    def of(cls, b: ItemBalance) -> BalancePublic:
        return cls(
            item_code=b.item,
            on_hand=b.on_hand,
            reserved=b.reserved,
            available=b.available,
            in_transit=b.in_transit,
            minimum=b.minimum,
            low=b.minimum > 0 and b.available < b.minimum,
            lots=[
                LotPublic(lot=x.lot, expiry=x.expiry, owner=x.owner, on_hand=x.on_hand)
                for x in b.lots
            ],
        )


class StockPublic(BaseModel):
    warehouse: str
    version: int
    items: list[BalancePublic]
    transfers_in_transit: list[str]


class StockCardPage(BaseModel):
    warehouse: str
    item_code: str
    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class ReservationPublic(BaseModel):
    line_id: str
    plan_id: str
    item_code: str
    requested: int
    reserved: int
    status: ReservationStatus
    mode: ReservationMode
    expires_at: datetime | None
    available_now: int | None = None


class CountLinePublic(BaseModel):
    item: str
    lot: str
    owner: str
    counted: int
    expiry: date | None


class CountPublic(BaseModel):
    count_id: str
    warehouse: str
    status: str = Field(description="draft, submitting (for a moment), submitted")
    lines: list[CountLinePublic]
    movement_id: str | None = Field(description="The count correction, once submitted")

    @classmethod
    def of(cls, count: Count) -> CountPublic:
        return cls(
            count_id=count.count_id,
            warehouse=count.warehouse,
            status=count.status.value,
            lines=[
                CountLinePublic(
                    item=x.item, lot=x.lot, owner=x.owner, counted=x.counted, expiry=x.expiry
                )
                for x in count.lines
            ],
            movement_id=count.movement_id,
        )


# ---- helpers --------------------------------------------------------------------------------


def _record(body: Any, document: str | None, counterparty: str | None = None) -> StockRecord:
    return StockRecord(
        occurred_at=getattr(body, "occurred_at", None),
        document_number=document,
        counterparty=counterparty,
        note=getattr(body, "note", None),
    )


def _duplicate(exc: DuplicateDocument, field: str) -> Problem:
    return Problem(
        409,
        "Conflict",
        str(exc),
        slug="duplicate-document",
        movement_id=exc.movement_id,
        errors=[
            {
                "field": f"body.{field}",
                "reason": "already recorded in this warehouse",
                "type": "duplicate",
            }
        ],
    )


def _movement(response: Response, done: Done[Movement]) -> MovementPublic:
    mark_replayed(response, done.replayed)
    return MovementPublic.of(done.value)


# ---- reading ----------------------------------------------------------------------------------


@router.get("/stock", response_model=StockPublic)
async def stock_of(code: Code, caller: Staff, handlers: Handlers) -> StockPublic:
    """Balances per item (on hand, reserved, available, in transit) with their lots."""
    await handlers.readable(actor_of(caller), code)
    stock = await handlers.writer.peek(code, only())
    return StockPublic(
        warehouse=code,
        version=stock.sequence,
        items=[BalancePublic.of(stock.items[i]) for i in sorted(stock.items)],
        transfers_in_transit=sorted(stock.incoming),
    )


@router.get("/stock/{item_code}/card", response_model=StockCardPage)
async def stock_card(
    code: Code,
    item_code: ItemInPath,
    caller: Staff,
    handlers: Handlers,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> StockCardPage:
    """The stock card: every movement of the item, oldest first, with the running balance."""
    await handlers.readable(actor_of(caller), code)
    rows, total = await handlers.ledger.card(code, item_code, limit=limit, offset=offset)
    return StockCardPage(
        warehouse=code, item_code=item_code, rows=rows, total=total, limit=limit, offset=offset
    )


@router.get("/reservations", response_model=list[ReservationPublic])
async def reservations(
    code: Code,
    caller: Staff,
    handlers: Handlers,
    status_: Annotated[ReservationStatus | None, Query(alias="status")] = None,
    plan_id: Annotated[PlainText | None, Query(max_length=80)] = None,
) -> list[ReservationPublic]:
    """Reservations held for plan lines, filtered by status or plan."""
    await handlers.readable(actor_of(caller), code)
    stock = await handlers.writer.peek(code)
    return [
        ReservationPublic(
            line_id=r.line_id,
            plan_id=r.plan_id,
            item_code=r.item,
            requested=r.requested,
            reserved=r.quantity,
            status=r.status,
            mode=r.mode,
            expires_at=r.expires_at,
        )
        for r in sorted(stock.reservations.values(), key=lambda r: r.line_id)
        if (status_ is None or r.status is status_) and (plan_id is None or r.plan_id == plan_id)
    ]


# ---- movements (each accepts Idempotency-Key: a repeated request answers as the first time) ---


@router.post("/receipts", status_code=status.HTTP_201_CREATED, response_model=MovementPublic)
async def receive(
    code: Code,
    body: ReceiptCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Record goods received from a donor or supplier (goods-received note)."""
    lines = [
        InboundLine(x.item_code, x.quantity, x.lot, x.expiry, x.owner or "") for x in body.lines
    ]
    note = (
        body.note
        if not body.waybill_number
        else f"waybill {body.waybill_number}" + (f"; {body.note}" if body.note else "")
    )
    record = StockRecord(body.occurred_at, body.grn_number, body.source, note)
    try:
        done = await handlers.receive(actor_of(caller), code, lines, record, context, key)
    except DuplicateDocument as exc:
        raise _duplicate(exc, "grn_number") from exc
    return _movement(response, done)


@router.post("/dispatches", status_code=status.HTTP_201_CREATED, response_model=MovementPublic)
async def dispatch(
    code: Code,
    body: DispatchCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Record goods leaving for a site or partner (waybill). Refused beyond what is available."""
    lines = [OutboundLine(x.item_code, x.quantity, x.lot) for x in body.lines]
    record = _record(body, body.waybill_number, body.destination)
    try:
        done = await handlers.dispatch(actor_of(caller), code, lines, record, context, key)
    except DuplicateDocument as exc:
        raise _duplicate(exc, "waybill_number") from exc
    return _movement(response, done)


@router.post("/adjustments", status_code=status.HTTP_201_CREATED, response_model=MovementPublic)
async def adjust(
    code: Code,
    body: AdjustmentCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Record a loss, damage, expiry, find or count correction, with its reason."""
    done = await handlers.adjust(
        actor_of(caller),
        code,
        body.reason,
        body.item_code,
        body.quantity,
        body.lot,
        _record(body, None),
        context,
        key,
    )
    return _movement(response, done)


@router.post("/transfers", status_code=status.HTTP_201_CREATED, response_model=MovementPublic)
async def transfer(
    code: Code,
    body: TransferCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Send stock to another warehouse; it is in transit there until received."""
    lines = [OutboundLine(x.item_code, x.quantity, x.lot) for x in body.lines]
    try:
        done = await handlers.transfer(
            actor_of(caller),
            code,
            body.to_warehouse,
            lines,
            _record(body, body.waybill_number),
            context,
            key,
        )
    except DuplicateDocument as exc:
        raise _duplicate(exc, "waybill_number") from exc
    return _movement(response, done)


@router.post(
    "/transfers/{transfer_id}/receipt",
    status_code=status.HTTP_201_CREATED,
    response_model=MovementPublic,
)
async def receive_transfer(
    code: Code,
    transfer_id: DocumentId,
    body: TransferReceiptCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Receive a transfer: what arrived, what arrived damaged; the rest is recorded missing."""
    lines = [ReceivedLine(x.item_code, x.lot, x.owner, x.received, x.damaged) for x in body.lines]
    record = _record(body, body.grn_number)
    try:
        done = await handlers.receive_transfer(
            actor_of(caller), code, transfer_id, lines, record, context, key
        )
    except DuplicateDocument as exc:
        raise _duplicate(exc, "grn_number") from exc
    return _movement(response, done)


@router.post("/kitting", status_code=status.HTTP_201_CREATED, response_model=MovementPublic)
async def kitting(
    code: Code,
    body: KittingCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Assemble kits from their components, or break kits into them."""
    done = await handlers.kitting(
        actor_of(caller),
        code,
        body.kit_code,
        body.count,
        body.action == "assemble",
        _record(body, None),
        context,
        key,
    )
    return _movement(response, done)


@router.post(
    "/movements/{movement_id}/reversal",
    status_code=status.HTTP_201_CREATED,
    response_model=MovementPublic,
)
async def reverse(
    code: Code,
    movement_id: DocumentId,
    body: ReversalCreate,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Undo a movement by a compensating one; the original stays on the stock card."""
    done = await handlers.reverse(
        actor_of(caller), code, movement_id, StockRecord(note=body.note), context, key
    )
    return _movement(response, done)


@router.put("/stock/{item_code}/minimum", status_code=status.HTTP_204_NO_CONTENT)
async def set_minimum(
    code: Code,
    item_code: ItemInPath,
    body: MinimumSet,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> None:
    """Set the minimum available quantity below which low stock is signalled."""
    done = await handlers.set_minimum(actor_of(caller), code, item_code, body.minimum, context, key)
    mark_replayed(response, done.replayed)


# ---- counts (the warehouse's own staff) -------------------------------------------------------


def _count(response: Response, done: Done[Count]) -> CountPublic:
    mark_replayed(response, done.replayed)
    return CountPublic.of(done.value)


def _counted(body: CountCreate) -> list[CountedLine]:
    """The lines as counted; no owner means the warehouse's organisation."""
    return [CountedLine(x.item_code, x.lot, x.owner or "", x.counted, x.expiry) for x in body.lines]


@router.post("/counts", status_code=status.HTTP_201_CREATED, response_model=CountPublic)
async def start_count(
    code: Code,
    body: CountCreate,
    caller: Staff,
    counts: Counts,
    key: RequestKeyDep,
    response: Response,
) -> CountPublic:
    """Start a physical count as a draft (changes no stock until submitted)."""
    return _count(response, await counts.start(actor_of(caller), code, _counted(body), key))


@router.get("/counts/{count_id}", response_model=CountPublic)
async def get_count(code: Code, count_id: DocumentId, caller: Staff, counts: Counts) -> CountPublic:
    """A count, draft or submitted."""
    return CountPublic.of(await counts.get(actor_of(caller), code, count_id))


@router.put("/counts/{count_id}", response_model=CountPublic)
async def update_count(
    code: Code,
    count_id: DocumentId,
    body: CountCreate,
    caller: Staff,
    counts: Counts,
    key: RequestKeyDep,
    response: Response,
) -> CountPublic:
    """Replace a draft count's lines."""
    done = await counts.replace_lines(actor_of(caller), code, count_id, _counted(body), key)
    return _count(response, done)


@router.post("/counts/{count_id}/submit", response_model=CountPublic)
async def submit_count(
    code: Code,
    count_id: DocumentId,
    caller: Staff,
    counts: Counts,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> CountPublic:
    """Submit a count: each difference becomes a count-correction adjustment, once; a second
    submission is a 409 naming the correction."""
    done = await counts.submit(actor_of(caller), code, count_id, context, key)
    return _count(response, done)


# ---- reservations (coordinators; plans normally reserve through events) -----------------------


@router.post("/reservations", status_code=status.HTTP_201_CREATED, response_model=ReservationPublic)
async def reserve(
    code: Code,
    body: ReservationCreate,
    caller: Reserver,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> ReservationPublic:
    """Reserve stock of a warehouse of the coordinator's organisation for a plan line (partial
    or all-or-nothing), for at most 90 days; repeating it changes nothing."""
    done = await handlers.reserve_as(
        actor_of(caller),
        code,
        body.line_id,
        body.plan_id,
        body.item_code,
        body.quantity,
        body.mode,
        body.expires_at,
        context,
        key,
    )
    mark_replayed(response, done.replayed)
    outcome = done.value
    return ReservationPublic(
        line_id=body.line_id,
        plan_id=body.plan_id,
        item_code=body.item_code,
        requested=outcome.requested,
        reserved=outcome.reserved,
        status=outcome.status,
        mode=body.mode,
        expires_at=body.expires_at,
        available_now=outcome.available,
    )


@router.delete("/reservations/{line_id}", status_code=status.HTTP_204_NO_CONTENT)
async def release(
    code: Code,
    line_id: LineInPath,
    caller: Reserver,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> None:
    """Release a reservation (the plan line was cancelled)."""
    done = await handlers.release_as(actor_of(caller), code, line_id, context, key)
    mark_replayed(response, done.replayed)


@router.post(
    "/reservations/{line_id}/dispatch",
    status_code=status.HTTP_201_CREATED,
    response_model=MovementPublic,
)
async def dispatch_reservation(
    code: Code,
    line_id: LineInPath,
    body: ReservationDispatch,
    caller: Staff,
    handlers: Handlers,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> MovementPublic:
    """Issue reserved stock (all of it, or less: the rest is released)."""
    record = StockRecord(document_number=body.waybill_number, counterparty=body.destination)
    done = await handlers.dispatch_reservation_as(
        actor_of(caller), code, line_id, body.quantity, record, context, key
    )
    return _movement(response, done)
