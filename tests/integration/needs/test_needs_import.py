"""The HXL import through the real store and broker: 10,000 rows, 1 % bad; a second import
changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kitflow_shared.topics import NEEDS_EVENTS
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.hxl_samples import generate

pytestmark = pytest.mark.infra

NRC = identity("NRC", Role.PARTNER) | {"Content-Type": "text/csv"}


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


async def test_ten_thousand_rows_with_one_percent_bad_import_once(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    sample = generate(10_000, bad_every=100)
    assert len(sample.bad_rows) == 100

    first = await needs.client.post("/v1/needs/imports", content=sample.text, headers=NRC)
    assert first.status_code == 200, first.text[:500]
    report = first.json()
    assert report["rows"] == 10_000
    assert report["imported"] == 9_900
    assert report["rejected"] == 100
    assert {e["row"]: e["column"] for e in report["errors"]} == sample.bad_rows
    assert all(e["reason"] for e in report["errors"])
    assert await needs.needs.count_documents({}) == 9_900

    records = await read_topic(
        infra.kafka_bootstrap, NEEDS_EVENTS.qualified(topics), expect=9_900, timeout_s=120
    )
    assert len({r.key for r in records}) == 9_900
    await eventually(
        lambda: needs.needs.count_documents({"outbox.0": {"$exists": True}}),
        lambda n: n == 0,
        what="every outbox published and pruned",
        timeout_s=60,
    )
    versions_before = {
        doc["_id"]: doc["sequence"] async for doc in needs.needs.find({}, {"sequence": 1})
    }

    second = await needs.client.post("/v1/needs/imports", content=sample.text, headers=NRC)
    assert second.status_code == 200
    again = second.json()
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 9_900)
    assert again["rejected"] == 100
    versions_after = {
        doc["_id"]: doc["sequence"] async for doc in needs.needs.find({}, {"sequence": 1})
    }
    assert versions_after == versions_before
    assert await needs.needs.count_documents({"outbox.0": {"$exists": True}}) == 0


async def test_a_second_partners_overlapping_import_links_every_pair_both_ways(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    # The same assessment reported by two partners: every DRC need may duplicate an NRC need at
    # the same site, and each pair is linked on both sides, each side with its own event.
    sample = generate(1_000, bad_every=100)
    drc = {**identity("DRC", Role.PARTNER), "Content-Type": "text/csv"}
    first = await needs.client.post("/v1/needs/imports", content=sample.text, headers=NRC)
    assert first.json()["imported"] == 990
    second = await needs.client.post("/v1/needs/imports", content=sample.text, headers=drc)
    assert second.status_code == 200, second.text[:500]
    assert second.json()["imported"] == 990

    links: dict[str, set[str]] = {}
    async for doc in needs.needs.find({}, {"organisation": 1, "duplicates": 1}):
        links[doc["_id"]] = {d["need_id"] for d in doc["duplicates"]}
        assert doc["organisation"] != "DRC" or doc["duplicates"], doc["_id"]
    pairs = {(a, b) for a, others in links.items() for b in others}
    assert pairs
    assert all((b, a) in pairs for a, b in pairs)  # every link has its back-link
    assert await needs.needs.count_documents({"owes_back_links": True}) == 0
    nrc_linked = await needs.needs.count_documents({"organisation": "NRC", "sequence": {"$gt": 1}})
    assert nrc_linked == await needs.needs.count_documents({"organisation": "NRC"})
    # One event per change of each need, nothing lost and nothing doubled: a need at version n
    # published n events (its submission, then one per batch of back-links it received).
    versions = {doc["_id"]: doc["sequence"] async for doc in needs.needs.find({}, {"sequence": 1})}
    records = await read_topic(
        infra.kafka_bootstrap,
        NEEDS_EVENTS.qualified(topics),
        expect=sum(versions.values()),
        timeout_s=120,
    )
    per_need = Counter(r.key.decode().removeprefix("need/") for r in records)
    assert per_need == versions
