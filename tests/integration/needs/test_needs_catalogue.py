"""Needs' read model of stock's catalogue through the real broker and store: an item an admin
registers in the real stock service becomes acceptable in a need, stock's other events on its
topic are skipped, and redelivered, stale and broken item events change nothing."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from kitflow_needs.adapters.mongo_catalogue import COLLECTION, MongoCatalogueRepository
from kitflow_needs.bootstrap import create_app as create_needs
from kitflow_needs.domain.catalogue import CatalogueItem, ItemKind
from kitflow_shared.contracts.catalogue import (
    ITEM_REGISTERED,
    ITEM_UPDATED,
    ItemCategory,
    ItemState,
    item_subject,
)
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import dead_letter_headers
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.metrics import EVENTS_CONSUMED
from kitflow_shared.topics import NEEDS_GROUP, STOCK_EVENTS
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

ADMIN = identity("IOM", Role.ADMIN)
NRC = identity("NRC", Role.PARTNER)
TENT = {
    "code": "TENT-FAMILY",
    "name_en": "Family tent, 16 m2",
    "name_fr": "Tente familiale, 16 m2",
    "category": "shelter",
    "unit": "piece",
}
Document = dict[str, Any]


def need_asking_for(code: str) -> dict[str, Any]:
    return {**copy.deepcopy(CREATE_BODY), "items": [{"item_code": code, "quantity": 120}]}


async def _async(value: float) -> float:
    return value


def consumed(topics: str, outcome: str) -> float:
    """How many events of stock's topic the needs group counted with this outcome."""
    labels = (NEEDS_GROUP.qualified(topics), STOCK_EVENTS.qualified(topics), outcome)
    return EVENTS_CONSUMED.labels(*labels)._value.get()  # type: ignore[no-any-return]


@dataclass
class System:
    stock: httpx.AsyncClient
    needs: httpx.AsyncClient
    view: AsyncCollection[Document]  # needs' read model of the catalogue


@pytest.fixture
async def system(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[Document],
) -> AsyncIterator[System]:
    async with AsyncExitStack() as stack:
        _, stock = await stack.enter_async_context(
            running_app(create_stock, infra, topics, monkeypatch)
        )
        _, needs = await stack.enter_async_context(
            running_app(create_needs, infra, topics, monkeypatch)
        )
        yield System(stock, needs, store_client[f"{topics}_kitflow_needs"][COLLECTION])


