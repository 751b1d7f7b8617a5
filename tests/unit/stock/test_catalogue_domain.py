"""The catalogue and its kits: the domain rules and the handlers, on fakes."""

from dataclasses import replace

import pytest
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.events import EventContext
from kitflow_stock.domain.catalogue import (
    CatalogueItem,
    DuplicateItem,
    ItemCategory,
    ItemChanged,
    ItemDetails,
    ItemRegistered,
    KitComponent,
    KitTotal,
    kit_totals,
    search_key,
)
from kitflow_stock.domain.errors import ConcurrentChange, InvalidInput, NotPermitted, UnknownItem
from kitflow_stock.handlers.catalogue import CatalogueHandlers, ChangeItem, RegisterItem
from kitflow_stock.handlers.ports import Actor

from tests.unit.stock.fakes import FakeCatalogueRepository

TARPAULIN = ItemDetails(
    name_en="Tarpaulin 6 x 4 m",
    name_fr="Bâche 6 x 4 m",
    category=ItemCategory.SHELTER,
    unit="piece",
)
BLANKET = ItemDetails(
    name_en="Blanket 150 x 200 cm",
    name_fr="Couverture 150 x 200 cm",
    category=ItemCategory.NFI,
    unit="piece",
    pack_size=30,
    weight_kg=1.6,
    volume_m3=0.01,
)
SHELTER_KIT = ItemDetails(
    name_en="Emergency shelter kit",
    name_fr="Kit abri d'urgence",
    category=ItemCategory.SHELTER,
    unit="kit",
    components=(KitComponent("TARPAULIN-6X4", 2),),
)
NFI_KIT = ItemDetails(
    name_en="NFI kit",
    name_fr="Kit BNA",
    category=ItemCategory.NFI,
    unit="kit",
    components=(KitComponent("BLANKET", 3),),
)
ADMIN = Actor(user="root", organisation="OCHA", admin=True)
COORDINATOR = Actor(user="awa", organisation="IOM")


def _ctx() -> EventContext:
    return EventContext.new()


async def _repo_with_items() -> FakeCatalogueRepository:
    repo = FakeCatalogueRepository()
    await CatalogueHandlers(repo).register_item(
        RegisterItem("TARPAULIN-6X4", TARPAULIN), ADMIN, _ctx()
    )
    await CatalogueHandlers(repo).register_item(RegisterItem("BLANKET", BLANKET), ADMIN, _ctx())
    return repo


# --- the aggregate ---------------------------------------------------------------------------


def test_registering_records_one_event_at_version_one() -> None:
    item = CatalogueItem.register("TARPAULIN-6X4", TARPAULIN)
    assert item.sequence == 1
    assert not item.is_kit
    assert item.events == [ItemRegistered(item.snapshot())]


def test_a_change_bumps_the_version_and_no_change_records_nothing() -> None:
    item = CatalogueItem.register("BLANKET", BLANKET)
    item.events.clear()
    assert not item.change(BLANKET)
    assert item.events == []
    assert item.sequence == 1
    assert item.change(replace(BLANKET, weight_kg=1.5))
    assert item.sequence == 2
    assert item.events == [ItemChanged(item.snapshot())]


def test_names_are_trimmed_so_that_spaces_alone_are_not_a_change() -> None:
    item = CatalogueItem.register("BLANKET", replace(BLANKET, name_en="  Blanket 150 x 200 cm "))
    assert item.details.name_en == "Blanket 150 x 200 cm"
    assert not item.change(replace(BLANKET, name_en="Blanket 150 x 200 cm  "))


