"""Idempotency-Key at the distribution service (ADR 0011, issue #12 item 6), straight to the
services with the header the gateway forwards (the gateway releases its own claim after a
timeout, so a client's retry reaches the service): stock, needs and distribution side by side,
through the real broker and store.

A retried command answers as the first time, marked `Idempotent-Replayed: true`, and changes
nothing, whatever happened to the plan in between; ten concurrent copies make one effect and
one published change; the same key for another request is refused; keys belong to an
organisation. The issue's own case first: a repeated delivery must not count households twice,
on the plan, on the need (through the needs service) or in the 5W."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_needs.bootstrap import create_app as create_needs
from kitflow_shared.contracts.distribution import (
    NEED_COVERAGE_CHANGED,
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
    PLAN_UPDATED,
    need_coverage_subject,
    plan_subject,
)
from kitflow_shared.events import CloudEvent
from kitflow_shared.topics import DISTRIBUTION_EVENTS, ensure_topics
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock
from pymongo import AsyncMongoClient

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually, read_all
from tests.support.services import FreshIdentity, identity

pytestmark = pytest.mark.infra

ADMIN = identity("IOM", Role.ADMIN)
COORDINATOR = identity("IOM", Role.COORDINATOR)
NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
COPIES = 10
ITEMS = ("BLANKET", "TARPAULIN")


@dataclass
class System:
    stock: httpx.AsyncClient
    needs: httpx.AsyncClient
    distribution: httpx.AsyncClient
    namespace: str
    kafka: str
    store: AsyncMongoClient[dict[str, Any]]

    @property
    def plans(self) -> Any:
        return self.store[f"{self.namespace}_kitflow_distribution"]["plans"]

    @property
    def coverage(self) -> Any:
        return self.store[f"{self.namespace}_kitflow_distribution"]["need_coverage"]


@pytest.fixture(scope="module")
async def system(
    infra: Infra, store_client: AsyncMongoClient[dict[str, Any]]
) -> AsyncIterator[System]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    await ensure_topics(infra.kafka_bootstrap, namespace)
    with pytest.MonkeyPatch.context() as mp:
        async with (
            running_app(create_stock, infra, namespace, mp) as (_, stock),
            running_app(create_needs, infra, namespace, mp) as (_, needs),
            running_app(create_distribution, infra, namespace, mp) as (_, distribution),
        ):
            warehouse = {
                "code": "BKO-MAIN",
                "name": "Bamako",
                "organisation": "IOM",
                "type": "main",
                "admin1_pcode": "ML09",
                "admin2_pcode": "ML0901",
            }
            await ok(await stock.post("/v1/warehouses", json=warehouse, headers=ADMIN), 201)
            for code in ITEMS:
                item = {"code": code, "name_en": code, "name_fr": code, "category": "nfi"}
                await ok(
                    await stock.post("/v1/items", json={**item, "unit": "piece"}, headers=ADMIN),
                    201,
                )
            yield System(stock, needs, distribution, namespace, infra.kafka_bootstrap, store_client)
    for name in await store_client.list_database_names():
        if name.startswith(f"{namespace}_"):
            await store_client.drop_database(name)


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def keyed(headers: FreshIdentity, key: str) -> FreshIdentity:
    return headers | {KEY: key}


# ---- a plan up to the step a test needs ----------------------------------------------------


async def validated_need(s: System, partner: FreshIdentity, households: int, qty: int) -> str:
    body = {
        "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": "Sévaré"},
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": 4,
        "items": [{"item_code": code, "quantity": qty} for code in ITEMS],
    }
    need = await ok(await s.needs.post("/v1/needs", json=body, headers=partner), 201)
    need_id = str(need["id"])
    await ok(await s.needs.post(f"/v1/needs/{need_id}/validate", headers=COORDINATOR))
    await eventually(
        lambda: s.distribution.get("/v1/views/needs", headers=COORDINATOR),
        lambda r: any(n["need_id"] == need_id and n["status"] == "validated" for n in r.json()),
        what=f"need {need_id} in distribution's view",
    )
    return need_id


async def receive(s: System, qty: int) -> None:
    """`qty` of every item into BKO-MAIN, and distribution's stock view has it."""
    before = await stock_view(s)
    receipt = {
        "grn_number": f"GRN-{uuid.uuid4().hex[:8]}",
        "source": "ECHO",
        "lines": [{"item_code": code, "quantity": qty} for code in ITEMS],
    }
    await ok(
        await s.stock.post("/v1/warehouses/BKO-MAIN/receipts", json=receipt, headers=ADMIN), 201
    )
    await eventually(
        lambda: stock_view(s),
        lambda now: all(now.get(c, 0) >= before.get(c, 0) + qty for c in ITEMS),
        what="the receipt in distribution's stock view",
    )


