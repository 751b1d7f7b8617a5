"""Norms profiles ("scenario templates"): population in, item quantities out, formula shown.

A rule reads: `amount` `amount_unit` per `basis` (per household, per person, per woman, ...),
every `per_days` days (or once, when `per_days` is None); one item holds `content_per_item` of
the amount (a 250 g bar of soap holds 250 g). A profile's rules are named by their item (one
rule per item); a partner may choose which of them apply (only the stockable items, say, not
water in litres). For a need lasting `duration_days`:

    quantity = ceil(basis_count * amount * (duration_days / per_days) / content_per_item)

computed exactly (fractions, no floating point), rounded up once for the whole need, so half a
kitchen set per household gives 3 sets for 5 households, never 5.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Protocol

from kitflow_shared.text import MAX_QUANTITY

from kitflow_needs.domain.catalogue import ItemCatalogue
from kitflow_needs.domain.errors import FieldProblem, InvalidInput

PROFILE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
MAX_DURATION_DAYS = 366
# A rule's amount and content per item: exact fractions are computed from them, so they stay
# small (a decimal like 1e-999999999 would make one calculation take hours).
MAX_RULE_AMOUNT = Decimal(1_000_000_000)
RULE_AMOUNT_DECIMALS = 6


class Basis(StrEnum):
    HOUSEHOLDS = "households"
    INDIVIDUALS = "individuals"
    WOMEN = "women"
    MEN = "men"
    GIRLS = "girls"
    BOYS = "boys"
    ELDERLY = "elderly"
    DISABLED = "disabled"


BASIS_WORDS = {
    Basis.HOUSEHOLDS: ("household", "households"),
    Basis.INDIVIDUALS: ("person", "individuals"),
    Basis.WOMEN: ("woman", "women"),
    Basis.MEN: ("man", "men"),
    Basis.GIRLS: ("girl", "girls"),
    Basis.BOYS: ("boy", "boys"),
    Basis.ELDERLY: ("older person", "elderly people"),
    Basis.DISABLED: ("person with a disability", "people with disabilities"),
}


@dataclass(frozen=True)
class NormRule:
    item_code: str
    basis: Basis
    amount: Decimal
    amount_unit: str
    per_days: int | None = None
    content_per_item: Decimal = Decimal(1)
    note: str = ""


@dataclass(frozen=True)
class NormsProfile:
    profile_id: str
    name: str
    description: str
    duration_days: int
    rules: tuple[NormRule, ...]
    sources: tuple[str, ...] = ()
    based_on: str | None = None
    version: int = 1

    def validated(self, catalogue: ItemCatalogue) -> NormsProfile:
        problems: list[FieldProblem] = []
        if not PROFILE_ID.match(self.profile_id):
            problems.append(
                FieldProblem(
                    "profile_id",
                    "2-64 lower-case letters, digits and hyphens (e.g. sphere-minimum)",
                )
            )
        if not self.name.strip():
            problems.append(FieldProblem("name", "must not be blank"))
        if not 1 <= self.duration_days <= MAX_DURATION_DAYS:
            problems.append(
                FieldProblem("duration_days", f"must be between 1 and {MAX_DURATION_DAYS}")
            )
        if not self.rules:
            problems.append(FieldProblem("rules", "a profile needs at least one rule"))
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            where = f"rules.{i}"
            unknown = catalogue.problem(rule.item_code, f"{where}.item_code")
            if unknown:
                problems.append(unknown)
            if rule.item_code in seen:
                problems.append(
                    FieldProblem(f"{where}.item_code", f"{rule.item_code} has two rules")
                )
            seen.add(rule.item_code)
            for name in ("amount", "content_per_item"):
                reason = _amount_problem(getattr(rule, name))
                if reason:
                    problems.append(FieldProblem(f"{where}.{name}", reason))
            if rule.per_days is not None and not 1 <= rule.per_days <= MAX_DURATION_DAYS:
                problems.append(
                    FieldProblem(
                        f"{where}.per_days", f"between 1 and {MAX_DURATION_DAYS}, or null for once"
                    )
                )
        if problems:
            raise InvalidInput(*problems)
        return self

    def chosen(self, rules: Sequence[str] | None) -> tuple[NormRule, ...]:
        """The rules for these item codes, in the profile's order (all of them for None).

        Raises InvalidInput naming `norms.rules.N` for a code the profile has no rule for."""
        if rules is None:
            return self.rules
        if not rules:
            raise InvalidInput.of(
                "norms.rules", "choose at least one rule, or leave rules out to apply them all"
            )
        held = {rule.item_code for rule in self.rules}
        unknown = [
            FieldProblem(
                f"norms.rules.{i}",
                f"{self.profile_id} has no rule for {code}; its rules: {', '.join(sorted(held))}",
            )
            for i, code in enumerate(rules)
            if code not in held
        ]
        if unknown:
            raise InvalidInput(*unknown)
        wanted = set(rules)
        return tuple(rule for rule in self.rules if rule.item_code in wanted)


def _amount_problem(value: Decimal) -> str | None:
    if not value.is_finite() or value <= 0:
        return "must be greater than 0"
    if value > MAX_RULE_AMOUNT:
        return f"at most {MAX_RULE_AMOUNT:,}"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -RULE_AMOUNT_DECIMALS:
        return f"at most {RULE_AMOUNT_DECIMALS} decimals"
    return None


@dataclass(frozen=True)
class Calculation:
    """One computed quantity with everything that went into it."""

    item_code: str
    basis: Basis
    basis_count: int
    amount: Decimal
    amount_unit: str
    per_days: int | None
    duration_days: int
    content_per_item: Decimal
    quantity: int
    formula: str


@dataclass(frozen=True)
class SkippedRule:
    item_code: str
    basis: Basis
    reason: str


@dataclass(frozen=True)
class NormsResult:
    profile_id: str
    profile_version: int
    duration_days: int
    calculations: tuple[Calculation, ...]
    skipped: tuple[SkippedRule, ...] = ()
    # The rules the partner chose (their item codes, in the profile's order); None for all.
    rules: tuple[str, ...] | None = None


class PopulationCounts(Protocol):
    """What the calculator needs from a population: a count per basis, or None if unknown."""

    def count(self, basis: Basis) -> int | None: ...


def compute_quantity(rule: NormRule, basis_count: int, duration_days: int) -> Fraction:
    """The exact (unrounded) number of items a rule gives."""
    periods = Fraction(duration_days, rule.per_days) if rule.per_days else Fraction(1)
    return Fraction(basis_count) * Fraction(rule.amount) * periods / Fraction(rule.content_per_item)


def calculate(
    profile: NormsProfile,
    counts: PopulationCounts,
    duration_days: int | None = None,
    rules: Sequence[str] | None = None,
) -> NormsResult:
    """Apply the rules of `profile` named in `rules` (every rule for None); a rule whose basis
    count is unknown is skipped, with why."""
    days = duration_days if duration_days is not None else profile.duration_days
    if not 1 <= days <= MAX_DURATION_DAYS:
        raise InvalidInput.of("norms.duration_days", f"must be between 1 and {MAX_DURATION_DAYS}")
    applied = profile.chosen(rules)
    calculations: list[Calculation] = []
    skipped: list[SkippedRule] = []
    for rule in applied:
        count = counts.count(rule.basis)
        if count is None:
            skipped.append(
                SkippedRule(
                    rule.item_code,
                    rule.basis,
                    f"the number of {BASIS_WORDS[rule.basis][1]} is not known; give "
                    f"population.{rule.basis.value} or request {rule.item_code} as an item",
                )
            )
            continue
        quantity = math.ceil(compute_quantity(rule, count, days))
        if quantity == 0:
            continue
        if quantity > MAX_QUANTITY:
            raise InvalidInput.of(
                f"population.{rule.basis.value}",
                f"for {count:,} {BASIS_WORDS[rule.basis][1]}, the rule for {rule.item_code} "
                f"gives {quantity:,} items, more than the {MAX_QUANTITY:,} a need may ask for",
            )
        calculations.append(
            Calculation(
                item_code=rule.item_code,
                basis=rule.basis,
                basis_count=count,
                amount=rule.amount,
                amount_unit=rule.amount_unit,
                per_days=rule.per_days,
                duration_days=days,
                content_per_item=rule.content_per_item,
                quantity=quantity,
                formula=formula(rule, count, days, quantity),
            )
        )
    return NormsResult(
        profile_id=profile.profile_id,
        profile_version=profile.version,
        duration_days=days,
        calculations=tuple(calculations),
        skipped=tuple(skipped),
        rules=None if rules is None else tuple(rule.item_code for rule in applied),
    )


def formula(rule: NormRule, count: int, days: int, quantity: int) -> str:
    """E.g. 'ceil(120 persons * 250 g * (30 d / 30 d) / 250 g per item) = 120'."""
    singular, plural = BASIS_WORDS[rule.basis]
    who = f"{count} {singular if count == 1 else plural}"
    rate = f"{_num(rule.amount)} {rule.amount_unit}"
    periods = f" * ({days} d / {rule.per_days} d)" if rule.per_days else ""
    per_item = (
        f" / {_num(rule.content_per_item)} {rule.amount_unit} per item"
        if rule.content_per_item != 1
        else ""
    )
    return f"ceil({who} * {rate} per {singular}{periods}{per_item}) = {quantity}"


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")
