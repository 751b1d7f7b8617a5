"""From what a partner sends to need details: every problem at once, each named."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import builtin_profiles, load_catalogue, load_gazetteer
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import Assessment, AssessmentSource, NeedDetails, Population
from kitflow_shared.text import MAX_PEOPLE, MAX_QUANTITY

from tests.unit.needs.builders import need_input

PROFILES = {p.profile_id: p for p in builtin_profiles()}


def build(**changes: object) -> NeedDetails:
    return build_details(
        need_input(**changes),
        gazetteer=load_gazetteer(),
        catalogue=load_catalogue(),
        profiles=PROFILES,
    )


def fields(**changes: object) -> dict[str, str]:
    with pytest.raises(InvalidInput) as err:
        build(**changes)
    return {p.field: p.reason for p in err.value.problems}


def test_items_given_explicitly_take_precedence_over_the_profiles() -> None:
    details = build(profile_id="sphere-minimum", items=(("KIT-NFI", 100), ("BLANKET", 240)))
    quantities = details.requested()
    assert quantities["KIT-NFI"] == 100
    assert quantities["BLANKET"] == 240
    assert quantities["JERRYCAN-20L"] == 240
    nfi = next(i for i in details.items if i.item_code == "KIT-NFI")
    assert nfi.calculation is None
    water = next(i for i in details.items if i.item_code == "WATER-L")
    assert water.calculation is not None
    assert details.period.end.isoformat() == "2025-03-30"


def test_bad_input_names_every_field_and_why() -> None:
    found = fields(
        admin1_pcode="ML-5",
        population=Population(households=900, individuals=640, women=-3),
        severity=7,
        items=(("KIT-NFI", 0), ("TENT", 5)),
    )
    assert set(found) == {
        "location.admin1_pcode",
        "population.women",
        "severity",
        "items.0.quantity",
        "items.1.item_code",
    }
    assert "must not be negative" in found["population.women"]


def test_more_households_than_individuals_is_refused() -> None:
    found = fields(population=Population(households=700, individuals=640))
    assert "700 households cannot hold only 640 individuals" in found["population.households"]


def test_an_empty_need_is_refused() -> None:
    assert "an empty need" in fields(items=())["items"]


def test_an_unknown_item_suggests_close_codes() -> None:
    assert "did you mean KIT-NFI" in fields(items=(("KIT-NF", 3),))["items.0.item_code"]


def test_an_unknown_profile_names_the_known_ones_without_calling_the_need_empty() -> None:
    found = fields(items=(), profile_id="sphere-max")
    assert set(found) == {"norms.profile_id"}
    assert "sphere-minimum" in found["norms.profile_id"]


def test_the_chosen_rules_compute_and_items_given_still_take_precedence() -> None:
    details = build(
        profile_id="sphere-minimum",
        norm_rules=("KIT-NFI", "SOAP-BATH-250G"),
        items=(("KIT-NFI", 100), ("BLANKET", 240)),
    )
    assert details.requested() == {"SOAP-BATH-250G": 640, "KIT-NFI": 100, "BLANKET": 240}
    assert details.norms is not None
    assert details.norms.rules == ("SOAP-BATH-250G", "KIT-NFI")


def test_an_unknown_rule_is_named_with_the_other_problems() -> None:
    found = fields(
        items=(),
        profile_id="sphere-minimum",
        norm_rules=("TENT",),
        population=Population(households=900, individuals=640),
    )
    assert set(found) == {"norms.rules.0", "population.households"}
    assert fields(norm_rules=("KIT-NFI",)) == {
        "norms.rules": "only meaningful with a norms profile"
    }


def test_counts_quantities_and_dates_beyond_what_the_store_holds_are_named() -> None:
    huge = 2**63
    found = fields(
        population=Population(households=huge, individuals=huge, elderly=huge),
        items=(("KIT-NFI", huge),),
        assessment=Assessment(date(9999, 12, 31), AssessmentSource.DTM_ROUND),
        period_end=date(1, 1, 1),
    )
    assert set(found) == {
        "population.households",
        "population.individuals",
        "population.elderly",
        "items.0.quantity",
        "assessment.date",
        "period.end",
    }
    assert found["items.0.quantity"] == f"at most {MAX_QUANTITY:,}"
    assert "9999-12-31 is not between 2000-01-01 and 2100-12-31" in found["assessment.date"]


def test_a_profile_cannot_compute_more_than_a_need_may_ask_for() -> None:
    found = fields(
        items=(),
        profile_id="sphere-minimum",
        population=Population(households=MAX_PEOPLE, individuals=MAX_PEOPLE),
    )
    assert set(found) == {"population.individuals"}
    assert "the rule for WATER-L gives" in found["population.individuals"]


# Small counts find the cross-field rules; a few at and past the bound find the bound.
counts = st.integers(-2, 60) | st.sampled_from([MAX_PEOPLE, MAX_PEOPLE + 1, 2**63])
groups = st.none() | counts


@settings(max_examples=500, deadline=None)
@given(st.builds(Population, counts, counts, groups, groups, groups, groups, groups, groups))
def test_the_quick_soundness_check_agrees_with_the_detailed_one(population: Population) -> None:
    assert population.is_sound() == (population.problems_found() == [])
    assert population.problems() == population.problems_found()