async def stock_view(s: System) -> dict[str, int]:
    view = await ok(await s.distribution.get("/v1/views/stock", headers=COORDINATOR))
    return {x["balance"]["item_code"]: x["balance"]["on_hand"] for x in view}


async def plan(s: System, plan_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await ok(
        await s.distribution.get(f"/v1/plans/{plan_id}", headers=COORDINATOR)
    )
    return body


async def draft(s: System, need_ids: list[str]) -> dict[str, Any]:
    body = {"title": f"Round {uuid.uuid4().hex[:6]}", "need_ids": need_ids}
    drafted: dict[str, Any] = await ok(
        await s.distribution.post("/v1/plans", json=body, headers=COORDINATOR), 201
    )
    return drafted


async def reserved(s: System, need_ids: list[str]) -> dict[str, Any]:
    plan_id = (await draft(s, need_ids))["plan_id"]
    await ok(
        await s.distribution.post(f"/v1/plans/{plan_id}/approve", json={}, headers=COORDINATOR)
    )
    held = await eventually(
        lambda: plan(s, plan_id),
        lambda p: p["status"] in ("reserved", "partly-reserved"),
        what="stock answered every line",
    )
    assert held["status"] == "reserved", held
    return held


async def dispatched(s: System, need_ids: list[str]) -> dict[str, Any]:
    plan_id = (await reserved(s, need_ids))["plan_id"]
    order = {"waybill_number": f"WB-{plan_id}", "destination": "Sévaré"}
    await ok(
        await s.distribution.post(f"/v1/plans/{plan_id}/dispatch", json=order, headers=COORDINATOR)
    )
    return await eventually(
        lambda: plan(s, plan_id),
        lambda p: p["status"] == "dispatched",
        what="stock issued every line",
    )


def delivery(need_id: str, lines: list[dict[str, Any]], households: int, qty: int) -> Any:
    return {
        "deliveries": [
            {
                "need_id": need_id,
                "lines": [{"line_id": x["line_id"], "quantity": qty} for x in lines],
                "households": households,
                "individuals": households * 5,
            }
        ]
    }


# ---- what was published, and what the needs service and the 5W show ------------------------


async def published(s: System) -> list[CloudEvent]:
    """Every event distribution published, once every plan's and coverage's outbox is out: read
    up to the end offsets, so that a doubled event is seen, not raced."""
    for collection in (s.plans, s.coverage):
        await eventually(
            partial(collection.count_documents, {"outbox.0": {"$exists": True}}),
            lambda n: n == 0,
            what="every outbox published",
        )
    records = await read_all(s.kafka, DISTRIBUTION_EVENTS.qualified(s.namespace))
    return [CloudEvent.from_bytes(r.value) for r in records]


def plan_changes_after(events: list[CloudEvent], plan_id: str, version: int) -> list[CloudEvent]:
    return [
        e
        for e in events
        if e.type == PLAN_UPDATED.type
        and e.subject == plan_subject(plan_id)
        and e.sequence > version
    ]


def reach_published(events: list[CloudEvent], need_id: str) -> list[int]:
    """The households reached each coverage change of the need carried, once any were."""
    return [
        e.data["households_reached"]
        for e in events
        if e.type == NEED_COVERAGE_CHANGED.type
        and e.subject == need_coverage_subject(need_id)
        and e.data["households_reached"]
    ]


async def need_reached(s: System, partner: FreshIdentity, need_id: str, households: int) -> Any:
    """The need as the needs service shows it once the delivery reached it."""
    response = await eventually(
        lambda: s.needs.get(f"/v1/needs/{need_id}", headers=partner),
        lambda r: r.json()["households_reached"] >= households,
        what="the delivery in the needs service",
    )
    return response.json()


async def five_w_reached(s: System, plan_id: str) -> str:
    report = await s.distribution.get("/v1/reports/5w.csv", headers=COORDINATOR)
    rows = list(csv.reader(io.StringIO(report.text)))
    [row] = [r for r in rows[2:] if plan_id in r[rows[0].index("Remarques")]]
    return row[rows[0].index("Total ménages atteints")]


def assert_replayed(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code, again.text
    assert REPLAYED not in first.headers
    assert again.headers.get(REPLAYED) == "true", again.headers


# ---- the case: a repeated delivery counts households once ----------------------------


async def test_a_delivery_repeated_with_its_key_counts_households_reached_once(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=400, qty=150)
    await receive(s, 150)
    sent = await dispatched(s, [need_id])
    plan_id, version = sent["plan_id"], sent["version"]
    body = delivery(need_id, sent["lines"], households=60, qty=60)
    headers = keyed(NRC, "delivery-sevare-0001")

    first = await s.distribution.post(f"/v1/plans/{plan_id}/deliveries", json=body, headers=headers)
    assert first.status_code == 200, first.text
    # The answer was lost (a timeout at the gateway): the partner's app sends it again.
    again = await s.distribution.post(f"/v1/plans/{plan_id}/deliveries", json=body, headers=headers)
    assert again.status_code == 200, again.text

    now = await plan(s, plan_id)
    assert [(r["households"], r["individuals"]) for r in now["reached"]] == [(60, 300)]
    assert {x["delivered"] for x in now["lines"]} == {60}
    assert_replayed(first, again)
    assert again.json() == first.json()
    need = await need_reached(s, NRC, need_id, 60)
    assert (need["households_reached"], need["individuals_reached"]) == (60, 300)
    assert {x["delivered"] for x in need["items"]} == {60}
    assert await five_w_reached(s, plan_id) == "60"
    events = await published(s)
    [change] = plan_changes_after(events, plan_id, version)
    assert change.data["reached"] == [{"need_id": need_id, "households": 60, "individuals": 300}]
    assert reach_published(events, need_id) == [60]


async def test_ten_concurrent_copies_of_a_keyed_delivery_count_households_once(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=1000, qty=700)
    await receive(s, 700)
    sent = await dispatched(s, [need_id])
    plan_id, version = sent["plan_id"], sent["version"]
    body = delivery(need_id, sent["lines"], households=60, qty=60)
    headers = keyed(NRC, "delivery-sevare-0002")

    responses = await asyncio.gather(
        *(
            s.distribution.post(f"/v1/plans/{plan_id}/deliveries", json=body, headers=headers)
            for _ in range(COPIES)
        )
    )
    assert [r.status_code for r in responses] == [200] * COPIES, [r.text for r in responses]
    now = await plan(s, plan_id)
    assert [r["households"] for r in now["reached"]] == [60]
    assert {x["delivered"] for x in now["lines"]} == {60}
    assert len({r.text for r in responses}) == 1
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == ["", *["true"] * (COPIES - 1)]
    need = await need_reached(s, NRC, need_id, 60)
    assert need["households_reached"] == 60
    assert await five_w_reached(s, plan_id) == "60"
    events = await published(s)
    assert len(plan_changes_after(events, plan_id, version)) == 1
    assert reach_published(events, need_id) == [60]


# ---- a retry after the plan moved on answers as the first time -------------------------------


async def test_an_approve_retried_after_the_plan_moved_on_answers_as_the_first_time(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=40, qty=40)
    await receive(s, 40)
    plan_id = (await draft(s, [need_id]))["plan_id"]
    headers = keyed(COORDINATOR, "approve-sevare-0001")
    first = await s.distribution.post(f"/v1/plans/{plan_id}/approve", json={}, headers=headers)
    assert first.json()["status"] == "reserving", first.text
    await eventually(lambda: plan(s, plan_id), lambda p: p["status"] == "reserved", what="reserved")

    again = await s.distribution.post(f"/v1/plans/{plan_id}/approve", json={}, headers=headers)
    assert_replayed(first, again)
    # The plan as it is now: the retry learns where the plan went since.
    assert again.json()["status"] == "reserved"
    events = await published(s)
    asked = [
        e for e in events if e.type == PLAN_APPROVED.type and e.subject == plan_subject(plan_id)
    ]
    assert len(asked) == 1


async def test_a_dispatch_and_a_close_retried_after_the_plan_moved_on_do_not_act_again(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=30, qty=30)
    await receive(s, 30)
    plan_id = (await reserved(s, [need_id]))["plan_id"]
    order = {"waybill_number": f"WB-{plan_id}", "destination": "Sévaré"}
    dispatch = keyed(COORDINATOR, "dispatch-sevare-0001")
    first = await s.distribution.post(f"/v1/plans/{plan_id}/dispatch", json=order, headers=dispatch)
    assert first.json()["status"] == "dispatching", first.text
    await eventually(
        lambda: plan(s, plan_id), lambda p: p["status"] == "dispatched", what="dispatched"
    )
    again = await s.distribution.post(f"/v1/plans/{plan_id}/dispatch", json=order, headers=dispatch)
    assert_replayed(first, again)
    assert again.json()["status"] == "dispatched"

    close = keyed(COORDINATOR, "close-sevare-0001")
    closed = await s.distribution.post(f"/v1/plans/{plan_id}/close", headers=close)
    assert closed.json()["status"] == "closed", closed.text
    closed_again = await s.distribution.post(f"/v1/plans/{plan_id}/close", headers=close)
    assert_replayed(closed, closed_again)
    assert closed_again.json() == closed.json()
    events = await published(s)
    ordered = [
        e
        for e in events
        if e.type == PLAN_DISPATCH_REQUESTED.type and e.subject == plan_subject(plan_id)
    ]
    assert len(ordered) == 1


async def test_a_keyed_cancel_repeated_answers_as_the_first_time_and_releases_once(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=20, qty=20)
    await receive(s, 20)
    plan_id = (await reserved(s, [need_id]))["plan_id"]
    headers = keyed(COORDINATOR, "cancel-sevare-0001")
    reason = {"reason": "the road to Sévaré is cut"}
    responses = await asyncio.gather(
        *(
            s.distribution.post(f"/v1/plans/{plan_id}/cancel", json=reason, headers=headers)
            for _ in range(COPIES)
        )
    )
    assert [r.status_code for r in responses] == [200] * COPIES, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == ["", *["true"] * (COPIES - 1)]
    events = await published(s)
    released = [
        e for e in events if e.type == PLAN_CANCELLED.type and e.subject == plan_subject(plan_id)
    ]
    assert len(released) == 1


# ---- drafts: a key makes one plan ----------------------------------------------------------


async def test_a_draft_repeated_with_its_key_makes_one_plan(system: System) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=10, qty=10)
    await receive(s, 10)
    body = {"title": "Sévaré, December round", "need_ids": [need_id]}
    headers = keyed(COORDINATOR, "draft-sevare-0001")
    first = await s.distribution.post("/v1/plans", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await s.distribution.post("/v1/plans", json=body, headers=headers)
    assert again.json()["plan_id"] == first.json()["plan_id"], again.text
    assert_replayed(first, again)
    assert again.json() == first.json()

    copies = keyed(COORDINATOR, "draft-sevare-0002")
    responses = await asyncio.gather(
        *(s.distribution.post("/v1/plans", json=body, headers=copies) for _ in range(COPIES))
    )
    assert [r.status_code for r in responses] == [201] * COPIES, [r.text for r in responses]
    assert len({r.json()["plan_id"] for r in responses}) == 1
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == ["", *["true"] * (COPIES - 1)]
    assert await s.plans.count_documents({"lines.need_id": need_id}) == 2


# ---- the same key for another request; the same key in another organisation -----------------


async def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    system: System,
) -> None:
    s = system
    need_id = await validated_need(s, NRC, households=100, qty=50)
    await receive(s, 50)
    sent = await dispatched(s, [need_id])
    plan_id = sent["plan_id"]
    headers = keyed(NRC, "delivery-sevare-0003")
    first = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        json=delivery(need_id, sent["lines"], households=10, qty=10),
        headers=headers,
    )
    assert first.status_code == 200, first.text
    other = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        json=delivery(need_id, sent["lines"], households=20, qty=20),
        headers=headers,
    )
    assert other.status_code == 422, other.text
    problem = other.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"
    assert [r["households"] for r in (await plan(s, plan_id))["reached"]] == [10]

    # Drafting: the same key for a plan with another title.
    open_need = await validated_need(s, NRC, households=10, qty=10)
    await receive(s, 10)
    body = {"title": "Sévaré, January round", "need_ids": [open_need]}
    draft_key = keyed(COORDINATOR, "draft-sevare-0003")
    await ok(await s.distribution.post("/v1/plans", json=body, headers=draft_key), 201)
    renamed = await s.distribution.post(
        "/v1/plans", json={**body, "title": "Sévaré, February round"}, headers=draft_key
    )
    assert renamed.status_code == 422, renamed.text
    assert renamed.json()["type"] == "/problems/idempotency-key-reused"
    assert await s.plans.count_documents({"title": {"$regex": "^Sévaré, (Jan|Febr)"}}) == 1


