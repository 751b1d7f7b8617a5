"""The catalogue's MongoDB adapter against the real store: documents, filters, concurrency and
the outbox written with every change."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.outbox import OUTBOX_FIELD
from kitflow_shared.store import ensure_indexes
from kitflow_stock.adapters.mongo_catalogue import (
    COLLECTION,
    INDEXES,
    MongoCatalogueRepository,
)
from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    DuplicateItem,
    ItemCategory,
    ItemDetails,
    KitComponent,
)
from kitflow_stock.domain.errors import ConcurrentChange, UnknownItem
from kitflow_stock.handlers.catalogue import CatalogueHandlers, ChangeItem, RegisterItem
from kitflow_stock.handlers.catalogue_integration import item_events
from kitflow_stock.handlers.ports import Actor
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]
ADMIN = Actor(user="root", organisation="OCHA", admin=True)

TARPAULIN = ItemDetails("Tarpaulin 6 x 4 m", "Bâche 6 x 4 m", ItemCategory.SHELTER, "piece")
BLANKET = ItemDetails(
    "Blanket 150 x 200 cm",
    "Couverture 150 x 200 cm",
    ItemCategory.NFI,
    "piece",
    pack_size=30,
    weight_kg=1.6,
    volume_m3=0.01,
)
SOAP = ItemDetails("Bathing soap, 250 g bar", "Savon de toilette", ItemCategory.WASH_HYGIENE, "bar")
NFI_KIT = ItemDetails(
    "NFI kit",
    "Kit BNA",
    ItemCategory.NFI,
    "kit",
    components=(KitComponent("BLANKET", 3), KitComponent("TARPAULIN-6X4", 1)),
)


class Kicks:
    """The relay's notify callback, recorded."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def __call__(self, collection: str, doc_id: Any) -> None:
        self.seen.append((collection, doc_id))


@pytest.fixture
async def repo(db: Db) -> tuple[MongoCatalogueRepository, Kicks]:
    await ensure_indexes(db, INDEXES)
    kicks = Kicks()
    return MongoCatalogueRepository(db[COLLECTION], kicks), kicks


async def _register(repo: MongoCatalogueRepository, code: str, details: ItemDetails) -> None:
    await CatalogueHandlers(repo).register_item(
        RegisterItem(code, details), ADMIN, EventContext.new()
    )


async def _outbox(db: Db, code: str) -> list[CloudEvent]:
    doc = await db[COLLECTION].find_one({"_id": code})
    assert doc is not None
    return [CloudEvent.from_document(e) for e in doc.get(OUTBOX_FIELD, [])]


async def test_an_item_is_stored_with_its_event_in_its_outbox_and_the_relay_is_told(
    db: Db, repo: tuple[MongoCatalogueRepository, Kicks]
) -> None:
    store, kicks = repo
    await _register(store, "BLANKET", BLANKET)
    item = await store.get("BLANKET")
    assert item == CatalogueItem("BLANKET", BLANKET, sequence=1)
    [event] = await _outbox(db, "BLANKET")
    assert event.type == ITEM_REGISTERED.type
    assert event.subject == "item/BLANKET"
    assert ITEM_REGISTERED.parse(event).weight_kg == 1.6
    assert kicks.seen == [(COLLECTION, "BLANKET")]


async def test_a_code_is_stored_once(db: Db, repo: tuple[MongoCatalogueRepository, Kicks]) -> None:
    store, _ = repo
    await _register(store, "BLANKET", BLANKET)
    with pytest.raises(DuplicateItem):
        await store.add(CatalogueItem.register("BLANKET", TARPAULIN), [])
    assert (await store.get("BLANKET")).details == BLANKET
    assert len(await _outbox(db, "BLANKET")) == 1


async def test_get_many_returns_the_known_codes_only(
    repo: tuple[MongoCatalogueRepository, Kicks],
) -> None:
    store, _ = repo
    await _register(store, "BLANKET", BLANKET)
    await _register(store, "TARPAULIN-6X4", TARPAULIN)
    found = await store.get_many(["BLANKET", "TARPAULIN-6X4", "NOPE", "BLANKET"])
    assert set(found) == {"BLANKET", "TARPAULIN-6X4"}
    assert found["TARPAULIN-6X4"].details == TARPAULIN
    assert await store.get_many([]) == {}
    with pytest.raises(UnknownItem):
        await store.get("NOPE")


async def test_a_kit_round_trips_with_its_bill_of_materials_in_order(
    repo: tuple[MongoCatalogueRepository, Kicks],
) -> None:
    store, _ = repo
    await _register(store, "BLANKET", BLANKET)
    await _register(store, "TARPAULIN-6X4", TARPAULIN)
    await _register(store, "KIT-NFI", NFI_KIT)
    kit = await store.get("KIT-NFI")
    assert kit.is_kit
    assert kit.details.components == NFI_KIT.components


