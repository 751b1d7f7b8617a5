"""The stock service end to end in one process: API, store, outbox, journal, own consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED
from kitflow_shared.events import CloudEvent
from kitflow_shared.topics import STOCK_EVENTS

from tests.integration.stock_app import (
    ADMIN,
    BKO_STAFF,
    COORDINATOR,
    MOP_STAFF,
    PARTNER,
    RECEIPT,
    balances,
    seeded_stock,
)
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.infra


@pytest.fixture
async def stock(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with seeded_stock(infra, topics, monkeypatch) as client:
        yield client


async def _stock(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    return await balances(client, code)


async def test_receipt_dispatch_and_the_stock_card_agree(stock: httpx.AsyncClient) -> None:
    response = await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF)
    assert response.status_code == 201, response.text
    assert [line["on_hand_after"] for line in response.json()["lines"]] == [100, 50, 30]
    response = await stock.post(
        "/v1/warehouses/BKO-MAIN/dispatches",
        headers=BKO_STAFF,
        json={
            "waybill_number": "WB-1",
            "destination": "Site Sévaré (ML0501)",
            "lines": [{"item_code": "TARP", "quantity": 30}],
        },
    )
    assert response.status_code == 201, response.text
    balances = await _stock(stock, "BKO-MAIN")
    assert (balances["TARP"]["on_hand"], balances["TARP"]["available"]) == (70, 70)
    card = await eventually(
        lambda: stock.get("/v1/warehouses/BKO-MAIN/stock/TARP/card", headers=BKO_STAFF),
        lambda r: r.json()["total"] == 2,
        what="both movements on the stock card",
    )
    rows = card.json()["rows"]
    assert [(r["kind"], r["quantity"], r["on_hand_after"]) for r in rows] == [
        ("receipt", 100, 100),
        ("dispatch", -30, 70),
    ]
    assert rows[0]["document_number"] == "GRN-0001"
    assert rows[1]["counterparty"] == "Site Sévaré (ML0501)"


async def test_bad_stock_requests_get_problems_and_change_nothing(
    stock: httpx.AsyncClient,
) -> None:
    await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF)
    before = await _stock(stock, "BKO-MAIN")

    duplicate = await stock.post(
        "/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "body.grn_number"

    too_much = await stock.post(
        "/v1/warehouses/BKO-MAIN/dispatches",
        headers=BKO_STAFF,
        json={
            "waybill_number": "WB-2",
            "destination": "x",
            "lines": [
                {"item_code": "SOAP", "quantity": 10},
                {"item_code": "TARP", "quantity": 101},
            ],
        },
    )
    assert too_much.status_code == 409
    problem = too_much.json()
    assert (problem["item_code"], problem["requested"], problem["available"]) == ("TARP", 101, 100)
    cases = [
        (
            {"grn_number": "G2", "source": "x", "lines": [{"item_code": "TARP", "quantity": 0}]},
            "body.lines.0.quantity",
        ),
        (
            {"grn_number": "G3", "source": "x", "lines": [{"item_code": "NOPE", "quantity": 1}]},
            "body.lines[0].item_code",
        ),
        (
            {
                "grn_number": "G4",
                "source": "x",
                "lines": [{"item_code": "SOAP", "quantity": 1, "expiry": "31/01/2027"}],
            },
            "body.lines.0.expiry",
        ),
        ({"grn_number": "G5", "source": "x", "lines": []}, "body.lines"),
    ]
    for body, field in cases:
        response = await stock.post(
            "/v1/warehouses/BKO-MAIN/receipts", json=body, headers=BKO_STAFF
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    unknown = await stock.post("/v1/warehouses/NOWHERE/receipts", json=RECEIPT, headers=ADMIN)
    assert unknown.status_code == 404
    assert await _stock(stock, "BKO-MAIN") == before


async def test_staff_operate_only_their_own_warehouse(stock: httpx.AsyncClient) -> None:
    response = await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=MOP_STAFF)
    assert response.status_code == 404  # never learns about another warehouse's stock
    assert (await stock.get("/v1/warehouses/BKO-MAIN/stock", headers=MOP_STAFF)).status_code == 404
    assert (await stock.get("/v1/warehouses/BKO-MAIN/stock", headers=PARTNER)).status_code == 403
    assert (
        await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=COORDINATOR)
    ).status_code == 403
    assert (
        await stock.get("/v1/warehouses/BKO-MAIN/stock", headers=COORDINATOR)
    ).status_code == 200
    assert await _stock(stock, "BKO-MAIN") == {}


async def test_a_transfer_is_in_transit_at_the_destination_until_received(
    stock: httpx.AsyncClient,
) -> None:
    await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF)
    response = await stock.post(
        "/v1/warehouses/BKO-MAIN/transfers",
        headers=BKO_STAFF,
        json={
            "to_warehouse": "MOP-SUB",
            "waybill_number": "WB-T1",
            "lines": [{"item_code": "TARP", "quantity": 40}],
        },
    )
    assert response.status_code == 201, response.text
    transfer_id = response.json()["transfer_id"]
    assert (await _stock(stock, "BKO-MAIN"))["TARP"]["on_hand"] == 60
    mopti = await eventually(
        lambda: _stock(stock, "MOP-SUB"),
        lambda s: s.get("TARP", {}).get("in_transit") == 40,
        what="the transfer announced at Mopti",
    )
    assert mopti["TARP"]["on_hand"] == 0
    received = await stock.post(
        f"/v1/warehouses/MOP-SUB/transfers/{transfer_id}/receipt",
        headers=MOP_STAFF,
        json={
            "grn_number": "GRN-M1",
            "lines": [
                {"item_code": "TARP", "lot": "T-1", "owner": "IOM", "received": 35, "damaged": 3}
            ],
        },
    )
    assert received.status_code == 201, received.text
    [line] = received.json()["lines"]
    assert (line["quantity"], line["damaged"], line["missing"]) == (35, 3, 2)
    mopti = await _stock(stock, "MOP-SUB")
    assert (mopti["TARP"]["on_hand"], mopti["TARP"]["in_transit"]) == (35, 0)
    again = await stock.post(
        f"/v1/warehouses/MOP-SUB/transfers/{transfer_id}/receipt",
        headers=MOP_STAFF,
        json={"lines": []},
    )
    assert again.status_code == 409


async def test_kits_counts_and_reversals(stock: httpx.AsyncClient) -> None:
    await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF)
    kits = await stock.post(
        "/v1/warehouses/BKO-MAIN/kitting",
        headers=BKO_STAFF,
        json={"kit_code": "KIT-SHELTER", "count": 10, "action": "assemble"},
    )
    assert kits.status_code == 201, kits.text
    balances = await _stock(stock, "BKO-MAIN")
    assert (
        balances["TARP"]["on_hand"],
        balances["ROPE"]["on_hand"],
        balances["KIT-SHELTER"]["on_hand"],
    ) == (80, 20, 10)
    not_a_kit = await stock.post(
        "/v1/warehouses/BKO-MAIN/kitting",
        headers=BKO_STAFF,
        json={"kit_code": "TARP", "count": 1, "action": "assemble"},
    )
    assert not_a_kit.status_code == 422

    draft = await stock.post(
        "/v1/warehouses/BKO-MAIN/counts",
        headers=BKO_STAFF,
        json={"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 47}]},
    )
    assert draft.status_code == 201, draft.text
    count_id = draft.json()["count_id"]
    assert (await _stock(stock, "BKO-MAIN"))["SOAP"]["on_hand"] == 50  # a draft changes nothing
    submitted = await stock.post(
        f"/v1/warehouses/BKO-MAIN/counts/{count_id}/submit", headers=BKO_STAFF
    )
    assert submitted.status_code == 200, submitted.text
    assert (await _stock(stock, "BKO-MAIN"))["SOAP"]["on_hand"] == 47
    assert (
        await stock.post(f"/v1/warehouses/BKO-MAIN/counts/{count_id}/submit", headers=BKO_STAFF)
    ).status_code == 409

    movement_id = kits.json()["movement_id"]
    await eventually(
        lambda: stock.get("/v1/warehouses/BKO-MAIN/stock/KIT-SHELTER/card", headers=ADMIN),
        lambda r: r.json()["total"] == 1,
        what="kit movement in the ledger",
    )
    reversal = await stock.post(
        f"/v1/warehouses/BKO-MAIN/movements/{movement_id}/reversal",
        headers=BKO_STAFF,
        json={"note": "assembled by mistake"},
    )
    assert reversal.status_code == 201, reversal.text
    balances = await _stock(stock, "BKO-MAIN")
    assert (balances["TARP"]["on_hand"], balances["KIT-SHELTER"]["on_hand"]) == (100, 0)
    twice = await stock.post(
        f"/v1/warehouses/BKO-MAIN/movements/{movement_id}/reversal",
        headers=BKO_STAFF,
        json={"note": "again"},
    )
    assert twice.status_code == 409


async def test_every_change_is_published_with_the_balances_after_it(
    stock: httpx.AsyncClient, infra: Infra, topics: str
) -> None:
    await stock.post("/v1/warehouses/BKO-MAIN/receipts", json=RECEIPT, headers=BKO_STAFF)
    topic = STOCK_EVENTS.qualified(topics)
    records = await eventually(
        lambda: read_topic(infra.kafka_bootstrap, topic, expect=7, timeout_s=3),
        lambda rs: any(CloudEvent.from_bytes(r.value).type == MOVEMENT_RECORDED.type for r in rs),
        what="movement event published",
    )
    [event] = [
        e
        for e in (CloudEvent.from_bytes(r.value) for r in records)
        if e.type == MOVEMENT_RECORDED.type
    ]
    payload = MOVEMENT_RECORDED.parse(event)
    assert event.subject == event.partitionkey == "stock/BKO-MAIN"
    assert event.sequence == 1
    assert {b.item_code: b.on_hand for b in payload.balances} == {
        "ROPE": 30,
        "SOAP": 50,
        "TARP": 100,
    }
