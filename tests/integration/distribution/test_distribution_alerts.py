"""The alerts list through the real broker and store: a reservation nearing its expiry, a need
waiting for validation and stock's low-stock and near-expiry signals appear in one list, newest
first, for coordinators only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_shared.contracts.needs import NEED_SUBMITTED, NeedStatus, need_subject
from kitflow_shared.contracts.stock import (
    LOW_STOCK,
    NEAR_EXPIRY,
    BalanceState,
    LowStock,
    NearExpiry,
    stock_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.saga import COORDINATOR, ok, publish_needs, stock_with, validated_need
from tests.support.services import identity

pytestmark = pytest.mark.infra


@pytest.fixture
async def clients(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        _, stock = await stack.enter_async_context(
            running_app(create_stock, infra, topics, monkeypatch)
        )
        # Reservations last 14 days: with a 15-day warning, an approved plan's is "near".
        _, distribution = await stack.enter_async_context(
            running_app(
                create_distribution,
                infra,
                topics,
                monkeypatch,
                KITFLOW_DISTRIBUTION_RESERVATION_WARNING="P15D",
            )
        )
        yield stock, distribution


async def _alerts(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/alerts", headers=COORDINATOR)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_a_reservation_near_expiry_a_waiting_need_low_stock_and_a_lot_are_alerts(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], producer: EventProducer, topics: str
) -> None:
    stock, distribution = clients
    await stock_with(stock, {"MOPTI-ALR": ("ML05", "ML0501")}, ["KIT-ALR"], 30)
    await publish_needs(
        producer, topics, [validated_need("ALR-1", "ML05", "ML0501", {"KIT-ALR": 20})]
    )
    waiting = validated_need("ALR-2", "ML05", "ML0502", {"KIT-ALR": 5})
    waiting.status = NeedStatus.SUBMITTED
    context = EventContext.new()
    await producer.publish(
        NEEDS_EVENTS.qualified(topics),
        [NEED_SUBMITTED.new(waiting, subject=need_subject("ALR-2"), sequence=1, context=context)],
    )
    low = BalanceState(item_code="KIT-ALR", on_hand=3, reserved=0, available=3, in_transit=0)
    # A lot that expires in 60 days: its date must be stored as well as read back.
    expiry = (datetime.now(UTC) + timedelta(days=60)).date()
    lot = NearExpiry(
        warehouse="KAYES-ALR",
        item_code="KIT-ALR",
        lot="LOT-ALR-1",
        owner="IOM",
        expiry=expiry,
        on_hand=12,
    )
    await producer.publish(
        STOCK_EVENTS.qualified(topics),
        [
            LOW_STOCK.new(
                LowStock(warehouse="KAYES-ALR", balance=low, minimum=10),
                subject=stock_subject("KAYES-ALR"),
                sequence=1,
                context=context,
            ),
            NEAR_EXPIRY.new(lot, subject=stock_subject("KAYES-ALR"), sequence=2, context=context),
        ],
    )
    await eventually(
        lambda: distribution.get("/v1/views/stock", headers=COORDINATOR),
        lambda r: any(s["warehouse"] == "MOPTI-ALR" for s in r.json()),
        what="distribution sees the stock",
        timeout_s=90,
    )
    await eventually(
        lambda: distribution.get("/v1/views/needs", headers=COORDINATOR),
        lambda r: {"ALR-1", "ALR-2"} <= {n["need_id"] for n in r.json()},
        what="distribution sees the needs",
        timeout_s=90,
    )
    draft = await ok(
        await distribution.post(
            "/v1/plans", headers=COORDINATOR, json={"title": "Alerts", "need_ids": ["ALR-1"]}
        )
    )
    plan_id = draft["plan_id"]
    await ok(
        await distribution.post(f"/v1/plans/{plan_id}/approve", headers=COORDINATOR, json={}),
        200,
    )

    def kinds(found: list[dict[str, Any]]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for alert in found:
            out.setdefault(alert["kind"], set()).add(alert["subject"])
        return out

    found = await eventually(
        lambda: _alerts(distribution),
        lambda f: (
            plan_id in kinds(f).get("reservation-expiring", set())
            and "KAYES-ALR/KIT-ALR" in kinds(f).get("low-stock", set())
            and "KAYES-ALR/KIT-ALR/LOT-ALR-1" in kinds(f).get("near-expiry", set())
        ),
        what="the reservation near expiry, the low stock and the lot are alerts",
        timeout_s=90,
    )
    assert "ALR-2" in kinds(found)["need-waiting-for-validation"]
    assert "ALR-1" not in kinds(found)["need-waiting-for-validation"]
    (near,) = [a for a in found if a["kind"] == "near-expiry"]
    assert near["data"] == {"expiry": expiry.isoformat(), "on_hand": 12}
    moments = [a["at"] for a in found]
    assert moments == sorted(moments, reverse=True)

    only = await distribution.get("/v1/alerts", params={"kind": "low-stock"}, headers=COORDINATOR)
    assert {a["kind"] for a in only.json()} == {"low-stock"}
    for caller in (identity("NRC", Role.PARTNER), identity("IOM", Role.WAREHOUSE)):
        assert (await distribution.get("/v1/alerts", headers=caller)).status_code == 403
    unknown = await distribution.get("/v1/alerts", params={"kind": "weather"}, headers=COORDINATOR)
    assert unknown.status_code == 422
    assert "kind" in unknown.text
