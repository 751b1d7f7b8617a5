"""Distribution's read models can be rebuilt from the topics alone."""

from __future__ import annotations

from typing import Any

import pytest
from kitflow_distribution.adapters import mongo_gaps, mongo_views
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.handlers.ports import GapFilter
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view, rebuild_views
from kitflow_shared.contracts.needs import NEED_COVERAGE_CHANGED, NEED_SUBMITTED, need_subject
from kitflow_shared.contracts.stock import (
    MOVEMENT_RECORDED,
    WAREHOUSE_REGISTERED,
    WAREHOUSE_UPDATED,
    BalanceState,
    MovementKind,
    MovementRecorded,
    MovementState,
    WarehouseState,
    stock_subject,
    warehouse_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra
from tests.support.saga import validated_need

pytestmark = pytest.mark.infra


def _balance(on_hand: int) -> BalanceState:
    return BalanceState(
        item_code="KIT-NFI", on_hand=on_hand, reserved=0, available=on_hand, in_transit=0
    )


async def test_views_are_rebuilt_from_the_topics_and_a_second_replay_changes_nothing(
    db: AsyncDatabase[dict[str, Any]], producer: EventProducer, topics: str, infra: Infra
) -> None:
    ctx = EventContext.new()
    gao = WarehouseState(
        code="GAO-SUB",
        name="Gao",
        organisation="IOM",
        type="sub-office",
        admin1_pcode="ML07",
        admin2_pcode="ML0701",
    )
    movements = [
        MOVEMENT_RECORDED.new(
            MovementRecorded(
                movement=MovementState(
                    movement_id=f"M{n}",
                    kind=MovementKind.RECEIPT,
                    warehouse="GAO-SUB",
                    occurred_at=ctx_time,
                    recorded_by="x",
                    lines=[],
                ),
                balances=[_balance(10 * n)],
            ),
            subject=stock_subject("GAO-SUB"),
            sequence=n,
            context=ctx,
        )
        for n, ctx_time in ((1, _now()), (2, _now()), (3, _now()))
    ]
    await producer.publish(
        STOCK_EVENTS.qualified(topics),
        [
            WAREHOUSE_REGISTERED.new(
                gao, subject=warehouse_subject("GAO-SUB"), sequence=1, context=ctx
            ),
            WAREHOUSE_UPDATED.new(
                gao.model_copy(update={"name": "Gao sub-office"}),
                subject=warehouse_subject("GAO-SUB"),
                sequence=2,
                context=ctx,
            ),
            *movements,
            movements[0],  # a duplicate from a relay that crashed before pruning
        ],
    )
    await db[mongo_views.STOCK].insert_one({"_id": "stale", "warehouse": "X"})

    report = await rebuild_views(db, infra.kafka_bootstrap, topics)
    assert report.records == 6
    assert await db[mongo_views.STOCK].count_documents({}) == 1  # the stale one was dropped
    stock = await db[mongo_views.STOCK].find_one({"_id": "GAO-SUB/KIT-NFI"})
    assert stock is not None
    assert (stock["balance"]["on_hand"], stock["sequence"]) == (30, 3)
    warehouse = await db[mongo_views.WAREHOUSES].find_one({"_id": "GAO-SUB"})
    assert warehouse is not None
    assert warehouse["state"]["name"] == "Gao sub-office"

    again = await rebuild_views(db, infra.kafka_bootstrap, topics, keep=True)
    assert (again.records, again.applied) == (6, 0)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_the_needs_views_rebuilt_in_batches_are_the_events_one_by_one(
    infra: Infra,
    producer: EventProducer,
    topics: str,
    db: AsyncDatabase[Any],
    store_client: AsyncMongoClient[Any],
) -> None:
    """Each poll's needs events are replayed in one batch (ADR 0034): the same needs view,
    gap documents and cells as the events one by one, and an unreadable one skipped."""
    events = []
    for n in range(6):
        for seq in (1, 2, 3):
            need = validated_need(f"N{n}", "ML05", f"ML050{seq}", {"TARP": 10 * seq + n})
            spec = NEED_SUBMITTED if seq == 1 else NEED_COVERAGE_CHANGED
            subject = need_subject(need.need_id)
            events.append(spec.new(need, subject=subject, sequence=seq, context=EventContext.new()))
    poison = events[4].model_copy(update={"data": {"need_id": "N1"}})
    published = [*events[:5], poison, *events[5:], events[7]]  # and a duplicate late
    await producer.publish(NEEDS_EVENTS.qualified(topics), published)

    report = await rebuild_views(db, infra.kafka_bootstrap, topics)

    assert (report.records, report.skipped) == (len(published), 1)
    reference = store_client[f"{db.name}_ref"]
    try:
        one_by_one = GapProjection(MongoItemView(reference[mongo_gaps.ITEMS]), gap_view(reference))
        for event in events:
            await one_by_one.need_changed(event)
        for name in ("by_item", "by_sector"):
            got = await getattr(gap_view(db), name)(GapFilter(), "admin2")
            want = await getattr(gap_view(reference), name)(GapFilter(), "admin2")
            assert sorted(got, key=repr) == sorted(want, key=repr)
        assert await gap_view(db).trend(GapFilter()) == await gap_view(reference).trend(GapFilter())
    finally:
        await store_client.drop_database(reference.name)
    needs = [doc["state"]["admin2_pcode"] async for doc in db[mongo_views.NEEDS].find({})]
    assert needs == ["ML0503"] * 6