async def test_two_partners_may_use_the_same_key_and_each_replay_shows_its_own_lines(
    system: System,
) -> None:
    s = system
    ours = await validated_need(s, NRC, households=50, qty=20)
    theirs = await validated_need(s, DRC, households=50, qty=20)
    await receive(s, 40)
    sent = await dispatched(s, [ours, theirs])
    plan_id = sent["plan_id"]
    key = "delivery-round-0001"
    answers: dict[str, httpx.Response] = {}
    for need_id, partner in ((ours, NRC), (theirs, DRC)):
        lines = [x for x in sent["lines"] if x["need_id"] == need_id]
        answers[need_id] = await s.distribution.post(
            f"/v1/plans/{plan_id}/deliveries",
            json=delivery(need_id, lines, households=10, qty=5),
            headers=keyed(partner, key),
        )
        assert answers[need_id].status_code == 200, answers[need_id].text
        assert REPLAYED not in answers[need_id].headers
    reached = {r["need_id"]: r["households"] for r in (await plan(s, plan_id))["reached"]}
    assert reached == {ours: 10, theirs: 10}

    lines = [x for x in sent["lines"] if x["need_id"] == ours]
    again = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        json=delivery(ours, lines, households=10, qty=5),
        headers=keyed(NRC, key),
    )
    assert_replayed(answers[ours], again)
    assert {x["need_id"] for x in again.json()["lines"]} == {ours}
    assert theirs not in again.text
    # Another organisation's partner sending that very request learns nothing of our need.
    stranger = await s.distribution.post(
        f"/v1/plans/{plan_id}/deliveries",
        json=delivery(ours, lines, households=10, qty=5),
        headers=keyed(identity("ACF", Role.PARTNER), key),
    )
    assert stranger.status_code == 404, stranger.text


