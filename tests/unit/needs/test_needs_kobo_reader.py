"""A KoboToolbox submission read as one HXL row: which questions are read, and how."""

from __future__ import annotations

import pytest
from kitflow_needs.adapters.kobo import read_submission
from kitflow_needs.domain.errors import UnreadableFile

MAPPING = {
    "lieu/region": "#adm1+code",
    "lieu/cercle": "#adm2+code",
    "menage/nb_menages": "#inneed+hh",
    "menage/nb_personnes": "#inneed+ind",
    "statut": "#beneficiary+type",
    "severite": "#severity",
    "date": "#date+assessed",
    "article": "#item+code",
    "quantite": "#item+num",
    "ref_enqueteur": "#meta+id",
}
SUBMISSION = {
    "_uuid": "0b9c7a52-3f1e-4d8a-9c77-2f4b1c0e5d21",
    "_id": 7,
    "_geolocation": [14.5, -4.1],
    "lieu/region": "ML05",
    "lieu/cercle": "ML0501",
    "menage/nb_menages": 120,
    "menage/nb_personnes": 640,
    "statut": "idp",
    "severite": 4,
    "date": "2026-11-30",
    "article": "KIT-NFI",
    "quantite": 120,
    "ref_enqueteur": "MOPTI-12",
    "commentaire": "not mapped: not read",
}


def test_mapped_questions_become_the_need_and_the_uuid_its_reference() -> None:
    row = read_submission(SUBMISSION, MAPPING, organisation="NRC")
    assert row.given is not None
    assert row.given.external_ref == "kobo:0b9c7a52-3f1e-4d8a-9c77-2f4b1c0e5d21"
    assert row.column_of("location.admin2_pcode") == "lieu/cercle"
    assert row.column_of("severity") == "severite"


def test_questions_named_by_their_hashtags_need_no_mapping() -> None:
    named = {
        "_uuid": "u-1",
        **{MAPPING[q]: v for q, v in SUBMISSION.items() if q in MAPPING},
    }
    row = read_submission(named, {}, organisation="NRC")
    assert row.given is not None
    assert row.given.external_ref == "kobo:u-1"


def test_an_unmapped_form_says_which_hashtags_it_expected() -> None:
    with pytest.raises(UnreadableFile) as refused:
        read_submission(SUBMISSION, {}, organisation="NRC")
    assert "#adm2+code" in refused.value.reason
    assert "/v1/integrations/kobo/mapping" in refused.value.reason
