"""The needs service's events: their payload is exactly the NeedState contract's JSON form.

need_events() builds each payload directly (see need_state_data) instead of building the model
and dumping it; these properties are what makes that safe, for needs of every shape.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import builtin_profiles
from kitflow_needs.domain.need import (
    Assessment,
    AssessmentSource,
    Coordinates,
    DisplacementStatus,
    DuplicateDecision,
    DuplicateLink,
    ItemProgress,
    Location,
    Need,
    NeedDetails,
    NeedStatus,
    Period,
    Population,
    Reached,
    RequestedItem,
)
from kitflow_needs.domain.norms import calculate
from kitflow_needs.handlers.integration import SPECS, need_events, need_state_data
from kitflow_shared.contracts.needs import NeedState
from kitflow_shared.events import CloudEvent, EventContext

PROFILES = builtin_profiles()
ITEMS = ["KIT-NFI", "KIT-SHELTER-EMERGENCY", "JERRYCAN-20L", "BLANKET", "SLEEPING-MAT"]
counts = st.integers(min_value=0, max_value=5_000)


@st.composite
def populations(draw: st.DrawFn) -> Population:
    households = draw(st.integers(min_value=1, max_value=2_000))
    individuals = households * draw(st.integers(min_value=1, max_value=9))
    group = st.none() | st.integers(min_value=0, max_value=individuals // 4)
    return Population(
        households=households,
        individuals=individuals,
        women=draw(group),
        men=draw(group),
        girls=draw(group),
        boys=draw(group),
        elderly=draw(group),
        disabled=draw(group),
    )


@st.composite
def needs(draw: st.DrawFn) -> Need:
    population = draw(populations())
    norms = None
    if draw(st.booleans()):
        profile = draw(st.sampled_from(PROFILES))
        norms = calculate(profile, population, draw(st.none() | st.integers(7, 180)))
    explicit = draw(st.lists(st.sampled_from(ITEMS), min_size=0 if norms else 1, unique=True))
    items = [RequestedItem(code, draw(st.integers(1, 10_000))) for code in explicit]
    if norms is not None:
        items += [
            RequestedItem(c.item_code, c.quantity, c)
            for c in norms.calculations
            if c.item_code not in explicit
        ]
    if not items:
        items = [RequestedItem("KIT-NFI", 1)]
    start = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))
    coordinates = draw(
        st.none()
        | st.builds(
            Coordinates,
            st.floats(-90, 90, allow_nan=False),
            st.floats(-180, 180, allow_nan=False),
        )
    )
    details = NeedDetails(
        location=Location(
            admin1_pcode="ML05",
            admin1_name="Mopti",
            admin2_pcode="ML0501",
            admin2_name=draw(st.none() | st.just("Mopti")),
            admin3_pcode=draw(st.none() | st.just("ML050101")),
            site_name=draw(st.none() | st.text(min_size=1, max_size=30).filter(str.strip)),
            coordinates=coordinates,
            gazetteer_vintage="cod-ab-2015",
        ),
        population=population,
        displacement=draw(st.sampled_from(list(DisplacementStatus))),
        assessment=Assessment(
            start,
            draw(st.sampled_from(list(AssessmentSource))),
            draw(st.none() | st.text(max_size=10)),
        ),
        severity=draw(st.integers(1, 5)),
        period=Period(start, start + timedelta(days=draw(st.integers(0, 365)))),
        items=tuple(items),
        norms=norms,
        external_ref=draw(st.none() | st.text(min_size=1, max_size=20)),
    )
    progress = {
        code: ItemProgress(draw(counts), draw(counts), draw(counts), draw(counts))
        for code in draw(st.lists(st.sampled_from([*ITEMS, "TARPAULIN"]), unique=True))
    }
    duplicates = tuple(
        DuplicateLink(f"need-{n}", "UNHCR", "same site", draw(st.sampled_from(DuplicateDecision)))
        for n in range(draw(st.integers(0, 3)))
    )
    now = datetime(2026, 11, 20, tzinfo=UTC)
    return Need(
        need_id=draw(st.uuids()).hex,
        organisation=draw(st.sampled_from(["NRC", "IOM", "UNHCR", "ACTED"])),
        details=details,
        status=draw(st.sampled_from(list(NeedStatus))),
        created_at=now,
        updated_at=now,
        sequence=draw(st.integers(1, 1_000)),
        progress=progress,
        reached=Reached(draw(counts), draw(counts)),
        duplicates=duplicates,
        merged_into=draw(st.none() | st.just("need-0")),
    )


@settings(max_examples=300, deadline=None)
@given(needs())
def test_the_payload_is_a_valid_need_state_in_its_exact_json_form(need: Need) -> None:
    data = need_state_data(need)
    assert NeedState.model_validate(data).model_dump(mode="json") == data


@settings(max_examples=300, deadline=None)
@given(needs())
def test_the_payload_lists_the_need_lines_as_the_need_gives_them(need: Need) -> None:
    # need_state_data skips building the lines of a need without coverage yet; with or without
    # coverage, its items are what Need.lines says.
    assert need_state_data(need)["items"] == [
        {
            "item_code": line.item_code,
            "requested": line.requested,
            "planned": line.planned,
            "reserved": line.reserved,
            "dispatched": line.dispatched,
            "delivered": line.delivered,
            "remaining": line.remaining,
        }
        for line in need.lines()
    ]


@settings(max_examples=100, deadline=None)
@given(needs())
def test_an_event_carries_the_state_through_the_wire_unchanged(need: Need) -> None:
    need.events.clear()
    need._record(next(iter(SPECS)))
    [event] = need_events(need.events, EventContext.new())
    received = CloudEvent.from_bytes(event.to_bytes())
    assert received == event
    state = SPECS[need.events[0].kind].parse(received)
    assert state.need_id == need.need_id
    assert {i.item_code for i in state.items} >= set(need.details.requested())
    assert state.population.households == need.details.population.households


def test_a_sound_need_is_a_sound_state() -> None:
    data = need_state_data(
        Need.create(
            "n-1",
            "NRC",
            NeedDetails(
                location=Location(
                    "ML05", "Mopti", "ML0501", "Mopti", None, "Sévaré", None, "cod-ab-2015"
                ),
                population=Population(households=10, individuals=50),
                displacement=DisplacementStatus.IDP,
                assessment=Assessment(date(2026, 11, 1), AssessmentSource.DTM_ROUND, "R9"),
                severity=3,
                period=Period(date(2026, 11, 1), date(2026, 11, 30)),
                items=(RequestedItem("KIT-NFI", 10),),
            ),
            by="u",
            now=datetime(2026, 11, 20, tzinfo=UTC),
        )
    )
    assert data["status"] == "submitted"
    assert data["assessment_date"] == "2026-11-01"
    assert data["items"] == [
        {
            "item_code": "KIT-NFI",
            "requested": 10,
            "planned": 0,
            "reserved": 0,
            "dispatched": 0,
            "delivered": 0,
            "remaining": 10,
        }
    ]
