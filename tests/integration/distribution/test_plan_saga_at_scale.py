"""Large plans through the real broker and store, every event far under the producer's 1 MiB
limit: 10,000 lines drafted by the planner, approved and reserved; 1,200 lines of one warehouse
reserved and dispatched in parts of 500, each part answered before its movements."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED, RESERVATIONS_ANSWERED
from kitflow_shared.events import CloudEvent
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import DISTRIBUTION_EVENTS, STOCK_EVENTS
from kitflow_stock.bootstrap import create_app as create_stock
from pymongo import AsyncMongoClient

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_all
from tests.support.saga import (
    ADMIN,
    COORDINATOR,
    count_in_distribution,
    ok,
    plan_of,
    plan_status,
    publish_needs,
    stock_known_to_distribution,
    stock_with,
    validated_need,
)

pytestmark = pytest.mark.infra

NEEDS = 5_000  # two items each: 10,000 plan lines
ITEMS = ("KIT-NFI", "TARP")
# Each region is served by its own warehouse, so every need-item is one plan line.
WAREHOUSES = {"MOP-SUB": ("ML05", "ML0501"), "BKO-MAIN": ("ML09", "ML0901")}
WELL_UNDER_THE_LIMIT = 256 * 1024


class System:
    def __init__(self, stock: httpx.AsyncClient, distribution: httpx.AsyncClient) -> None:
        self.stock, self.distribution = stock, distribution


@pytest.fixture
async def system(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[System]:
    async with AsyncExitStack() as stack:
        _, stock = await stack.enter_async_context(
            running_app(create_stock, infra, topics, monkeypatch)
        )
        _, distribution = await stack.enter_async_context(
            running_app(create_distribution, infra, topics, monkeypatch)
        )
        yield System(stock, distribution)


def _needs() -> list[Any]:
    regions = list(WAREHOUSES.values())
    return [
        validated_need(f"NEED-{n:05d}", *regions[n % 2], {"KIT-NFI": 10 + n % 7, "TARP": 5 + n % 3})
        for n in range(NEEDS)
    ]


async def test_a_plan_of_ten_thousand_lines_reaches_stock_in_events_well_under_the_limit(
    system: System,
    producer: EventProducer,
    infra: Infra,
    topics: str,
    store_client: AsyncMongoClient[Any],
) -> None:
    s = system
    await stock_with(s.stock, WAREHOUSES, ITEMS, 1_000_000)
    await publish_needs(producer, topics, _needs())
    await eventually(
        lambda: count_in_distribution(store_client, topics, "needs_view"),
        lambda n: n == NEEDS,
        timeout_s=120,
        what="distribution's needs view",
    )
    await stock_known_to_distribution(
        store_client, topics, warehouses=len(WAREHOUSES), balances=len(ITEMS) * len(WAREHOUSES)
    )

    started = time.monotonic()
    draft = await ok(
        await s.distribution.post(
            "/v1/plans",
            headers=COORDINATOR,
            json={
                "title": "All open needs",
                "allowed_warehouses": {a: [w] for w, (a, _) in WAREHOUSES.items()},
            },
        )
    )
    print(f"drafted {len(draft['lines'])} lines in {time.monotonic() - started:.1f} s")
    assert len(draft["lines"]) == 10_000
    wanted = {
        (code, item): sum(
            x["quantity"]
            for x in draft["lines"]
            if (x["warehouse"], x["item_code"]) == (code, item)
        )
        for code in WAREHOUSES
        for item in ITEMS
    }

    started = time.monotonic()
    await ok(
        await s.distribution.post(
            f"/v1/plans/{draft['plan_id']}/approve", headers=COORDINATOR, json={}
        ),
        200,
    )
    status = await eventually(
        lambda: plan_status(store_client, topics, draft["plan_id"]),
        lambda status: status != "reserving",
        timeout_s=240,
        what="stock answered all 10,000 lines",
    )
    print(f"reserved in {time.monotonic() - started:.1f} s")
    assert status == "reserved"
    reserved = await plan_of(s.distribution, draft["plan_id"])
    assert all(x["reserved"] == x["quantity"] for x in reserved["lines"])
    for code in WAREHOUSES:
        balances = await ok(await s.stock.get(f"/v1/warehouses/{code}/stock", headers=ADMIN), 200)
        assert {b["item_code"]: b["reserved"] for b in balances["items"]} == {
            item: wanted[(code, item)] for item in ITEMS
        }

    for topic in (DISTRIBUTION_EVENTS, STOCK_EVENTS):
        records = await read_all(infra.kafka_bootstrap, topic.qualified(topics))
        biggest = max(len(r.value) for r in records)
        print(f"{topic.name}: {len(records)} events, the biggest {biggest} bytes")
        assert biggest < WELL_UNDER_THE_LIMIT


async def test_a_plan_of_twelve_hundred_lines_in_one_warehouse_is_dispatched_in_parts(
    system: System,
    producer: EventProducer,
    infra: Infra,
    topics: str,
    store_client: AsyncMongoClient[Any],
) -> None:
    s = system
    one = {"MOP-SUB": WAREHOUSES["MOP-SUB"]}
    await stock_with(s.stock, one, ITEMS, 100_000)
    needs = [
        validated_need(f"NEED-{n:04d}", "ML05", "ML0501", {"KIT-NFI": 3, "TARP": 2})
        for n in range(600)
    ]
    await publish_needs(producer, topics, needs)
    # A backlog of 600 needs, each moving about ten documents (view, gap document, cells): at
    # the 15-20 needs/s a busy CI machine gives, more than the default 30 s.
    await eventually(
        lambda: count_in_distribution(store_client, topics, "needs_view"),
        lambda n: n == len(needs),
        timeout_s=120,
        what="distribution's needs view",
    )
    await stock_known_to_distribution(store_client, topics, warehouses=1, balances=len(ITEMS))
    draft = await ok(
        await s.distribution.post("/v1/plans", headers=COORDINATOR, json={"title": "Mopti"})
    )
    plan_id = draft["plan_id"]
    assert len(draft["lines"]) == 1_200
    await ok(
        await s.distribution.post(f"/v1/plans/{plan_id}/approve", headers=COORDINATOR, json={}),
        200,
    )
    await eventually(
        lambda: plan_status(store_client, topics, plan_id),
        lambda status: status == "reserved",
        timeout_s=120,
        what="reserved",
    )
    await ok(
        await s.distribution.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=COORDINATOR,
            json={"waybill_number": "WB-MOP-1", "destination": "Mopti sites"},
        ),
        200,
    )
    await eventually(
        lambda: plan_status(store_client, topics, plan_id),
        lambda status: status == "dispatched",
        timeout_s=180,
        what="dispatched",
    )
    plan = await plan_of(s.distribution, plan_id)
    assert all(x["dispatched"] == x["quantity"] for x in plan["lines"])
    balances = await ok(await s.stock.get("/v1/warehouses/MOP-SUB/stock", headers=ADMIN), 200)
    assert {b["item_code"]: (b["on_hand"], b["reserved"]) for b in balances["items"]} == {
        "KIT-NFI": (100_000 - 1_800, 0),
        "TARP": (100_000 - 1_200, 0),
    }

    records = await read_all(infra.kafka_bootstrap, STOCK_EVENTS.qualified(topics))
    assert max(len(r.value) for r in records) < WELL_UNDER_THE_LIMIT
    # The warehouse's stock is one aggregate: its events on one partition, in order.
    events = [
        e for e in (CloudEvent.from_bytes(r.value) for r in records) if e.subject == "stock/MOP-SUB"
    ]
    answers = [
        (n, RESERVATIONS_ANSWERED.parse(e))
        for n, e in enumerate(events)
        if e.type == RESERVATIONS_ANSWERED.type
    ]
    assert [len(a.answers) for _, a in answers] == [500, 500, 200, 500, 500, 200]
    for n, answer in answers[3:]:
        issued = {a.line_id for a in answer.answers}
        assert {a.status for a in answer.answers} == {"dispatched"}
        movements = [
            MOVEMENT_RECORDED.parse(e).movement for e in events[n + 1 : n + 1 + len(issued)]
        ]
        assert {m.plan_line_id for m in movements} == issued, "the answer, then its movements"


async def test_a_plan_larger_than_a_plan_may_hold_is_refused_with_the_limit(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    producer: EventProducer,
    store_client: AsyncMongoClient[Any],
) -> None:
    async with (
        running_app(create_stock, infra, topics, monkeypatch) as (_, stock),
        running_app(
            create_distribution,
            infra,
            topics,
            monkeypatch,
            KITFLOW_DISTRIBUTION_MAX_PLAN_LINES="3",
        ) as (_, distribution),
    ):
        await stock_with(stock, {"MOP-SUB": WAREHOUSES["MOP-SUB"]}, ITEMS, 1_000)
        needs = [
            validated_need(f"NEED-{n}", "ML05", "ML0501", {"KIT-NFI": 5, "TARP": 5})
            for n in range(2)
        ]
        await publish_needs(producer, topics, needs)
        await eventually(
            lambda: count_in_distribution(store_client, topics, "needs_view"),
            lambda n: n == 2,
            what="the needs in distribution's view",
        )
        await stock_known_to_distribution(store_client, topics, warehouses=1, balances=2)
        refused = await distribution.post("/v1/plans", headers=COORDINATOR, json={"title": "x"})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "body.need_ids"
        assert "would have 4 lines, more than the 3 a plan may hold" in error["reason"]
        assert await count_in_distribution(store_client, topics, "plans") == 0
        smaller = await distribution.post(
            "/v1/plans", headers=COORDINATOR, json={"title": "x", "item_codes": ["TARP"]}
        )
        assert smaller.status_code == 201, smaller.text
