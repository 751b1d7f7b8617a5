"""Stock's side of the reservation conversation, through the real broker: distribution's plan
events in, stock's answers out (one for every request, every line answered); redelivered and
out-of-order messages change nothing but are answered again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts.distribution import (
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
    DispatchLine,
    PlanApproved,
    PlanCancelled,
    PlanDispatchRequested,
    PlanLineState,
    plan_subject,
)
from kitflow_shared.contracts.stock import (
    MOVEMENT_RECORDED,
    RESERVATIONS_ANSWERED,
    ReservationsAnswered,
)
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import DISTRIBUTION_EVENTS, STOCK_EVENTS
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import identity

pytestmark = pytest.mark.infra
ADMIN = identity("IOM", Role.ADMIN)


@pytest.fixture
async def stock(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app, infra, topics, monkeypatch) as (_, client):
        for path, body in [
            (
                "/v1/warehouses",
                {
                    "code": "TOM-SUB",
                    "name": "Tombouctou",
                    "organisation": "IOM",
                    "type": "sub-office",
                    "admin1_pcode": "ML06",
                    "admin2_pcode": "ML0601",
                },
            ),
            (
                "/v1/items",
                {
                    "code": "TARP",
                    "name_en": "Tarpaulin",
                    "name_fr": "Bâche",
                    "category": "shelter",
                    "unit": "piece",
                },
            ),
            (
                "/v1/warehouses/TOM-SUB/receipts",
                {
                    "grn_number": "GRN-1",
                    "source": "ECHO",
                    "lines": [{"item_code": "TARP", "quantity": 50}],
                },
            ),
        ]:
            response = await client.post(path, json=body, headers=ADMIN)
            assert response.status_code == 201, response.text
        yield client


def _line(n: int, qty: int) -> PlanLineState:
    return PlanLineState(
        line_id=f"P7:L{n}", warehouse="TOM-SUB", item_code="TARP", quantity=qty, need_id=f"N{n}"
    )


async def _answers(infra: Infra, namespace: str, expect: int) -> list[CloudEvent]:
    records = await eventually(
        lambda: read_topic(
            infra.kafka_bootstrap, STOCK_EVENTS.qualified(namespace), expect=expect, timeout_s=3
        ),
        lambda rs: len(rs) >= expect,
        what=f"{expect} stock events",
    )
    # The warehouse's stock is one aggregate: its events are on one partition, in order.
    events = [CloudEvent.from_bytes(r.value) for r in records]
    return [e for e in events if e.subject == "stock/TOM-SUB"]


async def _tarp(stock: httpx.AsyncClient) -> dict[str, Any]:
    response = await stock.get("/v1/warehouses/TOM-SUB/stock", headers=ADMIN)
    [item] = response.json()["items"]
    return dict(item)


async def test_the_plan_conversation_with_redeliveries_and_overtaking_messages(
    stock: httpx.AsyncClient, producer: EventProducer, infra: Infra, topics: str
) -> None:
    topic = DISTRIBUTION_EVENTS.qualified(topics)
    ctx = EventContext.new()
    expires = datetime.now(UTC) + timedelta(days=3)
    # L3's cancellation overtakes its approval: it is delivered first (same key, same
    # partition, so stock sees it first for sure).
    early_cancel = PLAN_CANCELLED.new(
        PlanCancelled(plan_id="P7", lines=[_line(3, 5)], reason="site inaccessible"),
        subject=plan_subject("P7"),
        sequence=1,
        context=ctx,
    )
    approved = PLAN_APPROVED.new(
        PlanApproved(
            plan_id="P7",
            lines=[_line(1, 30), _line(2, 40), _line(3, 5)],
            reservation_mode="partial",
            reservation_expires_at=expires,
        ),
        subject=plan_subject("P7"),
        sequence=1,
        context=ctx,
    )
    await producer.publish(topic, [early_cancel])
    await producer.publish(topic, [approved, approved])  # and delivered twice

    # (warehouse and item registered) the receipt; then one answer per request: the early
    # cancel (L3 marked released), the approval and its redelivery (answered again, alike)
    answers = await _answers(infra, topics, expect=6)
    replies = [RESERVATIONS_ANSWERED.parse(e) for e in answers[1:]]
    assert [_lines(r) for r in replies] == [
        [("P7:L3", "released", 0)],
        [("P7:L1", "active", 30), ("P7:L2", "active", 20), ("P7:L3", "released", 0)],
        [("P7:L1", "active", 30), ("P7:L2", "active", 20), ("P7:L3", "released", 0)],
    ]
    assert replies[1].answers[1].requested == 40  # partial: what was left
    assert replies[1].answers[1].reason == "20 TARP available in TOM-SUB, 40 requested"
    assert all(e.correlationid == ctx.correlation_id for e in answers[1:])
    assert answers[2].causationid == approved.id
    tarp = await _tarp(stock)
    assert (tarp["reserved"], tarp["available"]) == (50, 0)

    # A second plan finds nothing left: rejected, with what was available.
    second = PLAN_APPROVED.new(
        PlanApproved(
            plan_id="P8",
            lines=[
                PlanLineState(line_id="P8:L1", warehouse="TOM-SUB", item_code="TARP", quantity=10)
            ],
            reservation_mode="all-or-nothing",
            reservation_expires_at=expires,
        ),
        subject=plan_subject("P8"),
        sequence=1,
        context=EventContext.new(),
    )
    await producer.publish(topic, [second])
    answers = await _answers(infra, topics, expect=7)
    [rejected] = RESERVATIONS_ANSWERED.parse(answers[4]).answers
    assert (rejected.line_id, rejected.status, rejected.available) == ("P8:L1", "rejected", 0)

    # Dispatch L1 (twice: redelivered), cancel L2 (twice): stock is issued once and released
    # once, and each request is answered.
    dispatch = PLAN_DISPATCH_REQUESTED.new(
        PlanDispatchRequested(
            plan_id="P7",
            destination="Site Ber (ML0601)",
            lines=[DispatchLine(line_id="P7:L1", warehouse="TOM-SUB", waybill_number="WB-P7")],
        ),
        subject=plan_subject("P7"),
        sequence=2,
        context=ctx,
    )
    cancel = PLAN_CANCELLED.new(
        PlanCancelled(plan_id="P7", lines=[_line(2, 40)]),
        subject=plan_subject("P7"),
        sequence=3,
        context=ctx,
    )
    await producer.publish(topic, [dispatch, dispatch, cancel, cancel])
    answers = await _answers(infra, topics, expect=12)  # 4 answers + the one dispatch
    movements = [MOVEMENT_RECORDED.parse(e) for e in answers if e.type == MOVEMENT_RECORDED.type]
    assert [m.movement.kind.value for m in movements] == ["receipt", "dispatch"]
    assert movements[1].movement.plan_line_id == "P7:L1"
    assert movements[1].movement.lines[0].quantity == -30
    # The answer to the dispatch order comes before its movement.
    assert [e.type for e in answers[5:7]] == [RESERVATIONS_ANSWERED.type, MOVEMENT_RECORDED.type]
    replies = [
        RESERVATIONS_ANSWERED.parse(e) for e in answers[5:] if e.type != MOVEMENT_RECORDED.type
    ]
    assert [_lines(r) for r in replies] == [
        [("P7:L1", "dispatched", 30)],
        [("P7:L1", "dispatched", 30)],
        [("P7:L2", "released", 20)],
        [("P7:L2", "released", 20)],
    ]
    tarp = await _tarp(stock)
    assert (tarp["on_hand"], tarp["reserved"], tarp["available"]) == (20, 0, 20)


def _lines(reply: ReservationsAnswered) -> list[tuple[str, str, int]]:
    return [(a.line_id, a.status, a.reserved) for a in reply.answers]
