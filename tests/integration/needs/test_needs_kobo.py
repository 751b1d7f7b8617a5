"""KoboToolbox submissions through the real store and broker: Kobo's retries make one need; a
submission that cannot become a need is kept, fixed and resubmitted; organisations stay apart."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest
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
DRC = identity("DRC", Role.PARTNER)
SUBMISSIONS = "/v1/integrations/kobo/submissions"
MAPPING = "/v1/integrations/kobo/mapping"

# A form whose questions sit in groups (Kobo joins the path with '/'), mapped to HXL hashtags.
FORM_MAPPING = {
    "lieu/region_pcode": "#adm1+code",
    "lieu/cercle_pcode": "#adm2+code",
    "lieu/cercle": "#adm2+name",
    "lieu/site": "#loc+name",
    "menage/nb_menages": "#inneed+hh",
    "menage/nb_personnes": "#inneed+ind",
    "statut": "#beneficiary+type",
    "severite": "#severity",
    "date_evaluation": "#date+assessed",
    "article": "#item+code",
    "quantite": "#item+num",
}


def submission(uuid: str, **changes: Any) -> dict[str, Any]:
    """As Kobo's REST Service posts it: question paths and Kobo's metadata."""
    sent: dict[str, Any] = {
        "_id": 41_234,
        "_uuid": uuid,
        "_submission_time": "2026-12-01T09:14:03",
        "_submitted_by": "enqueteur_mopti",
        "_xform_id_string": "aJ9xF2evaluation_abris",
        "_geolocation": [14.53, -4.09],
        "formhub/uuid": "0f4c1b6f8e1f4a0d9c1e",
        # A repeat group: not read, but kept with the submission as Kobo sent it.
        "membres": [{"membres/$age": 34, "membres/sexe.code": "f"}],
        "lieu/region_pcode": "ML05",
        "lieu/cercle_pcode": "ML0501",
        "lieu/cercle": "Mopti",
        "lieu/site": "Sévaré 2",
        "menage/nb_menages": "120",
        "menage/nb_personnes": "640",
        "statut": "idp",
        "severite": "4",
        "date_evaluation": "2026-11-30",
        "article": "KIT-NFI",
        "quantite": "120",
    }
    sent.update(changes)
    return sent


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        mapped = await running.client.put(MAPPING, json={"fields": FORM_MAPPING}, headers=NRC)
        assert mapped.status_code == 200, mapped.text
        yield running


async def test_a_submission_delivered_three_times_gives_one_need(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    sent = submission("b2a1c3d4-0001-4e5f-8a9b-000000000001")
    answers = [await needs.client.post(SUBMISSIONS, json=sent, headers=NRC) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 200, 200], answers[0].text
    need_ids = {a.json()["need_id"] for a in answers}
    assert len(need_ids) == 1
    [need_id] = need_ids
    assert await needs.needs.count_documents({}) == 1
    need = await needs.client.get(f"/v1/needs/{need_id}", headers=NRC)
    assert need.status_code == 200
    assert need.json()["status"] == "submitted"
    assert need.json()["population"]["households"] == 120
    records = await read_topic(infra.kafka_bootstrap, NEEDS_EVENTS.qualified(topics), expect=1)
    assert {r.key for r in records} == {f"need/{need_id}".encode()}


async def test_a_submission_can_be_a_draft(needs: NeedsApp) -> None:
    sent = submission("b2a1c3d4-0002-4e5f-8a9b-000000000002")
    answer = await needs.client.post(
        SUBMISSIONS, json=sent, headers=NRC, params={"submit": "false"}
    )
    assert answer.status_code == 201, answer.text
    need = await needs.client.get(f"/v1/needs/{answer.json()['need_id']}", headers=NRC)
    assert need.json()["status"] == "draft"


async def test_an_unknown_pcode_is_refused_as_the_api_refuses_it_and_kept(
    needs: NeedsApp,
) -> None:
    uuid = "b2a1c3d4-0003-4e5f-8a9b-000000000003"
    refused = await needs.client.post(
        SUBMISSIONS, json=submission(uuid, **{"lieu/cercle_pcode": "ML0599"}), headers=NRC
    )
    api_body = copy.deepcopy(CREATE_BODY)
    api_body["location"]["admin2_pcode"] = "ML0599"
    through_api = await needs.client.post("/v1/needs", json=api_body, headers=NRC)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    [kobo_error] = refused.json()["errors"]
    [api_error] = through_api.json()["errors"]
    assert kobo_error["field"] == "lieu/cercle_pcode"
    assert kobo_error["reason"] == api_error["reason"]
    assert await needs.needs.count_documents({}) == 0

    kept = await needs.client.get(SUBMISSIONS, params={"state": "refused"}, headers=NRC)
    [held] = kept.json()
    assert held["uuid"] == uuid
    assert held["reasons"] == [{"question": "lieu/cercle_pcode", "reason": api_error["reason"]}]
    assert held["values"]["lieu/cercle_pcode"] == "ML0599"
    assert held["values"]["membres"] == [{"membres/$age": 34, "membres/sexe.code": "f"}]


async def test_a_refused_submission_is_resubmitted_after_a_fix(needs: NeedsApp) -> None:
    # The form gained a question the mapping did not know: the households are missing.
    uuid = "b2a1c3d4-0004-4e5f-8a9b-000000000004"
    sent = submission(uuid)
    sent["menage/nombre_menages"] = sent.pop("menage/nb_menages")
    refused = await needs.client.post(SUBMISSIONS, json=sent, headers=NRC)
    assert refused.status_code == 422, refused.text
    assert "#inneed+hh" in refused.text
    # Kobo retries: still refused, still one kept submission, no need.
    again = await needs.client.post(SUBMISSIONS, json=sent, headers=NRC)
    assert again.status_code == 422

    fixed_mapping = {**FORM_MAPPING, "menage/nombre_menages": "#inneed+hh"}
    put = await needs.client.put(MAPPING, json={"fields": fixed_mapping}, headers=NRC)
    assert put.status_code == 200
    assert (await needs.client.get(MAPPING, headers=NRC)).json()["fields"] == fixed_mapping
    resubmitted = await needs.client.post(
        f"{SUBMISSIONS}/{uuid}/resubmit", json={"values": {"severite": "5"}}, headers=NRC
    )

    assert resubmitted.status_code == 201, resubmitted.text
    need = await needs.client.get(f"/v1/needs/{resubmitted.json()['need_id']}", headers=NRC)
    assert need.json()["population"]["households"] == 120
    assert need.json()["severity"] == 5
    assert (
        await needs.client.get(SUBMISSIONS, params={"state": "refused"}, headers=NRC)
    ).json() == []
    # Kobo's last retry comes after the fix: it finds the need, and changes nothing.
    late = await needs.client.post(SUBMISSIONS, json=sent, headers=NRC)
    assert late.status_code == 200
    assert late.json()["need_id"] == resubmitted.json()["need_id"]
    assert await needs.needs.count_documents({}) == 1


async def test_another_organisation_sees_nothing_of_the_submissions(needs: NeedsApp) -> None:
    uuid = "b2a1c3d4-0005-4e5f-8a9b-000000000005"
    refused = await needs.client.post(SUBMISSIONS, json=submission(uuid, severite="9"), headers=NRC)
    assert refused.status_code == 422

    assert (await needs.client.get(SUBMISSIONS, headers=DRC)).json() == []
    assert (await needs.client.get(MAPPING, headers=DRC)).json() == {"fields": {}}
    stolen = await needs.client.post(
        f"{SUBMISSIONS}/{uuid}/resubmit", json={"values": {"severite": "4"}}, headers=DRC
    )
    assert stolen.status_code == 404
    # The same _uuid from another organisation is its own submission (DRC has no mapping).
    other = await needs.client.post(SUBMISSIONS, json=submission(uuid), headers=DRC)
    assert other.status_code == 422
    assert len((await needs.client.get(SUBMISSIONS, headers=NRC)).json()) == 1


async def test_a_body_that_is_not_a_kobo_submission_names_what_was_expected(
    needs: NeedsApp,
) -> None:
    answer = await needs.client.post(SUBMISSIONS, json={"severite": "4"}, headers=NRC)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body._uuid"
    assert "_uuid" in answer.json()["detail"]
