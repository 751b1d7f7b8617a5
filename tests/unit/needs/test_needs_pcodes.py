"""P-codes checked against the bundled gazetteer: vintages, ISO codes, names that do not match."""

from __future__ import annotations

import pytest
from kitflow_needs.adapters.bundled import gazetteer_metadata, load_gazetteer
from kitflow_needs.domain.errors import InvalidInput

G = load_gazetteer()


def problems(*args: str | None, **names: str) -> dict[str, str]:
    with pytest.raises(InvalidInput) as err:
        G.resolve(*args, **names)  # type: ignore[arg-type]
    return {p.field: p.reason for p in err.value.problems}


def test_a_cercle_of_the_operation_resolves_with_its_names_and_vintage() -> None:
    place = G.resolve("ML05", "ML0501", admin1_name="Mopti", admin2_name="Mopti")
    assert (place.admin1_name, place.admin2_name) == ("Mopti", "Mopti")
    assert place.admin2_verified
    assert place.vintage == "cod-ab-2015"


def test_the_gazetteer_records_its_vintage_source_and_coverage() -> None:
    meta = gazetteer_metadata()
    assert "2015-04-08" in meta["vintage_label"]
    assert "validmeasures/mali" in meta["source"]
    assert "Kidal" in meta["does_not_cover"]
    assert "admin3" in meta["admin3_policy"]


@pytest.mark.parametrize("name", ["Djenné", "DJENNE", " djenne ", "Djenne"])
def test_names_match_whatever_the_accents_case_and_spaces(name: str) -> None:
    assert G.resolve("ML05", "ML0505", admin2_name=name).admin2_name == "Djenné"


def test_gourma_rharous_matches_with_or_without_its_hyphen() -> None:
    assert G.resolve("ML06", "ML0604", admin2_name="gourma rharous").admin2_pcode == "ML0604"


def test_an_iso_3166_2_code_is_refused_as_not_a_pcode() -> None:
    reason = problems("ML-9", "ML0901")["admin1_pcode"]
    assert "ISO 3166-2" in reason
    assert "Ménaka" in reason
    assert "ML09 is Bamako" in reason


def test_an_iso_code_with_a_name_suggests_the_pcode_of_that_name() -> None:
    reason = problems("ML-5", "ML0501", admin1_name="Mopti")["admin1_pcode"]
    assert "the P-code of Mopti is ML05" in reason


def test_a_name_that_does_not_match_its_code_is_refused_with_the_right_code() -> None:
    # The 5W holds such pairs: (ML05, "Gao").
    reason = problems("ML05", "ML0501", admin1_name="Gao")["admin1_pcode"]
    assert reason.startswith("ML05 is Mopti, not Gao")
    assert "the P-code of Gao is ML07" in reason


def test_the_newer_vintage_code_of_mopti_is_explained() -> None:
    # ML0506 is Douentza in COD-AB 2015 but Mopti in the 2021+ vintage.
    reason = problems("ML05", "ML0506", admin2_name="Mopti")["admin2_pcode"]
    assert "ML0506 is Douentza, not Mopti" in reason
    assert "the P-code of Mopti is ML0501" in reason
    assert "would be Mopti in the 2021+ vintage" in reason


def test_an_iso3_style_code_of_the_newer_vintage_points_to_this_vintage() -> None:
    reason = problems("ML05", "MLI0506")["admin2_pcode"]
    assert "2021+ vintage" in reason
    assert "Mopti is ML0501" in reason


def test_menaka_as_a_region_belongs_to_the_newer_vintage() -> None:
    reason = problems("ML10", "ML1003")["admin1_pcode"]
    assert "Ménaka" in reason
    assert "ML0704" in reason


def test_a_cercle_outside_its_region_is_refused() -> None:
    reason = problems("ML05", "ML0701")["admin2_pcode"]
    assert "ML0701 (Gao, in ML07) is not inside ML05 (Mopti)" in reason


def test_an_unknown_cercle_in_a_fully_listed_region_is_refused_with_the_list() -> None:
    reason = problems("ML05", "ML0509")["admin2_pcode"]
    assert "unknown admin2 P-code ML0509 in Mopti" in reason
    assert "ML0508 Ténenkou" in reason


def test_a_cercle_of_a_region_the_gazetteer_does_not_list_is_accepted_unverified() -> None:
    place = G.resolve("ML01", "ML0103")
    assert place.admin2_pcode == "ML0103"
    assert not place.admin2_verified
    assert place.admin2_name is None


def test_a_commune_is_accepted_by_its_form_inside_its_cercle() -> None:
    place = G.resolve("ML05", "ML0501", "ml050103")
    assert place.admin3_pcode == "ML050103"
    assert not place.admin3_verified


@pytest.mark.parametrize(
    ("admin3", "reason"),
    [
        ("ML060101", "not inside ML0501"),
        ("ML05010", "not an admin3 P-code"),
        ("#N/A", "not an admin3 P-code"),
    ],
)
def test_a_commune_code_of_the_wrong_form_or_place_is_refused(admin3: str, reason: str) -> None:
    assert reason in problems("ML05", "ML0501", admin3)["admin3_pcode"]


def test_every_problem_is_reported_at_once() -> None:
    found = problems("Mopti", "ML-0501", "X")
    assert set(found) == {"admin1_pcode", "admin2_pcode", "admin3_pcode"}
    assert "ML followed by 2 digits" in found["admin1_pcode"]


def test_a_place_checked_again_gives_the_same_answer_or_the_same_problems() -> None:
    fresh = load_gazetteer()
    first = fresh.resolve("ML05", "ML0501", admin2_name="Mopti")
    assert fresh.resolve("ML05", "ML0501", admin2_name="Mopti") == first
    for _ in range(2):
        with pytest.raises(InvalidInput) as err:
            fresh.resolve("ML-9", "ML0501")
        assert [p.field for p in err.value.problems] == ["admin1_pcode"]
        assert "ISO 3166-2" in err.value.problems[0].reason


def test_the_memory_of_checked_places_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from kitflow_needs.domain import gazetteer

    monkeypatch.setattr(gazetteer, "RESOLVED_CACHE_SIZE", 3)
    fresh = load_gazetteer()
    for n in range(10):
        fresh.resolve("ML05", "ML0501", admin2_name="Mopti", admin1_name=None if n else "Mopti")
        fresh.resolve("ML05", "ML0501", f"ML0501{n:02d}")
    assert len(fresh._resolved) <= 3
    assert fresh.resolve("ML05", "ML0501").admin2_name == "Mopti"
