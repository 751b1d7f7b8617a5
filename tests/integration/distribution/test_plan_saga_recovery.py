"""Every step of the plan saga ends in an answer, through the real broker and store: a lost
answer is asked for again and answered, a dispatch order for a reservation that is gone is
answered, and a coordinator can always end a plan with a reason."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kitflow_distribution import bootstrap as distribution_bootstrap
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.messaging.producer import EventProducer
from kitflow_stock.bootstrap import create_app as create_stock
from pymongo import AsyncMongoClient

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.saga import (
    ADMIN,
    COORDINATOR,
    count_in_distribution,
    ok,
    plan_of,
    publish_needs,
    stock_known_to_distribution,
    stock_with,
    validated_need,
)

pytestmark = pytest.mark.infra

WAREHOUSE = {"GAO-SUB": ("ML07", "ML0701")}
App = Callable[..., AbstractAsyncContextManager[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def app(infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch) -> App:
    def start(create: Callable[[], FastAPI], **env: str) -> Any:
        return running_app(create, infra, topics, monkeypatch, **env)

    return start


async def _one_line_plan(
    distribution: httpx.AsyncClient,
    producer: EventProducer,
    topics: str,
    store: AsyncMongoClient[Any],
    need_id: str = "NEED-1",
) -> str:
    await publish_needs(
        producer, topics, [validated_need(need_id, "ML07", "ML0701", {"KIT-NFI": 30})]
    )
    await eventually(
        lambda: count_in_distribution(store, topics, "needs_view", _id=need_id),
        lambda n: n == 1,
        what="the need in distribution's view",
    )
    await stock_known_to_distribution(store, topics, warehouses=1, balances=1)
    draft = await ok(
        await distribution.post(
            "/v1/plans", headers=COORDINATOR, json={"title": "Gao", "need_ids": [need_id]}
        )
    )
    assert [x["quantity"] for x in draft["lines"]] == [30]
    return str(draft["plan_id"])


async def _approve(distribution: httpx.AsyncClient, plan_id: str) -> None:
    await ok(
        await distribution.post(f"/v1/plans/{plan_id}/approve", headers=COORDINATOR, json={}), 200
    )


def _dropping_the_first_reservation_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> list[str]:
    """Distribution's consumer map with stock's first reservation answer lost on the way (as
    when it was parked on the dead-letter topic): the plan must recover by asking again."""
    dropped: list[str] = []
    original = distribution_bootstrap.subscriptions

    def subscriptions(*args: Any) -> dict[str, Handler]:
        handlers = original(*args)

        def losing(handler: Handler) -> Handler:
            async def handle(event: CloudEvent) -> Applied | None:
                if not dropped and "reservation" in event.type:
                    dropped.append(event.type)
                    return Applied.DUPLICATE
                return await handler(event)

            return handle

        return {event_type: losing(h) for event_type, h in handlers.items()}

    monkeypatch.setattr(distribution_bootstrap, "subscriptions", subscriptions)
    return dropped


async def test_a_lost_reservation_answer_is_asked_for_again_and_answered(
    app: App,
    producer: EventProducer,
    topics: str,
    store_client: AsyncMongoClient[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dropped = _dropping_the_first_reservation_answer(monkeypatch)
    async with (
        app(create_stock) as (_, stock),
        app(
            create_distribution,
            KITFLOW_DISTRIBUTION_RESERVATION_ANSWER_TIMEOUT="PT1S",
            KITFLOW_DISTRIBUTION_TIMEOUT_CHECK_INTERVAL_S="0.2",
        ) as (_, distribution),
    ):
        await stock_with(stock, WAREHOUSE, ["KIT-NFI"], 100)
        plan_id = await _one_line_plan(distribution, producer, topics, store_client)
        await _approve(distribution, plan_id)
        plan = await eventually(
            lambda: plan_of(distribution, plan_id),
            lambda p: p["status"] != "reserving",
            what="the plan answered after the re-ask",
        )
        assert dropped, "the first answer was lost"
        assert plan["status"] == "reserved"
        assert plan["lines"][0]["reserved"] == 30
        stock_after = await ok(await stock.get("/v1/warehouses/GAO-SUB/stock", headers=ADMIN), 200)
        assert stock_after["items"][0]["reserved"] == 30, "reserved once, answered twice"


async def test_a_dispatch_order_for_a_released_reservation_is_answered_and_the_plan_ends(
    app: App, producer: EventProducer, topics: str, store_client: AsyncMongoClient[Any]
) -> None:
    async with app(create_stock) as (_, stock):
        await stock_with(stock, WAREHOUSE, ["KIT-NFI"], 100)
        async with app(create_distribution) as (_, distribution):
            plan_id = await _one_line_plan(distribution, producer, topics, store_client)
            await _approve(distribution, plan_id)
            plan = await eventually(
                lambda: plan_of(distribution, plan_id),
                lambda p: p["status"] == "reserved",
                what="reserved",
            )
        line_id = plan["lines"][0]["line_id"]
        # Distribution is away: the reservation is released at the warehouse meanwhile, and
        # the coordinator orders the dispatch before distribution has heard of it.
        released = await stock.delete(
            f"/v1/warehouses/GAO-SUB/reservations/{line_id}", headers=COORDINATOR
        )
        assert released.status_code == 204, released.text
        async with app(create_distribution, KITFLOW_DISTRIBUTION_RUN_WORKERS="false") as (
            _,
            distribution,
        ):
            ordered = await ok(
                await distribution.post(
                    f"/v1/plans/{plan_id}/dispatch",
                    headers=COORDINATOR,
                    json={"waybill_number": "WB-GAO-1", "destination": "Gao sites"},
                ),
                200,
            )
            assert ordered["status"] == "dispatching"
        async with app(create_distribution, KITFLOW_DISTRIBUTION_RUN_WORKERS="true") as (
            _,
            distribution,
        ):
            plan = await eventually(
                lambda: plan_of(distribution, plan_id),
                lambda p: p["status"] != "dispatching",
                what="the plan hears that nothing could be dispatched",
            )
            assert plan["status"] == "partly-reserved"
            [line] = plan["lines"]
            assert (line["reservation"], line["reserved"], line["dispatched"]) == (
                "released",
                0,
                0,
            )
            assert line["shortfall_reason"]
            cancelled = await ok(
                await distribution.post(
                    f"/v1/plans/{plan_id}/cancel",
                    headers=COORDINATOR,
                    json={"reason": "reservation released at the warehouse"},
                ),
                200,
            )
            assert (cancelled["status"], cancelled["reason"]) == (
                "cancelled",
                "reservation released at the warehouse",
            )
        stock_after = await ok(await stock.get("/v1/warehouses/GAO-SUB/stock", headers=ADMIN), 200)
        assert (stock_after["items"][0]["on_hand"], stock_after["items"][0]["reserved"]) == (100, 0)


async def test_a_plan_waiting_for_stock_can_be_closed_or_cancelled_with_a_reason(
    app: App, producer: EventProducer, topics: str, store_client: AsyncMongoClient[Any]
) -> None:
    async with app(create_stock) as (_, stock):
        await stock_with(stock, WAREHOUSE, ["KIT-NFI"], 100)
        async with app(create_distribution) as (_, distribution):
            plans = []
            for need_id in ("NEED-1", "NEED-2"):
                plan_id = await _one_line_plan(
                    distribution, producer, topics, store_client, need_id
                )
                await _approve(distribution, plan_id)
                await eventually(
                    lambda: plan_of(distribution, plan_id),  # noqa: B023
                    lambda p: p["status"] == "reserved",
                    what="reserved",
                )
                plans.append(plan_id)
    # Stock is away: the dispatch orders wait for an answer.
    async with app(create_distribution) as (_, distribution):
        for plan_id in plans:
            await ok(
                await distribution.post(
                    f"/v1/plans/{plan_id}/dispatch",
                    headers=COORDINATOR,
                    json={"waybill_number": f"WB-{plan_id}", "destination": "Gao sites"},
                ),
                200,
            )
        without_reason = await distribution.post(
            f"/v1/plans/{plans[0]}/close", headers=COORDINATOR, json={}
        )
        assert without_reason.status_code == 422, without_reason.text
        assert without_reason.json()["errors"][0]["field"] == "body.reason"
        closed = await ok(
            await distribution.post(
                f"/v1/plans/{plans[0]}/close",
                headers=COORDINATOR,
                json={"reason": "trucks turned back at Ansongo"},
            ),
            200,
        )
        assert (closed["status"], closed["reason"]) == ("closed", "trucks turned back at Ansongo")
        cancelled = await ok(
            await distribution.post(
                f"/v1/plans/{plans[1]}/cancel",
                headers=COORDINATOR,
                json={"reason": "site relocated"},
            ),
            200,
        )
        assert cancelled["status"] == "cancelled"
