"""The planner solves off the event loop (issue #17): while a large plan solves, the service's
health endpoint answers and its consumer applies events. Seen from the outside: the pool's
gauge says a solve is running before and after each of those answers. And a full pool answers
503 problem+json with Retry-After instead of queueing without end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_shared.messaging.producer import EventProducer
from kitflow_stock.bootstrap import create_app as create_stock
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.saga import (
    COORDINATOR,
    count_in_distribution,
    publish_needs,
    stock_known_to_distribution,
    stock_with,
    validated_need,
)

pytestmark = pytest.mark.infra

# One warehouse per region of Mali, scarce stock of six items, needs spread over the regions:
# a plan that takes the solver seconds, not milliseconds.
WAREHOUSES = {f"WH-ML0{r}": (f"ML0{r}", f"ML0{r}01") for r in range(1, 10)}
ITEMS = ("KIT-NFI", "TARP", "BLANKET", "JERRYCAN", "MAT", "SOAP")
NEEDS = 2_000  # about 8,000 lines: under a plan's 10,000
DEADLINE_S = 120.0


@pytest.fixture
async def clients(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    # One solve at a time, none waiting: the second draft during a solve is refused.
    monkeypatch.setenv("KITFLOW_DISTRIBUTION_PLANNER_WORKERS", "1")
    monkeypatch.setenv("KITFLOW_DISTRIBUTION_PLANNER_QUEUE_LIMIT", "0")
    async with AsyncExitStack() as stack:
        _, stock = await stack.enter_async_context(
            running_app(create_stock, infra, topics, monkeypatch)
        )
        _, distribution = await stack.enter_async_context(
            running_app(create_distribution, infra, topics, monkeypatch)
        )
        yield stock, distribution


def _need(n: int) -> Any:
    region = 1 + n % 9
    wanted = {item: 5 + (n * (i + 3)) % 40 for i, item in enumerate(ITEMS) if (n + i) % 3}
    return validated_need(f"NEED-{n:05d}", f"ML0{region}", f"ML0{region}01", wanted)


async def _solving(distribution: httpx.AsyncClient) -> float:
    text = (await distribution.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kitflow_offload_admitted" and sample.labels["pool"] == "planner":
                return sample.value
    return 0.0


async def test_health_and_the_consumer_answer_while_a_large_plan_solves(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    producer: EventProducer,
    topics: str,
    store_client: AsyncMongoClient[Any],
) -> None:
    stock, distribution = clients
    await stock_with(stock, WAREHOUSES, ITEMS, 2_000)
    await publish_needs(producer, topics, [_need(n) for n in range(NEEDS)])
    await eventually(
        lambda: count_in_distribution(store_client, topics, "needs_view"),
        lambda n: n == NEEDS,
        timeout_s=DEADLINE_S,
        what="distribution's needs view",
    )
    await stock_known_to_distribution(
        store_client,
        topics,
        warehouses=len(WAREHOUSES),
        balances=len(WAREHOUSES) * len(ITEMS),
        timeout_s=DEADLINE_S,
    )
    draft = asyncio.create_task(
        distribution.post("/v1/plans", headers=COORDINATOR, json={"title": "Everything"})
    )
    while await _solving(distribution) == 0:
        assert not draft.done(), f"the draft ended before any answer saw it solve: {draft}"
        await asyncio.sleep(0.01)

    health = await distribution.get("/healthz")
    assert health.status_code == 200
    assert await _solving(distribution) == 1, "the health call completed before the solve did"

    # A second draft while the one worker solves and no queue is allowed: refused, not queued.
    busy = await distribution.post("/v1/plans", headers=COORDINATOR, json={"title": "Again"})
    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"] == "application/problem+json"
    assert int(busy.headers["Retry-After"]) > 0
    assert busy.json()["type"] == "/problems/busy"

    # The consumer applies an event meanwhile.
    await publish_needs(producer, topics, [_need(NEEDS)])
    await eventually(
        lambda: count_in_distribution(store_client, topics, "needs_view"),
        lambda n: n == NEEDS + 1,
        timeout_s=DEADLINE_S,
        what="the new need in the view during the solve",
    )
    assert await _solving(distribution) == 1, "the consumer applied it before the solve ended"

    answer = await draft
    assert answer.status_code == 201, answer.text
    assert answer.json()["lines"]
