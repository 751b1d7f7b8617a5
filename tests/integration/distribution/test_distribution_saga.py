"""The whole plan-to-delivery saga through the real broker and store: stock, needs and
distribution side by side, each with its own database, talking only through events."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_needs.bootstrap import create_app as create_needs
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import identity

pytestmark = pytest.mark.infra

ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)
NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)


class System:
    def __init__(
        self, stock: httpx.AsyncClient, needs: httpx.AsyncClient, distribution: httpx.AsyncClient
    ) -> None:
        self.stock, self.needs, self.distribution = stock, needs, distribution


@pytest.fixture
async def system(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[System]:
    async with AsyncExitStack() as stack:
        clients = []
        for create in (create_stock, create_needs, create_distribution):
            _, client = await stack.enter_async_context(
                running_app(create, infra, topics, monkeypatch)
            )
            clients.append(client)
        yield System(*clients)


async def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _setup_stock(s: System) -> None:
    for body in [
        {
            "code": "BKO-MAIN",
            "name": "Bamako",
            "organisation": "IOM",
            "type": "main",
            "admin1_pcode": "ML09",
            "admin2_pcode": "ML0901",
            "location": {"lat": 12.6392, "lon": -8.0029},
        },
        {
            "code": "MOP-SUB",
            "name": "Mopti",
            "organisation": "IOM",
            "type": "sub-office",
            "admin1_pcode": "ML05",
            "admin2_pcode": "ML0501",
            "location": {"lat": 14.4939, "lon": -4.1966},
        },
    ]:
        await _ok(await s.stock.post("/v1/warehouses", json=body, headers=ADMIN))
    await _ok(
        await s.stock.post(
            "/v1/items",
            headers=ADMIN,
            json={
                "code": "KIT-NFI",
                "name_en": "NFI kit",
                "name_fr": "Kit BNA",
                "category": "nfi",
                "unit": "kit",
            },
        )
    )
    for code, qty in (("MOP-SUB", 100), ("BKO-MAIN", 50)):
        await _ok(
            await s.stock.post(
                f"/v1/warehouses/{code}/receipts",
                headers=ADMIN,
                json={
                    "grn_number": f"GRN-{code}",
                    "source": "ECHO",
                    "lines": [{"item_code": "KIT-NFI", "quantity": qty}],
                },
            )
        )


async def _stock_seen_by_distribution(s: System) -> None:
    """Both warehouses and their 150 kits are in distribution's views.

    The warehouses' registrations and their receipts leave stock from different documents'
    outboxes, so the stock view can hear of a receipt before the warehouse view hears of its
    warehouse; the planner only plans from warehouses it knows.
    """
    await eventually(
        lambda: s.distribution.get("/v1/views/warehouses", headers=COORDINATOR),
        lambda r: {w["warehouse"]["code"] for w in r.json()} >= {"BKO-MAIN", "MOP-SUB"},
        what="warehouse view",
    )
    await eventually(
        lambda: s.distribution.get("/v1/views/stock", headers=COORDINATOR),
        lambda r: sum(x["balance"]["available"] for x in r.json()) == 150,
        what="stock view",
    )


def _need(admin2: str, site: str, households: int, severity: int) -> dict[str, Any]:
    return {
        "location": {
            "admin1_pcode": "ML05",
            "admin2_pcode": admin2,
            "site_name": site,
            "coordinates": {"lat": 14.5, "lon": -4.1},
        },
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": severity,
        "items": [{"item_code": "KIT-NFI", "quantity": households}],
    }


async def _validated_need(s: System, partner: dict[str, str], body: dict[str, Any]) -> str:
    need = await _ok(await s.needs.post("/v1/needs", json=body, headers=partner))
    await _ok(await s.needs.post(f"/v1/needs/{need['id']}/validate", headers=COORDINATOR), 200)
    return str(need["id"])


async def _plan(s: System, plan_id: str) -> dict[str, Any]:
    return await _ok(await s.distribution.get(f"/v1/plans/{plan_id}", headers=COORDINATOR), 200)


async def test_from_assessed_needs_to_households_reached(system: System) -> None:
    s = system
    await _setup_stock(s)
    nrc_need = await _validated_need(s, NRC, _need("ML0501", "Sévaré 2", 120, 4))
    drc_need = await _validated_need(s, DRC, _need("ML0502", "Bandiagara camp", 80, 4))

    # Distribution learns stock and needs from events only.
    await eventually(
        lambda: s.distribution.get("/v1/views/needs", headers=COORDINATOR),
        lambda r: sum(n["status"] == "validated" for n in r.json()) == 2,
        what="needs view",
    )
    await _stock_seen_by_distribution(s)

    # 150 kits for 200 households of equal severity: both get the same share.
    draft = await _ok(
        await s.distribution.post(
            "/v1/plans", headers=COORDINATOR, json={"title": "Mopti NFI, round 1"}
        )
    )
    allocated = {
        n: sum(x["quantity"] for x in draft["lines"] if x["need_id"] == n)
        for n in (nrc_need, drc_need)
    }
    assert allocated == {nrc_need: 90, drc_need: 60}
    assert draft["status"] == "draft"
    assert draft["explanation"]["shortfalls"], "the unmet 50 kits are explained"
    plan_id = draft["plan_id"]

    # Partners can see the plan's lines for their own needs only; other plans are 404.
    partner_view = await _ok(await s.distribution.get(f"/v1/plans/{plan_id}", headers=NRC), 200)
    assert {x["need_id"] for x in partner_view["lines"]} == {nrc_need}
    stranger = identity("ACF", Role.PARTNER)
    assert (await s.distribution.get(f"/v1/plans/{plan_id}", headers=stranger)).status_code == 404
    # Nor can they act on it: confirming deliveries is "not found" too, not "forbidden".
    first = draft["lines"][0]
    delivery = {
        "need_id": first["need_id"],
        "lines": [{"line_id": first["line_id"], "quantity": 1}],
        "households": 1,
    }
    refused = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        headers=stranger,
        json={"deliveries": [{**delivery, "individuals": 5}]},
    )
    assert refused.status_code == 404, refused.text

    approved = await _ok(
        await s.distribution.post(f"/v1/plans/{plan_id}/approve", headers=COORDINATOR, json={}), 200
    )
    assert approved["status"] == "reserving"
    reserved = await eventually(
        lambda: _plan(s, plan_id),
        lambda p: p["status"] in ("reserved", "partly-reserved"),
        what="stock answered every line",
    )
    assert reserved["status"] == "reserved"
    assert all(x["reserved"] == x["quantity"] for x in reserved["lines"])
    again = await s.distribution.post(f"/v1/plans/{plan_id}/approve", headers=COORDINATOR, json={})
    assert again.status_code == 409

    dispatched = await _ok(
        await s.distribution.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=COORDINATOR,
            json={"waybill_number": "WB-PLN-1", "destination": "Mopti sites"},
        ),
        200,
    )
    assert dispatched["status"] == "dispatching"
    dispatched = await eventually(
        lambda: _plan(s, plan_id),
        lambda p: p["status"] == "dispatched",
        what="stock issued every line",
    )
    stock = await _ok(await s.stock.get("/v1/warehouses/MOP-SUB/stock", headers=ADMIN), 200)
    assert (
        stock["items"][0]["on_hand"]
        + (await _ok(await s.stock.get("/v1/warehouses/BKO-MAIN/stock", headers=ADMIN), 200))[
            "items"
        ][0]["on_hand"]
        == 0
    )

    nrc_lines = [x for x in dispatched["lines"] if x["need_id"] == nrc_need]
    too_much = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        headers=NRC,
        json={
            "deliveries": [
                {
                    "need_id": nrc_need,
                    "lines": [
                        {
                            "line_id": nrc_lines[0]["line_id"],
                            "quantity": nrc_lines[0]["dispatched"] + 1,
                        }
                    ],
                    "households": 1,
                    "individuals": 5,
                }
            ]
        },
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "body.deliveries[0].lines[0].quantity"
    not_theirs = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        headers=DRC,
        json={
            "deliveries": [
                {
                    "need_id": nrc_need,
                    "lines": [{"line_id": nrc_lines[0]["line_id"], "quantity": 1}],
                    "households": 1,
                    "individuals": 5,
                }
            ]
        },
    )
    assert not_theirs.status_code == 403
    delivered = await _ok(
        await s.distribution.post(
            f"/v1/plans/{plan_id}/deliveries",
            headers=NRC,
            json={
                "deliveries": [
                    {
                        "need_id": nrc_need,
                        "lines": [
                            {"line_id": x["line_id"], "quantity": x["dispatched"]}
                            for x in nrc_lines
                        ],
                        "households": 90,
                        "individuals": 450,
                    }
                ]
            },
        ),
        200,
    )
    assert delivered["reached"] == [
        {
            "need_id": nrc_need,
            "households": 90,
            "individuals": 450,
            "note": None,
            "delivered_on": None,
        }
    ]
    # A partner sees its own need's lines in the answer, not the other partner's.
    assert {x["need_id"] for x in delivered["lines"]} == {nrc_need}

    # The needs service hears of it: planned, dispatched, delivered, and partly covered.
    need = await eventually(
        lambda: s.needs.get(f"/v1/needs/{nrc_need}", headers=NRC),
        lambda r: r.json()["items"][0]["delivered"] == 90,
        what="coverage reached needs",
    )
    body = need.json()
    assert body["items"][0]["planned"] == 90
    assert body["status"] == "partially-covered"

    report = await s.distribution.get("/v1/reports/5w.csv", headers=COORDINATOR)
    assert report.status_code == 200
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[1][:3] == ["#org+acronym", "#adm1+code", "#adm2+code"]
    by_org = {row[0]: row for row in rows[2:]}
    assert set(by_org) == {"NRC", "DRC"}
    reached = rows[0].index("Total No. atteintes")
    assert by_org["NRC"][reached] == "450"
    partner_report = await s.distribution.get("/v1/reports/5w.csv", headers=DRC)
    assert [row[0] for row in list(csv.reader(io.StringIO(partner_report.text)))[2:]] == ["DRC"]
    xlsx = await s.distribution.get("/v1/reports/5w.xlsx", headers=COORDINATOR)
    assert xlsx.content[:2] == b"PK"


async def test_short_stock_and_a_cancellation_release_what_was_reserved(system: System) -> None:
    s = system
    await _setup_stock(s)
    need = await _validated_need(s, NRC, _need("ML0501", "Sévaré 2", 60, 5))
    await _stock_seen_by_distribution(s)
    await eventually(
        lambda: s.distribution.get("/v1/views/needs", headers=COORDINATOR),
        lambda r: [n["status"] for n in r.json()] == ["validated"],
        what="needs view",
    )
    draft = await _ok(
        await s.distribution.post(
            "/v1/plans", headers=COORDINATOR, json={"title": "Sévaré", "need_ids": [need]}
        )
    )
    # Meanwhile stock leaves Mopti: the plan now asks for more than is there.
    line = next(x for x in draft["lines"] if x["warehouse"] == "MOP-SUB")
    await _ok(
        await s.stock.post(
            "/v1/warehouses/MOP-SUB/dispatches",
            headers=ADMIN,
            json={
                "waybill_number": "WB-X",
                "destination": "elsewhere",
                "lines": [{"item_code": "KIT-NFI", "quantity": 100 - line["quantity"] + 5}],
            },
        )
    )
    await _ok(
        await s.distribution.post(
            f"/v1/plans/{draft['plan_id']}/approve",
            headers=COORDINATOR,
            json={"all_or_nothing": True},
        ),
        200,
    )
    plan = await eventually(
        lambda: _plan(s, draft["plan_id"]),
        lambda p: p["status"] in ("reserved", "partly-reserved"),
        what="answers",
    )
    assert plan["status"] == "partly-reserved"
    short = next(x for x in plan["lines"] if x["line_id"] == line["line_id"])
    assert short["reservation"] == "rejected"
    assert "available" in short["shortfall_reason"]

    cancelled = await _ok(
        await s.distribution.post(
            f"/v1/plans/{draft['plan_id']}/cancel",
            headers=COORDINATOR,
            json={"reason": "road closed"},
        ),
        200,
    )
    assert cancelled["status"] == "cancelled"
    await eventually(
        lambda: s.stock.get("/v1/warehouses/BKO-MAIN/stock", headers=ADMIN),
        lambda r: r.json()["items"][0]["reserved"] == 0,
        what="reservations released",
    )
    approve_cancelled = await s.distribution.post(
        f"/v1/plans/{draft['plan_id']}/approve", headers=COORDINATOR, json={}
    )
    assert approve_cancelled.status_code == 409
    unknown = await s.distribution.post(
        "/v1/plans", headers=COORDINATOR, json={"title": "x", "need_ids": ["NOPE"]}
    )
    assert unknown.status_code == 422
