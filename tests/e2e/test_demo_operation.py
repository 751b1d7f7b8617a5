"""`make run`'s demo Mali operation, seeded through the gateway into the four real services, and
seeded again: the picture is the scenario's, and the second seeding changes nothing."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.infra import REPO_ROOT, Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess, service_process

pytestmark = pytest.mark.infra

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "demo-seed-admin-passphrase"
WAREHOUSES = ("BKO-MAIN", "MOP-SUB", "TOM-SUB", "GAO-SUB")


def _load_demo_operation() -> ModuleType:
    path = REPO_ROOT / "deploy" / "local" / "demo_operation.py"
    spec = importlib.util.spec_from_file_location("kitflow_demo_operation", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


demo = _load_demo_operation()


@pytest.fixture
async def gateway(infra: Infra, topics: str, processes: list[ServiceProcess]) -> str:
    backends = {
        name: service_process(name, infra, topics) for name in ("stock", "needs", "distribution")
    }
    front = service_process(
        "gateway",
        infra,
        topics,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **{f"KITFLOW_GATEWAY_{name.upper()}_URL": p.url for name, p in backends.items()},
    )
    for process in [*backends.values(), front]:
        processes.append(process.start())
    for process in processes:
        await process.wait_ready(timeout_s=180)  # a busy machine starts Python slowly
    return front.url


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    answer = await client.get(path, headers=headers)
    assert answer.status_code == 200, f"{path}: {answer.text}"
    return answer.json()


async def _picture(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Everything a doubled command would change: needs, plans, every balance and lot."""
    needs = await _get(client, "/v1/needs?limit=500", headers)
    plans = await _get(client, "/v1/plans?limit=200", headers)
    stock = {w: await _get(client, f"/v1/warehouses/{w}/stock", headers) for w in WAREHOUSES}
    balances = {
        (w, x["item_code"]): {
            k: x[k] for k in ("on_hand", "reserved", "available", "in_transit", "low")
        }
        | {"lots": sorted((lot["lot"], lot["expiry"], lot["on_hand"]) for lot in x["lots"])}
        for w, s in stock.items()
        for x in s["items"]
    }
    in_transit = {w: len(s["transfers_in_transit"]) for w, s in stock.items()}
    return {
        "needs": sorted((n["id"], n["status"]) for n in needs["items"]),
        "needs_total": needs["total"],
        "plans": sorted((p["plan_id"], p["status"]) for p in plans["items"]),
        "balances": balances,
        "transfers_in_transit": in_transit,
    }


def _area(need: dict[str, Any]) -> str:
    location = need["location"]
    return "Ménaka" if location["admin2_pcode"] == "ML0704" else location["admin1_name"]


# The scenario is played twice, two plans' sagas each time, on a machine others share.
@pytest.mark.timeout(900)
async def test_the_demo_operation_shows_a_real_picture_and_seeds_once(gateway: str) -> None:
    first = await demo.seed(gateway, ADMIN_USER, ADMIN_PASSWORD)
    assert sum(first.created.values()) > 0, first.summary()

    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        answer = await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN_USER, "password": ADMIN_PASSWORD},
        )
        admin = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        # The delivered plan's coverage reaches the needs service through events.
        delivered_need = first.need_ids["NRC-MOP-01"]
        await eventually(
            lambda: client.get(f"/v1/needs/{delivered_need}", headers=admin),
            lambda r: r.json()["households_reached"] == 60,
            what="the delivery reached the need",
            timeout_s=60,
        )
        before = await _picture(client, admin)

        second = await demo.seed(gateway, ADMIN_USER, ADMIN_PASSWORD)
        assert sum(second.created.values()) == 0, second.created
        assert second.need_ids == first.need_ids
        assert second.plan_ids == first.plan_ids
        after = await _picture(client, admin)
        assert after == before  # nothing doubled: not a need, a plan, a unit of stock or a lot

        needs = (await _get(client, "/v1/needs?limit=500", admin))["items"]
        assert len(needs) == 28
        per_partner = Counter(n["organisation"] for n in needs)
        assert per_partner == {"NRC": 8, "DRC": 7, "AMSS": 6, "IOM": 7}
        per_area = Counter(_area(n) for n in needs)
        assert per_area == {"Mopti": 9, "Tombouctou": 7, "Gao": 6, "Ménaka": 6}
        per_partner_and_area = Counter((n["organisation"], _area(n)) for n in needs)
        assert per_partner_and_area[("NRC", "Ménaka")] == 2
        assert per_partner_and_area[("AMSS", "Gao")] == 1
        assert Counter(n["status"] for n in needs)["submitted"] == 3
        assert all(n["location"]["admin2_verified"] for n in needs)
        assert {n["location"]["gazetteer_vintage"] for n in needs} == {"cod-ab-2015"}

        plans = {p["title"]: p for p in (await _get(client, "/v1/plans?limit=200", admin))["items"]}
        assert len(plans) == 2
        delivered = await _get(client, f"/v1/plans/{first.plan_ids['plan-mopti-nfi-1']}", admin)
        assert delivered["status"] == "delivered"
        assert sum(r["households"] for r in delivered["reached"]) == 60 + 40 + 35
        assert sum(r["individuals"] for r in delivered["reached"]) == (60 + 40 + 35) * 6
        assert all(x["delivered"] == x["quantity"] for x in delivered["lines"])
        waiting = await _get(client, f"/v1/plans/{first.plan_ids['plan-gao-menaka-esk-1']}", admin)
        assert waiting["status"] == "partly-reserved"
        assert sum(x["reserved"] for x in waiting["lines"]) < sum(
            x["quantity"] for x in waiting["lines"]
        )

        balances = after["balances"]
        for place, balance in balances.items():
            for figure in ("on_hand", "reserved", "available", "in_transit"):
                assert balance[figure] >= 0, (place, balance)
        assert [place for place, b in balances.items() if b["low"]] == [("MOP-SUB", "KIT-NFI")]
        assert balances[("MOP-SUB", "KIT-NFI")]["on_hand"] == 150 - 135
        assert balances[("GAO-SUB", "KIT-SHELTER-EMERGENCY")]["in_transit"] == 200
        assert after["transfers_in_transit"] == {
            "BKO-MAIN": 0,
            "MOP-SUB": 0,
            "TOM-SUB": 0,
            "GAO-SUB": 1,
        }
        # The scenario's calendar is fixed (assessed in November 2026): these two lots expire
        # within six months of it, the stock service's near-expiry horizon.
        near_expiry = [
            (place, lot)
            for place, b in balances.items()
            for lot, expiry, _ in b["lots"]
            if expiry and expiry < "2027-06-01"
        ]
        assert sorted(near_expiry) == [
            (("MOP-SUB", "KIT-HYGIENE"), "HYG-2603-A"),
            (("TOM-SUB", "KIT-HYGIENE"), "HYG-2605-C"),
        ]

        # Each demo user signs in with what `make run` prints.
        for username, _, password in demo.sign_ins():
            signed_in = await client.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
            assert signed_in.status_code == 200, username
