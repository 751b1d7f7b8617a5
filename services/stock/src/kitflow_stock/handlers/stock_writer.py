"""Commands on one warehouse's stock, applied in batches with one write per batch.

Every command on a warehouse goes through here. Commands that arrive while a write is in flight
queue up; the next round loads the stock once, applies each queued command in arrival order
(each one all-or-nothing, each with its own result or error), and stores the result with all
their events in ONE conditional update. Under load this turns N contending writers into one
write per round (group commit) instead of N optimistic retries; alone, a command costs one read
and one write. Another process writing the same warehouse meanwhile makes the conditional update
miss: the round reloads and applies the commands again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kitflow_shared.events.envelope import CloudEvent, EventContext

from kitflow_stock.domain.errors import ConcurrentChange, StockError
from kitflow_stock.domain.stock import WarehouseStock
from kitflow_stock.handlers.ports import ALL_PARTS, StockParts, WarehouseStockRepository
from kitflow_stock.handlers.stock_integration import ledger_rows, stock_events

T = TypeVar("T")
StockCommand = Callable[[WarehouseStock], T]

MAX_BATCH = 256
MAX_ROUNDS = 20


@dataclass
class _Queued:
    command: StockCommand[Any]
    context: EventContext
    owner: str
    parts: StockParts
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class StockWriter:
    def __init__(self, repository: WarehouseStockRepository) -> None:
        self._repository = repository
        self._queues: dict[str, list[_Queued]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    async def execute(
        self,
        warehouse: str,
        command: StockCommand[T],
        context: EventContext,
        owner: str = "",
        parts: StockParts = ALL_PARTS,
    ) -> T:
        """Apply `command` to the warehouse's stock and store it; return its result.

        `owner` is the warehouse's organisation, used when its stock is created; `parts` the
        reservations and document numbers the command looks at."""
        queued = _Queued(command, context, owner, parts)
        self._queues.setdefault(warehouse, []).append(queued)
        if warehouse not in self._workers:
            self._workers[warehouse] = asyncio.create_task(self._drain(warehouse))
        result: T = await queued.future
        return result

    async def _drain(self, warehouse: str) -> None:
        try:
            while self._queues.get(warehouse):
                batch = self._queues[warehouse][:MAX_BATCH]
                del self._queues[warehouse][:MAX_BATCH]
                try:
                    await self._apply(warehouse, batch)
                except Exception as exc:  # the store failed: every caller hears it
                    for queued in batch:
                        if not queued.future.done():
                            queued.future.set_exception(exc)
        finally:
            # No await between the last check and here: no command can slip in unseen.
            self._workers.pop(warehouse, None)
            if not self._queues.get(warehouse):
                self._queues.pop(warehouse, None)

    async def _apply(self, warehouse: str, batch: list[_Queued]) -> None:
        parts = batch[0].parts
        for queued in batch[1:]:
            parts = parts | queued.parts
        for _ in range(MAX_ROUNDS):
            stock = await self._repository.load(warehouse, parts)
            if not stock.owner:
                stock.owner = next((q.owner for q in batch if q.owner), "")
            expected = stock.sequence
            outcomes: list[tuple[_Queued, bool, Any]] = []
            events: list[CloudEvent] = []
            journal: list[dict[str, Any]] = []
            for queued in batch:
                first = len(stock.events)
                try:
                    result = queued.command(stock)
                except StockError as error:
                    # The domain validates before it changes anything: nothing to undo.
                    outcomes.append((queued, False, error))
                    continue
                produced = stock.events[first:]
                events.extend(stock_events(warehouse, produced, queued.context))
                journal.extend(ledger_rows(warehouse, produced))
                outcomes.append((queued, True, result))
            if events or stock.changed_items or stock.changed_entries:
                try:
                    await self._repository.save(stock, expected, events, journal)
                except ConcurrentChange:
                    continue
            for queued, ok, value in outcomes:
                if ok:
                    queued.future.set_result(value)
                else:
                    queued.future.set_exception(value)
            return
        raise ConcurrentChange(f"the stock of {warehouse} kept changing; try again")

    async def peek(self, warehouse: str, parts: StockParts = ALL_PARTS) -> WarehouseStock:
        """The stock as stored now (read-only use)."""
        return await self._repository.load(warehouse, parts)
