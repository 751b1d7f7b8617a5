"""Per-organisation rate limits as fixed windows: N requests per window, counted in the store.

A fixed window may let up to 2N through around a boundary; in exchange it costs one atomic
increment per request and works the same on every gateway instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Window:
    start_epoch_s: int
    length_s: int

    @classmethod
    def containing(cls, now: datetime, length_s: int) -> Window:
        epoch = math.floor(now.timestamp())
        return cls(epoch - epoch % length_s, length_s)

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the window ends (at least 1, as Retry-After wants)."""
        return max(1, math.ceil(self.start_epoch_s + self.length_s - now.timestamp()))

    def counter_id(self, organisation: str) -> str:
        return f"{organisation}:{self.start_epoch_s}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int
