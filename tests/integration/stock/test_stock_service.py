"""The stock service end to end in one process: API, store, outbox, journal, own consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED
from kitflow_shared.events import CloudEvent
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RequestKey, fingerprint
from kitflow_shared.topics import STOCK_EVENTS
from kitflow_shared.web.identity import Role
from kitflow_stock.handlers.counts import CountHandlers
from kitflow_stock.handlers.ports import Actor

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import identity
from tests.support.stock_app import (
    ADMIN,
    BKO_STAFF,
    COORDINATOR,
    MOP_STAFF,
    PARTNER,
    RECEIPT,
    balances,
    seeded_stock,
    seeded_stock_app,
)

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


BKO = "/v1/warehouses/BKO-MAIN"
TOO_BIG = 2**63
NUL = "\x00"


def _with_line(body: dict[str, Any], **line: Any) -> dict[str, Any]:
    return {**body, "lines": [{**body["lines"][0], **line}]}


async def test_control_characters_huge_numbers_and_far_dates_are_422s_naming_the_field(
    stock: httpx.AsyncClient,
) -> None:
    """Each of these reached the store (a 500, or stored as given) before it was refused."""
    assert (await stock.post(f"{BKO}/receipts", json=RECEIPT, headers=BKO_STAFF)).status_code == 201
    before = await _stock(stock, "BKO-MAIN")
    dispatch = {
        "waybill_number": "WB-9",
        "destination": "Sévaré",
        "lines": [{"item_code": "TARP", "quantity": 1}],
    }
    transfer = {
        "to_warehouse": "MOP-SUB",
        "waybill_number": "WB-T9",
        "lines": [{"item_code": "TARP", "quantity": 1}],
    }
    adjustment = {"item_code": "TARP", "quantity": -1, "reason": "lost", "lot": "T-1"}
    count = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 1}]}
    reservation = {
        "line_id": "P9:L1",
        "plan_id": "P9",
        "item_code": "TARP",
        "quantity": 1,
        "expires_at": "2099-01-01T00:00:00Z",
    }
    item = {
        "code": "BUCKET",
        "name_en": "Bucket",
        "name_fr": "Seau",
        "category": "nfi",
        "unit": "piece",
    }
    cases: list[tuple[str, str, dict[str, str], dict[str, Any] | None, str]] = [
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            {**RECEIPT, "grn_number": f"GRN{NUL}9"},
            "body.grn_number",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            {**RECEIPT, "grn_number": "G9", "source": "EC\x07HO"},
            "body.source",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            {**RECEIPT, "grn_number": "G9", "note": "a\x1bb"},
            "body.note",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            _with_line({**RECEIPT, "grn_number": "G9"}, lot=f"T{NUL}1"),
            "body.lines.0.lot",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            _with_line({**RECEIPT, "grn_number": "G9"}, quantity=TOO_BIG),
            "body.lines.0.quantity",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            _with_line({**RECEIPT, "grn_number": "G9"}, expiry="9999-12-31"),
            "body.lines.0.expiry",
        ),
        (
            "POST",
            f"{BKO}/receipts",
            BKO_STAFF,
            {**RECEIPT, "grn_number": "G9", "occurred_at": "0001-01-01T00:00:00+01:00"},
            "body.occurred_at",
        ),
        (
            "POST",
            f"{BKO}/dispatches",
            BKO_STAFF,
            {**dispatch, "waybill_number": f"WB{NUL}9"},
            "body.waybill_number",
        ),
        (
            "POST",
            f"{BKO}/dispatches",
            BKO_STAFF,
            {**dispatch, "destination": "S\x85"},
            "body.destination",
        ),
        (
            "POST",
            f"{BKO}/dispatches",
            BKO_STAFF,
            _with_line(dispatch, quantity=TOO_BIG),
            "body.lines.0.quantity",
        ),
        (
            "POST",
            f"{BKO}/dispatches",
            BKO_STAFF,
            _with_line(dispatch, lot=f"T{NUL}"),
            "body.lines.0.lot",
        ),
        (
            "POST",
            f"{BKO}/adjustments",
            BKO_STAFF,
            {**adjustment, "quantity": -TOO_BIG},
            "body.quantity",
        ),
        ("POST", f"{BKO}/adjustments", BKO_STAFF, {**adjustment, "lot": f"T{NUL}1"}, "body.lot"),
        (
            "POST",
            f"{BKO}/transfers",
            BKO_STAFF,
            {**transfer, "waybill_number": f"W{NUL}"},
            "body.waybill_number",
        ),
        (
            "POST",
            f"{BKO}/transfers",
            BKO_STAFF,
            _with_line(transfer, quantity=TOO_BIG),
            "body.lines.0.quantity",
        ),
        ("POST", f"{BKO}/transfers/TR%001/receipt", BKO_STAFF, {"lines": []}, "path.transfer_id"),
        (
            "POST",
            f"{BKO}/transfers/TR-1/receipt",
            BKO_STAFF,
            {"lines": [{"item_code": "TARP", "owner": "IOM", "received": TOO_BIG}]},
            "body.lines.0.received",
        ),
        (
            "POST",
            f"{BKO}/kitting",
            BKO_STAFF,
            {"kit_code": "KIT-SHELTER", "count": TOO_BIG, "action": "break"},
            "body.count",
        ),
        (
            "POST",
            f"{BKO}/counts",
            BKO_STAFF,
            _with_line(count, counted=TOO_BIG),
            "body.lines.0.counted",
        ),
        ("POST", f"{BKO}/counts", BKO_STAFF, _with_line(count, lot=f"S{NUL}1"), "body.lines.0.lot"),
        ("PUT", f"{BKO}/stock/TARP/minimum", BKO_STAFF, {"minimum": TOO_BIG}, "body.minimum"),
        (
            "POST",
            f"{BKO}/movements/MV%001/reversal",
            BKO_STAFF,
            {"note": "x"},
            "path.movement_id",
        ),
        (
            "POST",
            f"{BKO}/reservations",
            COORDINATOR,
            {**reservation, "plan_id": f"P{NUL}"},
            "body.plan_id",
        ),
        (
            "POST",
            f"{BKO}/reservations",
            COORDINATOR,
            {**reservation, "quantity": TOO_BIG},
            "body.quantity",
        ),
        (
            "POST",
            f"{BKO}/reservations",
            COORDINATOR,
            {**reservation, "expires_at": "9999-12-31T00:00:00Z"},
            "body.expires_at",
        ),
        ("DELETE", f"{BKO}/reservations/P9%00L1", COORDINATOR, None, "path.line_id"),
        (
            "POST",
            f"{BKO}/reservations/P9%00L1/dispatch",
            BKO_STAFF,
            {"waybill_number": "WB-P9", "destination": "x"},
            "path.line_id",
        ),
        (
            "POST",
            f"{BKO}/reservations/P9:L1/dispatch",
            BKO_STAFF,
            {"waybill_number": "WB-P9", "destination": "x", "quantity": TOO_BIG},
            "body.quantity",
        ),
        ("PATCH", "/v1/warehouses/BKO-MAIN", ADMIN, {"name": f"Bamako{NUL}"}, "body.name"),
        ("POST", "/v1/items", ADMIN, {**item, "name_en": "Bu\x1bcket"}, "body.name_en"),
        ("POST", "/v1/items", ADMIN, {**item, "pack_size": TOO_BIG}, "body.pack_size"),
        (
            "POST",
            "/v1/items",
            ADMIN,
            {**item, "code": "KIT-X", "components": [{"item_code": "TARP", "quantity": TOO_BIG}]},
            "body.components.0.quantity",
        ),
        ("PATCH", "/v1/items/TARP", ADMIN, {"unit": f"pi{NUL}ece"}, "body.unit"),
    ]
    wrong = []
    for method, path, headers, body, field in cases:
        response = await stock.request(method, path, json=body, headers=headers)
        fields = (
            [e.get("field") for e in response.json().get("errors", [])] if response.content else []
        )
        if response.status_code != 422 or field not in fields:
            wrong.append(f"{method} {path} {field}: {response.status_code} {response.text[:150]}")
    # Infinity is not JSON, but Python's parser reads it.
    for path, text, field in [
        ("/v1/warehouses/BKO-MAIN", '{"capacity_m3": Infinity}', "body.capacity_m3"),
        ("/v1/items/TARP", '{"weight_kg": Infinity}', "body.weight_kg"),
    ]:
        response = await stock.patch(
            path, content=text, headers={**ADMIN, "Content-Type": "application/json"}
        )
        fields = [e.get("field") for e in response.json().get("errors", [])]
        if response.status_code != 422 or field not in fields:
            wrong.append(f"PATCH {path} {field}: {response.status_code} {response.text[:150]}")
    search = await stock.get("/v1/items", params={"q": f"T{NUL}"}, headers=ADMIN)
    if search.status_code != 422:
        wrong.append(f"GET /v1/items?q=NUL: {search.status_code} {search.text[:150]}")
    assert not wrong, "\n".join(wrong)
    assert await _stock(stock, "BKO-MAIN") == before
    tarp = (await stock.get("/v1/items/TARP", headers=ADMIN)).json()
    assert (tarp["unit"], tarp["weight_kg"]) == ("piece", None)


async def test_one_bad_command_does_not_fail_the_commands_batched_with_it(
    stock: httpx.AsyncClient,
) -> None:
    """Concurrent commands on one warehouse are written in one batch; a command the store
    cannot hold must fail alone, with a 422, and its neighbours must succeed."""

    def receipt(n: int, **line: Any) -> dict[str, Any]:
        return {
            "grn_number": f"GRN-B{n}",
            "source": "ECHO",
            "lines": [{"item_code": "SOAP", "quantity": 2, **line}],
        }

    bodies = [receipt(n) for n in range(12)]
    bodies[4] = {**receipt(4), "grn_number": f"GRN{NUL}B4"}
    bodies[8] = receipt(8, quantity=TOO_BIG)
    responses = await asyncio.gather(
        *(stock.post(f"{BKO}/receipts", json=body, headers=BKO_STAFF) for body in bodies)
    )
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 4 + [422] + [201] * 3 + [422] + [201] * 3, statuses
    assert (await _stock(stock, "BKO-MAIN"))["SOAP"]["on_hand"] == 20


async def test_reservations_are_scoped_bounded_and_refused_in_inactive_warehouses(
    stock: httpx.AsyncClient,
) -> None:
    assert (await stock.post(f"{BKO}/receipts", json=RECEIPT, headers=BKO_STAFF)).status_code == 201
    soon = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    reservation = {
        "line_id": "P1:L1",
        "plan_id": "P1",
        "item_code": "TARP",
        "quantity": 10,
        "expires_at": soon,
    }
    other_coordinator = identity("NRC", Role.COORDINATOR)
    refused = await stock.post(f"{BKO}/reservations", json=reservation, headers=other_coordinator)
    assert refused.status_code == 403, refused.text
    held = await stock.post(f"{BKO}/reservations", json=reservation, headers=COORDINATOR)
    assert held.status_code == 201, held.text
    released = await stock.delete(f"{BKO}/reservations/P1:L1", headers=other_coordinator)
    assert released.status_code == 403, released.text
    assert (await _stock(stock, "BKO-MAIN"))["TARP"]["reserved"] == 10

    far = (datetime.now(UTC) + timedelta(days=3650)).isoformat()
    too_late = await stock.post(
        f"{BKO}/reservations",
        json={**reservation, "line_id": "P1:L2", "expires_at": far},
        headers=COORDINATOR,
    )
    assert too_late.status_code == 422, too_late.text
    assert too_late.json()["errors"][0]["field"] == "body.expires_at"

    closed = await stock.patch("/v1/warehouses/MOP-SUB", json={"active": False}, headers=ADMIN)
    assert closed.status_code == 200, closed.text
    inactive = await stock.post(
        "/v1/warehouses/MOP-SUB/reservations",
        json={**reservation, "line_id": "P1:L3"},
        headers=COORDINATOR,
    )
    assert inactive.status_code == 422, inactive.text
    assert (await _stock(stock, "BKO-MAIN"))["TARP"]["reserved"] == 10
    assert (await stock.delete(f"{BKO}/reservations/P1:L1", headers=COORDINATOR)).status_code == 204


async def test_a_count_a_crash_left_submitting_is_finished_by_the_next_submission(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between applying a count and marking it submitted leaves it `submitting`: the
    next submission applies it if it was not, and never a second time if it was."""
    async with seeded_stock_app(infra, topics, monkeypatch) as (app, client):
        counts: CountHandlers = app.state.counts
        staff = Actor("iom-user", "IOM", warehouses=frozenset({"BKO-MAIN"}))
        assert (await client.post(f"{BKO}/receipts", json=RECEIPT, headers=BKO_STAFF)).is_success

        async def draft(counted: int) -> str:
            body = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": counted}]}
            response = await client.post(f"{BKO}/counts", json=body, headers=BKO_STAFF)
            count_id: str = response.json()["count_id"]
            return count_id

        async def crash_after_the_stock_write(count_id: str, key: RequestKey | None = None) -> str:
            """The submission's steps up to its stock write, then nothing: its movement id."""
            claimed = await counts.counts.claim("BKO-MAIN", count_id, datetime.now(UTC))
            assert claimed is not None
            done = await counts.stock.submit_count(
                staff, "BKO-MAIN", count_id, claimed.lines, EventContext.new(), key
            )
            return done.value

        count_id = await draft(47)
        movement_id = await crash_after_the_stock_write(count_id)
        path = f"{BKO}/counts/{count_id}"
        assert (await client.get(path, headers=BKO_STAFF)).json()["status"] == "submitting"
        again = await client.post(f"{path}/submit", headers=BKO_STAFF)
        assert again.status_code == 409, again.text
        assert again.json()["movement_id"] == movement_id
        stored = (await client.get(path, headers=BKO_STAFF)).json()
        assert (stored["status"], stored["movement_id"]) == ("submitted", movement_id)
        assert (await _stock(client, "BKO-MAIN"))["SOAP"]["on_hand"] == 47

        # A client that retries with its Idempotency-Key gets the first answer.
        count_id = await draft(45)
        path = f"{BKO}/counts/{count_id}/submit"
        key = RequestKey("IOM", "submit-after-crash", fingerprint("POST", path, "", b""))
        movement_id = await crash_after_the_stock_write(count_id, key)
        replayed = await client.post(path, headers={**BKO_STAFF, "Idempotency-Key": key.key})
        assert replayed.status_code == 200, replayed.text
        assert replayed.headers["idempotent-replayed"] == "true"
        answer = replayed.json()
        assert (answer["status"], answer["movement_id"]) == ("submitted", movement_id)
        assert (await _stock(client, "BKO-MAIN"))["SOAP"]["on_hand"] == 45

        # Claimed, then the crash came before the stock write: the next submission applies it.
        count_id = await draft(40)
        assert await counts.counts.claim("BKO-MAIN", count_id, datetime.now(UTC)) is not None
        finished = await client.post(f"{BKO}/counts/{count_id}/submit", headers=BKO_STAFF)
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "submitted"
        assert (await _stock(client, "BKO-MAIN"))["SOAP"]["on_hand"] == 40