# ---- item 7 in distribution's bodies: control characters and huge counts are 422s ------------

BAD_BODIES: list[tuple[str, str, Mapping[str, Any], str]] = [
    ("POST", "/v1/plans", {"title": "Sévaré\x00"}, "body.title"),
    ("POST", "/v1/plans", {"title": "x", "need_ids": ["NEED-1\x1b"]}, "body.need_ids.0"),
    ("POST", "/v1/plans", {"title": "x", "item_codes": ["KIT\x00"]}, "body.item_codes.0"),
    (
        "POST",
        "/v1/plans",
        {"title": "x", "allowed_warehouses": {"ML05": ["BKO\x00"]}},
        "body.allowed_warehouses.ML05.0",
    ),
    (
        "POST",
        "/v1/plans",
        {"title": "x", "allowed_warehouses": {"ML05\x07": ["BKO-MAIN"]}},
        "body.allowed_warehouses",
    ),
    (
        "POST",
        "/v1/plans",
        {"title": "x", "partner_caps": [{"partner": "NRC\x00", "item_code": "K", "max_units": 1}]},
        "body.partner_caps.0.partner",
    ),
    (
        "POST",
        "/v1/plans",
        {"title": "x", "partner_caps": [{"partner": "NRC", "item_code": "K\x1b", "max_units": 1}]},
        "body.partner_caps.0.item_code",
    ),
    (
        "POST",
        "/v1/plans",
        {"title": "x", "partner_caps": [{"partner": "NRC", "item_code": "K", "max_units": 2**63}]},
        "body.partner_caps.0.max_units",
    ),
    ("POST", "/v1/plans/PLN-1/cancel", {"reason": "cut\x00"}, "body.reason"),
    ("POST", "/v1/plans/PLN-1/close", {"reason": "done\x1b"}, "body.reason"),
    (
        "POST",
        "/v1/plans/PLN-1/dispatch",
        {"waybill_number": "WB\x00", "destination": "Sévaré"},
        "body.waybill_number",
    ),
    (
        "POST",
        "/v1/plans/PLN-1/dispatch",
        {"waybill_number": "WB-1", "destination": "Sévaré\x07"},
        "body.destination",
    ),
]


async def test_control_characters_and_huge_counts_in_plan_requests_are_422s_naming_the_field(
    system: System,
) -> None:
    wrong = []
    for method, path, body, field in BAD_BODIES:
        response = await system.distribution.request(method, path, json=body, headers=COORDINATOR)
        fields = (
            [e["field"] for e in response.json().get("errors", [])]
            if response.headers.get("content-type") == "application/problem+json"
            else []
        )
        if response.status_code != 422 or not any(f.startswith(field) for f in fields):
            wrong.append((path, field, response.status_code, response.text[:200]))
    assert wrong == [], "\n".join(map(str, wrong))
