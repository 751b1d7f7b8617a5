"""/v1/warehouses/{code}/...: balances, the stock card, movements, counts and reservations.

Business keys everywhere: warehouse code, item code, lot, document numbers. Warehouse staff
operate the warehouses they are assigned to; coordinators read every warehouse's stock and
reserve it for plans; admins do everything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from kitflow_shared.text import PlainText
from kitflow_shared.web.identity import Caller, Role, require_roles
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.problems import Problem
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed

from kitflow_stock.api.deps import Context, actor_of
from kitflow_stock.api.schemas import (
    AdjustmentCreate,
    BalancePublic,
    CountCreate,
    CountPublic,
    DispatchCreate,
    KittingCreate,
    MinimumSet,
    MovementPublic,
    ReceiptCreate,
    ReservationCreate,
    ReservationDispatch,
    ReservationPublic,
    ReversalCreate,
    StockCardPage,
    StockPublic,
    TransferCreate,
    TransferReceiptCreate,
)
from kitflow_stock.domain.counts import Count
from kitflow_stock.domain.errors import DuplicateDocument
from kitflow_stock.domain.stock import (
    CountedLine,
    InboundLine,
    Movement,
    OutboundLine,
    ReceivedLine,
    ReservationStatus,
)
from kitflow_stock.handlers.counts import CountHandlers
from kitflow_stock.handlers.ports import Done, only
from kitflow_stock.handlers.stock import StockHandlers, StockRecord

router = APIRouter(prefix="/v1/warehouses/{code}", tags=["stock"])

Code = Annotated[str, Path(max_length=32, description="Warehouse code, e.g. MOP-SUB")]
Staff = Annotated[Caller, Depends(require_roles(Role.WAREHOUSE, Role.COORDINATOR, Role.ADMIN))]
Reserver = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN))]
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