async def test_listing_filters_by_category_kind_text_and_component_and_pages(
    repo: tuple[MongoCatalogueRepository, Kicks],
) -> None:
    store, _ = repo
    for code, details in [
        ("BLANKET", BLANKET),
        ("TARPAULIN-6X4", TARPAULIN),
        ("SOAP-BATH-250G", SOAP),
        ("KIT-NFI", NFI_KIT),
    ]:
        await _register(store, code, details)

    async def codes(**filters: Any) -> list[str]:
        query = {"category": None, "is_kit": None, "text": None, "component": None}
        page = await store.list(**{**query, **filters}, limit=100, offset=0)
        return [item.code for item in page.items]

    assert await codes() == ["BLANKET", "KIT-NFI", "SOAP-BATH-250G", "TARPAULIN-6X4"]
    assert await codes(category="nfi") == ["BLANKET", "KIT-NFI"]
    assert await codes(is_kit=True) == ["KIT-NFI"]
    assert await codes(is_kit=False, category="nfi") == ["BLANKET"]
    assert await codes(text="bache") == ["TARPAULIN-6X4"]
    assert await codes(text="SAVON") == ["SOAP-BATH-250G"]
    assert await codes(text="bath-2") == ["SOAP-BATH-250G"]
    # Regex characters are searched for literally.
    assert await codes(text=".*") == []
    assert await codes(component="TARPAULIN-6X4") == ["KIT-NFI"]
    assert await codes(component="SOAP-BATH-250G") == []
    page = await store.list(
        category=None, is_kit=None, text=None, component=None, limit=2, offset=1
    )
    assert [i.code for i in page.items] == ["KIT-NFI", "SOAP-BATH-250G"]
    assert page.total == 4


async def test_a_change_is_saved_with_its_event_next_to_the_earlier_ones(
    db: Db, repo: tuple[MongoCatalogueRepository, Kicks]
) -> None:
    store, kicks = repo
    await _register(store, "BLANKET", BLANKET)
    await CatalogueHandlers(store).change_item(
        ChangeItem("BLANKET", {"name_fr": "Couverture"}), ADMIN, EventContext.new()
    )
    assert (await store.get("BLANKET")).sequence == 2
    events = await _outbox(db, "BLANKET")
    assert [(e.type, e.sequence) for e in events] == [
        (ITEM_REGISTERED.type, 1),
        (ITEM_UPDATED.type, 2),
    ]
    assert ITEM_UPDATED.parse(events[1]).name_fr == "Couverture"
    assert kicks.seen == [(COLLECTION, "BLANKET"), (COLLECTION, "BLANKET")]
    # The filters follow the change.
    page = await store.list(
        category=None, is_kit=None, text="couverture", component=None, limit=10, offset=0
    )
    assert [i.code for i in page.items] == ["BLANKET"]


async def test_a_stale_write_is_a_concurrent_change_and_leaves_no_event(
    db: Db, repo: tuple[MongoCatalogueRepository, Kicks]
) -> None:
    store, _ = repo
    await _register(store, "BLANKET", BLANKET)
    first = await store.get("BLANKET")
    second = await store.get("BLANKET")
    first.change(replace(BLANKET, pack_size=10))
    second.change(replace(BLANKET, pack_size=20))
    ctx = EventContext.new()
    await store.save(first, 1, item_events(first.events, ctx))
    with pytest.raises(ConcurrentChange):
        await store.save(second, 1, item_events(second.events, ctx))
    assert (await store.get("BLANKET")).details.pack_size == 10
    assert [e.sequence for e in await _outbox(db, "BLANKET")] == [1, 2]


async def test_concurrent_changes_through_the_handler_all_land_one_version_each(
    db: Db, repo: tuple[MongoCatalogueRepository, Kicks]
) -> None:
    store, _ = repo
    await _register(store, "BLANKET", BLANKET)
    sizes = [2, 3, 4, 5]
    await asyncio.gather(
        *(
            CatalogueHandlers(store).change_item(
                ChangeItem("BLANKET", {"pack_size": n}), ADMIN, EventContext.new()
            )
            for n in sizes
        )
    )
    item = await store.get("BLANKET")
    events = await _outbox(db, "BLANKET")
    # Every change that landed has exactly one event, with consecutive sequences.
    assert [e.sequence for e in events] == list(range(1, item.sequence + 1))
    assert item.sequence == 1 + len(sizes)
    assert ITEM_UPDATED.parse(events[-1]).pack_size == item.details.pack_size
