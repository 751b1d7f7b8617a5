"""Idempotency-Key at the needs service (ADR 0011, issue #12 item 6), straight to the service
with the header, through the real store and broker: a retried command answers as the first time
and changes nothing, whatever happened in between; ten concurrent copies make one effect and one
event; the same key for another request is refused; keys belong to an organisation."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from kitflow_needs.adapters import mongo_import_requests
from kitflow_needs.adapters.mongo_import_requests import MongoImportRequestRepository
from kitflow_needs.handlers.ports import HeldRequest
from kitflow_shared.contracts.needs import (
    NEED_CANCELLED,
    NEED_REJECTED,
    NEED_SUBMITTED,
    NEED_UPDATED,
    NEED_VALIDATED,
)
from kitflow_shared.events import CloudEvent
from kitflow_shared.request_keys import RequestKey
from kitflow_shared.store import ensure_indexes
from kitflow_shared.topics import NEEDS_EVENTS
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
COORDINATOR = identity("OCHA", Role.COORDINATOR)
ADMIN = identity("OCHA", Role.ADMIN)
REPLAYED = "Idempotent-Replayed"
COPIES = 10


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(CREATE_BODY)
    out.update(changes)
    return out


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def create(needs: NeedsApp, headers: dict[str, str] = NRC, **changes: Any) -> str:
    created = await needs.client.post("/v1/needs", json=body(**changes), headers=headers)
    assert created.status_code == 201, created.text
    need_id: str = created.json()["id"]
    return need_id


async def published(needs: NeedsApp, infra: Infra, topics: str) -> list[CloudEvent]:
    """Every event on the needs topic, once every outbox is published: read up to the end
    offsets, so that a doubled event is seen, not raced."""
    await eventually(
        lambda: needs.needs.count_documents({"outbox.0": {"$exists": True}}),
        lambda n: n == 0,
        what="every outbox published",
    )
    topic = NEEDS_EVENTS.qualified(topics)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        while not consumer.assignment():
            records.extend(
                r for batch in (await consumer.getmany(timeout_ms=200)).values() for r in batch
            )
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return [CloudEvent.from_bytes(r.value) for r in records]


def kinds(events: list[CloudEvent], need_id: str) -> Counter[str]:
    return Counter(e.type for e in events if e.subject == f"need/{need_id}")


def assert_replayed(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code, again.text
    assert again.headers.get(REPLAYED) == "true"
    assert REPLAYED not in first.headers
    assert again.json()["id"] == first.json()["id"]


# ---- a retry after something else happened answers as the first time, and changes nothing ---


async def test_a_keyed_validate_retried_after_a_cancel_answers_as_the_first_time(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs)
    validate = keyed(COORDINATOR, "validate-sevare-0001")
    cancel = keyed(NRC, "cancel-sevare-0001")
    validated = await needs.client.post(f"/v1/needs/{need_id}/validate", headers=validate)
    assert validated.json()["status"] == "validated", validated.text
    cancelled = await needs.client.post(
        f"/v1/needs/{need_id}/cancel", json={"reason": "served by WFP"}, headers=cancel
    )
    assert cancelled.json()["status"] == "cancelled", cancelled.text

    # Both answers were lost; the clients send the same requests again.
    validated_again = await needs.client.post(f"/v1/needs/{need_id}/validate", headers=validate)
    assert_replayed(validated, validated_again)
    cancelled_again = await needs.client.post(
        f"/v1/needs/{need_id}/cancel", json={"reason": "served by WFP"}, headers=cancel
    )
    assert_replayed(cancelled, cancelled_again)
    # The need as it is now: a replay shows where the need went since.
    assert validated_again.json()["status"] == "cancelled"

    events = kinds(await published(needs, infra, topics), need_id)
    assert events == {NEED_SUBMITTED.type: 1, NEED_VALIDATED.type: 1, NEED_CANCELLED.type: 1}


async def test_a_keyed_submit_retried_after_a_rejection_does_not_submit_again(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs, submit=False)
    submit = keyed(NRC, "submit-sevare-0001")
    submitted = await needs.client.post(f"/v1/needs/{need_id}/submit", headers=submit)
    assert submitted.json()["status"] == "submitted", submitted.text
    rejected = await needs.client.post(
        f"/v1/needs/{need_id}/reject", json={"reason": "households > people"}, headers=COORDINATOR
    )
    assert rejected.json()["status"] == "rejected", rejected.text

    again = await needs.client.post(f"/v1/needs/{need_id}/submit", headers=submit)
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["status"] == "rejected"
    assert_replayed(submitted, again)
    events = kinds(await published(needs, infra, topics), need_id)
    assert events == {NEED_SUBMITTED.type: 1, NEED_REJECTED.type: 1}


async def test_a_keyed_reject_retried_after_the_partner_resubmitted_does_not_reject_again(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs)
    reject = keyed(COORDINATOR, "reject-sevare-0001")
    reason = {"reason": "the site is counted twice"}
    rejected = await needs.client.post(f"/v1/needs/{need_id}/reject", json=reason, headers=reject)
    assert rejected.json()["status"] == "rejected", rejected.text
    resubmitted = await needs.client.post(f"/v1/needs/{need_id}/submit", headers=NRC)
    assert resubmitted.json()["status"] == "submitted", resubmitted.text

    again = await needs.client.post(f"/v1/needs/{need_id}/reject", json=reason, headers=reject)
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["status"] == "submitted"
    assert_replayed(rejected, again)
    events = kinds(await published(needs, infra, topics), need_id)
    assert events == {NEED_SUBMITTED.type: 2, NEED_REJECTED.type: 1}


async def test_a_keyed_replace_retried_after_a_newer_one_does_not_undo_it(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs)
    first_key = keyed(NRC, "replace-sevare-0001")
    first = await needs.client.put(f"/v1/needs/{need_id}", json=body(severity=3), headers=first_key)
    assert first.json()["severity"] == 3, first.text
    newer = await needs.client.put(
        f"/v1/needs/{need_id}", json=body(severity=5), headers=keyed(NRC, "replace-sevare-0002")
    )
    assert newer.json()["severity"] == 5, newer.text

    again = await needs.client.put(f"/v1/needs/{need_id}", json=body(severity=3), headers=first_key)
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["severity"] == 5
    assert_replayed(first, again)
    events = kinds(await published(needs, infra, topics), need_id)
    assert events == {NEED_SUBMITTED.type: 1, NEED_UPDATED.type: 2}


async def test_a_keyed_keep_retried_after_a_merge_does_not_undo_the_merge(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    ours = await create(needs, NRC)
    theirs = await create(needs, DRC)
    keep = keyed(COORDINATOR, "keep-sevare-0001")
    kept = await needs.client.post(f"/v1/needs/{ours}/duplicates/{theirs}/keep", headers=keep)
    assert kept.json()["possible_duplicates"][0]["decision"] == "kept", kept.text
    merged = await needs.client.post(
        f"/v1/needs/{ours}/duplicates/{theirs}/merge", headers=keyed(COORDINATOR, "merge-0001")
    )
    assert merged.json()["merged_into"] == theirs, merged.text

    again = await needs.client.post(f"/v1/needs/{ours}/duplicates/{theirs}/keep", headers=keep)
    for need_id, other in ((ours, theirs), (theirs, ours)):
        stored = await needs.needs.find_one({"_id": need_id})
        assert stored is not None
        assert [(d["need_id"], d["decision"]) for d in stored["duplicates"]] == [(other, "merged")]
    assert_replayed(kept, again)
    events = kinds(await published(needs, infra, topics), ours)
    # Submitted; linked to theirs; kept; merged (cancelled).
    assert events == {NEED_SUBMITTED.type: 1, NEED_UPDATED.type: 2, NEED_CANCELLED.type: 1}


# ---- the same key for another request; the same key in another organisation -----------------


async def test_the_same_key_for_another_request_is_refused_and_changes_nothing(
    needs: NeedsApp,
) -> None:
    need_id = await create(needs)
    reject = keyed(COORDINATOR, "reject-sevare-0002")
    first = await needs.client.post(
        f"/v1/needs/{need_id}/reject", json={"reason": "counted twice"}, headers=reject
    )
    assert first.status_code == 200, first.text
    other = await needs.client.post(
        f"/v1/needs/{need_id}/reject", json={"reason": "wrong cercle"}, headers=reject
    )
    assert other.status_code == 422, other.text
    problem = other.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["rejection_reason"] == "counted twice"


async def test_two_organisations_may_use_the_same_key(needs: NeedsApp) -> None:
    key = "sevare-2025-03-assessment"
    ours = await needs.client.post("/v1/needs", json=body(), headers=keyed(NRC, key))
    theirs = await needs.client.post("/v1/needs", json=body(), headers=keyed(DRC, key))
    assert (ours.status_code, theirs.status_code) == (201, 201), theirs.text
    assert ours.json()["id"] != theirs.json()["id"]
    assert REPLAYED not in theirs.headers
    cancelled = [
        await needs.client.post(
            f"/v1/needs/{response.json()['id']}/cancel",
            json={"reason": "duplicate"},
            headers=keyed(headers, "cancel-key-0001"),
        )
        for response, headers in ((ours, NRC), (theirs, DRC))
    ]
    assert [c.json()["status"] for c in cancelled] == ["cancelled", "cancelled"]
    assert all(REPLAYED not in c.headers for c in cancelled)
    # Another organisation's partner sending that very request on our need learns nothing.
    stranger = await needs.client.post(
        f"/v1/needs/{ours.json()['id']}/cancel",
        json={"reason": "duplicate"},
        headers=keyed(DRC, "cancel-key-0001"),
    )
    assert stranger.status_code == 404, stranger.text
    assert "Sévaré" not in stranger.text


# ---- ten concurrent copies: one effect, one event, one answer --------------------------------


def assert_one_answer(responses: list[httpx.Response], status: int) -> None:
    assert [r.status_code for r in responses] == [status] * COPIES, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert sorted(r.headers.get(REPLAYED, "") for r in responses) == ["", *["true"] * (COPIES - 1)]


async def test_ten_concurrent_copies_of_a_keyed_create_make_one_need_and_one_event(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    headers = keyed(NRC, "mopti-2025-03-sevare")
    responses = await asyncio.gather(
        *(needs.client.post("/v1/needs", json=body(), headers=headers) for _ in range(COPIES))
    )
    assert_one_answer(responses, 201)
    need_id = responses[0].json()["id"]
    assert {r.headers["Location"] for r in responses} == {f"/v1/needs/{need_id}"}
    assert await needs.needs.count_documents({}) == 1
    events = await published(needs, infra, topics)
    assert kinds(events, need_id) == {NEED_SUBMITTED.type: 1}
    assert len(events) == 1


async def test_ten_concurrent_copies_of_a_keyed_submit_submit_once(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs, submit=False)
    headers = keyed(NRC, "submit-sevare-0002")
    responses = await asyncio.gather(
        *(needs.client.post(f"/v1/needs/{need_id}/submit", headers=headers) for _ in range(COPIES))
    )
    assert_one_answer(responses, 200)
    assert responses[0].json()["status"] == "submitted"
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["sequence"] == 2
    assert kinds(await published(needs, infra, topics), need_id) == {NEED_SUBMITTED.type: 1}


async def test_ten_concurrent_copies_of_a_keyed_reject_reject_once(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    need_id = await create(needs)
    headers = keyed(COORDINATOR, "reject-sevare-0003")
    responses = await asyncio.gather(
        *(
            needs.client.post(
                f"/v1/needs/{need_id}/reject", json={"reason": "counted twice"}, headers=headers
            )
            for _ in range(COPIES)
        )
    )
    assert_one_answer(responses, 200)
    events = kinds(await published(needs, infra, topics), need_id)
    assert events == {NEED_SUBMITTED.type: 1, NEED_REJECTED.type: 1}


async def test_ten_concurrent_copies_of_a_keyed_request_that_changes_nothing_agree(
    needs: NeedsApp,
) -> None:
    """Submitting a submitted need changes nothing, so the sequence does not move: only the
    filter on the remembered key makes nine copies lose, reload and replay."""
    need_id = await create(needs)
    headers = keyed(NRC, "submit-sevare-0003")
    responses = await asyncio.gather(
        *(needs.client.post(f"/v1/needs/{need_id}/submit", headers=headers) for _ in range(COPIES))
    )
    assert_one_answer(responses, 200)
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["sequence"] == 1
    assert [r["token"] for r in stored["requests"]] == ["NRC:submit-sevare-0003"]


# ---- norms profiles --------------------------------------------------------------------------

PROFILE = {
    "profile_id": "mopti-flood-2025",
    "name": "Mopti flood 2025",
    "rules": [{"item_code": "KIT-NFI", "basis": "households", "amount": 1, "amount_unit": "kit"}],
}


async def test_a_keyed_profile_add_retried_answers_with_the_profile_it_added(
    needs: NeedsApp,
) -> None:
    headers = keyed(ADMIN, "profile-add-0001")
    first = await needs.client.post("/v1/norms-profiles", json=PROFILE, headers=headers)
    assert first.status_code == 201, first.text
    again = await needs.client.post("/v1/norms-profiles", json=PROFILE, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get(REPLAYED) == "true"
    assert again.json() == first.json()
    # The natural key still holds without the key, and another body with the key is refused.
    unkeyed = await needs.client.post("/v1/norms-profiles", json=PROFILE, headers=ADMIN)
    assert unkeyed.status_code == 409, unkeyed.text
    other = await needs.client.post(
        "/v1/norms-profiles", json={**PROFILE, "profile_id": "gao-flood-2025"}, headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["type"] == "/problems/idempotency-key-reused"


async def test_ten_concurrent_copies_of_a_keyed_profile_change_make_one_version(
    needs: NeedsApp,
) -> None:
    held = (await needs.client.get("/v1/norms-profiles/sphere-minimum", headers=ADMIN)).json()
    change = {k: v for k, v in held.items() if k != "version"}
    change["name"] = "Sphere minimum (Mali cluster)"
    headers = keyed(ADMIN, "profile-change-0001")
    responses = await asyncio.gather(
        *(
            needs.client.put("/v1/norms-profiles/sphere-minimum", json=change, headers=headers)
            for _ in range(COPIES)
        )
    )
    assert [r.status_code for r in responses] == [200] * COPIES, [r.text for r in responses]
    assert {r.json()["version"] for r in responses} == {held["version"] + 1}
    assert sum(r.headers.get(REPLAYED) == "true" for r in responses) == COPIES - 1
    again = await needs.client.put(
        "/v1/norms-profiles/sphere-minimum", json=change, headers=headers
    )
    assert again.json()["version"] == held["version"] + 1
    now = (await needs.client.get("/v1/norms-profiles/sphere-minimum", headers=ADMIN)).json()
    assert now["version"] == held["version"] + 1


# ---- HXL imports -----------------------------------------------------------------------------

HXL_HEADER = (
    "#meta+id,#adm1+code,#adm2+code,#affected+hh,#affected+ind,#beneficiary+type,#severity,"
    "#date+reported,#item+code,#item+num\n"
)
CSV_NRC = NRC | {"Content-Type": "text/csv"}


def hxl_file(severity: int = 3) -> str:
    return (
        HXL_HEADER
        + f"P1,ML05,ML0501,10,50,idp,{severity},2025-03-01,KIT-NFI,10\n"
        + "P2,ML05,ML0502,20,90,idp,2,2025-03-01,KIT-NFI,20\n"
    )


async def test_a_keyed_import_retried_answers_with_the_first_report(needs: NeedsApp) -> None:
    headers = keyed(CSV_NRC, "import-mopti-0001")
    first = await needs.client.post("/v1/needs/imports", content=hxl_file(), headers=headers)
    assert first.status_code == 200, first.text
    assert (first.json()["imported"], len(first.json()["created"])) == (2, 2)
    again = await needs.client.post("/v1/needs/imports", content=hxl_file(), headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers.get(REPLAYED) == "true"
    other = await needs.client.post(
        "/v1/needs/imports", content=hxl_file(severity=5), headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    assert await needs.needs.count_documents({}) == 2


async def test_a_keyed_import_retried_after_a_newer_one_does_not_undo_it(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    first_key = keyed(CSV_NRC, "import-mopti-0002")
    first = await needs.client.post("/v1/needs/imports", content=hxl_file(3), headers=first_key)
    assert first.status_code == 200, first.text
    newer = await needs.client.post(
        "/v1/needs/imports", content=hxl_file(5), headers=keyed(CSV_NRC, "import-mopti-0003")
    )
    assert newer.json()["updated"] == 1, newer.text

    again = await needs.client.post("/v1/needs/imports", content=hxl_file(3), headers=first_key)
    assert again.status_code == 200, again.text
    stored = await needs.needs.find_one({"external_ref": "P1"})
    assert stored is not None
    assert stored["severity"] == 5
    assert again.json() == first.json()
    assert again.headers.get(REPLAYED) == "true"
    events = kinds(await published(needs, infra, topics), stored["_id"])
    assert events == {NEED_SUBMITTED.type: 1, NEED_UPDATED.type: 1}


async def test_ten_concurrent_copies_of_a_keyed_import_import_each_row_once(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    headers = keyed(CSV_NRC, "import-mopti-0004")
    responses = await asyncio.gather(
        *(
            needs.client.post("/v1/needs/imports", content=hxl_file(), headers=headers)
            for _ in range(COPIES)
        )
    )
    # The first does the import; a copy that comes while it runs is told to retry shortly (as
    # the gateway tells it), a copy that comes after it gets its report.
    done = [r for r in responses if r.status_code == 200]
    assert done, [r.text for r in responses]
    assert {r.status_code for r in responses} <= {200, 409}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["type"] == "/problems/idempotency-in-progress"
            assert int(response.headers["Retry-After"]) >= 1
    assert len({r.text for r in done}) == 1
    assert sum(r.headers.get(REPLAYED) != "true" for r in done) == 1
    report = done[0].json()
    assert (report["imported"], report["unchanged"]) == (2, 0)
    again = await needs.client.post("/v1/needs/imports", content=hxl_file(), headers=headers)
    assert again.json() == report
    assert await needs.needs.count_documents({}) == 2
    events = await published(needs, infra, topics)
    assert Counter(e.type for e in events) == {NEED_SUBMITTED.type: 2}


async def test_import_keys_in_the_store_claim_take_over_complete_and_forget(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    await ensure_indexes(db, mongo_import_requests.INDEXES)
    repo = MongoImportRequestRepository(db[mongo_import_requests.COLLECTION])
    key = RequestKey("NRC", "import-mopti-0005", "the file")
    started = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    later = started + timedelta(minutes=11)
    assert await repo.claim(key, started) is None
    held = await repo.claim(key, later)
    assert held == HeldRequest("the file", started, None)
    assert await repo.take_over(key, started, later)
    assert not await repo.take_over(key, started, later)  # someone else took it meanwhile
    report = '{"rows":1,"created":["' + '", "'.join(str(n) for n in range(50_000)) + '"]}'
    assert await repo.complete(key, report)
    kept = await repo.claim(key, later)
    assert kept is not None
    assert kept.answer == report
    await repo.release(key)  # an answered key stays
    assert await repo.claim(key, later) == kept
    assert await repo.forget_before(later) == 0
    assert await repo.forget_before(later + timedelta(seconds=1)) == 1
    assert await repo.claim(key, later) is None
