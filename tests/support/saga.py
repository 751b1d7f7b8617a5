"""Helpers for the plan saga's tests: stock set up through its API, needs published as the needs
service would publish them (the needs service itself is not needed), plans read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import httpx
from kitflow_shared.contracts.needs import (
    NEED_VALIDATED,
    AssessmentSource,
    DisplacementStatus,
    NeedItemState,
    NeedPopulation,
    NeedState,
    NeedStatus,
    need_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import NEEDS_EVENTS
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.kafka import eventually
from tests.support.services import identity

ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)


async def ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def stock_with(
    stock: httpx.AsyncClient,
    warehouses: Mapping[str, tuple[str, str]],
    items: Sequence[str],
    quantity: int,
) -> None:
    """Warehouses (code -> admin1, admin2 P-codes), items, and `quantity` of each item in each."""
    for code, (admin1, admin2) in warehouses.items():
        body = {
            "code": code,
            "name": code,
            "organisation": "IOM",
            "type": "main",
            "admin1_pcode": admin1,
            "admin2_pcode": admin2,
        }
        await ok(await stock.post("/v1/warehouses", json=body, headers=ADMIN))
    for item in items:
        body = {"code": item, "name_en": item, "name_fr": item, "category": "nfi", "unit": "piece"}
        await ok(await stock.post("/v1/items", json=body, headers=ADMIN))
    for code in warehouses:
        receipt = {
            "grn_number": f"GRN-{code}",
            "source": "ECHO",
            "lines": [{"item_code": item, "quantity": quantity} for item in items],
        }
        await ok(await stock.post(f"/v1/warehouses/{code}/receipts", json=receipt, headers=ADMIN))


def validated_need(
    need_id: str, admin1: str, admin2: str, quantities: Mapping[str, int], partner: str = "NRC"
) -> NeedState:
    return NeedState(
        need_id=need_id,
        organisation=partner,
        status=NeedStatus.VALIDATED,
        admin1_pcode=admin1,
        admin2_pcode=admin2,
        gazetteer_vintage="2026",
        site_name=f"Site of {need_id}",
        population=NeedPopulation(households=20, individuals=100),
        displacement_status=DisplacementStatus.IDP,
        severity=3,
        assessment_date=date(2026, 11, 20),
        assessment_source=AssessmentSource.PARTNER_ASSESSMENT,
        period_start=date(2026, 12, 1),
        period_end=date(2027, 2, 28),
        items=[
            NeedItemState(
                item_code=item,
                requested=qty,
                planned=0,
                reserved=0,
                dispatched=0,
                delivered=0,
                remaining=qty,
            )
            for item, qty in quantities.items()
        ],
    )


async def publish_needs(
    producer: EventProducer, namespace: str, needs: Sequence[NeedState]
) -> None:
    """The needs service's events for these needs, as it would publish them."""
    context = EventContext.new()
    events = [
        NEED_VALIDATED.new(need, subject=need_subject(need.need_id), sequence=2, context=context)
        for need in needs
    ]
    for start in range(0, len(events), 500):
        await producer.publish(NEEDS_EVENTS.qualified(namespace), events[start : start + 500])


async def count_in_distribution(
    store: AsyncMongoClient[Any], namespace: str, collection: str, **query: Any
) -> int:
    database = store[f"{namespace}_kitflow_distribution"]
    return await database[collection].count_documents(query)


async def stock_known_to_distribution(
    store: AsyncMongoClient[Any],
    namespace: str,
    *,
    warehouses: int,
    balances: int,
    timeout_s: float = 30.0,
) -> None:
    """Until distribution's views hold the warehouses and their balances: the planner plans only
    from warehouses it knows, and a warehouse's registration and its receipts leave stock from
    different documents' outboxes, so the stock view can be complete before the warehouse view
    (a draft made in between has no line from that warehouse)."""
    await eventually(
        lambda: count_in_distribution(store, namespace, "warehouse_view"),
        lambda n: n == warehouses,
        timeout_s=timeout_s,
        what="distribution's warehouse view",
    )
    await eventually(
        lambda: count_in_distribution(store, namespace, "stock_view"),
        lambda n: n == balances,
        timeout_s=timeout_s,
        what="distribution's stock view",
    )


async def plan_of(distribution: httpx.AsyncClient, plan_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await ok(
        await distribution.get(f"/v1/plans/{plan_id}", headers=COORDINATOR), 200
    )
    return body


async def plan_status(store: AsyncMongoClient[Any], namespace: str, plan_id: str) -> str | None:
    """A plan's status read straight from distribution's store: polling the API for a plan of
    thousands of lines would cost more than the work it waits for."""
    plans = store[f"{namespace}_kitflow_distribution"]["plans"]
    doc = await plans.find_one({"_id": plan_id}, {"status": 1})
    return None if doc is None else str(doc["status"])
