"""What needs subscribes to: one visible map from event type to handler."""

from __future__ import annotations

from kitflow_shared.contracts.distribution import NEED_COVERAGE_CHANGED
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied

from kitflow_needs.handlers import coverage
from kitflow_needs.handlers.ports import NeedsServices


def subscriptions(svc: NeedsServices) -> dict[str, Handler]:
    async def on_coverage(event: CloudEvent) -> Applied:
        return await coverage.coverage_changed(event, svc)

    return {
        NEED_COVERAGE_CHANGED.type: on_coverage,
    }
