"""/v1/items: roles, validation as problem+json, kit details. Fakes behind the API."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ITEM_UPDATED
from kitflow_shared.web.identity import Caller, Role
from kitflow_stock.bootstrap import create_app

from tests.support.services import FreshIdentity
from tests.unit.stock.fakes import FakeCatalogueRepository

Api = tuple[httpx.AsyncClient, FakeCatalogueRepository]
REPO = Path(__file__).resolve().parents[3]

TARPAULIN = {
    "code": "TARPAULIN-6X4",
    "name_en": "Tarpaulin 6 x 4 m",
    "name_fr": "Bâche 6 x 4 m",
    "category": "shelter",
    "unit": "piece",
}
BLANKET = {
    "code": "BLANKET",
    "name_en": "Blanket 150 x 200 cm",
    "name_fr": "Couverture 150 x 200 cm",
    "category": "nfi",
    "unit": "piece",
    "pack_size": 30,
    "weight_kg": 1.6,
    "volume_m3": 0.01,
}
MAT = {
    "code": "SLEEPING-MAT",
    "name_en": "Sleeping mat",
    "name_fr": "Natte de couchage",
    "category": "nfi",
    "unit": "piece",
    "weight_kg": 1.0,
}
NFI_KIT = {
    "code": "KIT-NFI",
    "name_en": "NFI kit",
    "name_fr": "Kit BNA",
    "category": "nfi",
    "unit": "kit",
    "components": [
        {"item_code": "BLANKET", "quantity": 3},
        {"item_code": "SLEEPING-MAT", "quantity": 3},
    ],
}


def identity(*roles: Role, org: str = "IOM") -> FreshIdentity:
    # Signed when a request reads it: the header is made when the module is collected, the test
    # may run much later, and services accept an identity for 60 s only.
    return FreshIdentity(
        Caller(user="u", organisation=org, roles=frozenset(roles or (Role.ADMIN,)))
    )


ADMIN = identity(Role.ADMIN)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    app = create_app()
    repo = FakeCatalogueRepository()
    app.state.catalogue = repo
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
        yield client, repo


async def _post(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = await client.post("/v1/items", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text


def _fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


async def test_an_admin_adds_an_item_and_its_event_follows_the_request(api: Api) -> None:
    client, repo = api
    headers = {**ADMIN, "X-Correlation-Id": "catalogue-1"}
    response = await client.post("/v1/items", json=BLANKET, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["is_kit"] is False
    assert body["kit"] is None
    assert body["pack_size"] == 30
    [event] = repo.published
    assert event.type == ITEM_REGISTERED.type
    assert event.correlationid == "catalogue-1"


@pytest.mark.parametrize("role", [Role.PARTNER, Role.WAREHOUSE, Role.COORDINATOR])
async def test_other_roles_read_the_catalogue_but_do_not_change_it(api: Api, role: Role) -> None:
    client, repo = api
    await _post(client, BLANKET)
    response = await client.post("/v1/items", json=TARPAULIN, headers=identity(role))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    response = await client.patch(
        "/v1/items/BLANKET", json={"pack_size": 10}, headers=identity(role)
    )
    assert response.status_code == 403
    assert (await client.get("/v1/items", headers=identity(role))).status_code == 200
    assert (await client.get("/v1/items/BLANKET", headers=identity(role))).status_code == 200
    assert set(repo.rows) == {"BLANKET"}
    assert repo.rows["BLANKET"].details.pack_size == 30


async def test_no_identity_no_catalogue(api: Api) -> None:
    client, _ = api
    assert (await client.get("/v1/items")).status_code == 401
    assert (await client.post("/v1/items", json=BLANKET)).status_code == 401


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "blanket"}, "body.code"),
        ({"code": "BLAN.KET"}, "body.code"),
        ({"pack_size": 0}, "body.pack_size"),
        ({"weight_kg": -1}, "body.weight_kg"),
        ({"category": "food"}, "body.category"),
        ({"name_fr": ""}, "body.name_fr"),
        ({"colour": "blue"}, "body.colour"),
        ({"components": [{"item_code": "x", "quantity": 1}]}, "body.components.0.item_code"),
        ({"components": [{"item_code": "BLANKET", "quantity": 0}]}, "body.components.0.quantity"),
    ],
    ids=[
        "lowercase",
        "dot",
        "zero-pack",
        "negative-weight",
        "category",
        "blank-name",
        "unknown-field",
        "component-code",
        "component-qty",
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    client, repo = api
    response = await client.post("/v1/items", json={**TARPAULIN, **changes}, headers=ADMIN)
    assert field in _fields(response)
    assert repo.rows == {}


async def test_a_kit_of_unknown_or_repeated_components_is_a_422_naming_the_component(
    api: Api,
) -> None:
    client, repo = api
    await _post(client, BLANKET)
    unknown = {
        **NFI_KIT,
        "components": [
            {"item_code": "BLANKET", "quantity": 3},
            {"item_code": "SLEEPING-MAT", "quantity": 3},
        ],
    }
    response = await client.post("/v1/items", json=unknown, headers=ADMIN)
    assert _fields(response) == {"body.components.1.item_code"}
    assert "SLEEPING-MAT" in response.json()["detail"]
    twice = {
        **NFI_KIT,
        "components": [
            {"item_code": "BLANKET", "quantity": 3},
            {"item_code": "BLANKET", "quantity": 1},
        ],
    }
    response = await client.post("/v1/items", json=twice, headers=ADMIN)
    assert _fields(response) == {"body.components.1.item_code"}
    assert "listed twice" in response.json()["detail"]
    assert set(repo.rows) == {"BLANKET"}


async def test_a_kit_inside_a_kit_is_a_422(api: Api) -> None:
    client, repo = api
    await _post(client, BLANKET, MAT, NFI_KIT)
    nested = {
        **NFI_KIT,
        "code": "KIT-FAMILY",
        "components": [{"item_code": "KIT-NFI", "quantity": 2}],
    }
    response = await client.post("/v1/items", json=nested, headers=ADMIN)
    assert _fields(response) == {"body.components.0.item_code"}
    assert "KIT-FAMILY" not in repo.rows
    # Nor may a component of a kit turn into a kit.
    response = await client.patch(
        "/v1/items/BLANKET",
        json={"components": [{"item_code": "SLEEPING-MAT", "quantity": 1}]},
        headers=ADMIN,
    )
    assert _fields(response) == {"body.components"}


async def test_a_duplicate_code_is_a_409(api: Api) -> None:
    client, _ = api
    await _post(client, BLANKET)
    response = await client.post("/v1/items", json=BLANKET, headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/duplicate-item"
    assert response.json()["errors"][0]["field"] == "body.code"


async def test_a_kit_shows_what_it_contains_and_what_it_weighs(api: Api) -> None:
    client, _ = api
    await _post(client, BLANKET, MAT, NFI_KIT)
    response = await client.get("/v1/items/KIT-NFI", headers=identity(Role.PARTNER))
    assert response.status_code == 200
    body = response.json()
    assert body["is_kit"] is True
    assert body["weight_kg"] is None
    kit = body["kit"]
    assert kit["components"][0] == {
        "item_code": "BLANKET",
        "quantity": 3,
        "name_en": "Blanket 150 x 200 cm",
        "name_fr": "Couverture 150 x 200 cm",
        "unit": "piece",
        "weight_kg": 1.6,
        "volume_m3": 0.01,
    }
    # 3 x 1.6 kg + 3 x 1.0 kg; the mats have no recorded volume.
    assert (kit["total_weight_kg"], kit["total_weight_basis"]) == (7.8, "components")
    assert (kit["total_volume_m3"], kit["total_volume_basis"]) == (None, "unknown")


async def test_a_kits_recorded_weight_wins_over_the_sum(api: Api) -> None:
    client, _ = api
    await _post(client, BLANKET, MAT, {**NFI_KIT, "weight_kg": 9.5})
    kit = (await client.get("/v1/items/KIT-NFI", headers=ADMIN)).json()["kit"]
    assert (kit["total_weight_kg"], kit["total_weight_basis"]) == (9.5, "given")


async def test_patch_changes_only_the_given_fields_and_null_clears_a_weight(api: Api) -> None:
    client, repo = api
    await _post(client, BLANKET)
    response = await client.patch(
        "/v1/items/BLANKET", json={"name_fr": "Couverture", "weight_kg": None}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name_fr"], body["weight_kg"], body["pack_size"]) == ("Couverture", None, 30)
    assert body["version"] == 2
    assert repo.published[-1].type == ITEM_UPDATED.type


async def test_patch_refuses_null_for_a_required_field(api: Api) -> None:
    client, repo = api
    await _post(client, BLANKET)
    response = await client.patch(
        "/v1/items/BLANKET", json={"name_en": None, "pack_size": 0}, headers=ADMIN
    )
    assert _fields(response) == {"body.name_en", "body.pack_size"}
    assert repo.rows["BLANKET"].sequence == 1


async def test_patch_with_nothing_new_keeps_the_version(api: Api) -> None:
    client, repo = api
    await _post(client, BLANKET)
    response = await client.patch("/v1/items/BLANKET", json={"pack_size": 30}, headers=ADMIN)
    assert response.json()["version"] == 1
    assert len(repo.published) == 1


async def test_unknown_items_are_404_problems(api: Api) -> None:
    client, _ = api
    response = await client.get("/v1/items/NOPE", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/unknown-item"
    response = await client.patch("/v1/items/NOPE", json={"unit": "piece"}, headers=ADMIN)
    assert response.status_code == 404


async def test_listing_filters_and_pages(api: Api) -> None:
    client, _ = api
    await _post(client, TARPAULIN, BLANKET, MAT, NFI_KIT)
    reader = identity(Role.WAREHOUSE)

    async def codes(query: str) -> list[str]:
        response = await client.get(f"/v1/items{query}", headers=reader)
        assert response.status_code == 200, response.text
        return [i["code"] for i in response.json()["items"]]

    page = (await client.get("/v1/items?limit=2&offset=1", headers=reader)).json()
    assert [i["code"] for i in page["items"]] == ["KIT-NFI", "SLEEPING-MAT"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 1)
    assert await codes("?category=shelter") == ["TARPAULIN-6X4"]
    assert await codes("?is_kit=true") == ["KIT-NFI"]
    assert await codes("?is_kit=false&category=nfi") == ["BLANKET", "SLEEPING-MAT"]
    assert await codes("?q=bache") == ["TARPAULIN-6X4"]
    assert await codes("?q=NATTE") == ["SLEEPING-MAT"]
    assert await codes("?q=kit-n") == ["KIT-NFI"]
    assert await codes("?component=BLANKET") == ["KIT-NFI"]
    listed_kit = (await client.get("/v1/items?is_kit=true", headers=reader)).json()["items"][0]
    assert listed_kit["kit"]["components"][1]["name_en"] == "Sleeping mat"
    bad = await client.get("/v1/items?limit=0", headers=reader)
    assert _fields(bad) == {"query.limit"}
    bad = await client.get("/v1/items?category=food", headers=reader)
    assert _fields(bad) == {"query.category"}


async def test_the_mali_demo_catalogue_loads_through_the_api_items_before_kits(api: Api) -> None:
    client, repo = api
    demo = json.loads((REPO / "deploy" / "demo" / "mali" / "catalogue.json").read_text())
    for record in [*demo["items"], *demo["kits"]]:
        assert record["_source"].count("http") >= 1, f"{record['code']} names no source"
        body = {k: v for k, v in record.items() if not k.startswith("_")}
        response = await client.post("/v1/items", json=body, headers=ADMIN)
        assert response.status_code == 201, response.text
    assert {k.code for k in repo.rows.values() if k.is_kit} == {
        "KIT-SHELTER-EMERGENCY",
        "KIT-NFI",
        "KIT-HYGIENE",
    }
    kit = (await client.get("/v1/items/KIT-HYGIENE", headers=ADMIN)).json()["kit"]
    assert [c["name_fr"] for c in kit["components"]][2] == "Savon de toilette, pain de 250 g"
    # The jerrycan's weight is not published, so the kit's weight is honestly unknown.
    assert (kit["total_weight_kg"], kit["total_weight_basis"]) == (None, "unknown")
