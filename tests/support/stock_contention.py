"""Receipts and dispatches on ONE warehouse and ONE item, spread over several stock replicas.

Shared by the race test (tests/e2e/test_stock_replica_contention.py) and the benchmark
(bench/stock_replicas.py). Request i is a receipt when i is even, a dispatch when odd, each with
its own Idempotency-Key and document number, sent to replica i mod n. The opening stock covers
every dispatch of the run, so in any order no dispatch can lack stock: every answer must be 201.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from kitflow_shared.settings import DEV_INTERNAL_SECRET
from kitflow_shared.web.identity import IDENTITY_HEADER, Role, issue_internal_token

from tests.support.services import identity, signed_by

ADMIN = identity("IOM", Role.ADMIN)
ITEM = "KIT-NFI"
RECEIPT_QUANTITY = 3
DISPATCH_QUANTITY = 5
KEY = "Idempotency-Key"


def opening_stock(requests: int) -> int:
    """Enough for every dispatch of a run of `requests`, whatever their order."""
    return (requests // 2) * DISPATCH_QUANTITY


@dataclass
class Sent:
    url: str
    path: str
    body: dict[str, Any]
    key: str
    kind: str
    quantity: int


@dataclass
class ContentionRun:
    statuses: Counter[int] = field(default_factory=Counter)
    # key -> the movement the 201 named
    movements: dict[str, str] = field(default_factory=dict)
    received: int = 0
    dispatched: int = 0
    elapsed_s: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)
    # Requests sent again (same key) after the connection broke before an answer came.
    resent: int = 0
    sent: dict[str, Sent] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float:
        return sum(self.statuses.values()) / self.elapsed_s if self.elapsed_s else 0.0


async def set_up_warehouse(url: str, code: str, opening: int) -> str:
    """Register the warehouse (and the item, once), receive `opening` units; the movement id."""
    async with httpx.AsyncClient(base_url=url, auth=signed_by(ADMIN), timeout=60) as client:
        warehouse = {
            "code": code,
            "name": code,
            "organisation": "IOM",
            "type": "sub-office",
            "admin1_pcode": "ML07",
            "admin2_pcode": "ML0701",
        }
        response = await client.post("/v1/warehouses", json=warehouse)
        assert response.status_code == 201, response.text
        item = {"code": ITEM, "name_en": "NFI kit", "name_fr": "Kit BNA"}
        response = await client.post("/v1/items", json={**item, "category": "nfi", "unit": "kit"})
        assert response.status_code in (201, 409), response.text
        receipt = {
            "grn_number": f"{code}-OPENING",
            "source": "UNHCR",
            "lines": [{"item_code": ITEM, "quantity": opening}],
        }
        response = await client.post(f"/v1/warehouses/{code}/receipts", json=receipt)
        assert response.status_code == 201, response.text
        movement: str = response.json()["movement_id"]
        return movement


def request(urls: Sequence[str], code: str, i: int) -> Sent:
    url = urls[i % len(urls)]
    if i % 2 == 0:
        body: dict[str, Any] = {
            "grn_number": f"GRN-{i:05d}",
            "source": "UNHCR",
            "lines": [{"item_code": ITEM, "quantity": RECEIPT_QUANTITY}],
        }
        return Sent(
            url,
            f"/v1/warehouses/{code}/receipts",
            body,
            f"{code}-r{i:05d}",
            "receipt",
            RECEIPT_QUANTITY,
        )
    body = {
        "waybill_number": f"WB-{i:05d}",
        "destination": "Ménaka",
        "lines": [{"item_code": ITEM, "quantity": DISPATCH_QUANTITY}],
    }
    return Sent(
        url,
        f"/v1/warehouses/{code}/dispatches",
        body,
        f"{code}-d{i:05d}",
        "dispatch",
        DISPATCH_QUANTITY,
    )


async def _post(client: httpx.AsyncClient, sent: Sent, run: ContentionRun) -> httpx.Response:
    """POST as a careful client does: a request whose connection broke before the answer came
    (on this loaded machine, a connection the server closed as idle just as the request went
    out) is sent again with its key, which makes a second copy harmless."""
    for _ in range(5):
        try:
            return await client.post(
                f"{sent.url}{sent.path}", json=sent.body, headers={KEY: sent.key}
            )
        except httpx.TransportError:
            run.resent += 1
    return await client.post(f"{sent.url}{sent.path}", json=sent.body, headers={KEY: sent.key})


def signed_now(request: httpx.Request) -> httpx.Request:
    """A token signed for this request: on a loaded machine a request may wait longer than
    half the 60 s token life that a reused one would have left."""
    request.headers[IDENTITY_HEADER] = issue_internal_token(ADMIN.caller, DEV_INTERNAL_SECRET)
    return request


async def contend(urls: Sequence[str], code: str, requests: int, in_flight: int) -> ContentionRun:
    """Send `requests` receipts and dispatches, `in_flight` at a time, over the replicas."""
    run = ContentionRun()
    gate = asyncio.Semaphore(in_flight)
    # Idle connections are given up before the services' 5 s keep-alive ends (serve.py), so a
    # request never goes out on a connection the server is closing.
    limits = httpx.Limits(max_connections=in_flight * 2, keepalive_expiry=2)
    async with httpx.AsyncClient(auth=signed_now, timeout=180, limits=limits) as client:

        async def send(i: int) -> None:
            sent = request(urls, code, i)
            run.sent[sent.key] = sent
            async with gate:
                response = await _post(client, sent, run)
            run.statuses[response.status_code] += 1
            if response.status_code != 201:
                run.failures.append((response.status_code, response.text[:300]))
                return
            run.movements[sent.key] = response.json()["movement_id"]
            if sent.kind == "receipt":
                run.received += sent.quantity
            else:
                run.dispatched += sent.quantity

        started = time.perf_counter()
        await asyncio.gather(*(send(i) for i in range(requests)))
        run.elapsed_s = time.perf_counter() - started
    return run
