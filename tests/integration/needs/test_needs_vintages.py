"""P-code vintages through the real store and broker: with the needs service reporting in the
2021+ vintage, a need given in COD-AB 2015 codes is accepted, stored with the codes as given,
and reported (answered, listed, published) in the chosen vintage."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kitflow_shared.contracts.needs import NEED_SUBMITTED
from kitflow_shared.events import CloudEvent
from kitflow_shared.topics import NEEDS_EVENTS
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import Infra
from tests.support.kafka import read_topic
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

NRC = identity("NRC", Role.PARTNER)
COORDINATOR = identity("OCHA", Role.COORDINATOR)


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    monkeypatch.setenv("KITFLOW_NEEDS_REPORTING_VINTAGE", "cod-ab-2021")
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


def _at(**location: Any) -> dict[str, Any]:
    body = copy.deepcopy(CREATE_BODY)
    body["location"] = {"site_name": "Site", **location}
    return body


async def test_a_need_given_in_2015_codes_is_reported_in_the_chosen_vintage(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    created = await needs.client.post(
        "/v1/needs", json=_at(admin1_pcode="ML05", admin2_pcode="ML0501"), headers=NRC
    )
    assert created.status_code == 201, created.text
    need = created.json()
    assert need["location"] | {"coordinates": None} == {
        "admin1_pcode": "ML05",
        "admin1_name": "Mopti",
        "admin2_pcode": "ML0506",
        "admin2_name": "Mopti",
        "admin3_pcode": None,
        "site_name": "Site",
        "coordinates": None,
        "gazetteer_vintage": "cod-ab-2021",
        "admin2_verified": True,
        "admin3_verified": False,
        "as_given": {
            "vintage": "cod-ab-2015",
            "admin1_pcode": "ML05",
            "admin2_pcode": "ML0501",
            "admin3_pcode": None,
        },
        "crosswalk": "exact",
    }
    # Stored with its vintage, and read back the same.
    stored = await needs.needs.find_one({"_id": need["id"]})
    assert stored is not None
    assert stored["location"]["as_given"]["admin2_pcode"] == "ML0501"
    read = await needs.client.get(f"/v1/needs/{need['id']}", headers=NRC)
    assert read.json()["location"] == need["location"]

    # Published in the reporting vintage: distribution and its reports see ML0506.
    records = await read_topic(infra.kafka_bootstrap, NEEDS_EVENTS.qualified(topics), expect=1)
    [event] = [
        e for e in map(CloudEvent.from_bytes, (r.value for r in records))
        if e.subject == f"need/{need['id']}"
    ]  # fmt: skip
    state = NEED_SUBMITTED.parse(event)
    assert (state.admin1_pcode, state.admin2_pcode) == ("ML05", "ML0506")


async def test_menaka_given_in_either_vintage_is_one_region_in_the_report(
    needs: NeedsApp,
) -> None:
    as_2015 = await needs.client.post(
        "/v1/needs", json=_at(admin1_pcode="ML07", admin2_pcode="ML0704"), headers=NRC
    )
    as_2021 = await needs.client.post(
        "/v1/needs",
        json=_at(admin1_pcode="MLI10", admin2_pcode="MLI1002", vintage="cod-ab-2021"),
        headers=NRC,
    )
    assert as_2015.status_code == 201, as_2015.text
    assert as_2021.status_code == 201, as_2021.text
    assert as_2015.json()["location"]["crosswalk"] == "split"
    assert as_2021.json()["location"]["as_given"] is None  # given in the reporting vintage
    listed = await needs.client.get("/v1/needs?admin1_pcode=ML10", headers=COORDINATOR)
    assert {n["location"]["admin2_pcode"] for n in listed.json()["items"]} == {"ML1003", "ML1002"}


async def test_an_unknown_vintage_is_a_422_naming_the_field(needs: NeedsApp) -> None:
    refused = await needs.client.post(
        "/v1/needs",
        json=_at(admin1_pcode="ML05", admin2_pcode="ML0501", vintage="cod-ab-1999"),
        headers=NRC,
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "body.location.vintage"
    assert "cod-ab-2015, cod-ab-2021" in error["reason"]
