"""The needs API's contract with its callers: identity, roles, isolation, problem+json. Fakes
behind it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kitflow_needs.bootstrap import create_app
from kitflow_shared.web.identity import IDENTITY_HEADER, Role

from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY
from tests.unit.needs.fakes import FakeNeedRepository, services

Api = tuple[httpx.AsyncClient, FakeNeedRepository]
PROBLEM = "application/problem+json"

NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
COORDINATOR = identity("OCHA", Role.COORDINATOR)
ADMIN = identity("OCHA", Role.ADMIN)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    app = create_app()
    repo = FakeNeedRepository()
    app.state.services = services(repo)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://needs") as client:
        yield client, repo


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(CREATE_BODY)
    out.update(changes)
    return out


async def test_a_partner_reports_a_need_computed_from_a_norms_profile(api: Api) -> None:
    client, repo = api
    response = await client.post(
        "/v1/needs",
        json=body(items=[], norms={"profile_id": "sphere-minimum"}),
        headers=NRC,
    )
    assert response.status_code == 201, response.text
    need = response.json()
    assert need["organisation"] == "NRC"
    assert need["status"] == "submitted"
    assert response.headers["Location"] == f"/v1/needs/{need['id']}"
    soap = next(i for i in need["items"] if i["item_code"] == "SOAP-BATH-250G")
    assert soap["requested"] == 640
    assert soap["calculation"]["formula"].endswith("= 640")
    assert soap["calculation"]["basis_count"] == 640
    assert need["location"]["admin2_name"] == "Mopti"
    assert need["location"]["gazetteer_vintage"] == "cod-ab-2015"
    assert repo.published[0].correlationid == response.headers["X-Correlation-Id"]


async def test_an_idempotency_key_makes_a_retry_return_the_first_need(api: Api) -> None:
    client, repo = api
    headers = {**NRC, "Idempotency-Key": "retry-0001"}
    first = await client.post("/v1/needs", json=body(), headers=headers)
    again = await client.post("/v1/needs", json=body(), headers=headers)
    # Answered as the first time, and said to be a replay.
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(repo.rows) == 1
    reused = await client.post("/v1/needs", json=body(severity=1), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["type"] == "/problems/idempotency-key-reused"


async def test_bad_input_is_a_problem_naming_each_field_and_stores_nothing(api: Api) -> None:
    client, repo = api
    bad = body(
        location={"admin1_pcode": "ML-5", "admin2_pcode": "ML0501"},
        population={"households": 700, "individuals": 640},
        items=[{"item_code": "TENT", "quantity": 3}],
    )
    response = await client.post("/v1/needs", json=bad, headers=NRC)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    fields = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert set(fields) == {
        "body.location.admin1_pcode",
        "body.population.households",
        "body.items.0.item_code",
    }
    assert "ISO 3166-2" in fields["body.location.admin1_pcode"]
    assert repo.rows == {}


async def test_negative_population_and_an_empty_need_are_refused(api: Api) -> None:
    client, _ = api
    negative = await client.post(
        "/v1/needs", json=body(population={"households": -1, "individuals": 5}), headers=NRC
    )
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["field"] == "body.population.households"
    empty = await client.post("/v1/needs", json=body(items=[]), headers=NRC)
    assert empty.status_code == 422
    assert "an empty need" in empty.json()["detail"]
    malformed = await client.post("/v1/needs", json=body(severity="high"), headers=NRC)
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "body.severity"


async def test_another_organisations_need_is_not_found_and_never_shown(api: Api) -> None:
    client, _ = api
    created = (await client.post("/v1/needs", json=body(), headers=NRC)).json()
    path = f"/v1/needs/{created['id']}"
    assert (await client.get(path, headers=NRC)).status_code == 200
    for method, url, payload in [
        ("GET", path, None),
        ("PUT", path, body()),
        ("POST", f"{path}/cancel", {"reason": "not mine"}),
        ("POST", f"{path}/submit", None),
    ]:
        response = await client.request(method, url, json=payload, headers=DRC)
        assert response.status_code == 404, (method, url)
        assert "Sévaré" not in response.text
    listing = (await client.get("/v1/needs", headers=DRC)).json()
    assert listing["total"] == 0
    assert (await client.get("/v1/needs", headers=COORDINATOR)).json()["total"] == 1


async def test_only_coordinators_validate_reject_and_settle_duplicates(api: Api) -> None:
    client, _ = api
    need = (await client.post("/v1/needs", json=body(), headers=NRC)).json()
    other = (await client.post("/v1/needs", json=body(), headers=DRC)).json()
    assert [d["need_id"] for d in other["possible_duplicates"]] == [need["id"]]
    for path in (
        f"/v1/needs/{need['id']}/validate",
        f"/v1/needs/{need['id']}/duplicates/{other['id']}/keep",
    ):
        assert (await client.post(path, headers=NRC)).status_code == 403
    rejected = await client.post(
        f"/v1/needs/{need['id']}/reject", json={"reason": "counted twice"}, headers=COORDINATOR
    )
    assert rejected.json()["status"] == "rejected"
    again = await client.post(f"/v1/needs/{need['id']}/validate", headers=COORDINATOR)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/invalid-transition"
    merged = await client.post(
        f"/v1/needs/{other['id']}/duplicates/{need['id']}/merge", headers=COORDINATOR
    )
    assert merged.status_code == 200
    assert merged.json()["merged_into"] == need["id"]


async def test_calls_without_a_gateway_identity_are_refused(api: Api) -> None:
    client, _ = api
    for headers in ({}, {IDENTITY_HEADER: "forged"}):
        assert (await client.get("/v1/needs", headers=headers)).status_code == 401
        assert (await client.post("/v1/needs", json=body(), headers=headers)).status_code == 401
    warehouse = identity("IOM", Role.WAREHOUSE)
    assert (await client.post("/v1/needs", json=body(), headers=warehouse)).status_code == 403


async def test_the_bulk_import_lists_bad_rows_and_imports_the_rest(api: Api) -> None:
    client, repo = api
    text = (
        "#meta+id,#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,#severity,"
        "#date+assessed,#item+code,#item+num\n"
        "A,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NFI,10\n"
        "B,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NOPE,10\n"
    )
    response = await client.post(
        "/v1/needs/imports", content=text, headers={**NRC, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["imported"], report["rejected"]) == (1, 1)
    assert report["errors"] == [
        {
            "row": 3,
            "column": "#item+code",
            "reason": "unknown item or kit code 'KIT-NOPE'; did you mean KIT-NFI?",
        }
    ]
    assert len(repo.rows) == 1


async def test_an_imports_bad_rows_are_explained_in_the_callers_language(api: Api) -> None:
    # The partner portal lists each refused row's reason to a French-speaking officer.
    client, _ = api
    text = (
        "#meta+id,#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,#severity,"
        "#date+assessed,#item+code,#item+num\n"
        "A,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NFI,10\n"
        "B,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NOPE,10\n"
    )
    headers = {**NRC, "Content-Type": "text/csv", "Accept-Language": "fr-ML, fr;q=0.9"}
    response = await client.post("/v1/needs/imports", content=text, headers=headers)
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert (error["row"], error["column"]) == (3, "#item+code")
    assert error["reason"] == (
        "code d'article ou de kit inconnu 'KIT-NOPE' ; vouliez-vous dire KIT-NFI ?"
    )


async def test_a_file_that_is_not_hxl_is_refused_whole(api: Api) -> None:
    client, repo = api
    response = await client.post(
        "/v1/needs/imports",
        content=b"name,households\nSevare,120\n",
        headers={**NRC, "Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "not an HXL file" in response.json()["detail"]
    wrong_type = await client.post(
        "/v1/needs/imports", content=b"{}", headers={**NRC, "Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    assert repo.rows == {}


async def test_a_file_with_only_bad_rows_is_a_problem_listing_them(api: Api) -> None:
    client, repo = api
    text = (
        "#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,#severity,"
        "#date+assessed,#item+code,#item+num\n"
        "ML05,ML0501,-1,50,idp,3,2025-03-01,KIT-NFI,10\n"
    )
    response = await client.post(
        "/v1/needs/imports", content=text, headers={**NRC, "Content-Type": "text/csv"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "row 2 #inneed+hh"
    assert repo.rows == {}


async def test_the_export_is_hxl_tagged_csv_of_the_callers_needs(api: Api) -> None:
    client, _ = api
    await client.post("/v1/needs", json=body(), headers=NRC)
    await client.post("/v1/needs", json=body(), headers=DRC)
    mine = await client.get("/v1/needs/export.csv", headers=NRC)
    assert mine.status_code == 200
    assert mine.headers["content-type"].startswith("text/csv")
    lines = mine.text.splitlines()
    assert lines[1].startswith("#meta+id,#meta+ref,#org+code,#status,#adm1+code")
    assert len(lines) == 2 + 2  # two items of one need
    assert all(",NRC," in line for line in lines[2:])
    everyone = await client.get("/v1/needs/export.csv", headers=COORDINATOR)
    assert len(everyone.text.splitlines()) == 2 + 4


async def test_admins_manage_norms_profiles_and_anyone_previews_a_calculation(api: Api) -> None:
    client, _ = api
    profile = {
        "profile_id": "mopti-flood-2025",
        "name": "Mopti floods 2025",
        "duration_days": 30,
        "rules": [
            {"item_code": "BLANKET", "basis": "individuals", "amount": "1", "amount_unit": "piece"}
        ],
        "sources": ["cluster meeting, 2025-08-12"],
    }
    assert (
        await client.post("/v1/norms-profiles", json=profile, headers=COORDINATOR)
    ).status_code == 403
    created = await client.post("/v1/norms-profiles", json=profile, headers=ADMIN)
    assert created.status_code == 201
    assert created.json()["version"] == 1
    changed = await client.put(
        "/v1/norms-profiles/mopti-flood-2025",
        json={**profile, "rules": [{**profile["rules"][0], "amount": "2"}], "expected_version": 1},
        headers=ADMIN,
    )
    assert changed.json()["version"] == 2
    bad = await client.post(
        "/v1/norms-profiles",
        json={
            **profile,
            "profile_id": "x2",
            "rules": [{**profile["rules"][0], "item_code": "NOPE"}],
        },
        headers=ADMIN,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.rules.0.item_code"
    preview = await client.post(
        "/v1/norms-profiles/mopti-flood-2025/calculate",
        json={"population": {"households": 3, "individuals": 14}},
        headers=NRC,
    )
    assert preview.json()["calculations"][0]["quantity"] == 28
    listed = (await client.get("/v1/norms-profiles", headers=NRC)).json()
    assert "sphere-minimum" in {p["profile_id"] for p in listed}


async def test_the_reference_data_is_published(api: Api) -> None:
    client, _ = api
    gazetteer = (await client.get("/v1/reference/gazetteer", headers=NRC)).json()
    assert gazetteer["vintage"] == "cod-ab-2015"
    assert {a["pcode"] for a in gazetteer["admin1"]} == {f"ML0{i}" for i in range(1, 10)}
    items = (await client.get("/v1/reference/items", headers=NRC)).json()
    assert {"code": "KIT-NFI", "kind": "kit"}.items() <= next(
        i for i in items if i["code"] == "KIT-NFI"
    ).items()


async def test_every_route_has_a_one_line_summary_in_the_openapi_document(api: Api) -> None:
    client, _ = api
    spec = (await client.get("/openapi.json")).json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path}"
