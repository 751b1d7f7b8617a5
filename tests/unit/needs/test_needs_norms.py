"""The norms calculator: population in, quantities out, the formula shown. Examples and
properties."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import builtin_profiles, load_catalogue
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.need import Population
from kitflow_needs.domain.norms import (
    Basis,
    NormRule,
    NormsProfile,
    calculate,
    compute_quantity,
)

PROFILES = {p.profile_id: p for p in builtin_profiles()}
SPHERE = PROFILES["sphere-minimum"]


def quantities(profile: NormsProfile, population: Population, days: int | None = None) -> dict:
    return {c.item_code: c.quantity for c in calculate(profile, population, days).calculations}


def test_the_sphere_defaults_for_120_households_of_640_people_over_30_days() -> None:
    got = quantities(SPHERE, Population(households=120, individuals=640, women=180))
    assert got == {
        "WATER-L": 640 * 15 * 30,
        "JERRYCAN-20L": 240,
        "SOAP-BATH-250G": 640,
        "SOAP-LAUNDRY-200G": 640,
        "MENSTRUAL-KIT": 180,
        "KIT-NFI": 120,
        "KIT-SHELTER-EMERGENCY": 120,
        "COVERED-SPACE-M2": 2240,
    }


def test_a_rule_whose_group_is_not_counted_is_skipped_and_says_why() -> None:
    result = calculate(SPHERE, Population(households=10, individuals=50))
    assert "MENSTRUAL-KIT" not in {c.item_code for c in result.calculations}
    [skipped] = result.skipped
    assert skipped.item_code == "MENSTRUAL-KIT"
    assert "population.women" in skipped.reason


def test_monthly_rules_scale_with_the_duration_and_round_up_once() -> None:
    population = Population(households=1, individuals=7)
    assert quantities(SPHERE, population, 60)["SOAP-BATH-250G"] == 14
    # 7 people x 250 g x 45/30 months = 2625 g: 10.5 bars, so 11.
    assert quantities(SPHERE, population, 45)["SOAP-BATH-250G"] == 11


def test_half_a_kitchen_set_per_household_is_rounded_over_the_whole_need() -> None:
    got = quantities(PROFILES["south-sudan-average-package"], Population(5, 25))
    assert got["KITCHEN-SET"] == 3


def test_the_formula_shows_the_inputs_and_the_result() -> None:
    result = calculate(SPHERE, Population(households=120, individuals=640), 30)
    soap = next(c for c in result.calculations if c.item_code == "SOAP-BATH-250G")
    assert soap.basis is Basis.INDIVIDUALS
    assert soap.basis_count == 640
    assert soap.amount == Decimal(250)
    assert soap.formula == (
        "ceil(640 individuals * 250 g per person * (30 d / 30 d) / 250 g per item) = 640"
    )
    containers = next(c for c in result.calculations if c.item_code == "JERRYCAN-20L")
    assert containers.formula == "ceil(120 households * 2 piece per household) = 240"
    assert result.profile_id == "sphere-minimum"
    assert result.profile_version == 1


def test_the_cold_urban_variant_gives_more_covered_space() -> None:
    population = Population(households=2, individuals=10)
    assert quantities(PROFILES["sphere-cold-urban"], population)["COVERED-SPACE-M2"] == 45
    assert quantities(SPHERE, population)["COVERED-SPACE-M2"] == 35


def test_a_duration_outside_one_year_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"norms.duration_days"):
        calculate(SPHERE, Population(1, 1), 0)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (NormRule("NOPE", Basis.HOUSEHOLDS, Decimal(1), "piece"), "rules.0.item_code"),
        (NormRule("BLANKET", Basis.HOUSEHOLDS, Decimal(-1), "piece"), "rules.0.amount"),
        (
            NormRule("SOAP-BAR", Basis.INDIVIDUALS, Decimal(1), "g", content_per_item=Decimal(0)),
            "rules.0.content_per_item",
        ),
        (
            NormRule("BLANKET", Basis.HOUSEHOLDS, Decimal(1), "piece", per_days=0),
            "rules.0.per_days",
        ),
        # Exact fractions are computed from these: they must stay small.
        (NormRule("BLANKET", Basis.HOUSEHOLDS, Decimal("1e999999"), "piece"), "rules.0.amount"),
        (
            NormRule(
                "BLANKET", Basis.HOUSEHOLDS, Decimal(1), "g", content_per_item=Decimal("1e-999999")
            ),
            "rules.0.content_per_item",
        ),
    ],
)
def test_a_profile_with_a_bad_rule_is_refused_naming_the_rule(rule: NormRule, field: str) -> None:
    profile = NormsProfile("my-profile", "Mine", "", 30, (rule,))
    with pytest.raises(InvalidInput) as err:
        profile.validated(load_catalogue())
    assert [p.field for p in err.value.problems] == [field]


def test_a_partner_applies_only_the_rules_it_chooses_in_the_profiles_order() -> None:
    population = Population(households=120, individuals=640)
    result = calculate(SPHERE, population, rules=["KIT-NFI", "JERRYCAN-20L"])
    assert [c.item_code for c in result.calculations] == ["JERRYCAN-20L", "KIT-NFI"]
    assert result.rules == ("JERRYCAN-20L", "KIT-NFI")
    assert calculate(SPHERE, population).rules is None


def test_a_rule_the_profile_does_not_have_is_named_with_the_rules_it_has() -> None:
    with pytest.raises(InvalidInput) as err:
        SPHERE.chosen(["KIT-NFI", "TENT", "ROPE"])
    assert [p.field for p in err.value.problems] == ["norms.rules.1", "norms.rules.2"]
    assert "sphere-minimum has no rule for TENT; its rules: COVERED-SPACE-M2" in str(err.value)
    with pytest.raises(InvalidInput) as empty:
        SPHERE.chosen([])
    assert [p.field for p in empty.value.problems] == ["norms.rules"]


def test_every_built_in_profile_references_known_items_only() -> None:
    catalogue = load_catalogue()
    for profile in PROFILES.values():
        assert profile.validated(catalogue) is profile


# ---------------------------------------------------------------------- properties

rules = st.builds(
    NormRule,
    item_code=st.just("BLANKET"),
    basis=st.sampled_from([Basis.HOUSEHOLDS, Basis.INDIVIDUALS]),
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2),
    amount_unit=st.just("unit"),
    per_days=st.one_of(st.none(), st.integers(1, 366)),
    content_per_item=st.decimals(min_value=Decimal("0.5"), max_value=Decimal(500), places=1),
)
counts = st.integers(min_value=0, max_value=200_000)
days = st.integers(min_value=1, max_value=366)


def _one(rule: NormRule, count: int, duration: int) -> int:
    profile = NormsProfile("p", "P", "", 30, (rule,))
    population = Population(households=count, individuals=count)
    result = calculate(profile, population, duration)
    return result.calculations[0].quantity if result.calculations else 0


@given(rules, counts, days)
def test_the_quantity_is_the_exact_need_rounded_up_never_more(
    rule: NormRule, count: int, duration: int
) -> None:
    exact = compute_quantity(rule, count, duration)
    quantity = _one(rule, count, duration)
    assert exact <= quantity < exact + 1
    assert quantity == math.ceil(
        Fraction(count)
        * Fraction(rule.amount)
        * (Fraction(duration, rule.per_days) if rule.per_days else 1)
        / Fraction(rule.content_per_item)
    )


@given(rules, counts, counts, days)
def test_more_people_never_get_less(rule: NormRule, a: int, b: int, duration: int) -> None:
    small, large = sorted((a, b))
    assert _one(rule, small, duration) <= _one(rule, large, duration)


@given(rules, counts, counts, days)
def test_one_need_never_gets_more_than_two_needs_for_the_same_people(
    rule: NormRule, a: int, b: int, duration: int
) -> None:
    # Rounding once over the whole need, not per household: merging needs never inflates them.
    assert _one(rule, a + b, duration) <= _one(rule, a, duration) + _one(rule, b, duration)


@given(st.integers(1, 10_000), st.integers(1, 20), st.integers(1, 366))
def test_whole_numbers_per_household_are_exact(households: int, per: int, duration: int) -> None:
    rule = NormRule("KIT-NFI", Basis.HOUSEHOLDS, Decimal(per), "kit")
    assert _one(rule, households, duration) == households * per


@given(st.integers(1, 5000), st.integers(0, 5000))
def test_the_sphere_profile_never_fails_on_a_sound_population(
    households: int, extra_people: int
) -> None:
    population = Population(households=households, individuals=households + extra_people)
    result = calculate(SPHERE, population)
    assert {c.item_code for c in result.calculations} >= {"KIT-NFI", "JERRYCAN-20L", "WATER-L"}
    for calc in result.calculations:
        assert calc.quantity >= 1
        assert calc.formula.endswith(f"= {calc.quantity}")
