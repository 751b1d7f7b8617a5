"""The stock writer against another replica writing the same warehouse (ADR 0035): a batch
that loses the conditional write re-applies itself after a random pause for as long as the
deadline allows, not for a fixed number of rounds; past the deadline its callers hear
ConcurrentChange, and nothing of the batch is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from kitflow_shared.events.envelope import EventContext
from kitflow_stock.domain.errors import ConcurrentChange
from kitflow_stock.domain.stock import InboundLine, MovementInfo, WarehouseStock
from kitflow_stock.handlers.stock_writer import BACKOFF_CAP_S, StockWriter

from tests.unit.stock.fakes import RivalledStockRepository

WAREHOUSE = "GAO-SUB"
RECEIPTS = 10


def _receipt(number: int) -> Any:
    info = MovementInfo(f"MV-{number}", datetime.now(UTC), "staff", f"GRN-{number}")
    return lambda stock: stock.receive(info, [InboundLine("SOAP", 1)])


class Pauses:
    """The writer's sleep: records each pause and yields to the loop without waiting."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        await asyncio.sleep(0)


async def _receive_all(writer: StockWriter) -> list[Any]:
    context = EventContext.new()
    return await asyncio.gather(
        *(writer.execute(WAREHOUSE, _receipt(n), context, owner="IOM") for n in range(RECEIPTS)),
        return_exceptions=True,
    )


async def test_a_batch_that_loses_many_writes_in_a_row_still_lands_once() -> None:
    # More lost writes in a row than the 20 rounds the writer used to allow.
    repository = RivalledStockRepository(WAREHOUSE, rival_writes=40)
    pauses = Pauses()
    writer = StockWriter(repository, sleep=pauses)

    outcomes = await _receive_all(writer)

    assert [type(o).__name__ for o in outcomes] == ["Movement"] * RECEIPTS
    assert repository.saves == 1
    assert repository.stock.balance("SOAP").on_hand == RECEIPTS
    assert writer.conflicts == 40
    assert len(pauses.taken) == 40
    assert all(0 <= pause <= BACKOFF_CAP_S for pause in pauses.taken)


async def test_a_warehouse_that_keeps_changing_refuses_once_the_deadline_passes() -> None:
    repository = RivalledStockRepository(WAREHOUSE, rival_writes=None)
    writer = StockWriter(repository, conflict_deadline_s=0.05, sleep=Pauses())

    outcomes = await _receive_all(writer)

    assert all(isinstance(o, ConcurrentChange) for o in outcomes), outcomes
    assert repository.saves == 0
    assert repository.stock == WarehouseStock(WAREHOUSE)


@pytest.mark.parametrize("losses", [1, 3, 8, 40])
def test_the_pause_after_a_lost_write_grows_and_stays_under_the_cap(losses: int) -> None:
    writer = StockWriter(RivalledStockRepository(WAREHOUSE, rival_writes=0))
    ceiling = min(BACKOFF_CAP_S, 0.005 * 2**losses)
    assert all(0 <= writer._backoff(losses) <= ceiling for _ in range(200))
