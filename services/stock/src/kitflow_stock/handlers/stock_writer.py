"""Commands on one warehouse's stock, applied in batches with one write per batch.

Every command on a warehouse goes through here. Commands that arrive while a write is in flight
queue up; the next round loads the stock once, applies each queued command in arrival order
(each one all-or-nothing, each with its own result or error), and stores the result with all
their events in ONE conditional update. Under load this turns N contending writers into one
write per round (group commit) instead of N optimistic retries; alone, a command costs one read
and one write. Another process writing the same warehouse meanwhile makes the conditional update
miss: the round reloads and applies the commands again, after a short random pause (so that
replicas that collided do not collide again in step), for as long as `conflict_deadline_s`
allows rather than a fixed number of rounds (ADR 0035). Under bounded contention the loser
always gets its turn: callers wait a little, they are not refused; only a warehouse that keeps
changing for the whole deadline answers ConcurrentChange (409).

A command may carry an Idempotency-Key (ADR 0011). The round loads the requests the stock
remembers for the batch's keys: a remembered one is not applied again, its first result is
replayed; a key met twice in one batch is applied for the first copy only. The keys of the
applied commands are remembered in the round's write, which also misses if another process
remembered one of them meanwhile.

A command whose own input the store cannot hold (a value beyond its limits), or that fails
unexpectedly, must not fail its neighbours: the round is then replayed one command at a time,
so that only that command fails.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.metrics import WRITE_CONFLICTS
from kitflow_shared.request_keys import (
    IdempotencyKeyReused,
    RememberedRequest,
    RequestKey,
    replayed_result,
)

from kitflow_stock.domain.errors import ConcurrentChange, StockError, Unstorable
from kitflow_stock.domain.stock import WarehouseStock
from kitflow_stock.handlers.ports import ALL_PARTS, StockParts, WarehouseStockRepository, only
from kitflow_stock.handlers.stock_integration import ledger_rows, stock_events

T = TypeVar("T")
StockCommand = Callable[[WarehouseStock], T]
Clock = Callable[[], datetime]

MAX_BATCH = 256
# How long a batch keeps re-applying itself while other replicas win the write; past that, its
# callers hear ConcurrentChange. Under the gateway's 30 s upstream timeout.
CONFLICT_DEADLINE_S = 15.0
# The pause after a lost write: random in [0, min(cap, base * 2**losses)] ("full jitter").
BACKOFF_BASE_S = 0.005
BACKOFF_CAP_S = 0.25


@dataclass(frozen=True)
class Replay:
    """The command's key was remembered: `result` is what its first application produced."""

    result: str


