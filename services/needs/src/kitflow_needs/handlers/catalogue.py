"""Stock's catalogue as needs knows it: the read model (built from stock's item events) and
its copy in memory, which intake looks codes up in.

Intake checks every item code of every row (10,000 in a bulk import), so the lookup is a dict
lookup, never a store round trip. The copy is kept in step without a timer:
- the consumer that applies an item event puts the item in this process's copy too;
- another replica (its consumer owns other partitions of stock's topic, or it runs no
  consumer at all) learns a new code the first time a request names it: a code missing from
  the copy costs one read of the read model, then the answer is final for that request;
- a bulk import, an export and the reference list read the read model once each, so what
  they show is as fresh as the store.
An entry's name or unit that stock changed shows on another replica at its next such read;
whether a code is accepted never waits for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied

from kitflow_needs.domain.catalogue import CatalogueItem, ItemCatalogue
from kitflow_needs.handlers.integration import catalogue_item_of
from kitflow_needs.handlers.ports import CatalogueRepository, NeedsServices


class LiveCatalogue:
    """The bundled seed with the read model's entries over it, in memory (the `Catalogue` port)."""

    def __init__(self, seed: ItemCatalogue, published: CatalogueRepository) -> None:
        self._published = published
        self._current = seed

    def current(self) -> ItemCatalogue:
        """The copy as it is now (for names and units in answers)."""
        return self._current

    async def refresh(self) -> ItemCatalogue:
        """Read the read model once and merge it in."""
        # Merged, not replaced: an item this process learned while the read was in flight
        # stays (entries only ever get newer, see ItemCatalogue.with_items).
        self._current = self._current.with_items(await self._published.all())
        return self._current

    async def knowing(self, codes: Iterable[str]) -> ItemCatalogue:
        """The copy, refreshed first if it lacks one of `codes` (stock may have registered it
        since): at most one read of the read model, none when every code is known."""
        wanted = list(codes)
        if self._current.knows_all(wanted):
            return self._current
        return await self.refresh()

    async def apply(self, item: CatalogueItem) -> Applied:
        """Store the item in the read model if newer, and in this process's copy."""
        if not await self._published.apply(item):
            return Applied.DUPLICATE
        self._current = self._current.with_items([item])
        return Applied.APPLIED


@dataclass
class CatalogueHandlers:
    """Stock's catalogue items, kept as the read model intake checks codes against."""

    svc: NeedsServices

    async def item_published(self, event: CloudEvent) -> Applied:
        """Stock registered or changed an item or kit: keep its newest version (by the item's
        sequence); a redelivered or older version changes nothing."""
        spec = ITEM_REGISTERED if event.type == ITEM_REGISTERED.type else ITEM_UPDATED
        return await self.svc.catalogue.apply(catalogue_item_of(spec.parse(event), event.sequence))
