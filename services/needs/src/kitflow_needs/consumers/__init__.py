"""What needs subscribes to: one visible map from event type to handler.

- distribution: the coverage of each need;
- stock: the catalogue's items and kits (the read model intake checks codes against). Stock's
  other events on that topic (movements, reservations, warehouses) are not subscribed to, so
  the runner skips them.
"""

from __future__ import annotations

from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.contracts.distribution import NEED_COVERAGE_CHANGED
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied

from kitflow_needs.handlers import catalogue, coverage
from kitflow_needs.handlers.ports import NeedsServices


def subscriptions(svc: NeedsServices) -> dict[str, Handler]:
    async def on_coverage(event: CloudEvent) -> Applied:
        return await coverage.coverage_changed(event, svc)

    async def on_item(event: CloudEvent) -> Applied:
        return await catalogue.item_published(event, svc)

    return {
        NEED_COVERAGE_CHANGED.type: on_coverage,
        ITEM_REGISTERED.type: on_item,
        ITEM_UPDATED.type: on_item,
    }
