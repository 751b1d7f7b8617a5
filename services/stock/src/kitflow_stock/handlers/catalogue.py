"""Registering and changing catalogue items and kits (admins only: the catalogue is shared by
the whole cluster)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result

from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    DuplicateItem,
    ItemDetails,
    check_bill_of_materials,
    check_may_become_kit,
)
from kitflow_stock.domain.errors import ConcurrentChange, NotPermitted
from kitflow_stock.handlers.catalogue_integration import item_events
from kitflow_stock.handlers.ports import Actor, CatalogueRepository, Done

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


def _require_admin(actor: Actor) -> None:
    if not actor.admin:
        raise NotPermitted("only an admin changes the catalogue")


@dataclass
class CatalogueHandlers:
    """Registering and changing catalogue items and kits."""

    repo: CatalogueRepository

    async def register_item(
        self,
        command: RegisterItem,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[CatalogueItem]:
        _require_admin(actor)
        if key is not None and (replay := await self._created_by(key)) is not None:
            return replay
        item = CatalogueItem.register(command.code, command.details)
        await self._check_kit_rules(item, was_kit=False)
        request = RememberedRequest.of(key, command.code, datetime.now(UTC)) if key else None
        try:
            await self.repo.add(item, item_events(item.events, context), request)
        except DuplicateItem:
            # Its code is taken, or a copy of this request created it meanwhile.
            if key is not None and (replay := await self._created_by(key)) is not None:
                return replay
            raise
        return Done(item)

    async def _created_by(self, key: RequestKey) -> Done[CatalogueItem] | None:
        code = replayed_result(await self.repo.created_by(key.token), key)
        return None if code is None else Done(await self.repo.get(code), replayed=True)

    async def change_item(
        self,
        command: ChangeItem,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[CatalogueItem]:
        _require_admin(actor)
        for _ in range(MAX_ATTEMPTS):
            item, remembered = await self.repo.load(command.code, key)
            if key is not None and replayed_result(remembered, key) is not None:
                return Done(item, replayed=True)
            was_kit = item.is_kit
            new_details: ItemDetails = replace(item.details, **command.changes)
            expected = item.sequence
            # Unchanged, its key is remembered all the same (see change_warehouse).
            changed = item.change(new_details)
            if not changed and key is None:
                return Done(item)
            if changed:
                await self._check_kit_rules(item, was_kit=was_kit)
            request = RememberedRequest.of(key, command.code, datetime.now(UTC)) if key else None
            try:
                await self.repo.save(item, expected, item_events(item.events, context), request)
            except ConcurrentChange:
                continue
            return Done(item)
        raise ConcurrentChange(f"item {command.code} kept changing; try again")

    async def _check_kit_rules(self, item: CatalogueItem, *, was_kit: bool) -> None:
        """A kit's components exist and are plain items; an item inside kits does not become a kit.

        These rules span aggregates, so they hold as of this read: two admins racing (one turning
        an item into a kit while the other puts it in a kit) could both pass. The catalogue changes
        rarely and by admins only, which makes that window acceptable.
        """
        if not item.is_kit:
            return
        codes = [c.item_code for c in item.details.components]
        check_bill_of_materials(item.details, await self.repo.get_many(codes))
        if not was_kit:
            page = await self.repo.list(
                category=None,
                is_kit=True,
                text=None,
                component=item.code,
                limit=_KITS_SCAN_LIMIT,
                offset=0,
            )
            check_may_become_kit(item.code, [kit.code for kit in page.items])
