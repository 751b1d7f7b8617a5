"""Distribution's read models can be rebuilt from the topics alone."""

from __future__ import annotations

from typing import Any

import pytest
from kitflow_distribution.adapters import mongo_views
from kitflow_distribution.rebuild import rebuild_views
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
from kitflow_shared.topics import STOCK_EVENTS
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.infra import Infra

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
