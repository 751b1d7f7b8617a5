"""The gap per item and sector through the real broker and store: the needs service's and the
catalogue's events go in, GET /v1/gaps answers what the seeded needs add up to, and a partner
sees only its own needs."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_shared.contracts.catalogue import (
    ITEM_REGISTERED,
    ItemCategory,
    ItemState,
    item_subject,
)
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_SUBMITTED,
    NeedItemState,
    NeedState,
    NeedStatus,
    need_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS
from kitflow_shared.web.identity import Role

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.saga import validated_need
from tests.support.services import identity

pytestmark = pytest.mark.infra

COORDINATOR = identity("IOM", Role.COORDINATOR)
NRC = identity("NRC", Role.PARTNER)
CATALOGUE = {
    "KIT-SHELTER": (ItemCategory.SHELTER, "kit"),
    "TARP": (ItemCategory.SHELTER, "piece"),
    "KIT-NFI": (ItemCategory.NFI, "kit"),
    "WATER": (ItemCategory.WATER, "litre"),
}
# need id, partner, cercle, households, status, {item: (requested, planned, dispatched, delivered)}
SCENARIO: list[tuple[str, str, str, int, NeedStatus, dict[str, tuple[int, int, int, int]]]] = [
    (
        "GAP-1",
        "NRC",
        "ML0501",
        30,
        NeedStatus.PARTIALLY_COVERED,
        {"KIT-SHELTER": (30, 30, 30, 30), "TARP": (60, 60, 0, 0)},
    ),
    (
        "GAP-2",
        "NRC",
        "ML0502",
        10,
        NeedStatus.PARTIALLY_COVERED,
        {"KIT-SHELTER": (10, 10, 10, 9), "WATER": (2000, 0, 0, 0)},
    ),
    ("GAP-3", "DRC", "ML0501", 50, NeedStatus.COVERED, {"KIT-NFI": (50, 50, 50, 50)}),
    ("GAP-4", "DRC", "ML0501", 70, NeedStatus.CANCELLED, {"KIT-NFI": (100, 0, 0, 0)}),
    ("GAP-5", "DRC", "ML0502", 25, NeedStatus.VALIDATED, {"KIT-SHELTER": (25, 25, 0, 0)}),
]


def _need(row: Any) -> NeedState:
    need_id, partner, cercle, households, status, items = row
    need = validated_need(need_id, "ML05", cercle, {}, partner=partner)
    need.population.households = households
    need.status = status
    need.items = [
        NeedItemState(
            item_code=code,
            requested=r,
            planned=p,
            reserved=0,
            dispatched=d,
            delivered=v,
            remaining=max(0, r - max(p, v)),
        )
        for code, (r, p, d, v) in items.items()
    ]
    return need


def _as_submitted(need: NeedState) -> NeedState:
    submitted = need.model_copy(deep=True)
    submitted.status = NeedStatus.SUBMITTED
    for item in submitted.items:
        item.planned = item.dispatched = item.delivered = 0
        item.remaining = item.requested
    return submitted


def _expected_per_item(partner: str | None) -> dict[tuple[str, str], dict[str, int]]:
    """What the seeded needs add up to per cercle and item, counted by hand."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _need_id, org, cercle, households, status, items in SCENARIO:
        if status is NeedStatus.CANCELLED or (partner and org != partner):
            continue
        for code, (r, p, d, v) in items.items():
            row = out[(cercle, code)]
            row["requested"] += r
            row["planned"] += p
            row["dispatched"] += d
            row["delivered"] += v
            row["households"] += households
            row["households_delivered"] += households if v >= r else 0
            row["households_planned"] += households if p >= r else 0
    return out


async def _publish(producer: EventProducer, namespace: str) -> None:
    context = EventContext.new()
    needs = [_need(row) for row in SCENARIO]
    await producer.publish(
        NEEDS_EVENTS.qualified(namespace),
        [
            event
            for need in needs
            for event in (
                NEED_SUBMITTED.new(
                    _as_submitted(need),
                    subject=need_subject(need.need_id),
                    sequence=1,
                    context=context,
                ),
                NEED_COVERAGE_CHANGED.new(
                    need, subject=need_subject(need.need_id), sequence=2, context=context
                ),
            )
        ],
    )
    # The catalogue's events may come after the needs that name the items: WATER does.
    await producer.publish(
        STOCK_EVENTS.qualified(namespace),
        [
            ITEM_REGISTERED.new(
                ItemState(code=code, name_en=code, name_fr=code, category=category, unit=unit),
                subject=item_subject(code),
                sequence=1,
                context=context,
            )
            for code, (category, unit) in CATALOGUE.items()
        ],
    )


