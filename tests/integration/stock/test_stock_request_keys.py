"""Idempotency-Key at the stock service (ADR 0011): the same request with the same key has one
effect, whatever route it is and however often it is repeated, and answers as the first time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kitflow_shared.web.identity import Role

from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import identity
from tests.support.stock_app import (
    ADMIN,
    BKO_STAFF,
    COORDINATOR,
    MOP_STAFF,
    RECEIPT,
    balances,
    seeded_stock,
)

pytestmark = pytest.mark.infra

KEY = "Idempotency-Key"
REPLAYED = "idempotent-replayed"
BKO = "/v1/warehouses/BKO-MAIN"
MOP = "/v1/warehouses/MOP-SUB"


@pytest.fixture
async def stock(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with seeded_stock(infra, topics, monkeypatch) as client:
        yield client


class Twice:
    """Sends each request twice with one key and notes every way the second answer differs
    from what a replay must be: same status, same body, marked replayed."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.wrong: list[str] = []

    async def __call__(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        key: str,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        sent = {**headers, KEY: key}
        first = await self.client.request(method, path, json=body, headers=sent)
        assert first.is_success, (method, path, first.status_code, first.text)
        second = await self.client.request(method, path, json=body, headers=sent)
        route = f"{method} {path}"
        if REPLAYED in first.headers:
            self.wrong.append(f"{route}: the first answer says it was replayed")
        if second.status_code != first.status_code:
            self.wrong.append(
                f"{route}: repeated answered {second.status_code} {second.text[:160]}, "
                f"first {first.status_code}"
            )
        elif second.content != first.content and second.json() != first.json():
            self.wrong.append(f"{route}: repeated answered another body: {second.text[:160]}")
        if second.headers.get(REPLAYED) != "true":
            self.wrong.append(f"{route}: repeated answer not marked {REPLAYED}")
        return first


async def test_every_state_changing_route_applies_a_repeated_request_once(
    stock: httpx.AsyncClient,
) -> None:
    twice = Twice(stock)
    timbuktu = {
        "code": "TMB-SUB",
        "name": "Tombouctou",
        "organisation": "IOM",
        "type": "sub-office",
        "admin1_pcode": "ML06",
        "admin2_pcode": "ML0601",
    }
    await twice("POST", "/v1/warehouses", ADMIN, "wh-register-1", timbuktu)
    await twice("PATCH", "/v1/warehouses/TMB-SUB", ADMIN, "wh-change-01", {"capacity_m3": 500})
    blanket = {
        "code": "BLANKET",
        "name_en": "Blanket",
        "name_fr": "Couverture",
        "category": "nfi",
        "unit": "piece",
    }
    await twice("POST", "/v1/items", ADMIN, "item-register", blanket)
    await twice("PATCH", "/v1/items/BLANKET", ADMIN, "item-change-1", {"name_fr": "Couverture 2"})

    await twice("POST", f"{BKO}/receipts", BKO_STAFF, "receipt-0001", RECEIPT)
    dispatch = {
        "waybill_number": "WB-1",
        "destination": "Site Sévaré (ML0501)",
        "lines": [{"item_code": "TARP", "quantity": 10}],
    }
    await twice("POST", f"{BKO}/dispatches", BKO_STAFF, "dispatch-001", dispatch)
    lost = {"item_code": "TARP", "quantity": -5, "reason": "lost", "lot": "T-1"}
    adjustment = await twice("POST", f"{BKO}/adjustments", BKO_STAFF, "adjust-00001", lost)
    transfer = {
        "to_warehouse": "MOP-SUB",
        "waybill_number": "WB-T1",
        "lines": [{"item_code": "TARP", "quantity": 20}],
    }
    sent = await twice("POST", f"{BKO}/transfers", BKO_STAFF, "transfer-001", transfer)
    transfer_id = sent.json()["transfer_id"]
    await eventually(
        lambda: balances(stock, "MOP-SUB"),
        lambda b: b.get("TARP", {}).get("in_transit") == 20,
        what="the transfer announced at Mopti",
    )
    arrived = {
        "grn_number": "GRN-M1",
        "lines": [{"item_code": "TARP", "lot": "T-1", "owner": "IOM", "received": 20}],
    }
    await twice(
        "POST", f"{MOP}/transfers/{transfer_id}/receipt", MOP_STAFF, "transfer-in-1", arrived
    )
    assemble = {"kit_code": "KIT-SHELTER", "count": 5, "action": "assemble"}
    await twice("POST", f"{BKO}/kitting", BKO_STAFF, "kitting-0001", assemble)
    movement_id = adjustment.json()["movement_id"]
    await eventually(
        lambda: stock.get(f"{BKO}/stock/TARP/card", headers=ADMIN),
        lambda r: movement_id in {row["movement_id"] for row in r.json()["rows"]},
        what="the adjustment on the stock card",
    )
    undo = {"note": "found again"}
    await twice("POST", f"{BKO}/movements/{movement_id}/reversal", BKO_STAFF, "reversal-001", undo)

    soap_45 = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 45}]}
    count = await twice("POST", f"{BKO}/counts", BKO_STAFF, "count-start1", soap_45)
    count_id = count.json()["count_id"]
    soap_44 = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 44}]}
    await twice("PUT", f"{BKO}/counts/{count_id}", BKO_STAFF, "count-lines1", soap_44)
    await twice("POST", f"{BKO}/counts/{count_id}/submit", BKO_STAFF, "count-submit")
    await twice("PUT", f"{BKO}/stock/TARP/minimum", BKO_STAFF, "minimum-0001", {"minimum": 10})

    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    for line, quantity in (("P1:L1", 5), ("P1:L2", 3)):
        reservation = {
            "line_id": line,
            "plan_id": "P1",
            "item_code": "TARP",
            "quantity": quantity,
            "expires_at": expires,
        }
        await twice("POST", f"{BKO}/reservations", COORDINATOR, f"reserve-{line}", reservation)
    issue = {"waybill_number": "WB-P1", "destination": "Site Sévaré (ML0501)"}
    await twice("POST", f"{BKO}/reservations/P1:L1/dispatch", BKO_STAFF, "issue-P1-L1", issue)
    await twice("DELETE", f"{BKO}/reservations/P1:L2", COORDINATOR, "release-P1-L2")

    assert not twice.wrong, "\n".join(twice.wrong)
    bamako = await balances(stock, "BKO-MAIN")
    # 100 received, 10 dispatched, 5 lost and found again, 20 sent to Mopti, 10 in 5 kits,
    # 5 issued for P1:L1; P1:L2 released.
    assert (bamako["TARP"]["on_hand"], bamako["TARP"]["reserved"]) == (55, 0)
    assert (bamako["ROPE"]["on_hand"], bamako["KIT-SHELTER"]["on_hand"]) == (25, 5)
    assert bamako["SOAP"]["on_hand"] == 44
    assert (await balances(stock, "MOP-SUB"))["TARP"]["on_hand"] == 20
    card = await eventually(
        lambda: stock.get(f"{BKO}/stock/TARP/card", headers=ADMIN),
        lambda r: r.json()["total"] >= 7,
        what="the TARP movements on the stock card",
    )
    kinds = [row["kind"] for row in card.json()["rows"]]
    assert kinds == [
        "receipt",
        "dispatch",
        "adjustment",
        "transfer-out",
        "kit-assembly",
        "reversal",
        "dispatch",
    ]
    listed = await stock.get("/v1/warehouses", headers=ADMIN)
    assert listed.json()["total"] == 3


