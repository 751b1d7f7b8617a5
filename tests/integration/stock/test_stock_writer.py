"""The per-warehouse stock writer on the real store: one batch, one write, and a command whose
own input spoils the write fails alone; an Idempotency-Key met twice in one batch applies once.

The API refuses such input before it reaches the writer; these tests hand it over directly, as
a future caller or a consumer might, to show that a neighbour never pays for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RequestKey
from kitflow_stock.adapters.mongo_stock import MongoWarehouseStockRepository
from kitflow_stock.domain.errors import InsufficientStock, Unstorable
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    InboundLine,
    Movement,
    MovementInfo,
    WarehouseStock,
)
from kitflow_stock.handlers.ports import only
from kitflow_stock.handlers.stock_writer import Replay, StockWriter
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra

Db = AsyncDatabase[dict[str, Any]]


def _writer(db: Db) -> StockWriter:
    return StockWriter(MongoWarehouseStockRepository(db["stock"], lambda *_: None))


def _receipt(number: str, quantity: int = 1) -> Any:
    info = MovementInfo(f"MV-{number}", datetime.now(UTC), "staff", number)
    return lambda stock: stock.receive(info, [InboundLine("SOAP", quantity)])


async def _on_hand(writer: StockWriter) -> int:
    return (await writer.peek("BKO-MAIN")).balance("SOAP").on_hand


async def test_a_command_the_store_cannot_hold_fails_alone(db: Db) -> None:
    writer = _writer(db)
    context = EventContext.new()
    commands = [_receipt(f"GRN-{n}") for n in range(10)]
    commands[3] = _receipt("GRN\x00NUL")  # a document number becomes a field name
    commands[7] = _receipt("GRN-HUGE", 2**63)  # past BSON's integers
    # Queued in one go: the writer takes them as one batch.
    outcomes = await asyncio.gather(
        *(writer.execute("BKO-MAIN", c, context, owner="IOM") for c in commands),
        return_exceptions=True,
    )
    failed = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert failed == [3, 7], outcomes
    assert all(isinstance(outcomes[i], Unstorable) for i in failed)
    assert await _on_hand(writer) == 8


async def test_a_command_that_fails_unexpectedly_fails_alone_and_leaves_nothing(db: Db) -> None:
    writer = _writer(db)
    context = EventContext.new()

    def half_done(stock: WarehouseStock) -> None:
        _receipt("GRN-HALF", 1000)(stock)  # changed the stock in memory, then:
        raise RuntimeError("a bug half way through")

    outcomes = await asyncio.gather(
        writer.execute("BKO-MAIN", _receipt("GRN-1"), context, owner="IOM"),
        writer.execute("BKO-MAIN", half_done, context, owner="IOM"),
        writer.execute("BKO-MAIN", _receipt("GRN-2"), context, owner="IOM"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert [isinstance(o, Movement) for o in (outcomes[0], outcomes[2])] == [True, True]
    assert await _on_hand(writer) == 2


async def test_two_copies_of_a_keyed_command_in_one_batch_apply_once(db: Db) -> None:
    writer = _writer(db)
    context = EventContext.new()
    key = RequestKey("IOM", "receipt-key-1", "fingerprint")
    copies = [
        writer.execute_once(
            "BKO-MAIN",
            _receipt(f"GRN-COPY-{n}", 5),
            context,
            key,
            lambda m: m.id,
            owner="IOM",
            parts=only(documents=[f"GRN-COPY-{n}"]),
        )
        for n in range(2)
    ]
    first, second = await asyncio.gather(*copies)
    assert isinstance(first, Movement)
    assert second == Replay(first.id)
    assert await _on_hand(writer) == 5
    # And in a later batch, the key is found in the stock.
    again = await writer.execute_once(
        "BKO-MAIN", _receipt("GRN-COPY-3", 5), context, key, lambda m: m.id, owner="IOM"
    )
    assert again == Replay(first.id)
    assert await _on_hand(writer) == 5


async def test_a_keyed_command_the_domain_refuses_is_not_remembered(db: Db) -> None:
    writer = _writer(db)
    context = EventContext.new()
    key = RequestKey("IOM", "adjust-key-1", "fingerprint")
    info = MovementInfo("MV-OUT", datetime.now(UTC), "staff")

    def lose(stock: WarehouseStock) -> Movement:
        return stock.adjust(info, AdjustmentReason.LOST, "SOAP", -5)

    with pytest.raises(InsufficientStock):
        await writer.execute_once("BKO-MAIN", lose, context, key, lambda m: m.id, owner="IOM")
    await writer.execute("BKO-MAIN", _receipt("GRN-1", 10), context, owner="IOM")
    applied = await writer.execute_once("BKO-MAIN", lose, context, key, lambda m: m.id, owner="IOM")
    assert isinstance(applied, Movement)
    assert await _on_hand(writer) == 5
