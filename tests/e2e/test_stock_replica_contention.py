"""Two stock replicas, one busy warehouse: 400 keyed receipts and dispatches on one item, 32 in
flight, split over both. Each replica's group commit merges its own commands; across replicas
the conditional update misses and the loser must re-apply its batch. No caller may hear of that:
every request answers 201 (the opening stock covers every dispatch), once, and the stock card
holds exactly one movement per answer, never below zero."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess, service_process, signed_by
from tests.support.stock_contention import (
    ADMIN,
    ITEM,
    KEY,
    contend,
    opening_stock,
    set_up_warehouse,
)

pytestmark = pytest.mark.infra

REQUESTS = 400
IN_FLIGHT = 32
REPLICAS = 2
WAREHOUSE = "GAO-SUB"
REPLAYED = "idempotent-replayed"


async def test_two_replicas_on_one_warehouse_neither_lose_nor_refuse(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> None:
    replicas = [service_process("stock", infra, topics) for _ in range(REPLICAS)]
    processes.extend(replica.start() for replica in replicas)
    await asyncio.gather(*(replica.wait_ready() for replica in replicas))
    urls = [replica.url for replica in replicas]
    opening = opening_stock(REQUESTS)
    opening_movement = await set_up_warehouse(urls[0], WAREHOUSE, opening)

    run = await contend(urls, WAREHOUSE, REQUESTS, IN_FLIGHT)

    assert dict(run.statuses) == {201: REQUESTS}, (dict(run.statuses), run.failures[:5])
    assert len(set(run.movements.values())) == REQUESTS
    async with httpx.AsyncClient(auth=signed_by(ADMIN), timeout=60) as client:
        stock = await client.get(f"{urls[1]}/v1/warehouses/{WAREHOUSE}/stock")
        [balance] = stock.json()["items"]
        assert balance["on_hand"] == opening + run.received - run.dispatched

        card_path = f"/v1/warehouses/{WAREHOUSE}/stock/{ITEM}/card"
        card = await eventually(
            lambda: client.get(f"{urls[0]}{card_path}", params={"limit": 1000}),
            lambda r: r.json()["total"] >= REQUESTS + 1,
            what="every movement on the stock card",
        )
        rows = card.json()["rows"]
        movements = [row["movement_id"] for row in rows]
        assert sorted(movements) == sorted([opening_movement, *run.movements.values()])
        assert min(row["on_hand_after"] for row in rows) >= 0
        assert rows[-1]["on_hand_after"] == balance["on_hand"]

        # A careful client retrying (on the other replica) is told the first answer again.
        for key in list(run.movements)[:8]:
            sent = run.sent[key]
            other = urls[(urls.index(sent.url) + 1) % len(urls)]
            again = await client.post(f"{other}{sent.path}", json=sent.body, headers={KEY: key})
            assert again.status_code == 201, again.text
            assert again.headers.get(REPLAYED) == "true"
            assert again.json()["movement_id"] == run.movements[key]