async def test_a_key_used_again_for_another_request_is_refused(stock: httpx.AsyncClient) -> None:
    received = await stock.post(f"{BKO}/receipts", json=RECEIPT, headers=BKO_STAFF)
    assert received.status_code == 201, received.text
    headers = {**BKO_STAFF, KEY: "adjust-reused"}
    lost = {"item_code": "TARP", "quantity": -5, "reason": "lost", "lot": "T-1"}
    assert (await stock.post(f"{BKO}/adjustments", json=lost, headers=headers)).status_code == 201
    other = {**lost, "quantity": -6}
    refused = await stock.post(f"{BKO}/adjustments", json=other, headers=headers)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"
    assert (await balances(stock, "BKO-MAIN"))["TARP"]["on_hand"] == 95

    item = {
        "code": "BUCKET",
        "name_en": "Bucket",
        "name_fr": "Seau",
        "category": "wash-hygiene",
        "unit": "piece",
    }
    admin = {**ADMIN, KEY: "item-reused"}
    assert (await stock.post("/v1/items", json=item, headers=admin)).status_code == 201
    another = {**item, "code": "BUCKET-10L"}
    refused = await stock.post("/v1/items", json=another, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/idempotency-key-reused"
    assert (await stock.get("/v1/items/BUCKET-10L", headers=ADMIN)).status_code == 404


async def test_two_organisations_may_use_the_same_key(stock: httpx.AsyncClient) -> None:
    received = await stock.post(f"{BKO}/receipts", json=RECEIPT, headers=BKO_STAFF)
    assert received.status_code == 201, received.text
    lost = {"item_code": "TARP", "quantity": -5, "reason": "lost", "lot": "T-1"}
    for organisation in ("IOM", "UNHCR"):
        headers = {**identity(organisation, Role.ADMIN), KEY: "shared-key-1"}
        response = await stock.post(f"{BKO}/adjustments", json=lost, headers=headers)
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
    assert (await balances(stock, "BKO-MAIN"))["TARP"]["on_hand"] == 90

    for organisation, code in (("IOM", "GAO-IOM"), ("NRC", "GAO-NRC")):
        warehouse = {
            "code": code,
            "name": "Gao",
            "organisation": organisation,
            "type": "partner",
            "admin1_pcode": "ML07",
            "admin2_pcode": "ML0701",
        }
        headers = {**identity(organisation, Role.COORDINATOR), KEY: "shared-key-2"}
        response = await stock.post("/v1/warehouses", json=warehouse, headers=headers)
        assert response.status_code == 201, response.text
        assert REPLAYED not in response.headers