@pytest.mark.parametrize(
    ("code", "details", "field"),
    [
        ("tarpaulin", TARPAULIN, "code"),
        ("TARP.6X4", TARPAULIN, "code"),
        ("TARPAULIN", replace(TARPAULIN, name_fr="  "), "name_fr"),
        ("TARPAULIN", replace(TARPAULIN, unit=""), "unit"),
        ("TARPAULIN", replace(TARPAULIN, pack_size=0), "pack_size"),
        ("TARPAULIN", replace(TARPAULIN, weight_kg=0.0), "weight_kg"),
        ("TARPAULIN", replace(TARPAULIN, volume_m3=-1.0), "volume_m3"),
        (
            "KIT",
            replace(SHELTER_KIT, components=(KitComponent("KIT", 1),)),
            "components.0.item_code",
        ),
        (
            "KIT",
            replace(SHELTER_KIT, components=(KitComponent("A", 1), KitComponent("A", 2))),
            "components.1.item_code",
        ),
        (
            "KIT",
            replace(SHELTER_KIT, components=(KitComponent("A", 0),)),
            "components.0.quantity",
        ),
    ],
    ids=[
        "lowercase-code",
        "dotted-code",
        "blank-name",
        "blank-unit",
        "zero-pack",
        "zero-weight",
        "negative-volume",
        "kit-in-itself",
        "duplicate-component",
        "zero-quantity",
    ],
)
def test_bad_details_are_refused_naming_the_field(
    code: str, details: ItemDetails, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        CatalogueItem.register(code, details)
    assert err.value.field == field


def test_a_kit_weighs_what_its_components_weigh_unless_its_own_weight_is_recorded() -> None:
    blanket = CatalogueItem.register("BLANKET", BLANKET)
    kit = CatalogueItem.register("KIT-NFI", NFI_KIT)
    assert kit_totals(kit, {"BLANKET": blanket}) == (
        KitTotal(4.8, "components"),
        KitTotal(0.03, "components"),
    )
    recorded = CatalogueItem.register("KIT-NFI", replace(NFI_KIT, weight_kg=5.0))
    assert kit_totals(recorded, {"BLANKET": blanket})[0] == KitTotal(5.0, "given")


def test_a_kit_total_is_unknown_when_one_component_has_no_weight() -> None:
    tarpaulin = CatalogueItem.register("TARPAULIN-6X4", TARPAULIN)
    blanket = CatalogueItem.register("BLANKET", BLANKET)
    kit = CatalogueItem.register(
        "KIT",
        replace(NFI_KIT, components=(KitComponent("BLANKET", 1), KitComponent("TARPAULIN-6X4", 1))),
    )
    weight, _ = kit_totals(kit, {"BLANKET": blanket, "TARPAULIN-6X4": tarpaulin})
    assert weight == KitTotal(None, "unknown")


def test_text_search_ignores_case_and_accents() -> None:
    assert search_key("Bâche ÉTÉ") == "bache ete"


# --- the handlers ----------------------------------------------------------------------------


async def test_registering_stores_the_item_with_its_registered_event() -> None:
    repo = FakeCatalogueRepository()
    ctx = _ctx()
    await CatalogueHandlers(repo).register_item(RegisterItem("BLANKET", BLANKET), ADMIN, ctx)
    assert repo.rows["BLANKET"].details == BLANKET
    [event] = repo.published
    assert event.type == ITEM_REGISTERED.type
    assert event.subject == "item/BLANKET"
    assert event.partitionkey == "item/BLANKET"
    assert event.sequence == 1
    assert event.correlationid == ctx.correlation_id
    state = ITEM_REGISTERED.parse(event)
    assert (state.name_fr, state.pack_size, state.weight_kg) == ("Couverture 150 x 200 cm", 30, 1.6)


async def test_a_kit_event_carries_its_bill_of_materials() -> None:
    repo = await _repo_with_items()
    await CatalogueHandlers(repo).register_item(
        RegisterItem("KIT-SHELTER", SHELTER_KIT), ADMIN, _ctx()
    )
    state = ITEM_REGISTERED.parse(repo.published[-1])
    assert [(c.item_code, c.quantity) for c in state.components] == [("TARPAULIN-6X4", 2)]


async def test_a_code_is_registered_once() -> None:
    repo = FakeCatalogueRepository()
    await CatalogueHandlers(repo).register_item(RegisterItem("BLANKET", BLANKET), ADMIN, _ctx())
    with pytest.raises(DuplicateItem):
        await CatalogueHandlers(repo).register_item(
            RegisterItem("BLANKET", TARPAULIN), ADMIN, _ctx()
        )
    assert len(repo.published) == 1


async def test_only_an_admin_changes_the_catalogue() -> None:
    repo = await _repo_with_items()
    with pytest.raises(NotPermitted):
        await CatalogueHandlers(repo).register_item(
            RegisterItem("KIT", SHELTER_KIT), COORDINATOR, _ctx()
        )
    with pytest.raises(NotPermitted):
        await CatalogueHandlers(repo).change_item(
            ChangeItem("BLANKET", {"pack_size": 10}), COORDINATOR, _ctx()
        )
    assert "KIT" not in repo.rows
    assert repo.rows["BLANKET"].details.pack_size == 30


async def test_a_kit_of_unknown_items_is_refused_naming_the_component() -> None:
    repo = await _repo_with_items()
    kit = replace(
        SHELTER_KIT, components=(KitComponent("TARPAULIN-6X4", 2), KitComponent("ROPE-M", 30))
    )
    with pytest.raises(InvalidInput) as err:
        await CatalogueHandlers(repo).register_item(RegisterItem("KIT-SHELTER", kit), ADMIN, _ctx())
    assert err.value.field == "components.1.item_code"
    assert "ROPE-M" in err.value.reason
    assert "KIT-SHELTER" not in repo.rows


async def test_a_kit_cannot_contain_a_kit() -> None:
    repo = await _repo_with_items()
    await CatalogueHandlers(repo).register_item(RegisterItem("KIT-NFI", NFI_KIT), ADMIN, _ctx())
    family = replace(NFI_KIT, components=(KitComponent("KIT-NFI", 1), KitComponent("BLANKET", 1)))
    with pytest.raises(InvalidInput) as err:
        await CatalogueHandlers(repo).register_item(
            RegisterItem("KIT-FAMILY", family), ADMIN, _ctx()
        )
    assert err.value.field == "components.0.item_code"
    assert "is a kit" in err.value.reason


async def test_an_item_inside_a_kit_cannot_become_a_kit_so_no_cycle_can_form() -> None:
    repo = await _repo_with_items()
    await CatalogueHandlers(repo).register_item(RegisterItem("KIT-NFI", NFI_KIT), ADMIN, _ctx())
    with pytest.raises(InvalidInput) as err:
        await CatalogueHandlers(repo).change_item(
            ChangeItem("BLANKET", {"components": (KitComponent("TARPAULIN-6X4", 1),)}),
            ADMIN,
            _ctx(),
        )
    assert "KIT-NFI" in err.value.reason
    assert not repo.rows["BLANKET"].is_kit
    # An item in no kit may become one.
    await CatalogueHandlers(repo).change_item(
        ChangeItem("TARPAULIN-6X4", {"components": (KitComponent("BLANKET", 1),)}),
        ADMIN,
        _ctx(),
    )
    assert repo.rows["TARPAULIN-6X4"].is_kit


async def test_changing_a_kit_checks_its_new_bill_of_materials() -> None:
    repo = await _repo_with_items()
    await CatalogueHandlers(repo).register_item(RegisterItem("KIT-NFI", NFI_KIT), ADMIN, _ctx())
    with pytest.raises(InvalidInput, match="NOPE"):
        await CatalogueHandlers(repo).change_item(
            ChangeItem("KIT-NFI", {"components": (KitComponent("NOPE", 1),)}), ADMIN, _ctx()
        )
    await CatalogueHandlers(repo).change_item(
        ChangeItem("KIT-NFI", {"components": (KitComponent("BLANKET", 2),)}), ADMIN, _ctx()
    )
    event = repo.published[-1]
    assert event.type == ITEM_UPDATED.type
    assert event.sequence == 2
    assert ITEM_UPDATED.parse(event).components[0].quantity == 2


async def test_a_change_that_changes_nothing_publishes_nothing() -> None:
    repo = await _repo_with_items()
    before = len(repo.published)
    item = (
        await CatalogueHandlers(repo).change_item(
            ChangeItem("BLANKET", {"pack_size": 30}), ADMIN, _ctx()
        )
    ).value
    assert item.sequence == 1
    assert len(repo.published) == before


async def test_a_change_retries_after_a_concurrent_write_and_gives_up_eventually() -> None:
    repo = await _repo_with_items()
    repo.conflicts_to_inject = 2
    await CatalogueHandlers(repo).change_item(
        ChangeItem("BLANKET", {"pack_size": 20}), ADMIN, _ctx()
    )
    assert repo.rows["BLANKET"].details.pack_size == 20
    repo.conflicts_to_inject = 99
    with pytest.raises(ConcurrentChange):
        await CatalogueHandlers(repo).change_item(
            ChangeItem("BLANKET", {"pack_size": 10}), ADMIN, _ctx()
        )


async def test_changing_an_unknown_item_says_so() -> None:
    with pytest.raises(UnknownItem):
        await CatalogueHandlers(FakeCatalogueRepository()).change_item(
            ChangeItem("NOPE", {"unit": "x"}), ADMIN, _ctx()
        )
