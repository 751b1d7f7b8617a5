"""What needs subscribes to: one visible map from event type to handler.

- distribution: the coverage of each need;
- stock: the catalogue's items and kits (the read model intake checks codes against). Stock's
  other events on that topic (movements, reservations, warehouses) are not subscribed to, so
  the runner skips them.
"""

from __future__ import annotations

from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.contracts.distribution import NEED_COVERAGE_CHANGED
from kitflow_shared.messaging.consumer import Handler

from kitflow_needs.handlers.catalogue import CatalogueHandlers
from kitflow_needs.handlers.coverage import CoverageHandlers
from kitflow_needs.handlers.ports import NeedsServices


def subscriptions(svc: NeedsServices) -> dict[str, Handler]:
    coverage = CoverageHandlers(svc)
    catalogue = CatalogueHandlers(svc)
    return {
        NEED_COVERAGE_CHANGED.type: coverage.coverage_changed,
        ITEM_REGISTERED.type: catalogue.item_published,
        ITEM_UPDATED.type: catalogue.item_published,
    }
