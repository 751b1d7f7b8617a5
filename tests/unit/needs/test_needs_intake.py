"""From what a partner sends to need details: every problem at once, each named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import builtin_profiles, load_catalogue, load_gazetteer
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import NeedDetails, Population

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


counts = st.integers(-2, 60)
groups = st.none() | counts


@settings(max_examples=500, deadline=None)
@given(st.builds(Population, counts, counts, groups, groups, groups, groups, groups, groups))
def test_the_quick_soundness_check_agrees_with_the_detailed_one(population: Population) -> None:
    assert population.is_sound() == (population.problems_found() == [])
    assert population.problems() == population.problems_found()
