"""Counting an organisation's requests in the current window, and the verdict."""

from __future__ import annotations

from datetime import UTC, datetime

from kitflow_gateway.domain.rate_limits import Verdict, Window
from kitflow_gateway.handlers.ports import Clock, RateCounters


class RateLimiter:
    def __init__(self, counters: RateCounters, clock: Clock, limit: int, window_s: int) -> None:
        self.counters = counters
        self.clock = clock
        self.limit = limit
        self.window_s = window_s

    async def check(self, organisation: str) -> Verdict:
        now = self.clock()
        window = Window.containing(now, self.window_s)
        count = await self.counters.increment(
            window.counter_id(organisation), datetime.fromtimestamp(window.start_epoch_s, UTC)
        )
        return Verdict(
            allowed=count <= self.limit,
            limit=self.limit,
            remaining=max(0, self.limit - count),
            retry_after_s=window.seconds_left(now),
        )
