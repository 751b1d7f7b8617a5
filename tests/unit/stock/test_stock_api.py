"""The stock API's contract with its callers: identity, roles, problem+json. Fakes behind it."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from kitflow_shared.settings import DEV_INTERNAL_SECRET
from kitflow_shared.web.identity import IDENTITY_HEADER, Caller, Role, issue_internal_token
from kitflow_stock.bootstrap import create_app

from tests.unit.stock.fakes import FakeWarehouseRepository

Api = tuple[httpx.AsyncClient, FakeWarehouseRepository]

BODY = {
    "code": "MOP-SUB",
    "name": "IOM Mopti",
    "organisation": "IOM",
    "type": "sub-office",
    "admin1_pcode": "ML05",
    "admin2_pcode": "ML0501",
    "location": {"lat": 14.49, "lon": -4.2},
    "capacity_m3": 800,
}


def identity(
    org: str = "IOM",
    *roles: Role,
    secret: str = DEV_INTERNAL_SECRET,
    ttl: timedelta = timedelta(seconds=60),
) -> dict[str, str]:
    caller = Caller(user="u", organisation=org, roles=frozenset(roles or (Role.COORDINATOR,)))
    return {IDENTITY_HEADER: issue_internal_token(caller, secret, ttl)}


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeWarehouseRepository]]:
    app = create_app()
    repo = FakeWarehouseRepository()
    app.state.warehouses = repo
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
        yield client, repo


async def test_a_coordinator_registers_a_warehouse_of_their_organisation(api: Api) -> None:
    client, repo = api
    response = await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 1
    assert response.headers["X-Correlation-Id"] == repo.published[0].correlationid


async def test_the_correlation_id_of_the_request_follows_the_event(api: Api) -> None:
    client, repo = api
    headers = {**identity("IOM"), "X-Correlation-Id": "plan-42"}
    await client.post("/v1/warehouses", json=BODY, headers=headers)
    assert repo.published[0].correlationid == "plan-42"


async def test_bad_input_names_each_field_and_why_and_changes_nothing(api: Api) -> None:
    client, repo = api
    bad = {**BODY, "admin1_pcode": "ML-5", "capacity_m3": -3}
    response = await client.post("/v1/warehouses", json=bad, headers=identity("IOM"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"body.admin1_pcode", "body.capacity_m3"}
    assert "body.capacity_m3" in problem["detail"]
    assert repo.rows == {}


async def test_a_business_rule_violation_is_a_422_naming_the_field(api: Api) -> None:
    client, repo = api
    response = await client.post(
        "/v1/warehouses", json={**BODY, "admin2_pcode": "ML0701"}, headers=identity("IOM")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.admin2_pcode"
    assert repo.rows == {}


async def test_a_duplicate_code_is_a_409(api: Api) -> None:
    client, _ = api
    await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    response = await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/duplicate-warehouse"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {IDENTITY_HEADER: "not-a-token"},
        identity("IOM", secret="forged-" + "x" * 40),
        identity("IOM", ttl=timedelta(seconds=-5)),
    ],
    ids=["missing", "garbage", "forged", "expired"],
)
async def test_calls_that_did_not_come_through_the_gateway_are_refused(
    api: Api, headers: dict[str, str]
) -> None:
    client, repo = api
    response = await client.post("/v1/warehouses", json=BODY, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/warehouses", headers=headers)).status_code == 401
    assert repo.rows == {}


async def test_partners_and_warehouse_staff_read_but_do_not_register(api: Api) -> None:
    client, repo = api
    for role in (Role.PARTNER, Role.WAREHOUSE):
        response = await client.post("/v1/warehouses", json=BODY, headers=identity("IOM", role))
        assert response.status_code == 403
        assert (
            await client.get("/v1/warehouses", headers=identity("IOM", role))
        ).status_code == 200
    assert repo.rows == {}


async def test_another_organisations_coordinator_cannot_register_or_change_it(api: Api) -> None:
    client, repo = api
    assert (
        await client.post("/v1/warehouses", json=BODY, headers=identity("NRC"))
    ).status_code == 403
    await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    response = await client.patch(
        "/v1/warehouses/MOP-SUB", json={"name": "Ours"}, headers=identity("NRC")
    )
    assert response.status_code == 403
    assert repo.rows["MOP-SUB"].details.name == "IOM Mopti"


async def test_patch_changes_only_the_given_fields(api: Api) -> None:
    client, _ = api
    await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    response = await client.patch(
        "/v1/warehouses/MOP-SUB",
        json={"capacity_m3": 950, "location": {"lat": 14.5, "lon": -4.1}},
        headers=identity("IOM"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["capacity_m3"] == 950
    assert body["location"] == {"lat": 14.5, "lon": -4.1}
    assert body["name"] == "IOM Mopti"
    assert body["version"] == 2


async def test_unknown_warehouses_are_404_problems(api: Api) -> None:
    client, _ = api
    response = await client.get("/v1/warehouses/NOPE", headers=identity("IOM"))
    assert response.status_code == 404
    assert response.json()["detail"] == "no warehouse with code 'NOPE'"


async def test_listing_filters_and_pages(api: Api) -> None:
    client, _ = api
    for code, a1, a2 in [
        ("BKO", "ML09", "ML0901"),
        ("GAO", "ML07", "ML0701"),
        ("MOP", "ML05", "ML0501"),
    ]:
        await client.post(
            "/v1/warehouses",
            headers=identity("IOM"),
            json={**BODY, "code": code, "admin1_pcode": a1, "admin2_pcode": a2},
        )
    page = (await client.get("/v1/warehouses?limit=2", headers=identity("IOM"))).json()
    assert [w["code"] for w in page["items"]] == ["BKO", "GAO"]
    assert page["total"] == 3
    page = (await client.get("/v1/warehouses?admin1_pcode=ML07", headers=identity("IOM"))).json()
    assert [w["code"] for w in page["items"]] == ["GAO"]
    bad = await client.get("/v1/warehouses?limit=0", headers=identity("IOM"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.limit"


async def test_health_needs_no_identity(api: Api) -> None:
    client, _ = api
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "stock"}


async def test_patch_refuses_to_clear_required_fields_but_clears_optional_ones(api: Api) -> None:
    client, repo = api
    await client.post("/v1/warehouses", json=BODY, headers=identity("IOM"))
    response = await client.patch(
        "/v1/warehouses/MOP-SUB", json={"name": None, "type": None}, headers=identity("IOM")
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.name", "body.type"}
    response = await client.patch(
        "/v1/warehouses/MOP-SUB", json={"capacity_m3": None}, headers=identity("IOM")
    )
    assert response.status_code == 200
    assert response.json()["capacity_m3"] is None
    assert repo.rows["MOP-SUB"].details.name == "IOM Mopti"
