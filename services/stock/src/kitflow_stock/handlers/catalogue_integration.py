"""Catalogue domain events out, integration events (the shared contracts) in."""

from __future__ import annotations

from collections.abc import Sequence

from kitflow_shared.contracts.catalogue import (
    ITEM_REGISTERED,
    ITEM_UPDATED,
    ItemCategory,
    ItemState,
    KitComponentState,
    item_subject,
)
from kitflow_shared.events.envelope import CloudEvent, EventContext

from kitflow_stock.domain.catalogue import CatalogueItem, ItemEvent, ItemRegistered


def item_state(item: CatalogueItem) -> ItemState:
    d = item.details
    return ItemState(
        code=item.code,
        name_en=d.name_en,
        name_fr=d.name_fr,
        category=ItemCategory(d.category.value),
        unit=d.unit,
        pack_size=d.pack_size,
        weight_kg=d.weight_kg,
        volume_m3=d.volume_m3,
        components=[
            KitComponentState(item_code=c.item_code, quantity=c.quantity) for c in d.components
        ],
    )


def item_events(events: Sequence[ItemEvent], context: EventContext) -> list[CloudEvent]:
    out = []
    for event in events:
        spec = ITEM_REGISTERED if isinstance(event, ItemRegistered) else ITEM_UPDATED
        out.append(
            spec.new(
                item_state(event.item),
                subject=item_subject(event.item.code),
                sequence=event.item.sequence,
                context=context,
            )
        )
    return out
