"""What the partner portal's tracking pages read and write, through the gateway in front of the
real services: a need's coverage per item and the households reached, its possible duplicates,
the organisation's plan lines, a delivery recorded by the partner, and the refused Kobo
submissions in the reader's language; each with the right and the wrong organisation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kitflow_shared.web.identity import Role

from tests.integration.gateway.test_gateway_api import (
    NEED,
    System,
    _caller,
    _organisation,
    running_system,
)
from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.infra

SUBMISSIONS = "/v1/integrations/kobo/submissions"
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
async def system(infra: Infra) -> AsyncIterator[System]:
    async with running_system(infra, f"t{uuid.uuid4().hex[:10]}") as running:
        yield running


@dataclass
class Delivered:
    """A need of `owner` served by a plan that was approved, dispatched and delivered."""

    owner: dict[str, str]
    intruder: dict[str, str]
    coordinator: dict[str, str]
    need_id: str
    plan_id: str
    site: str


def _need(site: str, households: int = 120) -> dict[str, Any]:
    return {
        **NEED,
        "location": {**NEED["location"], "site_name": site},
        "population": {"households": households, "individuals": households * 5},
        "items": [{"item_code": "BLANKET", "quantity": households * 2}],
    }


async def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _validated_need(system: System, partner: dict[str, str], site: str) -> str:
    coordinator = await _caller(system, "IOM", Role.COORDINATOR)
    created = await _ok(
        await system.client.post("/v1/needs", headers=partner, json=_need(site)), 201
    )
    need_id: str = created["id"]
    await _ok(await system.client.post(f"/v1/needs/{need_id}/validate", headers=coordinator))
    await eventually(
        lambda: system.client.get("/v1/views/needs", headers=coordinator),
        lambda r: any(n["need_id"] == need_id and n["status"] == "validated" for n in r.json()),
        what="the need in distribution's view",
        timeout_s=60,
    )
    return need_id


async def _stock(system: System, quantity: int) -> None:
    await _ok(
        await system.client.post(
            "/v1/warehouses/BKO-MAIN/receipts",
            headers=system.admin,
            json={
                "grn_number": f"GRN-{uuid.uuid4().hex[:8]}",
                "source": "ECHO",
                "lines": [{"item_code": "BLANKET", "quantity": quantity}],
            },
        ),
        201,
    )


async def _plan_status(system: System, plan_id: str, wanted: str) -> dict[str, Any]:
    answer = await eventually(
        lambda: system.client.get(f"/v1/plans/{plan_id}", headers=system.admin),
        lambda r: r.json()["status"] == wanted,
        what=f"the plan {wanted}",
        timeout_s=60,
    )
    plan: dict[str, Any] = answer.json()
    return plan


@pytest.fixture(scope="module")
async def delivered(system: System) -> Delivered:
    owner_org = await _organisation(system, "TRACK")
    owner = await _caller(system, owner_org, Role.PARTNER)
    intruder = await _caller(system, await _organisation(system, "PEEK"), Role.PARTNER)
    coordinator = await _caller(system, "IOM", Role.COORDINATOR)
    site = f"Sévaré {uuid.uuid4().hex[:6]}"
    need_id = await _validated_need(system, owner, site)
    await _stock(system, 5000)
    await eventually(
        lambda: system.client.get("/v1/views/stock", headers=coordinator),
        lambda r: any(x["balance"]["available"] >= 240 for x in r.json()),
        what="the blankets in distribution's view",
        timeout_s=60,
    )
    plan = await _ok(
        await system.client.post(
            "/v1/plans", headers=coordinator, json={"title": site, "need_ids": [need_id]}
        ),
        201,
    )
    plan_id = plan["plan_id"]
    await _ok(
        await system.client.post(f"/v1/plans/{plan_id}/approve", headers=coordinator, json={})
    )
    await _plan_status(system, plan_id, "reserved")
    await _ok(
        await system.client.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=coordinator,
            json={"waybill_number": f"WB-{uuid.uuid4().hex[:6]}", "destination": site},
        )
    )
    dispatched = await _plan_status(system, plan_id, "dispatched")
    [line] = dispatched["lines"]
    await _ok(
        await system.client.post(
            f"/v1/plans/{plan_id}/deliveries",
            headers=owner,
            json={
                "deliveries": [
                    {
                        "need_id": need_id,
                        "lines": [{"line_id": line["line_id"], "quantity": line["dispatched"]}],
                        "households": 100,
                        "individuals": 480,
                        "delivered_on": YESTERDAY.isoformat(),
                    }
                ]
            },
        )
    )
    return Delivered(owner, intruder, coordinator, need_id, plan_id, site)


async def test_a_partner_reads_its_needs_coverage_per_item_and_the_households_reached(
    system: System, delivered: Delivered
) -> None:
    answer = await eventually(
        lambda: system.client.get("/v1/needs", headers=delivered.owner),
        lambda r: any(
            n["id"] == delivered.need_id and n["items"][0]["delivered"] == 240
            for n in r.json()["items"]
        ),
        what="the delivery in the need's coverage",
        timeout_s=60,
    )
    [need] = [n for n in answer.json()["items"] if n["id"] == delivered.need_id]
    [item] = need["items"]
    assert {
        k: item[k] for k in ("requested", "planned", "reserved", "dispatched", "delivered")
    } == {
        "requested": 240,
        "planned": 240,
        # Reserved is what a warehouse still holds for the need: none once it left.
        "reserved": 0,
        "dispatched": 240,
        "delivered": 240,
    }
    assert item["name"] == "Blanket"
    assert (need["households_reached"], need["individuals_reached"]) == (100, 480)
    assert need["status"] == "covered"

    theirs = await _ok(await system.client.get("/v1/needs", headers=delivered.intruder))
    assert delivered.need_id not in str(theirs)
    stolen = await system.client.get(f"/v1/needs/{delivered.need_id}", headers=delivered.intruder)
    assert stolen.status_code == 404


async def test_a_partner_lists_its_plan_lines_and_no_one_elses(
    system: System, delivered: Delivered
) -> None:
    # Another organisation's need in the same plan must not show to the owner.
    other = await _caller(system, await _organisation(system, "NEXT"), Role.PARTNER)
    other_site = f"Konna {uuid.uuid4().hex[:6]}"
    other_need = await _validated_need(system, other, other_site)
    both = await _ok(
        await system.client.post(
            "/v1/plans",
            headers=delivered.coordinator,
            json={"title": "another partner", "need_ids": [other_need]},
        ),
        201,
    )

    mine = await _ok(await system.client.get("/v1/plans", headers=delivered.owner))
    assert [p["plan_id"] for p in mine["items"]] == [delivered.plan_id]
    assert mine["total"] == 1
    [plan] = mine["items"]
    assert {x["need_id"] for x in plan["lines"]} == {delivered.need_id}
    assert plan["lines"][0]["delivered"] == 240
    assert [(r["households"], r["delivered_on"]) for r in plan["reached"]] == [
        (100, YESTERDAY.isoformat())
    ]
    assert plan["explanation"] == {}

    for_need = await _ok(
        await system.client.get(
            "/v1/plans", headers=delivered.owner, params={"need_id": delivered.need_id}
        )
    )
    assert [p["plan_id"] for p in for_need["items"]] == [delivered.plan_id]

    theirs = await _ok(await system.client.get("/v1/plans", headers=delivered.intruder))
    assert theirs == {"items": [], "total": 0, "limit": 50, "offset": 0}
    peeking = await _ok(
        await system.client.get(
            "/v1/plans", headers=delivered.intruder, params={"need_id": delivered.need_id}
        )
    )
    assert peeking["items"] == []
    other_sees = await _ok(await system.client.get("/v1/plans", headers=other))
    assert [p["plan_id"] for p in other_sees["items"]] == [both["plan_id"]]
    assert delivered.site not in str(other_sees)


async def test_an_intruder_cannot_record_a_delivery_on_a_partners_plan(
    system: System, delivered: Delivered
) -> None:
    plan = await _ok(
        await system.client.get(f"/v1/plans/{delivered.plan_id}", headers=delivered.owner)
    )
    [line] = plan["lines"]
    refused = await system.client.post(
        f"/v1/plans/{delivered.plan_id}/deliveries",
        headers=delivered.intruder,
        json={
            "deliveries": [
                {
                    "need_id": delivered.need_id,
                    "lines": [{"line_id": line["line_id"], "quantity": 1}],
                    "households": 1,
                    "individuals": 1,
                }
            ]
        },
    )
    assert refused.status_code == 404, refused.text
    after = await _ok(
        await system.client.get(f"/v1/plans/{delivered.plan_id}", headers=delivered.owner)
    )
    assert after["reached"] == plan["reached"]


async def test_a_delivery_dated_in_the_future_is_refused_naming_the_field(
    system: System, delivered: Delivered
) -> None:
    plan = await _ok(
        await system.client.get(f"/v1/plans/{delivered.plan_id}", headers=delivered.owner)
    )
    [line] = plan["lines"]
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    refused = await system.client.post(
        f"/v1/plans/{delivered.plan_id}/deliveries",
        headers=delivered.owner,
        json={
            "deliveries": [
                {
                    "need_id": delivered.need_id,
                    "lines": [{"line_id": line["line_id"], "quantity": 1}],
                    "households": 1,
                    "individuals": 1,
                    "delivered_on": tomorrow,
                }
            ]
        },
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.deliveries[0].delivered_on"]
    after = await _ok(
        await system.client.get(f"/v1/plans/{delivered.plan_id}", headers=delivered.owner)
    )
    assert after["reached"] == plan["reached"]


async def test_a_refused_kobo_submission_reads_in_french_and_stays_in_its_organisation(
    system: System,
) -> None:
    partner = await _caller(system, await _organisation(system, "KOBO"), Role.PARTNER)
    intruder = await _caller(system, await _organisation(system, "KPEEK"), Role.PARTNER)
    kobo_uuid = str(uuid.uuid4())
    sent = {
        "_uuid": kobo_uuid,
        "#adm1+code": "ML05",
        "#adm2+code": "ML0599",
        "#loc+name": "Sévaré 2",
        "#inneed+hh": "120",
        "#inneed+ind": "640",
        "#beneficiary+type": "idp",
        "#severity": "4",
        "#date+assessed": "2026-11-30",
        "#item+code": "BLANKET",
        "#item+num": "240",
    }
    refused = await system.client.post(SUBMISSIONS, headers=partner, json=sent)
    assert refused.status_code == 422, refused.text
    in_french = await system.client.post(
        "/v1/needs",
        headers={**partner, "Accept-Language": "fr"},
        json={**NEED, "location": {**NEED["location"], "admin2_pcode": "ML0599"}},
    )
    [api_reason] = in_french.json()["errors"]

    kept = await _ok(
        await system.client.get(
            SUBMISSIONS,
            headers={**partner, "Accept-Language": "fr"},
            params={"state": "refused"},
        )
    )
    [held] = kept
    in_english = await _ok(await system.client.get(SUBMISSIONS, headers=partner))
    assert in_english[0]["reasons"][0]["reason"] != api_reason["reason"]
    assert held["reasons"] == [{"question": "#adm2+code", "reason": api_reason["reason"]}]
    assert held["values"]["#adm2+code"] == "ML0599"
    assert (await _ok(await system.client.get(SUBMISSIONS, headers=intruder))) == []
    stolen = await system.client.post(
        f"{SUBMISSIONS}/{kobo_uuid}/resubmit",
        headers=intruder,
        json={"values": {"#adm2+code": "ML0501"}},
    )
    assert stolen.status_code == 404

    fixed = await system.client.post(
        f"{SUBMISSIONS}/{kobo_uuid}/resubmit",
        headers=partner,
        json={"values": {"#adm2+code": "ML0501"}},
    )
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["state"] == "accepted"
