"""Distribution's coverage of a need: planned, reserved, dispatched, delivered per item."""

from __future__ import annotations

from dataclasses import dataclass

from kitflow_shared.contracts.distribution import NEED_COVERAGE_CHANGED
from kitflow_shared.events.envelope import CloudEvent, EventContext
from kitflow_shared.messaging.idempotency import Applied

from kitflow_needs.domain.errors import ConcurrentChange, NeedsError
from kitflow_needs.handlers.integration import coverage_of, need_events
from kitflow_needs.handlers.ports import NeedsServices

MAX_ATTEMPTS = 10


class CoverageMismatch(NeedsError):
    """Coverage reported for a need under another organisation: a bug upstream, never applied."""


@dataclass
class CoverageHandlers:
    """Distribution's coverage of each need, applied to the need."""

    svc: NeedsServices

    async def coverage_changed(self, event: CloudEvent) -> Applied:
        """Keep the newest coverage (by distribution's sequence) and the status that follows
        from it.

        The guard (stored coverage sequence older than this one) and the effect are one atomic
        conditional update of the need's document, with the coverage-changed event in its
        outbox."""
        state = NEED_COVERAGE_CHANGED.parse(event)
        progress, reached = coverage_of(state)
        context = EventContext.caused_by(event)
        for _ in range(MAX_ATTEMPTS):
            need = await self.svc.needs.get(state.need_id)
            if need.organisation != state.organisation:
                raise CoverageMismatch(
                    f"coverage of need {need.need_id} names {state.organisation}, but the need "
                    f"belongs to {need.organisation}"
                )
            expected = need.sequence
            if not need.apply_coverage(progress, reached, event.sequence, now=self.svc.clock.now()):
                return Applied.DUPLICATE
            try:
                await self.svc.needs.save_coverage(
                    need, expected, need_events(need.events, context)
                )
            except ConcurrentChange:
                continue
            return Applied.APPLIED
        raise ConcurrentChange(f"need {state.need_id} kept changing while applying coverage")
