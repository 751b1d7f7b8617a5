"""Stock's catalogue as needs knows it: the projection of stock's item events (newer wins,
redelivery and reordering change nothing), the in-memory copy, and intake checking codes
against a catalogue that gained an item. Fakes of the ports; no broker, no store."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import builtin_profiles, load_catalogue
from kitflow_needs.adapters.hxl_io import read_needs_file
from kitflow_needs.bootstrap import create_app
from kitflow_needs.consumers import subscriptions
from kitflow_needs.domain.catalogue import CatalogueItem, ItemCatalogue, ItemKind
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.norms import Basis, NormRule, NormsProfile
from kitflow_needs.handlers.catalogue import CatalogueHandlers
from kitflow_needs.handlers.imports import ImportHandlers, ImportOptions
from kitflow_needs.handlers.needs import CreateNeed, NeedHandlers
from kitflow_needs.handlers.ports import Actor, NeedsServices
from kitflow_needs.handlers.profiles import ProfileHandlers
from kitflow_shared.contracts import stock as stock_contract
from kitflow_shared.contracts.catalogue import (
    ITEM_REGISTERED,
    ITEM_UPDATED,
    ItemCategory,
    ItemState,
    KitComponentState,
    item_subject,
)
from kitflow_shared.events import CloudEvent, EventContext, UnreadablePayload
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.web.identity import Role

from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY, need_input
from tests.unit.needs.fakes import FakeCatalogueRepository, services

NRC = Actor(user="lars", organisation="NRC")
ADMIN = Actor(user="root", organisation="OCHA", admin=True)

# Not in the bundled list: only stock can make it known.
NEW_CODE = "TENT-FAMILY"


def item_event(
    code: str = NEW_CODE,
    sequence: int = 1,
    *,
    name: str = "Family tent",
    unit: str = "piece",
    components: tuple[tuple[str, int], ...] = (),
) -> CloudEvent:
    spec = ITEM_REGISTERED if sequence == 1 else ITEM_UPDATED
    state = ItemState(
        code=code,
        name_en=name,
        name_fr=f"{name} (fr)",
        category=ItemCategory.SHELTER,
        unit=unit,
        components=[KitComponentState(item_code=c, quantity=q) for c, q in components],
    )
    return spec.new(
        state, subject=item_subject(code), sequence=sequence, context=EventContext.new()
    )


def fixture() -> tuple[NeedsServices, FakeCatalogueRepository]:
    published = FakeCatalogueRepository()
    return services(catalogue=published), published


# ---------------------------------------------------------------------- the projection


async def test_an_item_stock_registered_becomes_known_as_an_item() -> None:
    svc, published = fixture()
    assert NEW_CODE not in svc.catalogue.current()
    assert await CatalogueHandlers(svc).item_published(item_event()) is Applied.APPLIED
    item = svc.catalogue.current().get(NEW_CODE)
    assert item == CatalogueItem(NEW_CODE, "Family tent", "piece", ItemKind.ITEM, sequence=1)
    assert published.rows[NEW_CODE] == item


async def test_an_item_with_a_bill_of_materials_is_known_as_a_kit() -> None:
    svc, published = fixture()
    event = item_event("KIT-FLOOD", name="Flood kit", unit="kit", components=(("BLANKET", 3),))
    await CatalogueHandlers(svc).item_published(event)
    assert published.rows["KIT-FLOOD"].kind is ItemKind.KIT
    kit = svc.catalogue.current().get("KIT-FLOOD")
    assert kit is not None
    assert kit.kind is ItemKind.KIT


async def test_a_newer_version_replaces_the_older_one() -> None:
    svc, published = fixture()
    await CatalogueHandlers(svc).item_published(item_event(sequence=1))
    changed = item_event(sequence=2, name="Family tent, 16 m2", components=(("ROPE-M", 20),))
    assert await CatalogueHandlers(svc).item_published(changed) is Applied.APPLIED
    item = published.rows[NEW_CODE]
    assert (item.name, item.kind, item.sequence) == ("Family tent, 16 m2", ItemKind.KIT, 2)
    assert svc.catalogue.current().get(NEW_CODE) == item


async def test_a_redelivered_event_changes_nothing() -> None:
    svc, published = fixture()
    event = item_event()
    await CatalogueHandlers(svc).item_published(event)
    before = (dict(published.rows), svc.catalogue.current().all())
    assert await CatalogueHandlers(svc).item_published(event) is Applied.DUPLICATE
    assert (dict(published.rows), svc.catalogue.current().all()) == before


async def test_an_older_version_arriving_late_changes_nothing() -> None:
    svc, published = fixture()
    await CatalogueHandlers(svc).item_published(item_event(sequence=3, name="Tent v3"))
    assert (
        await CatalogueHandlers(svc).item_published(item_event(sequence=2, name="Tent v2"))
        is Applied.DUPLICATE
    )
    assert (
        await CatalogueHandlers(svc).item_published(item_event(sequence=1, name="Tent v1"))
        is Applied.DUPLICATE
    )
    assert published.rows[NEW_CODE].name == "Tent v3"
    held = svc.catalogue.current().get(NEW_CODE)
    assert held is not None
    assert held.name == "Tent v3"


async def test_stocks_version_replaces_the_bundled_seed_and_the_measures_stay() -> None:
    svc, _ = fixture()
    seeded = svc.catalogue.current().get("KIT-NFI")
    assert seeded is not None
    assert (seeded.kind, seeded.sequence) == (ItemKind.KIT, 0)
    # Stock registered KIT-NFI without a bill of materials: a plain item, named its way.
    await CatalogueHandlers(svc).item_published(item_event("KIT-NFI", name="NFI kit", unit="kit"))
    now = svc.catalogue.current()
    assert now.get("KIT-NFI") == CatalogueItem("KIT-NFI", "NFI kit", "kit", ItemKind.ITEM, 1)
    assert {"WATER-L", "COVERED-SPACE-M2"} <= {i.code for i in now.all()}
    assert len(now) == len(load_catalogue())


async def test_a_payload_that_breaks_the_contract_is_refused_for_the_dead_letter_topic() -> None:
    svc, published = fixture()
    event = item_event()
    broken = event.model_copy(update={"data": {**event.data, "code": "not a code"}})
    with pytest.raises(UnreadablePayload):
        await CatalogueHandlers(svc).item_published(broken)
    assert published.rows == {}


def test_only_the_catalogues_events_are_taken_from_stocks_topic() -> None:
    svc, _ = fixture()
    handled = set(subscriptions(svc))
    assert {ITEM_REGISTERED.type, ITEM_UPDATED.type} <= handled
    # Movements, reservations, warehouses: on the same topic, not subscribed, so skipped.
    for spec in (
        stock_contract.MOVEMENT_RECORDED,
        stock_contract.RESERVATION_CONFIRMED,
        stock_contract.WAREHOUSE_REGISTERED,
    ):
        assert spec.type not in handled


versions = st.lists(
    st.builds(
        CatalogueItem,
        code=st.sampled_from(["A", "B", "KIT-NFI"]),
        name=st.sampled_from(["one", "two"]),
        unit=st.just("piece"),
        kind=st.sampled_from([ItemKind.ITEM, ItemKind.KIT]),
        sequence=st.integers(min_value=1, max_value=5),
    ),
    max_size=12,
    # One content per (code, sequence), as stock publishes them.
    unique_by=lambda i: (i.code, i.sequence),
)


@given(versions, st.randoms())
def test_merging_versions_in_any_order_or_twice_gives_the_same_catalogue(
    items: list[CatalogueItem], rng: Any
) -> None:
    seed = load_catalogue()
    shuffled = list(items)
    rng.shuffle(shuffled)
    in_order = seed.with_items(items)
    assert seed.with_items(shuffled).all() == in_order.all()
    assert in_order.with_items(shuffled).all() == in_order.all()
    for item in items:
        newest = max(i.sequence for i in items if i.code == item.code)
        held = in_order.get(item.code)
        assert held is not None
        assert held.sequence == newest


# ---------------------------------------------------------------------- the copy in memory


async def test_known_codes_are_looked_up_without_reading_the_read_model() -> None:
    svc, published = fixture()
    await svc.catalogue.knowing(["KIT-NFI", "JERRYCAN-20L"])
    await NeedHandlers(svc).create_need(CreateNeed(need_input()), NRC, EventContext.new())
    assert published.reads == 0


async def test_an_unknown_code_reads_the_read_model_once() -> None:
    svc, published = fixture()
    catalogue = await svc.catalogue.knowing(["NOPE"])
    assert published.reads == 1
    assert "NOPE" not in catalogue


async def test_a_refresh_keeps_what_this_process_learned_while_the_read_was_in_flight() -> None:
    svc, published = fixture()
    await CatalogueHandlers(svc).item_published(item_event(sequence=2, name="Tent v2"))
    # The store's answer predates that apply (read before it was stored).
    published.rows[NEW_CODE] = CatalogueItem(NEW_CODE, "Tent v1", "piece", ItemKind.ITEM, 1)
    refreshed = await svc.catalogue.refresh()
    held = refreshed.get(NEW_CODE)
    assert held is not None
    assert held.name == "Tent v2"


# ---------------------------------------------------------------------- intake


def with_new_code(quantity: int = 30) -> CreateNeed:
    return CreateNeed(need_input(items=((NEW_CODE, quantity), ("KIT-NFI", 120))))


async def test_a_code_stock_has_not_registered_is_refused_naming_its_field() -> None:
    svc, _ = fixture()
    with pytest.raises(InvalidInput) as refused:
        await NeedHandlers(svc).create_need(with_new_code(), NRC, EventContext.new())
    [problem] = refused.value.problems
    assert problem.field == "items.0.item_code"
    assert problem.reason.startswith(f"unknown item or kit code {NEW_CODE!r}")


async def test_a_need_may_ask_for_an_item_once_stock_registered_it() -> None:
    svc, _ = fixture()
    await CatalogueHandlers(svc).item_published(item_event())
    created = await NeedHandlers(svc).create_need(with_new_code(), NRC, EventContext.new())
    assert {line.item_code for line in created.need.lines()} == {NEW_CODE, "KIT-NFI"}


async def test_a_replica_that_did_not_apply_the_event_accepts_the_item_after_one_read() -> None:
    # Another process's consumer stored the item; this process's copy never saw the event.
    published = FakeCatalogueRepository(
        [CatalogueItem(NEW_CODE, "Family tent", "piece", ItemKind.ITEM, 1)]
    )
    svc = services(catalogue=published)
    created = await NeedHandlers(svc).create_need(with_new_code(), NRC, EventContext.new())
    assert not created.replayed
    assert published.reads == 1
    await NeedHandlers(svc).create_need(with_new_code(31), NRC, EventContext.new())
    assert published.reads == 1  # learned: the next need is a dict lookup again


IMPORT = """Ref,Admin1,Admin2,Site,Households,People,Status,Severity,Assessed,Item,Qty
#meta+id,#adm1+code,#adm2+code,#loc+name,#affected+hh,#affected+ind,#beneficiary+type,#severity,#date+reported,#item+code,#item+num
"""


async def test_an_import_checks_every_row_against_one_read_of_the_catalogue() -> None:
    svc, published = fixture()
    await CatalogueHandlers(svc).item_published(item_event())
    rows = [
        f"T{i},ML05,ML0501,Site {i},10,50,idp,3,2025-03-01,{NEW_CODE},{i + 1}" for i in range(40)
    ]
    rows.append("BAD,ML05,ML0501,Site X,10,50,idp,3,2025-03-01,TENT-NOPE,1")
    sheet = read_needs_file((IMPORT + "\n".join(rows) + "\n").encode(), organisation="NRC")
    report = await ImportHandlers(svc).import_needs(
        sheet.rows, ImportOptions(), NRC, EventContext.new()
    )
    assert (report.imported, report.rejected) == (40, 1)
    [error] = report.errors
    assert error.column == "#item+code"
    assert "unknown item or kit code 'TENT-NOPE'" in error.reason
    assert published.reads == 1


async def test_an_admins_profile_may_use_an_item_stock_registered() -> None:
    svc, _ = fixture()
    profile = NormsProfile(
        profile_id="tent-per-household",
        name="One family tent per household",
        description="",
        duration_days=30,
        rules=(NormRule(NEW_CODE, Basis.HOUSEHOLDS, Decimal(1), "piece"),),
    )
    with pytest.raises(InvalidInput) as refused:
        await ProfileHandlers(svc).add_profile(profile, ADMIN)
    assert refused.value.problems[0].field == "rules.0.item_code"
    await CatalogueHandlers(svc).item_published(item_event())
    assert (await ProfileHandlers(svc).add_profile(profile, ADMIN)).profile.version == 1


def test_the_seed_alone_validates_the_built_in_profiles() -> None:
    # The seed is what a fresh installation has before stock's events arrive.
    seed: ItemCatalogue = load_catalogue()
    assert builtin_profiles()
    for profile in builtin_profiles():
        assert seed.knows_all(r.item_code for r in profile.rules)


# ---------------------------------------------------------------------- through the API

PROBLEM = "application/problem+json"
NRC_HEADERS = identity("NRC", Role.PARTNER)


async def test_the_api_accepts_a_new_stock_item_lists_it_and_still_refuses_unknown_codes() -> None:
    app = create_app()
    svc, _ = fixture()
    app.state.services = svc
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://needs") as client:
        need = {**copy.deepcopy(CREATE_BODY), "items": [{"item_code": NEW_CODE, "quantity": 30}]}
        refused = await client.post("/v1/needs", json=need, headers=NRC_HEADERS)
        assert refused.status_code == 422
        assert refused.headers["content-type"] == PROBLEM
        assert [e["field"] for e in refused.json()["errors"]] == ["body.items.0.item_code"]

        await CatalogueHandlers(svc).item_published(item_event())
        created = await client.post("/v1/needs", json=need, headers=NRC_HEADERS)
        assert created.status_code == 201, created.text
        [line] = created.json()["items"]
        assert (line["item_code"], line["name"], line["unit"]) == (NEW_CODE, "Family tent", "piece")
        listed = await client.get("/v1/reference/items", headers=NRC_HEADERS)
        assert {"code": NEW_CODE, "name": "Family tent", "unit": "piece", "kind": "item"} in (
            listed.json()
        )
