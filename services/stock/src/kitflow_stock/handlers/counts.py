"""Physical counts: started and corrected as drafts, then submitted once (see domain.counts).

Only the warehouse's own staff (and admins) count its stock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import (
    IdempotencyKeyReused,
    RememberedRequest,
    RequestKey,
    replayed_result,
)

from kitflow_stock.domain.counts import Count, CountStatus
from kitflow_stock.domain.errors import (
    ConcurrentChange,
    Conflict,
    CountAlreadySubmitted,
    StockError,
    UnknownCount,
)
from kitflow_stock.domain.stock import CountedLine
from kitflow_stock.handlers.ports import Actor, CountRepository, Done
from kitflow_stock.handlers.stock import StockHandlers, new_id


@dataclass
class CountHandlers:
    stock: StockHandlers
    counts: CountRepository

    async def start(
        self,
        actor: Actor,
        code: str,
        lines: Sequence[CountedLine],
        key: RequestKey | None = None,
    ) -> Done[Count]:
        """A new draft count; it changes no stock."""
        counted = await self._counted(actor, code, lines)
        if key is not None and (replay := await self._started_by(key)) is not None:
            return replay
        now = self.stock.clock()
        count = Count(new_id("CNT"), code, CountStatus.DRAFT, counted, actor.user, now)
        try:
            await self.counts.add(
                count, RememberedRequest.of(key, count.count_id, now) if key else None
            )
        except ConcurrentChange:
            # A copy of this request started the count meanwhile.
            if key is not None and (replay := await self._started_by(key)) is not None:
                return replay
            raise
        return Done(count)

    async def replace_lines(
        self,
        actor: Actor,
        code: str,
        count_id: str,
        lines: Sequence[CountedLine],
        key: RequestKey | None = None,
    ) -> Done[Count]:
        """The draft's lines, replaced."""
        counted = await self._counted(actor, code, lines)
        now = self.stock.clock()
        request = RememberedRequest.of(key, count_id, now) if key else None
        for _ in range(2):  # a miss is a copy of this request having won, or no draft
            count, remembered = await self.counts.get(code, count_id, key)
            if count is None:
                raise UnknownCount(code, count_id)
            if key is not None and replayed_result(remembered, key) is not None:
                return Done(count, replayed=True)
            replaced = await self.counts.replace_lines(code, count_id, list(counted), now, request)
            if replaced is not None:
                return Done(replaced)
            if key is None:
                break
        raise Conflict(f"count {count_id} is no draft any more: it is (being) submitted")

    async def submit(
        self, actor: Actor, code: str, count_id: str, context: EventContext, key: RequestKey | None
    ) -> Done[Count]:
        """Apply the count's differences to the stock, once (CountAlreadySubmitted after)."""
        await self.stock.operable(actor, code)
        claimed = await self.counts.claim(code, count_id, self.stock.clock())
        if claimed is None:
            return await self._submitted_before(code, count_id, key)
        try:
            done = await self.stock.submit_count(actor, code, count_id, claimed.lines, context, key)
        except CountAlreadySubmitted as submitted:
            # Applied by another submission, maybe one a crash stopped before it said so.
            await self._mark(actor, claimed, submitted.movement_id)
            raise
        except (StockError, IdempotencyKeyReused):
            await self.counts.release_claim(code, count_id)  # refused: it changed nothing
            raise
        marked = await self._mark(actor, claimed, done.value or None)
        return Done(marked, done.replayed)

    async def get(self, actor: Actor, code: str, count_id: str) -> Count:
        await self.stock.readable(actor, code)
        count, _ = await self.counts.get(code, count_id)
        if count is None:
            raise UnknownCount(code, count_id)
        return count

    async def _counted(
        self, actor: Actor, code: str, lines: Sequence[CountedLine]
    ) -> tuple[CountedLine, ...]:
        """The counted lines, owned by the warehouse's organisation unless they say otherwise."""
        warehouse = await self.stock.operable(actor, code)
        await self.stock.known_items([line.item for line in lines])
        owner = warehouse.details.organisation
        return tuple(
            CountedLine(x.item, x.lot, x.owner or owner, x.counted, x.expiry) for x in lines
        )

    async def _started_by(self, key: RequestKey) -> Done[Count] | None:
        found = await self.counts.created_by(key.token)
        if found is None:
            return None
        count, request = found
        replayed_result(request, key)  # IdempotencyKeyReused for another request
        return Done(count, replayed=True)

    async def _submitted_before(
        self, code: str, count_id: str, key: RequestKey | None
    ) -> Done[Count]:
        count, _ = await self.counts.get(code, count_id)
        if count is None:
            raise UnknownCount(code, count_id)
        if key is not None and await self.stock.remembered(code, key) is not None:
            return Done(count, replayed=True)
        raise CountAlreadySubmitted(count_id, count.movement_id)

    async def _mark(self, actor: Actor, count: Count, movement_id: str | None) -> Count:
        return await self.counts.mark_submitted(
            count.warehouse,
            count.count_id,
            movement_id,
            count.lines,
            actor.user,
            self.stock.clock(),
        )