async def test_an_item_registered_in_stock_becomes_acceptable_in_a_need(
    system: System, topics: str
) -> None:
    before = await system.needs.post("/v1/needs", json=need_asking_for("TENT-FAMILY"), headers=NRC)
    assert before.status_code == 422, before.text
    assert before.headers["content-type"] == "application/problem+json"
    [error] = before.json()["errors"]
    assert error["field"] == "body.items.0.item_code"
    assert "unknown item or kit code 'TENT-FAMILY'" in error["reason"]

    # A warehouse first: its event shares stock's topic and is none of needs' business.
    warehouse = {
        "code": "MOP-SUB",
        "name": "Mopti",
        "organisation": "IOM",
        "type": "sub-office",
        "admin1_pcode": "ML05",
        "admin2_pcode": "ML0501",
    }
    assert (await system.stock.post("/v1/warehouses", json=warehouse, headers=ADMIN)).is_success
    registered = await system.stock.post("/v1/items", json=TENT, headers=ADMIN)
    assert registered.status_code == 201, registered.text

    await eventually(
        lambda: system.view.find_one({"_id": "TENT-FAMILY"}),
        lambda doc: doc is not None,
        what="the item in needs' read model",
    )
    created = await system.needs.post("/v1/needs", json=need_asking_for("TENT-FAMILY"), headers=NRC)
    assert created.status_code == 201, created.text
    [line] = created.json()["items"]
    assert (line["item_code"], line["name"], line["requested"]) == (
        "TENT-FAMILY",
        "Family tent, 16 m2",
        120,
    )
    unknown = await system.needs.post("/v1/needs", json=need_asking_for("TENT-NOPE"), headers=NRC)
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["body.items.0.item_code"]

    # Stock's change follows: the read model keeps the newer version.
    changed = await system.stock.patch(
        "/v1/items/TENT-FAMILY", json={"name_en": "Family tent, 18 m2"}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    doc = await eventually(
        lambda: system.view.find_one({"_id": "TENT-FAMILY"}),
        lambda d: d is not None and d["sequence"] == 2,
        what="the changed item in needs' read model",
    )
    assert (doc["name"], doc["kind"], doc["unit"]) == ("Family tent, 18 m2", "item", "piece")
    listed = await system.needs.get("/v1/reference/items", headers=NRC)
    assert {
        "code": "TENT-FAMILY",
        "name": "Family tent, 18 m2",
        "unit": "piece",
        "kind": "item",
    } in (listed.json())
    await eventually(
        lambda: _async(consumed(topics, "ignored")),
        lambda n: n >= 1,
        what="the warehouse event skipped by needs' consumer",
    )


def tent_event(sequence: int, name: str) -> CloudEvent:
    spec = ITEM_REGISTERED if sequence == 1 else ITEM_UPDATED
    state = ItemState(
        code="TENT-FAMILY",
        name_en=name,
        name_fr=name,
        category=ItemCategory.SHELTER,
        unit="piece",
    )
    return spec.new(
        state, subject=item_subject("TENT-FAMILY"), sequence=sequence, context=EventContext.new()
    )


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[Document],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


async def test_redelivered_and_stale_item_events_change_nothing_and_a_broken_one_is_parked(
    needs: NeedsApp,
    infra: Infra,
    topics: str,
    producer: EventProducer,
    store_client: AsyncMongoClient[Document],
) -> None:
    view = store_client[f"{topics}_kitflow_needs"][COLLECTION]
    topic = STOCK_EVENTS.qualified(topics)
    first, second = tent_event(1, "Tent v1"), tent_event(2, "Tent v2")
    key = item_subject("TENT-FAMILY").encode()
    poison = second.model_copy(update={"id": "poison-1", "data": {"code": "TENT-FAMILY"}})
    # One key, one partition: consumed in this order.
    for event in (second, first, second):
        await producer.publish(topic, [event])
    await producer.publish_raw(topic, poison.to_bytes(), key, [])
    await eventually(
        lambda: _async(consumed(topics, "duplicate")),
        lambda n: n >= 2,
        what="the stale and the redelivered event counted as duplicates",
    )
    doc = await view.find_one({"_id": "TENT-FAMILY"})
    assert doc is not None
    assert (doc["name"], doc["sequence"]) == ("Tent v2", 2)
    parked = await read_topic(
        infra.kafka_bootstrap, NEEDS_GROUP.dead_letter.qualified(topics), expect=1
    )
    assert [dead_letter_headers(r.headers)["kitflow-dlq-reason"] for r in parked] == [
        "payload breaks its contract"
    ]
    # The consumer's process learned it too: a need may ask for it without another read.
    assert "TENT-FAMILY" in needs.services.catalogue.current()


async def test_the_read_models_guard_in_the_real_store(db: AsyncDatabase[Document]) -> None:
    repo = MongoCatalogueRepository(db[COLLECTION])

    def tent(sequence: int, kind: ItemKind = ItemKind.ITEM) -> CatalogueItem:
        return CatalogueItem("TENT-FAMILY", f"Tent v{sequence}", "piece", kind, sequence)

    assert await repo.apply(tent(1))
    assert not await repo.apply(tent(1))
    assert await repo.apply(tent(3, ItemKind.KIT))
    assert not await repo.apply(tent(2))
    assert await repo.all() == [tent(3, ItemKind.KIT)]
