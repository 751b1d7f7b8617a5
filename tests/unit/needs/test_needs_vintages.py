"""Two vintages of Mali's P-codes and the crosswalk of cercles between them: a need is given in
any bundled vintage and reported in the one chosen."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib.resources import files

import httpx
import pytest
from kitflow_needs.adapters.bundled import gazetteer_vintages, load_crosswalk, load_gazetteer
from kitflow_needs.bootstrap import create_app
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.gazetteer import PlaceCodes
from kitflow_needs.domain.vintages import CrosswalkMatch
from kitflow_shared.web.identity import Role

from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY
from tests.unit.needs.fakes import FakeNeedRepository, services

OLD = "cod-ab-2015"
NEW = "cod-ab-2021"
REPORTED_IN_2021 = load_gazetteer(NEW)
REPORTED_IN_2015 = load_gazetteer()
PARTNER = identity("NRC", Role.PARTNER)


def test_the_cercle_of_mopti_ml0501_in_2015_is_ml0506_in_the_later_vintage() -> None:
    place = REPORTED_IN_2021.resolve("ML05", "ML0501", admin2_name="Mopti")
    assert (place.vintage, place.admin1_pcode, place.admin2_pcode) == (NEW, "ML05", "ML0506")
    assert place.admin2_name == "Mopti"
    assert place.as_given == PlaceCodes(OLD, "ML05", "ML0501", None)
    assert place.crosswalk is CrosswalkMatch.EXACT


def test_ml0506_given_without_a_vintage_is_douentza_and_stays_douentza() -> None:
    # The 2015 meaning by default: ML0506 is Douentza there, and Douentza is ML0504 in 2021+.
    place = REPORTED_IN_2021.resolve("ML05", "ML0506")
    assert (place.admin2_pcode, place.admin2_name) == ("ML0504", "Douentza")


def test_the_2015_cercle_of_menaka_is_the_region_of_menaka_later() -> None:
    place = REPORTED_IN_2021.resolve("ML07", "ML0704", admin2_name="Ménaka")
    assert (place.admin1_pcode, place.admin1_name) == ("ML10", "Ménaka")
    assert (place.admin2_pcode, place.admin2_name) == ("ML1003", "Ménaka")
    # The 2015 cercle covers all four cercles of the 2021 region: say it was split.
    assert place.crosswalk is CrosswalkMatch.SPLIT


@pytest.mark.parametrize(
    ("admin2", "name"),
    [("ML1001", "Anderamboukane"), ("ML1002", "Inekar"), ("ML1003", "Ménaka")],
)
def test_every_cercle_of_the_region_of_menaka_reads_back_as_the_2015_cercle(
    admin2: str, name: str
) -> None:
    place = REPORTED_IN_2015.resolve("ML10", admin2, admin2_name=name, vintage=NEW)
    assert (place.vintage, place.admin1_pcode, place.admin2_pcode) == (OLD, "ML07", "ML0704")
    assert place.admin2_name == "Ménaka"
    assert place.as_given == PlaceCodes(NEW, "ML10", admin2, None)
    assert place.crosswalk is CrosswalkMatch.WITHIN


def test_a_declared_2021_code_in_the_5w_iso3_style_is_read_as_ml() -> None:
    place = REPORTED_IN_2021.resolve("MLI10", "MLI1003", vintage=NEW)
    assert (place.admin1_pcode, place.admin2_pcode, place.as_given) == ("ML10", "ML1003", None)


def test_codes_of_the_newer_vintage_without_a_declaration_are_refused_with_the_way_out() -> None:
    with pytest.raises(InvalidInput) as err:
        REPORTED_IN_2021.resolve("ML10", "ML1003")
    [problem] = err.value.problems
    assert problem.field == "admin1_pcode"
    assert "ML0704" in problem.reason
    assert f"declare it in location.vintage: {NEW}" in problem.reason


def test_codes_are_checked_in_the_vintage_they_are_declared_in() -> None:
    with pytest.raises(InvalidInput) as err:
        REPORTED_IN_2015.resolve("ML05", "ML0501", admin2_name="Mopti", vintage=NEW)
    [problem] = err.value.problems
    # ML0501 is Bandiagara in 2021+: the name gives the right code of that vintage.
    assert problem.reason.startswith("ML0501 is Bandiagara, not Mopti")
    assert "the P-code of Mopti is ML0506" in problem.reason


def test_an_unknown_vintage_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        REPORTED_IN_2015.resolve("ML05", "ML0501", vintage="cod-ab-2030")
    [problem] = err.value.problems
    assert problem.field == "vintage"
    assert f"known: {OLD}, {NEW}" in problem.reason


def test_a_cercle_no_vintage_lists_is_carried_over_unverified() -> None:
    place = REPORTED_IN_2021.resolve("ML01", "ML0103")
    assert (place.admin1_pcode, place.admin1_name, place.admin2_pcode) == (
        "ML01",
        "Kayes",
        "ML0103",
    )
    assert not place.admin2_verified
    assert place.crosswalk is CrosswalkMatch.UNMAPPED


def test_a_commune_is_kept_only_where_its_cercle_keeps_its_code() -> None:
    assert REPORTED_IN_2021.resolve("ML09", "ML0901", "ML090101").admin3_pcode == "ML090101"
    moved = REPORTED_IN_2021.resolve("ML05", "ML0501", "ML050101")
    assert moved.admin3_pcode is None
    assert moved.as_given is not None
    assert moved.as_given.admin3_pcode == "ML050101"


def test_every_listed_2015_cercle_goes_to_2021_and_back_to_itself() -> None:
    crosswalk = load_crosswalk()
    listed = [a for a in REPORTED_IN_2015.admin2 if a.parent in REPORTED_IN_2015.complete_admin1]
    assert len(listed) == 18
    for cercle in listed:
        forward = crosswalk.admin2(cercle.pcode, OLD, NEW)
        assert forward is not None, cercle
        newer = REPORTED_IN_2021.reporting
        assert newer is not None
        assert newer.cercle(forward.admin2_pcode) is not None, forward
        # The same cercle by name, in both vintages.
        assert newer.cercle(forward.admin2_pcode).is_called(cercle.name)  # type: ignore[union-attr]
        back = crosswalk.admin2(forward.admin2_pcode, NEW, OLD)
        assert back is not None
        assert back.admin2_pcode == cercle.pcode


def test_the_default_behaviour_is_unchanged_when_2015_is_the_reporting_vintage() -> None:
    place = REPORTED_IN_2015.resolve("ML05", "ML0501", admin2_name="Mopti")
    assert (place.vintage, place.admin2_pcode, place.as_given, place.crosswalk) == (
        OLD,
        "ML0501",
        None,
        None,
    )


def test_an_unknown_reporting_vintage_stops_the_service_at_start() -> None:
    with pytest.raises(ValueError, match="unknown reporting vintage 'cod-ab-2030'"):
        load_gazetteer("cod-ab-2030")


def test_each_bundled_vintage_says_what_it_is_and_where_it_comes_from() -> None:
    vintages = {meta["vintage"]: meta for meta in gazetteer_vintages()}
    assert list(vintages) == [OLD, NEW]
    assert "validmeasures/mali" in vintages[OLD]["source"]
    assert "hapi-pipelines" in vintages[NEW]["source"]
    assert "5W" in vintages[NEW]["source"]
    raw = json.loads(files("kitflow_needs.data").joinpath("gazetteer_mali_2021.json").read_text())
    assert len(raw["admin1"]) == 10


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    app.state.services = replace(services(FakeNeedRepository()), gazetteer=REPORTED_IN_2021)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://needs") as http:
        yield http


async def test_the_reference_lists_the_bundled_vintages_and_the_reporting_one(
    client: httpx.AsyncClient,
) -> None:
    default = (await client.get("/v1/reference/gazetteer", headers=PARTNER)).json()
    assert (default["vintage"], default["reporting_vintage"]) == (OLD, NEW)
    assert [v["vintage"] for v in default["vintages"]] == [OLD, NEW]
    newer = (await client.get(f"/v1/reference/gazetteer?vintage={NEW}", headers=PARTNER)).json()
    assert newer["vintage"] == NEW
    assert {a["pcode"] for a in newer["admin1"]} == {f"ML{i:02d}" for i in range(1, 11)}
    assert newer["metadata"]["vintage"] == NEW
    unknown = await client.get("/v1/reference/gazetteer?vintage=cod-ab-1999", headers=PARTNER)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "query.vintage"


async def test_a_need_declares_its_vintage_and_keeps_its_codes_as_given(
    client: httpx.AsyncClient,
) -> None:
    body = copy.deepcopy(CREATE_BODY)
    body["location"] = {"admin1_pcode": "ML07", "admin2_pcode": "ML0704", "site_name": "Inekar"}
    created = await client.post("/v1/needs", json=body, headers=PARTNER)
    assert created.status_code == 201, created.text
    location = created.json()["location"]
    assert (location["admin1_pcode"], location["admin2_pcode"]) == ("ML10", "ML1003")
    assert location["as_given"]["admin2_pcode"] == "ML0704"
    assert location["crosswalk"] == "split"
