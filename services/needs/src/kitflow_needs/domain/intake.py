"""From what a partner sent (the API body or an HXL row) to checked need details.

Every problem is collected, so a partner fixes everything in one go: the P-codes against the
gazetteer, the population rules, the items against the catalogue, the norms profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from kitflow_shared.text import MAX_QUANTITY

from kitflow_needs.domain.catalogue import ItemCatalogue
from kitflow_needs.domain.errors import FieldProblem, InvalidInput
from kitflow_needs.domain.gazetteer import Gazetteer
from kitflow_needs.domain.need import (
    EARLIEST_DATE,
    LATEST_DATE,
    Assessment,
    Coordinates,
    DisplacementStatus,
    Location,
    NeedDetails,
    Period,
    Population,
    RequestedItem,
)
from kitflow_needs.domain.norms import NormsProfile, NormsResult, calculate

# A need without a stated period is for this many days after the assessment (or the profile's).
DEFAULT_PERIOD_DAYS = 30


@dataclass(frozen=True)
class NeedInput:
    admin1_pcode: str
    admin2_pcode: str
    population: Population
    displacement: DisplacementStatus
    assessment: Assessment
    severity: int
    admin3_pcode: str | None = None
    admin1_name: str | None = None
    admin2_name: str | None = None
    # The P-code vintage the codes are given in (None: the gazetteer's default vintage).
    vintage: str | None = None
    site_name: str | None = None
    coordinates: Coordinates | None = None
    period_start: date | None = None
    period_end: date | None = None
    items: tuple[tuple[str, int], ...] = ()
    profile_id: str | None = None
    duration_days: int | None = None
    # Which of the profile's rules apply, by item code; None for all of them.
    norm_rules: tuple[str, ...] | None = None
    external_ref: str | None = None
    # Problems found while reading the input (an HXL cell that is not a number, ...).
    read_problems: tuple[FieldProblem, ...] = field(default=())


def build_details(
    given: NeedInput,
    *,
    gazetteer: Gazetteer,
    catalogue: ItemCatalogue,
    profiles: Mapping[str, NormsProfile],
) -> NeedDetails:
    problems: list[FieldProblem] = list(given.read_problems)
    location = _location(given, gazetteer, problems)
    norms = _norms(given, profiles, problems)

    explicit: dict[str, int] = {}
    for i, (code, quantity) in enumerate(given.items):
        unknown = catalogue.problem(code, f"items.{i}.item_code")
        if unknown:
            problems.append(unknown)
        if code in explicit:
            problems.append(FieldProblem(f"items.{i}.item_code", f"{code} is listed twice"))
        if quantity <= 0:
            problems.append(FieldProblem(f"items.{i}.quantity", "must be greater than 0"))
        elif quantity > MAX_QUANTITY:
            problems.append(FieldProblem(f"items.{i}.quantity", f"at most {MAX_QUANTITY:,}"))
        explicit[code] = quantity

    items: list[RequestedItem] = []
    if norms is not None:
        # Items the partner gave explicitly take precedence over the profile's quantity.
        items += [
            RequestedItem(c.item_code, c.quantity, c)
            for c in norms.calculations
            if c.item_code not in explicit
        ]
    items += [RequestedItem(code, quantity) for code, quantity in explicit.items()]

    problems += _date_problems(given)
    start = given.period_start or given.assessment.assessed_on
    days = norms.duration_days if norms is not None else DEFAULT_PERIOD_DAYS
    end = given.period_end or _days_after(start, days - 1)
    if location is None:
        if not problems:  # pragma: no cover - resolve() raises when it returns nothing
            problems.append(FieldProblem("location", "could not be resolved"))
        raise InvalidInput(
            *_unique(
                [*problems, *_details_problems_without_location(given, items, start, end)],
                norms_failed=given.profile_id is not None and norms is None,
            )
        )
    details = NeedDetails(
        location=location,
        population=given.population,
        displacement=given.displacement,
        assessment=given.assessment,
        severity=given.severity,
        period=Period(start, end),
        items=tuple(items),
        norms=norms,
        external_ref=given.external_ref,
    )
    problems += details.problems()
    if problems:
        raise InvalidInput(
            *_unique(problems, norms_failed=given.profile_id is not None and norms is None)
        )
    return details


def _date_problems(given: NeedInput) -> list[FieldProblem]:
    dates = (
        ("assessment.date", given.assessment.assessed_on),
        ("period.start", given.period_start),
        ("period.end", given.period_end),
    )
    return [
        FieldProblem(name, f"{value} is not between {EARLIEST_DATE} and {LATEST_DATE}")
        for name, value in dates
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE
    ]


def _days_after(start: date, days: int) -> date:
    """`start` + `days`, or the last date there is (a start out of range is reported anyway)."""
    try:
        return start + timedelta(days=days)
    except OverflowError:
        return date.max


def _location(
    given: NeedInput, gazetteer: Gazetteer, problems: list[FieldProblem]
) -> Location | None:
    try:
        place = gazetteer.resolve(
            given.admin1_pcode,
            given.admin2_pcode,
            given.admin3_pcode,
            admin1_name=given.admin1_name,
            admin2_name=given.admin2_name,
            vintage=given.vintage,
        )
    except InvalidInput as exc:
        problems += exc.under("location").problems
        return None
    site = given.site_name.strip() if given.site_name is not None else None
    return Location(
        admin1_pcode=place.admin1_pcode,
        admin1_name=place.admin1_name,
        admin2_pcode=place.admin2_pcode,
        admin2_name=place.admin2_name,
        admin3_pcode=place.admin3_pcode,
        site_name=site if site else given.site_name,
        coordinates=given.coordinates,
        gazetteer_vintage=place.vintage,
        admin2_verified=place.admin2_verified,
        admin3_verified=place.admin3_verified,
        as_given=place.as_given,
        crosswalk=place.crosswalk.value if place.crosswalk else None,
    )


def _norms(
    given: NeedInput, profiles: Mapping[str, NormsProfile], problems: list[FieldProblem]
) -> NormsResult | None:
    if given.profile_id is None:
        if given.duration_days is not None:
            problems.append(
                FieldProblem("norms.duration_days", "only meaningful with a norms profile")
            )
        if given.norm_rules is not None:
            problems.append(FieldProblem("norms.rules", "only meaningful with a norms profile"))
        return None
    profile = profiles.get(given.profile_id)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        problems.append(
            FieldProblem(
                "norms.profile_id", f"unknown norms profile {given.profile_id!r}; known: {known}"
            )
        )
        return None
    try:
        profile.chosen(given.norm_rules)  # reported even if the population is wrong too
    except InvalidInput as exc:
        problems += exc.problems
        return None
    if given.population.problems():
        return None  # reported with the details; quantities from a bad population mean nothing
    try:
        return calculate(profile, given.population, given.duration_days, given.norm_rules)
    except InvalidInput as exc:
        problems += exc.problems
        return None


def _details_problems_without_location(
    given: NeedInput, items: list[RequestedItem], start: date, end: date
) -> list[FieldProblem]:
    """The other rules still get checked when the location is wrong, so all show at once."""
    probe = NeedDetails(
        location=Location("", "", "", None, None, given.site_name, None, ""),
        population=given.population,
        displacement=given.displacement,
        assessment=given.assessment,
        severity=given.severity,
        period=Period(start, end),
        items=tuple(items),
    )
    return probe.problems()


def _unique(problems: list[FieldProblem], *, norms_failed: bool) -> list[FieldProblem]:
    unique = list(dict.fromkeys(problems))
    if norms_failed:
        # An empty need is the consequence of the problem that kept the profile from computing
        # (the profile, the population, its rules), not a second problem.
        unique = [p for p in unique if p.field != "items"]
    return unique
