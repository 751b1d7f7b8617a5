"""Stock's domain events as integration events (the shared contracts) and ledger rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, assert_never

from kitflow_shared.contracts import stock as contract
from kitflow_shared.events.envelope import CloudEvent, EventContext
from pydantic import BaseModel

from kitflow_stock.domain.stock import (
    BalanceSnapshot,
    LowStockSignalled,
    Movement,
    MovementLine,
    MovementRecorded,
    NearExpirySignalled,
    Reservation,
    ReservationAnswer,
    ReservationConfirmed,
    ReservationRejected,
    ReservationReleased,
    ReservationsAnswered,
    StockEvent,
    TransferAnnounced,
)


def balance_state(b: BalanceSnapshot) -> contract.BalanceState:
    return contract.BalanceState(
        item_code=b.item,
        on_hand=b.on_hand,
        reserved=b.reserved,
        available=b.available,
        in_transit=b.in_transit,
    )


def line_state(line: MovementLine) -> contract.MovementLineState:
    return contract.MovementLineState(
        item_code=line.item,
        quantity=line.quantity,
        lot=line.lot,
        expiry=line.expiry,
        owner=line.owner,
        on_hand_after=line.on_hand_after,
        damaged=line.damaged,
        missing=line.missing,
    )


def movement_state(warehouse: str, m: Movement) -> contract.MovementState:
    return contract.MovementState(
        movement_id=m.id,
        kind=contract.MovementKind(m.type.value),
        warehouse=warehouse,
        occurred_at=m.occurred_at,
        recorded_by=m.recorded_by,
        document_number=m.document_number,
        counterparty=m.counterparty,
        reason=m.reason.value if m.reason else None,
        note=m.note,
        transfer_id=m.transfer_id,
        reverses=m.reverses,
        plan_line_id=m.plan_line_id,
        reversed_plan_line_id=m.reversed_plan_line_id,
        lines=[line_state(line) for line in m.lines],
    )


def reservation_state(warehouse: str, r: Reservation) -> contract.ReservationState:
    return contract.ReservationState(
        line_id=r.line_id,
        plan_id=r.plan_id,
        warehouse=warehouse,
        item_code=r.item,
        requested=r.requested,
        reserved=r.quantity,
        status=r.status.value,
        mode=r.mode.value,
        expires_at=r.expires_at,
    )


def answer_state(a: ReservationAnswer) -> contract.ReservationAnswer:
    r = a.reservation
    if r is None:
        return contract.ReservationAnswer(
            line_id=a.line_id, status="unknown", requested=0, reserved=0, reason=a.reason
        )
    return contract.ReservationAnswer(
        line_id=a.line_id,
        item_code=r.item,
        status=r.status.value,
        requested=r.requested,
        reserved=r.quantity,
        reason=a.reason,
        available=a.available,
        expires_at=r.expires_at,
    )


def stock_events(
    warehouse: str, events: Sequence[StockEvent], context: EventContext
) -> list[CloudEvent]:
    subject = contract.stock_subject(warehouse)
    out: list[CloudEvent] = []
    for event in events:
        spec, payload = _integration_event(warehouse, event)
        out.append(spec.new(payload, subject=subject, sequence=event.sequence, context=context))
    return out


def _integration_event(warehouse: str, event: StockEvent) -> tuple[Any, BaseModel]:
    """The shared contract's event type and payload for one of stock's domain events."""
    match event:
        case MovementRecorded(movement=m, balances=balances):
            return contract.MOVEMENT_RECORDED, contract.MovementRecorded(
                movement=movement_state(warehouse, m),
                balances=[balance_state(b) for b in balances],
            )
        case ReservationConfirmed(reservation=r, balance=b):
            return contract.RESERVATION_CONFIRMED, contract.ReservationConfirmed(
                reservation=reservation_state(warehouse, r), balance=balance_state(b)
            )
        case ReservationRejected(reservation=r, available=available, reason=reason):
            return contract.RESERVATION_REJECTED, contract.ReservationRejected(
                reservation=reservation_state(warehouse, r), available=available, reason=reason
            )
        case ReservationReleased(reservation=r, balance=b, reason=reason):
            return contract.RESERVATION_RELEASED, contract.ReservationReleased(
                reservation=reservation_state(warehouse, r),
                balance=balance_state(b),
                reason=reason,
            )
        case ReservationsAnswered(plan_id=plan_id, answers=answers, balances=balances):
            return contract.RESERVATIONS_ANSWERED, contract.ReservationsAnswered(
                plan_id=plan_id,
                answers=[answer_state(a) for a in answers],
                balances=[balance_state(b) for b in balances],
            )
        case TransferAnnounced(transfer=t, balances=balances):
            return contract.TRANSFER_IN_TRANSIT, contract.TransferInTransit(
                transfer_id=t.transfer_id,
                from_warehouse=t.from_warehouse,
                to_warehouse=warehouse,
                lines=[line_state(line) for line in t.lines],
                balances=[balance_state(b) for b in balances],
            )
        case LowStockSignalled(balance=b, minimum=minimum):
            return contract.LOW_STOCK, contract.LowStock(
                warehouse=warehouse, balance=balance_state(b), minimum=minimum
            )
        case NearExpirySignalled():
            return contract.NEAR_EXPIRY, contract.NearExpiry(
                warehouse=warehouse,
                item_code=event.item,
                lot=event.lot,
                owner=event.owner,
                expiry=event.expiry,
                on_hand=event.on_hand,
            )
        case _:
            assert_never(event)


def ledger_rows(warehouse: str, events: Sequence[StockEvent]) -> list[dict[str, Any]]:
    """One stock-card row per movement line: what moved, why, and the balance after it."""
    rows: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, MovementRecorded):
            continue
        m = event.movement
        for index, line in enumerate(m.lines):
            rows.append(
                {
                    "_id": f"{m.id}:{index}",
                    "warehouse": warehouse,
                    "item": line.item,
                    "sequence": event.sequence,
                    "line": index,
                    "movement_id": m.id,
                    "kind": m.type.value,
                    "quantity": line.quantity,
                    "on_hand_after": line.on_hand_after,
                    "lot": line.lot,
                    "expiry": line.expiry.isoformat() if line.expiry else None,
                    "owner": line.owner,
                    "damaged": line.damaged,
                    "missing": line.missing,
                    "document_number": m.document_number,
                    "counterparty": m.counterparty,
                    "reason": m.reason.value if m.reason else None,
                    "note": m.note,
                    "transfer_id": m.transfer_id,
                    "reverses": m.reverses,
                    "plan_line_id": m.plan_line_id,
                    "reversed_plan_line_id": m.reversed_plan_line_id,
                    "occurred_at": m.occurred_at,
                    "recorded_by": m.recorded_by,
                }
            )
    return rows