@dataclass
class _Queued:
    command: StockCommand[Any]
    context: EventContext
    owner: str
    parts: StockParts
    key: RequestKey | None = None
    # What to remember of the command's result: the reference a replay renders its answer from.
    remember: Callable[[Any], str] | None = None
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Isolate(Exception):
    """The round cannot be written because of one of its commands; `cause` says why."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class StockWriter:
    def __init__(
        self,
        repository: WarehouseStockRepository,
        clock: Clock = lambda: datetime.now(UTC),
        *,
        conflict_deadline_s: float = CONFLICT_DEADLINE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._conflict_deadline_s = conflict_deadline_s
        self._backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        # Writes this process lost to another replica (also in /metrics).
        self.conflicts = 0
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
        result: T = await self._enqueue(warehouse, _Queued(command, context, owner, parts))
        return result

    async def execute_once(
        self,
        warehouse: str,
        command: StockCommand[T],
        context: EventContext,
        key: RequestKey,
        remember: Callable[[T], str],
        owner: str = "",
        parts: StockParts = ALL_PARTS,
    ) -> T | Replay:
        """Like `execute`, for a request with an Idempotency-Key: applied and remembered (as
        `remember(result)`) in the same write, or, if the key was remembered before, not
        applied again: the Replay of the first result. IdempotencyKeyReused when the key was
        used for another request."""
        queued = _Queued(command, context, owner, parts, key, remember)
        result: T | Replay = await self._enqueue(warehouse, queued)
        return result

    async def remembered(self, warehouse: str, key: RequestKey) -> str | None:
        """The first result of the request with this key, if the stock remembers it."""
        _, remembered = await self._repository.load_remembered(warehouse, only(), [key.token])
        return replayed_result(remembered.get(key.token), key)

    async def peek(self, warehouse: str, parts: StockParts = ALL_PARTS) -> WarehouseStock:
        """The stock as stored now (read-only use)."""
        return await self._repository.load(warehouse, parts)

    async def _enqueue(self, warehouse: str, queued: _Queued) -> Any:
        self._queues.setdefault(warehouse, []).append(queued)
        if warehouse not in self._workers:
            self._workers[warehouse] = asyncio.create_task(self._drain(warehouse))
        return await queued.future

    async def _drain(self, warehouse: str) -> None:
        try:
            while self._queues.get(warehouse):
                batch = self._queues[warehouse][:MAX_BATCH]
                del self._queues[warehouse][:MAX_BATCH]
                await self._settle(warehouse, batch)
        finally:
            # No await between the last check and here: no command can slip in unseen.
            self._workers.pop(warehouse, None)
            if not self._queues.get(warehouse):
                self._queues.pop(warehouse, None)

    async def _settle(self, warehouse: str, batch: list[_Queued]) -> None:
        """Apply the batch; if one of its commands spoils the round, each command alone."""
        try:
            await self._apply(warehouse, batch)
        except _Isolate as isolate:
            if len(batch) == 1:
                batch[0].future.set_exception(isolate.cause)
                return
            for queued in batch:
                await self._settle(warehouse, [queued])
        except Exception as exc:  # the store failed: every caller hears it
            for queued in batch:
                if not queued.future.done():
                    queued.future.set_exception(exc)

    async def _apply(self, warehouse: str, batch: list[_Queued]) -> None:
        parts = batch[0].parts
        for queued in batch[1:]:
            parts = parts | queued.parts
        tokens = {queued.key.token for queued in batch if queued.key is not None}
        deadline = time.monotonic() + self._conflict_deadline_s
        losses = 0
        while True:
            if losses:
                if time.monotonic() >= deadline:
                    WRITE_CONFLICTS.labels("stock", "warehouse-stock", "refused").inc()
                    raise ConcurrentChange(f"the stock of {warehouse} kept changing; try again")
                WRITE_CONFLICTS.labels("stock", "warehouse-stock", "retried").inc()
                await self._sleep(self._backoff(losses))
            try:
                stock, remembered = await self._repository.load_remembered(warehouse, parts, tokens)
            except Unstorable as exc:  # e.g. a name the store cannot take, in one command
                raise _Isolate(exc) from exc
            if not stock.owner:
                stock.owner = next((q.owner for q in batch if q.owner), "")
            expected = stock.sequence
            outcomes: list[tuple[_Queued, bool, Any]] = []
            events: list[CloudEvent] = []
            journal: list[dict[str, Any]] = []
            to_remember: list[RememberedRequest] = []
            now = self._clock()
            for queued in batch:
                if queued.key is not None and queued.key.token in remembered:
                    outcomes.append(self._replay(queued, remembered[queued.key.token]))
                    continue
                first = len(stock.events)
                try:
                    result = queued.command(stock)
                except StockError as error:
                    # The domain validates before it changes anything: nothing to undo.
                    outcomes.append((queued, False, error))
                    continue
                except Exception as exc:  # a failure the domain did not foresee
                    raise _Isolate(exc) from exc
                produced = stock.events[first:]
                events.extend(stock_events(warehouse, produced, queued.context))
                journal.extend(ledger_rows(warehouse, produced))
                outcomes.append((queued, True, result))
                if queued.key is not None and queued.remember is not None:
                    entry = RememberedRequest.of(queued.key, queued.remember(result), now)
                    to_remember.append(entry)
                    # A second copy of this request later in the batch replays this one.
                    remembered[entry.token] = entry
            if events or stock.changed_items or stock.changed_entries or to_remember:
                try:
                    await self._repository.save(stock, expected, events, journal, to_remember)
                except ConcurrentChange:
                    losses += 1
                    self.conflicts += 1
                    continue
                except Unstorable as exc:
                    raise _Isolate(exc) from exc
            for queued, ok, value in outcomes:
                if ok:
                    queued.future.set_result(value)
                else:
                    queued.future.set_exception(value)
            return

    def _backoff(self, losses: int) -> float:
        ceiling = min(self._backoff_cap_s, BACKOFF_BASE_S * 2 ** min(losses, 16))
        return random.uniform(0, ceiling)

    @staticmethod
    def _replay(queued: _Queued, entry: RememberedRequest) -> tuple[_Queued, bool, Any]:
        assert queued.key is not None
        try:
            result = replayed_result(entry, queued.key)
        except IdempotencyKeyReused as reused:
            return queued, False, reused
        assert result is not None
        return queued, True, Replay(result)
