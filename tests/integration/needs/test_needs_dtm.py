"""DTM figures through the real store and broker: a round makes drafts, the next updates them,
and a draft a person edited is left alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import Infra
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity

pytestmark = pytest.mark.infra

CLUSTER = identity("SNFI-CLUSTER", Role.COORDINATOR) | {"Content-Type": "text/csv"}
NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
IMPORTS = "/v1/integrations/dtm/imports"
FOR_NRC = {"profile": "sphere-minimum", "organisation": "NRC"}

HEADER = (
    "Région,Code région,Cercle,Code cercle,Site,Code site,Lat,Lon,Date,Round,"
    "Ménages PDI,Individus PDI,Ménages rapatriés,Individus rapatriés,Type d'évaluation\n"
    "#adm1+name,#adm1+code,#adm2+name,#adm2+code,#loc+name,#loc+code,#geo+lat,#geo+lon,"
    "#date+reported,#round+code,#affected+idps+hh,#affected+idps+ind,#affected+returnees+hh,"
    "#affected+returnees+ind,#assessment+type\n"
)


def dtm_round(round_code: str, date: str, scale: int) -> str:
    rows = [
        f"Mopti,ML05,Mopti,ML0501,Sévaré 2,ML0501-S02,14.53,-4.09,{date},{round_code},"
        f"{120 * scale},{640 * scale},{10 * scale},{55 * scale},site",
        f"Tombouctou,ML06,Tombouctou,ML0601,Abaradjou,ML0601-S07,16.77,-3.01,{date},"
        f"{round_code},{80 * scale},{410 * scale},0,0,site",
    ]
    return HEADER + "\n".join(rows) + "\n"


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


async def _nrc_needs(needs: NeedsApp) -> dict[tuple[str, str], dict[str, Any]]:
    listed = await needs.client.get("/v1/needs", headers=NRC, params={"limit": 100})
    assert listed.status_code == 200, listed.text
    return {
        (n["location"]["admin2_pcode"], n["displacement_status"]): n for n in listed.json()["items"]
    }


async def test_two_rounds_make_drafts_then_update_them_but_not_a_person_edited_one(
    needs: NeedsApp,
) -> None:
    first = await needs.client.post(
        IMPORTS, content=dtm_round("R12", "2026-09-30", 1), headers=CLUSTER, params=FOR_NRC
    )
    assert first.status_code == 200, first.text
    assert (first.json()["imported"], first.json()["rejected"]) == (3, 0)
    drafts = await _nrc_needs(needs)
    assert set(drafts) == {("ML0501", "idp"), ("ML0501", "returnee"), ("ML0601", "idp")}
    assert {n["status"] for n in drafts.values()} == {"draft"}
    assert drafts[("ML0501", "idp")]["population"]["households"] == 120
    assert drafts[("ML0501", "idp")]["items"], "quantities computed with the norms profile"

    # NRC's information officer corrects one draft by hand.
    edited = drafts[("ML0601", "idp")]
    full = (await needs.client.get(f"/v1/needs/{edited['id']}", headers=NRC)).json()
    corrected = {
        "location": {
            "admin1_pcode": "ML06",
            "admin2_pcode": "ML0601",
            "site_name": "Abaradjou (recensé NRC)",
        },
        "population": {"households": 95, "individuals": 470},
        "displacement_status": "idp",
        "assessment": {"date": "2026-10-05", "source": "partner-assessment"},
        "severity": 4,
        "norms": {"profile_id": "sphere-minimum"},
    }
    put = await needs.client.put(f"/v1/needs/{full['id']}", json=corrected, headers=NRC)
    assert put.status_code == 200, put.text

    second = await needs.client.post(
        IMPORTS, content=dtm_round("R13", "2026-12-31", 2), headers=CLUSTER, params=FOR_NRC
    )
    assert second.status_code == 200, second.text
    report = second.json()
    assert (report["imported"], report["updated"], report["kept"]) == (0, 2, 1)
    after = await _nrc_needs(needs)
    assert len(after) == 3
    assert after[("ML0501", "idp")]["id"] == drafts[("ML0501", "idp")]["id"]
    assert after[("ML0501", "idp")]["population"]["households"] == 240
    assert after[("ML0501", "returnee")]["population"]["individuals"] == 110
    assert after[("ML0501", "idp")]["assessment"]["reference"] == "R13"
    assert after[("ML0601", "idp")]["population"]["households"] == 95
    assert after[("ML0601", "idp")]["location"]["site_name"] == "Abaradjou (recensé NRC)"

    again = await needs.client.post(
        IMPORTS, content=dtm_round("R13", "2026-12-31", 2), headers=CLUSTER, params=FOR_NRC
    )
    assert (again.json()["imported"], again.json()["updated"]) == (0, 0)


async def test_a_bad_dtm_row_is_named_by_its_row_and_column_with_the_apis_message(
    needs: NeedsApp,
) -> None:
    text = dtm_round("R12", "2026-09-30", 1).replace("Tombouctou,ML0601,", "Tombouctou,ML0699,")
    answer = await needs.client.post(IMPORTS, content=text, headers=CLUSTER, params=FOR_NRC)
    assert answer.status_code == 200, answer.text
    [error] = answer.json()["errors"]
    assert (error["row"], error["column"]) == (4, "#adm2+code")
    assert "ML0699" in error["reason"]
    assert answer.json()["imported"] == 2


async def test_a_file_without_dtm_figures_names_what_was_expected(needs: NeedsApp) -> None:
    answer = await needs.client.post(
        IMPORTS, content="#adm1+code,#adm2+code\nML05,ML0501\n", headers=CLUSTER, params=FOR_NRC
    )
    assert answer.status_code == 422
    assert "#affected+idps+hh" in answer.json()["detail"]


async def test_only_a_coordinator_imports_dtm_and_drafts_stay_with_their_organisation(
    needs: NeedsApp,
) -> None:
    partner = await needs.client.post(
        IMPORTS,
        content=dtm_round("R12", "2026-09-30", 1),
        headers=NRC | {"Content-Type": "text/csv"},
        params=FOR_NRC,
    )
    assert partner.status_code == 403
    made = await needs.client.post(
        IMPORTS, content=dtm_round("R12", "2026-09-30", 1), headers=CLUSTER, params=FOR_NRC
    )
    [need_id, *_] = made.json()["created"]
    assert (await needs.client.get(f"/v1/needs/{need_id}", headers=DRC)).status_code == 404
    assert (await needs.client.get("/v1/needs", headers=DRC)).json()["items"] == []
