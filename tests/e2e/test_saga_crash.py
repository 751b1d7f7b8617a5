"""The plan saga survives its services being killed (SIGKILL) in the middle and restarted:
nothing is reserved or issued twice, nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from kitflow_shared.web.identity import Role

from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess, identity, service_process

pytestmark = pytest.mark.infra

ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)
NRC = identity("NRC", Role.PARTNER)


async def _json(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_stock_and_distribution_killed_mid_saga_resume_exactly_once(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    stock = service_process("stock", infra, topics)
    needs = service_process("needs", infra, topics)
    distribution = service_process("distribution", infra, topics)
    processes.extend([stock.start(), needs.start(), distribution.start()])
    await asyncio.gather(*(p.wait_ready() for p in processes))
    client = httpx.AsyncClient(timeout=30)
    try:
        for body in [
            {
                "code": "GAO-SUB",
                "name": "Gao",
                "organisation": "IOM",
                "type": "sub-office",
                "admin1_pcode": "ML07",
                "admin2_pcode": "ML0701",
                "location": {"lat": 16.27, "lon": -0.04},
            }
        ]:
            await _json(await client.post(f"{stock.url}/v1/warehouses", json=body, headers=ADMIN))
        await _json(
            await client.post(
                f"{stock.url}/v1/items",
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
        await _json(
            await client.post(
                f"{stock.url}/v1/warehouses/GAO-SUB/receipts",
                headers=ADMIN,
                json={
                    "grn_number": "GRN-1",
                    "source": "ECHO",
                    "lines": [{"item_code": "KIT-NFI", "quantity": 70}],
                },
            )
        )
        need = await _json(
            await client.post(
                f"{needs.url}/v1/needs",
                headers=NRC,
                json={
                    "location": {
                        "admin1_pcode": "ML07",
                        "admin2_pcode": "ML0701",
                        "site_name": "Gao",
                    },
                    "population": {"households": 50, "individuals": 250},
                    "displacement_status": "returnee",
                    "assessment": {"date": "2026-11-20", "source": "dtm-round"},
                    "severity": 3,
                    "items": [{"item_code": "KIT-NFI", "quantity": 50}],
                },
            )
        )
        await _json(
            await client.post(f"{needs.url}/v1/needs/{need['id']}/validate", headers=COORDINATOR),
            200,
        )
        await eventually(
            lambda: client.get(f"{distribution.url}/v1/views/needs", headers=COORDINATOR),
            lambda r: len(r.json()) == 1 and r.json()[0]["status"] == "validated",
            what="needs view",
        )
        await eventually(
            lambda: client.get(f"{distribution.url}/v1/views/stock", headers=COORDINATOR),
            lambda r: len(r.json()) == 1,
            what="stock view",
        )
        plan = await _json(
            await client.post(
                f"{distribution.url}/v1/plans", headers=COORDINATOR, json={"title": "Gao"}
            )
        )
        assert sum(x["quantity"] for x in plan["lines"]) == 50

        # Stock dies as the approval goes out, and comes back.
        await _json(
            await client.post(
                f"{distribution.url}/v1/plans/{plan['plan_id']}/approve",
                headers=COORDINATOR,
                json={},
            ),
            200,
        )
        stock.kill()
        stock = service_process("stock", infra, topics)
        processes.append(stock.start())
        await stock.wait_ready()

        async def plan_state() -> Any:
            return (
                await client.get(
                    f"{distribution.url}/v1/plans/{plan['plan_id']}", headers=COORDINATOR
                )
            ).json()

        reserved = await eventually(
            plan_state,
            lambda p: p["status"] == "reserved",
            timeout_s=60,
            what="reserved after stock's restart",
        )
        balance = (
            await client.get(f"{stock.url}/v1/warehouses/GAO-SUB/stock", headers=ADMIN)
        ).json()["items"][0]
        assert (balance["reserved"], balance["available"]) == (50, 20)

        # Distribution dies right after ordering the dispatch, and comes back.
        await _json(
            await client.post(
                f"{distribution.url}/v1/plans/{plan['plan_id']}/dispatch",
                headers=COORDINATOR,
                json={"waybill_number": "WB-9", "destination": "Gao"},
            ),
            200,
        )
        distribution.kill()
        distribution = service_process("distribution", infra, topics)
        processes.append(distribution.start())
        await distribution.wait_ready()
        dispatched = await eventually(
            plan_state,
            lambda p: p["status"] == "dispatched",
            timeout_s=60,
            what="dispatched after the restart",
        )
        assert [x["dispatched"] for x in dispatched["lines"]] == [
            x["reserved"] for x in reserved["lines"]
        ]
        balance = (
            await client.get(f"{stock.url}/v1/warehouses/GAO-SUB/stock", headers=ADMIN)
        ).json()["items"][0]
        assert (balance["on_hand"], balance["reserved"], balance["available"]) == (20, 0, 20)
        card = await eventually(
            lambda: client.get(
                f"{stock.url}/v1/warehouses/GAO-SUB/stock/KIT-NFI/card", headers=ADMIN
            ),
            lambda r: r.json()["total"] >= 2,
            what="the dispatch on the stock card",
        )
        await asyncio.sleep(1)
        kinds = [
            row["kind"]
            for row in (
                await client.get(
                    f"{stock.url}/v1/warehouses/GAO-SUB/stock/KIT-NFI/card", headers=ADMIN
                )
            ).json()["rows"]
        ]
        assert kinds == ["receipt", "dispatch"], card.json()
        need_after = await eventually(
            lambda: client.get(f"{needs.url}/v1/needs/{need['id']}", headers=NRC),
            lambda r: r.json()["items"][0]["dispatched"] == 50,
            what="coverage in needs",
        )
        assert need_after.json()["items"][0]["planned"] == 50
    finally:
        await client.aclose()
