"""The alerts list (issue 16): every source's alerts, newest first, for coordinators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kitflow_distribution.domain.alerts import Alert, AlertKind, newest_first
from kitflow_distribution.handlers.ports import AlertSource


@dataclass
class AlertQueries:
    sources: Sequence[AlertSource]

    async def alerts(
        self, now: datetime, kinds: frozenset[AlertKind] | None, limit: int
    ) -> list[Alert]:
        found = [a for source in self.sources for a in await source.alerts(now)]
        if kinds:
            found = [a for a in found if a.kind in kinds]
        return newest_first(found)[:limit]
