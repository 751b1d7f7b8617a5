"""Registering and changing catalogue items and kits (admins only: the catalogue is shared by
the whole cluster)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kitflow_shared.events.envelope import EventContext

from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    ItemDetails,
    check_bill_of_materials,
    check_may_become_kit,
)
from kitflow_stock.domain.errors import ConcurrentChange, NotPermitted
from kitflow_stock.handlers.catalogue_integration import item_events
from kitflow_stock.handlers.ports import Actor, CatalogueRepository

# Optimistic concurrency: a few re-reads settle any realistic contention on one item.
MAX_ATTEMPTS = 5
# Enough to see every kit that contains an item (a catalogue has tens of kits, not thousands).
_KITS_SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class RegisterItem:
    code: str
    details: ItemDetails


@dataclass(frozen=True)
class ChangeItem:
    code: str
    changes: dict[str, Any]


async def register_item(
    command: RegisterItem, actor: Actor, repo: CatalogueRepository, context: EventContext
) -> CatalogueItem:
    _require_admin(actor)
    item = CatalogueItem.register(command.code, command.details)
    await _check_kit_rules(item, repo, was_kit=False)
    await repo.add(item, item_events(item.events, context))
    return item


async def change_item(
    command: ChangeItem, actor: Actor, repo: CatalogueRepository, context: EventContext
) -> CatalogueItem:
    _require_admin(actor)
    for _ in range(MAX_ATTEMPTS):
        item = await repo.get(command.code)
        was_kit = item.is_kit
        new_details: ItemDetails = replace(item.details, **command.changes)
        expected = item.sequence
        if not item.change(new_details):
            return item
        await _check_kit_rules(item, repo, was_kit=was_kit)
        try:
            await repo.save(item, expected, item_events(item.events, context))
        except ConcurrentChange:
            continue
        return item
    raise ConcurrentChange(f"item {command.code} kept changing; try again")


def _require_admin(actor: Actor) -> None:
    if not actor.admin:
        raise NotPermitted("only an admin changes the catalogue")


async def _check_kit_rules(
    item: CatalogueItem, repo: CatalogueRepository, *, was_kit: bool
) -> None:
    """A kit's components exist and are plain items; an item inside kits does not become a kit.

    These rules span aggregates, so they hold as of this read: two admins racing (one turning
    an item into a kit while the other puts it in a kit) could both pass. The catalogue changes
    rarely and by admins only, which makes that window acceptable.
    """
    if not item.is_kit:
        return
    codes = [c.item_code for c in item.details.components]
    check_bill_of_materials(item.details, await repo.get_many(codes))
    if not was_kit:
        page = await repo.list(
            category=None,
            is_kit=True,
            text=None,
            component=item.code,
            limit=_KITS_SCAN_LIMIT,
            offset=0,
        )
        check_may_become_kit(item.code, [kit.code for kit in page.items])
