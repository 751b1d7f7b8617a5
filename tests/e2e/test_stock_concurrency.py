"""Two stock service instances, 200 concurrent reservations, 100 units: exactly 100 granted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kitflow_shared.contracts.stock import RESERVATION_CONFIRMED, RESERVATION_REJECTED
from kitflow_shared.events import CloudEvent
from kitflow_shared.topics import STOCK_EVENTS
from kitflow_shared.web.identity import Role

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.services import ServiceProcess, identity, service_process

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
    async with httpx.AsyncClient(base_url=first.url, headers=ADMIN, timeout=30) as client:
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
    async with httpx.AsyncClient(headers=COORDINATOR, timeout=60, limits=limits) as client:

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