async def _gaps(client: httpx.AsyncClient, headers: Any, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/gaps", params=params, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_the_gap_per_item_and_sector_matches_the_seeded_needs(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch, producer: EventProducer
) -> None:
    async with running_app(create_distribution, infra, topics, monkeypatch) as (_, client):
        await _publish(producer, topics)
        expected = _expected_per_item(None)
        requested = sum(row["requested"] for row in expected.values())

        def settled(rows: list[dict[str, Any]]) -> bool:
            # Every figure, not only the requested totals: needs, catalogue and coverage events
            # come on different topics, so the totals can be whole before the plans arrive.
            got = {(r["admin2_pcode"], r["item_code"]): r for r in rows}
            return (
                sum(r["requested"] for r in rows) == requested
                and all(r["sector"] != "unknown" for r in rows)
                and got.keys() == expected.keys()
                and all({k: got[key][k] for k in want} == want for key, want in expected.items())
            )

        rows = await eventually(
            lambda: _gaps(client, COORDINATOR, by="item", level="admin2"),
            settled,
            what="the gap view holds every seeded need and sector",
            timeout_s=90,
        )
        got = {(r["admin2_pcode"], r["item_code"]): r for r in rows}
        assert got.keys() == expected.keys()
        for key, want in expected.items():
            assert {k: got[key][k] for k in want} == want, key
            assert got[key]["unit"] == CATALOGUE[key[1]][1]
            assert got[key]["sector"] == CATALOGUE[key[1]][0].value
        # Planned, dispatched and delivered stay apart: GAP-5's shelter kits are planned only.
        assert got[("ML0502", "KIT-SHELTER")]["households_planned"] == 35
        assert got[("ML0502", "KIT-SHELTER")]["households_delivered"] == 0

        # Shelter: GAP-1 (30, both items: tarps not delivered), GAP-2 (10, 9 of 10 kits), GAP-5.
        want_sectors = {
            "shelter": {
                "needs": 3,
                "households": 65,
                "households_delivered": 0,
                "households_uncovered": 65,
            },
            "nfi": {"households_delivered": 50},
        }

        def sectors_settled(rows: list[dict[str, Any]]) -> bool:
            got = {r["sector"]: r for r in rows}
            return all(
                {k: got.get(sector, {}).get(k) for k in want} == want
                for sector, want in want_sectors.items()
            )

        # The cells of each kind are settled side by side, and the shelter sector cell is the
        # one most needs share (refused and read again the most): the item cells being whole
        # says nothing of it, so the wait is on every sector figure asserted below.
        sectors = await eventually(
            lambda: _gaps(client, COORDINATOR, by="sector", level="admin1"),
            sectors_settled,
            what="the sector cells hold every seeded need",
            timeout_s=90,
        )
        by_sector = {r["sector"]: r for r in sectors}
        for sector, want in want_sectors.items():
            assert {k: by_sector[sector][k] for k in want} == want, sector
        assert "requested" not in by_sector["water"]  # a sector mixes units: households only

        shelter_kits = {"item": "KIT-SHELTER"}
        answer = await client.get("/v1/gaps/trend", params=shelter_kits, headers=COORDINATOR)
        trend = answer.json()
        assert sum(w["requested"] for w in trend) == sum(
            want["requested"] for (c, i), want in expected.items() if i == "KIT-SHELTER"
        )
        assert trend[-1]["delivered_to_date"] == 39

        csv_text = (
            await client.get("/v1/gaps.csv", params={"by": "item"}, headers=COORDINATOR)
        ).text
        lines = csv_text.splitlines()
        assert lines[1].startswith("#adm1+code,#adm2+code,#sector,#item+code")
        assert len(lines) == 2 + len({i for _, i in expected})


async def test_a_partner_sees_only_its_own_needs_gaps(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch, producer: EventProducer
) -> None:
    async with running_app(create_distribution, infra, topics, monkeypatch) as (_, client):
        await _publish(producer, topics)
        total = sum(r["requested"] for r in _expected_per_item(None).values())
        await eventually(
            lambda: _gaps(client, COORDINATOR, level="admin2"),
            lambda rows: sum(r["requested"] for r in rows) == total,
            what="the gap view holds every seeded need",
            timeout_s=90,
        )
        own = _expected_per_item("NRC")
        for params in ({}, {"organisation": "DRC"}):
            rows = await _gaps(client, NRC, level="admin2", **params)
            assert {(r["admin2_pcode"], r["item_code"]) for r in rows} == own.keys()
        assert await _gaps(client, identity("MSF", Role.PARTNER)) == []
        refused = await client.get("/v1/gaps", params={"by": "place"}, headers=COORDINATOR)
        assert refused.status_code == 422
        assert "by" in refused.text
        assert (
            await client.get("/v1/gaps", headers=identity("IOM", Role.WAREHOUSE))
        ).status_code == 403
