"""Two stock service instances, 200 concurrent reservations, 100 units: exactly 100 granted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts.stock import RESERVATION_CONFIRMED, RESERVATION_REJECTED
from kitflow_shared.events import CloudEvent
from kitflow_shared.topics import STOCK_EVENTS
from kitflow_shared.web.identity import Role

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import ServiceProcess, identity, service_process, signed_by

pytestmark = pytest.mark.infra

ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)
REQUESTS = 200
UNITS = 100


async def test_concurrent_reservations_on_two_instances_never_oversell(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    first = service_process("stock", infra, topics)
    second = service_process("stock", infra, topics)
    processes.extend([first.start(), second.start()])
    await asyncio.gather(first.wait_ready(), second.wait_ready())
    async with httpx.AsyncClient(base_url=first.url, auth=signed_by(ADMIN), timeout=30) as client:
        for path, body in [
            (
                "/v1/warehouses",
                {
                    "code": "GAO-SUB",
                    "name": "Gao",
                    "organisation": "IOM",
                    "type": "sub-office",
                    "admin1_pcode": "ML07",
                    "admin2_pcode": "ML0701",
                },
            ),
            (
                "/v1/items",
                {
                    "code": "KIT-NFI",
                    "name_en": "NFI kit",
                    "name_fr": "Kit BNA",
                    "category": "nfi",
                    "unit": "kit",
                },
            ),
            (
                "/v1/warehouses/GAO-SUB/receipts",
                {
                    "grn_number": "GRN-1",
                    "source": "UNHCR",
                    "lines": [{"item_code": "KIT-NFI", "quantity": UNITS}],
                },
            ),
        ]:
            response = await client.post(path, json=body)
            assert response.status_code == 201, response.text

    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(auth=signed_by(COORDINATOR), timeout=60, limits=limits) as client:

        async def reserve(i: int) -> httpx.Response:
            instance = first if i % 2 else second
            return await client.post(
                f"{instance.url}/v1/warehouses/GAO-SUB/reservations",
                json={
                    "line_id": f"P1:L{i:03d}",
                    "plan_id": "P1",
                    "item_code": "KIT-NFI",
                    "quantity": 1,
                    "mode": "all-or-nothing",
                    "expires_at": expires,
                },
            )

        responses = await asyncio.gather(*(reserve(i) for i in range(REQUESTS)))
        stock = (await client.get(f"{first.url}/v1/warehouses/GAO-SUB/stock")).json()

    assert all(r.status_code == 201 for r in responses), {r.status_code for r in responses}
    outcomes = [r.json() for r in responses]
    granted = [o for o in outcomes if o["status"] == "active"]
    refused = [o for o in outcomes if o["status"] == "rejected"]
    assert len(granted) == UNITS
    assert len(refused) == REQUESTS - UNITS
    assert all(o["reserved"] == 1 for o in granted)
    assert all(o["reserved"] == 0 and o["available_now"] == 0 for o in refused)
    [balance] = stock["items"]
    assert (balance["on_hand"], balance["reserved"], balance["available"]) == (UNITS, UNITS, 0)

    topic = STOCK_EVENTS.qualified(topics)
    records = await eventually(
        lambda: read_topic(infra.kafka_bootstrap, topic, expect=REQUESTS + 3, timeout_s=5),
        lambda rs: len(rs) >= REQUESTS + 3,
        what="every answer published",
    )
    # Two relays may both publish an entry (at least once): judge by distinct event ids.
    events = {e.id: e for e in (CloudEvent.from_bytes(r.value) for r in records)}.values()
    confirmed = {
        RESERVATION_CONFIRMED.parse(e).reservation.line_id
        for e in events
        if e.type == RESERVATION_CONFIRMED.type
    }
    rejected = [
        RESERVATION_REJECTED.parse(e) for e in events if e.type == RESERVATION_REJECTED.type
    ]
    assert confirmed == {o["line_id"] for o in granted}
    assert {r.reservation.line_id for r in rejected} == {o["line_id"] for o in refused}
    assert all("0 KIT-NFI available" in r.reason for r in rejected)


KEY = "Idempotency-Key"
REPLAYED = "idempotent-replayed"
COPIES = 10
BKO_STAFF = identity("IOM", Role.WAREHOUSE, warehouses=frozenset({"BKO-MAIN"}))
MOP_STAFF = identity("IOM", Role.WAREHOUSE, warehouses=frozenset({"MOP-SUB"}))
SETUP = [
    (
        "/v1/warehouses",
        {
            "code": code,
            "name": code,
            "organisation": "IOM",
            "type": "sub-office",
            "admin1_pcode": "ML05",
            "admin2_pcode": "ML0501",
        },
    )
    for code in ("BKO-MAIN", "MOP-SUB")
] + [
    (
        "/v1/items",
        {"code": code, "name_en": code, "name_fr": code, "category": "shelter", "unit": "piece"},
    )
    for code in ("TARP", "ROPE", "SOAP")
]
KIT = {
    "code": "KIT-SHELTER",
    "name_en": "Shelter kit",
    "name_fr": "Kit abri",
    "category": "shelter",
    "unit": "kit",
    "components": [{"item_code": "TARP", "quantity": 2}, {"item_code": "ROPE", "quantity": 1}],
}


async def _two_instances(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> tuple[ServiceProcess, ServiceProcess]:
    first = service_process("stock", infra, topics)
    second = service_process("stock", infra, topics)
    processes.extend([first.start(), second.start()])
    await asyncio.gather(first.wait_ready(), second.wait_ready())
    async with httpx.AsyncClient(base_url=first.url, auth=signed_by(ADMIN), timeout=30) as client:
        for path, body in [*SETUP, ("/v1/items", KIT)]:
            response = await client.post(path, json=body)
            assert response.status_code == 201, response.text
    return first, second


class Copies:
    """Sends COPIES copies of one request with one key at once, over both instances, and
    checks that they answer alike and that exactly one of them applied it."""

    def __init__(self, client: httpx.AsyncClient, instances: tuple[ServiceProcess, ...]) -> None:
        self.client = client
        self.instances = instances

    async def __call__(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        key: str,
        body: dict[str, object] | None = None,
    ) -> httpx.Response:
        sent = {**headers, KEY: key}
        responses = await asyncio.gather(
            *(
                self.client.request(
                    method,
                    f"{self.instances[i % len(self.instances)].url}{path}",
                    json=body,
                    headers=sent,
                )
                for i in range(COPIES)
            )
        )
        route = f"{method} {path}"
        assert {r.status_code for r in responses} == {responses[0].status_code}, (
            route,
            [(r.status_code, r.text[:200]) for r in responses],
        )
        assert responses[0].is_success, (route, responses[0].text)
        if responses[0].content:
            assert all(r.json() == responses[0].json() for r in responses), (
                route,
                {r.text for r in responses},
            )
        applied = [r for r in responses if r.headers.get(REPLAYED) != "true"]
        assert len(applied) == 1, (route, f"{len(applied)} of {COPIES} answers not replayed")
        return applied[0]


async def _balances(client: httpx.AsyncClient, url: str, code: str) -> dict[str, Any]:
    response = await client.get(f"{url}/v1/warehouses/{code}/stock", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {item["item_code"]: item for item in response.json()["items"]}


async def test_concurrent_copies_of_a_keyed_request_apply_once_on_two_instances(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    instances = await _two_instances(infra, topics, processes)
    url = instances[0].url
    bko, mop = "/v1/warehouses/BKO-MAIN", "/v1/warehouses/MOP-SUB"
    limits = httpx.Limits(max_connections=COPIES * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        copies = Copies(client, instances)
        receipt = {
            "grn_number": "GRN-1",
            "source": "ECHO",
            "lines": [
                {"item_code": "TARP", "quantity": 100},
                {"item_code": "ROPE", "quantity": 30},
                {"item_code": "SOAP", "quantity": 50, "lot": "S-1"},
            ],
        }
        await copies("POST", f"{bko}/receipts", BKO_STAFF, "receipt-0001", receipt)
        lost = {"item_code": "TARP", "quantity": -5, "reason": "lost"}
        adjusted = await copies("POST", f"{bko}/adjustments", BKO_STAFF, "adjust-00001", lost)
        dispatch = {
            "waybill_number": "WB-1",
            "destination": "Sévaré",
            "lines": [{"item_code": "TARP", "quantity": 10}],
        }
        await copies("POST", f"{bko}/dispatches", BKO_STAFF, "dispatch-001", dispatch)
        assemble = {"kit_code": "KIT-SHELTER", "count": 5, "action": "assemble"}
        await copies("POST", f"{bko}/kitting", BKO_STAFF, "kitting-0001", assemble)
        transfer = {
            "to_warehouse": "MOP-SUB",
            "waybill_number": "WB-T1",
            "lines": [{"item_code": "TARP", "quantity": 20}],
        }
        sent = await copies("POST", f"{bko}/transfers", BKO_STAFF, "transfer-001", transfer)
        await eventually(
            lambda: _balances(client, url, "MOP-SUB"),
            lambda b: b.get("TARP", {}).get("in_transit") == 20,
            what="the transfer announced at Mopti",
        )
        arrived = {
            "grn_number": "GRN-M1",
            "lines": [{"item_code": "TARP", "lot": "", "owner": "IOM", "received": 20}],
        }
        transfer_in = f"{mop}/transfers/{sent.json()['transfer_id']}/receipt"
        await copies("POST", transfer_in, MOP_STAFF, "transfer-in-1", arrived)
        movement_id = adjusted.json()["movement_id"]
        await eventually(
            lambda: client.get(f"{url}{bko}/stock/TARP/card", headers=ADMIN),
            lambda r: movement_id in {row["movement_id"] for row in r.json()["rows"]},
            what="the adjustment on the stock card",
        )
        reversal = f"{bko}/movements/{movement_id}/reversal"
        await copies("POST", reversal, BKO_STAFF, "reversal-001", {"note": "found"})

        soap_45 = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 45}]}
        count = await copies("POST", f"{bko}/counts", BKO_STAFF, "count-start1", soap_45)
        count_path = f"{bko}/counts/{count.json()['count_id']}"
        soap_44 = {"lines": [{"item_code": "SOAP", "lot": "S-1", "counted": 44}]}
        await copies("PUT", count_path, BKO_STAFF, "count-lines1", soap_44)
        await copies("POST", f"{count_path}/submit", BKO_STAFF, "count-submit")
        minimum = {"minimum": 10}
        await copies("PUT", f"{bko}/stock/TARP/minimum", BKO_STAFF, "minimum-0001", minimum)

        expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        for line, quantity in (("P1:L1", 5), ("P1:L2", 3)):
            reservation = {
                "line_id": line,
                "plan_id": "P1",
                "item_code": "TARP",
                "quantity": quantity,
                "expires_at": expires,
            }
            await copies("POST", f"{bko}/reservations", COORDINATOR, f"reserve-{line}", reservation)
        issue = {"waybill_number": "WB-P1", "destination": "Sévaré"}
        await copies("POST", f"{bko}/reservations/P1:L1/dispatch", BKO_STAFF, "issue-P1-L1", issue)
        await copies("DELETE", f"{bko}/reservations/P1:L2", COORDINATOR, "release-P1-L2")

        timbuktu = {**SETUP[0][1], "code": "TMB-SUB"}
        await copies("POST", "/v1/warehouses", COORDINATOR, "wh-register-1", timbuktu)
        change = {"capacity_m3": 500}
        await copies("PATCH", "/v1/warehouses/TMB-SUB", COORDINATOR, "wh-change-01", change)
        blanket = {**SETUP[2][1], "code": "BLANKET"}
        await copies("POST", "/v1/items", ADMIN, "item-register", blanket)
        rename = {"name_fr": "Couverture"}
        await copies("PATCH", "/v1/items/BLANKET", ADMIN, "item-change-1", rename)

        bamako = await _balances(client, url, "BKO-MAIN")
        # 100 received, 5 lost and found again, 10 dispatched, 10 in 5 kits, 20 sent to Mopti,
        # 5 issued for P1:L1; P1:L2 released.
        assert (bamako["TARP"]["on_hand"], bamako["TARP"]["reserved"]) == (55, 0)
        assert (bamako["ROPE"]["on_hand"], bamako["KIT-SHELTER"]["on_hand"]) == (25, 5)
        assert (bamako["SOAP"]["on_hand"], bamako["TARP"]["minimum"]) == (44, 10)
        assert (await _balances(client, url, "MOP-SUB"))["TARP"]["on_hand"] == 20
        card = await eventually(
            lambda: client.get(f"{url}{bko}/stock/TARP/card", headers=ADMIN),
            lambda r: r.json()["total"] >= 7,
            what="the TARP movements on the stock card",
        )
        assert [row["kind"] for row in card.json()["rows"]] == [
            "receipt",
            "adjustment",
            "dispatch",
            "kit-assembly",
            "transfer-out",
            "reversal",
            "dispatch",
        ]
        warehouses = await client.get(f"{url}/v1/warehouses", headers=ADMIN)
        assert warehouses.json()["total"] == 3


async def test_concurrent_submits_of_one_count_apply_it_once(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    """A count is absolute: applied twice with a receipt in between, it would undo the receipt.
    Submits race receipts on two instances; one submit wins, the others are told it was."""
    instances = await _two_instances(infra, topics, processes)
    url = instances[0].url
    bko = "/v1/warehouses/BKO-MAIN"
    async with httpx.AsyncClient(timeout=60, headers=BKO_STAFF) as client:
        soap = {
            "grn_number": "GRN-0",
            "source": "ECHO",
            "lines": [{"item_code": "SOAP", "quantity": 50}],
        }
        assert (await client.post(f"{url}{bko}/receipts", json=soap)).status_code == 201
        count = await client.post(
            f"{url}{bko}/counts", json={"lines": [{"item_code": "SOAP", "counted": 40}]}
        )
        assert count.status_code == 201, count.text
        count_id = count.json()["count_id"]

        async def submit(i: int) -> httpx.Response:
            instance = instances[i % 2]
            return await client.post(f"{instance.url}{bko}/counts/{count_id}/submit")

        async def receive(i: int) -> httpx.Response:
            instance = instances[(i + 1) % 2]
            one = {
                **soap,
                "grn_number": f"GRN-R{i}",
                "lines": [{"item_code": "SOAP", "quantity": 1}],
            }
            return await client.post(f"{instance.url}{bko}/receipts", json=one)

        racing = [submit(i) if i % 2 else receive(i) for i in range(12)]
        responses = await asyncio.gather(*racing)
        submits = [r for i, r in enumerate(responses) if i % 2]
        receipts = [r for i, r in enumerate(responses) if not i % 2]
        assert all(r.status_code == 201 for r in receipts), [r.text for r in receipts]
        assert sorted(r.status_code for r in submits) == [200] + [409] * 5, [
            (r.status_code, r.text[:200]) for r in submits
        ]
        [won] = [r.json() for r in submits if r.status_code == 200]
        assert all(
            r.json()["movement_id"] == won["movement_id"] for r in submits if r.status_code == 409
        )
        stored = (await client.get(f"{url}{bko}/counts/{count_id}")).json()
        assert (stored["status"], stored["movement_id"]) == ("submitted", won["movement_id"])
        card = await eventually(
            lambda: client.get(f"{url}{bko}/stock/SOAP/card"),
            lambda r: r.json()["total"] >= 8,
            what="the receipts and the count on the stock card",
        )
        rows = card.json()["rows"]
        corrections = {row["movement_id"] for row in rows if row["reason"] == "count-correction"}
        assert corrections == {won["movement_id"]}
        assert (
            rows[-1]["on_hand_after"]
            == (await _balances(client, url, "BKO-MAIN"))["SOAP"]["on_hand"]
        )
