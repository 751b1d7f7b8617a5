"""Stock answers every request of a plan, through the real broker: a reservation asked for
again is answered again (its first answer may have been lost), and a dispatch order for a
reservation that is no longer there is answered with what became of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kitflow_shared.contracts.distribution import (
    PLAN_APPROVED,
    PLAN_DISPATCH_REQUESTED,
    DispatchLine,
    PlanApproved,
    PlanDispatchRequested,
    PlanLineState,
    plan_subject,
)
from kitflow_shared.contracts.stock import (
    RESERVATION_CONFIRMED,
    RESERVATION_REJECTED,
    RESERVATION_RELEASED,
)
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.events.registry import registry
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import DISTRIBUTION_EVENTS, STOCK_EVENTS
from kitflow_stock.bootstrap import create_app

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_all
from tests.support.saga import COORDINATOR, stock_with

pytestmark = pytest.mark.infra

PER_LINE = (RESERVATION_CONFIRMED.type, RESERVATION_REJECTED.type, RESERVATION_RELEASED.type)


@pytest.fixture
async def stock(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(create_app, infra, topics, monkeypatch) as (_, client):
        await stock_with(client, {"TOM-SUB": ("ML06", "ML0601")}, ["TARP"], 50)
        yield client


async def _answers(infra: Infra, namespace: str) -> list[tuple[str, str, int]]:
    """(line, status, reserved) of every answer stock gave so far, whatever its form: one
    event per line, or one event for many lines."""
    answers: list[tuple[str, str, int]] = []
    for record in await read_all(infra.kafka_bootstrap, STOCK_EVENTS.qualified(namespace)):
        event = CloudEvent.from_bytes(record.value)
        if event.type in PER_LINE:
            r = registry.get(event.type).parse(event).reservation
            answers.append((r.line_id, r.status, r.reserved))
        elif event.type.startswith("org.kitflow.stock.reservations."):
            payload = registry.get(event.type).parse(event)
            answers.extend((a.line_id, a.status, a.reserved) for a in payload.answers)
    return answers


def _approved(expires: datetime) -> CloudEvent:
    line = PlanLineState(
        line_id="P7:L1", warehouse="TOM-SUB", item_code="TARP", quantity=30, need_id="N1"
    )
    return PLAN_APPROVED.new(
        PlanApproved(plan_id="P7", lines=[line], reservation_expires_at=expires),
        subject=plan_subject("P7"),
        sequence=1,
        context=EventContext.new(),
    )


async def test_a_reservation_asked_for_again_is_answered_again_and_reserved_once(
    stock: httpx.AsyncClient, producer: EventProducer, infra: Infra, topics: str
) -> None:
    topic = DISTRIBUTION_EVENTS.qualified(topics)
    first = _approved(datetime.now(UTC) + timedelta(days=3))
    await producer.publish(topic, [first])
    await eventually(
        lambda: _answers(infra, topics), lambda a: len(a) == 1, what="the first answer"
    )
    # The first answer was lost on distribution's side: after its timeout it asks again.
    asked_again = first.model_copy(update={"id": "re-ask", "sequence": 2})
    await producer.publish(topic, [asked_again])
    answers = await eventually(
        lambda: _answers(infra, topics), lambda a: len(a) == 2, what="the answer to the re-ask"
    )
    assert answers == [("P7:L1", "active", 30), ("P7:L1", "active", 30)]
    balances = (await stock.get("/v1/warehouses/TOM-SUB/stock", headers=COORDINATOR)).json()
    assert balances["items"][0]["reserved"] == 30


async def test_a_dispatch_order_for_a_released_reservation_is_answered(
    stock: httpx.AsyncClient, producer: EventProducer, infra: Infra, topics: str
) -> None:
    topic = DISTRIBUTION_EVENTS.qualified(topics)
    await producer.publish(topic, [_approved(datetime.now(UTC) + timedelta(days=3))])
    await eventually(lambda: _answers(infra, topics), lambda a: len(a) == 1, what="reserved")
    released = await stock.delete("/v1/warehouses/TOM-SUB/reservations/P7:L1", headers=COORDINATOR)
    assert released.status_code == 204
    await eventually(lambda: _answers(infra, topics), lambda a: len(a) == 2, what="released")
    order = PLAN_DISPATCH_REQUESTED.new(
        PlanDispatchRequested(
            plan_id="P7",
            destination="Ber",
            lines=[DispatchLine(line_id="P7:L1", warehouse="TOM-SUB", waybill_number="WB-7")],
        ),
        subject=plan_subject("P7"),
        sequence=3,
        context=EventContext.new(),
    )
    await producer.publish(topic, [order])
    answers = await eventually(
        lambda: _answers(infra, topics), lambda a: len(a) == 3, what="the dispatch order answered"
    )
    assert answers[-1][:2] == ("P7:L1", "released")
    balances = (await stock.get("/v1/warehouses/TOM-SUB/stock", headers=COORDINATOR)).json()
    assert (balances["items"][0]["on_hand"], balances["items"][0]["reserved"]) == (50, 0)
