"""The duplicate rule: other partners, same place, overlapping period, common items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from kitflow_needs.adapters.bundled import load_catalogue, load_gazetteer
from kitflow_needs.domain.duplicates import (
    CandidateIndex,
    distance_km,
    duplicate_reason,
    find_duplicates,
)
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import (
    Assessment,
    AssessmentSource,
    Coordinates,
    DisplacementStatus,
    Location,
    Need,
    NeedDetails,
    NeedStatus,
    Period,
    Population,
    RequestedItem,
)

from tests.unit.needs.builders import need_input

NOW = datetime(2025, 3, 2, tzinfo=UTC)


def details(**changes: object) -> NeedDetails:
    return build_details(
        need_input(**changes), gazetteer=load_gazetteer(), catalogue=load_catalogue(), profiles={}
    )


def need(
    org: str, need_id: str = "n1", status: NeedStatus | None = None, **changes: object
) -> Need:
    n = Need.create(need_id, org, details(**changes), by="u", now=NOW)
    if status is not None:
        n.status = status
    return n


def reason(a: Need, b: Need) -> str | None:
    return duplicate_reason(a.need_id, a.organisation, a.details, b)


def test_two_partners_at_the_same_site_for_the_same_items_and_time_are_flagged() -> None:
    nrc, drc = need("NRC", "a"), need("DRC", "b")
    found = reason(nrc, drc)
    assert found is not None
    assert "DRC reported a need at the same place (ML0501, site 'Sévaré 2')" in found
    assert "items in common: JERRYCAN-20L, KIT-NFI" in found


def test_the_same_partner_twice_is_not_a_duplicate_between_partners() -> None:
    assert reason(need("NRC", "a"), need("NRC", "b")) is None


def test_site_names_match_whatever_the_accents_and_case() -> None:
    assert reason(need("NRC", "a"), need("DRC", "b", site_name="SEVARE 2", coordinates=None))


def test_different_sites_far_apart_are_not_duplicates() -> None:
    far = need("DRC", "b", site_name="Socoura", coordinates=Coordinates(14.48, -4.19))
    assert reason(need("NRC", "a"), far) is None


def test_different_names_but_within_a_kilometre_are_the_same_site() -> None:
    near = need("DRC", "b", site_name="Sevare II", coordinates=Coordinates(14.534, -4.092))
    assert distance_km(14.53, -4.09, 14.534, -4.092) < 1
    assert reason(need("NRC", "a"), near) is not None


def test_a_need_for_the_whole_cercle_collides_with_any_site_in_it() -> None:
    whole = need("DRC", "b", site_name=None, coordinates=None)
    assert reason(need("NRC", "a"), whole) is not None


def test_other_cercles_or_communes_are_other_places() -> None:
    assert (
        reason(need("NRC", "a"), need("DRC", "b", admin2_pcode="ML0502", admin2_name=None)) is None
    )
    a = need("NRC", "a", admin3_pcode="ML050101")
    b = need("DRC", "b", admin3_pcode="ML050102")
    assert reason(a, b) is None


def test_periods_that_do_not_overlap_are_not_duplicates() -> None:
    march = need("NRC", "a", period_start=date(2025, 3, 1), period_end=date(2025, 3, 31))
    april = need("DRC", "b", period_start=date(2025, 4, 1), period_end=date(2025, 4, 30))
    assert reason(march, april) is None
    one_day = need("DRC", "c", period_start=date(2025, 3, 31), period_end=date(2025, 4, 30))
    assert reason(march, one_day) is not None


def test_no_item_in_common_means_no_duplicate() -> None:
    blankets = need("DRC", "b", items=(("BLANKET", 300),))
    assert reason(need("NRC", "a"), blankets) is None


def test_drafts_rejected_and_cancelled_needs_are_not_candidates() -> None:
    for status in (NeedStatus.DRAFT, NeedStatus.REJECTED, NeedStatus.CANCELLED):
        assert reason(need("NRC", "a"), need("DRC", "b", status=status)) is None
    assert reason(need("NRC", "a"), need("DRC", "b", status=NeedStatus.COVERED)) is not None


def test_find_duplicates_links_every_match_in_id_order() -> None:
    mine = need("NRC", "a")
    links = find_duplicates(
        mine.need_id,
        mine.organisation,
        mine.details,
        [need("IRC", "z"), need("DRC", "b"), need("NRC", "c"), replace(need("CRS", "d"))],
    )
    assert [(link.need_id, link.organisation) for link in links] == [
        ("b", "DRC"),
        ("d", "CRS"),
        ("z", "IRC"),
    ]


# --------------------------------------------------------------- the candidate index

SITES = ["Sévaré 2", "SEVARE 2", "site-a", None, *(f"Site {n}" for n in range(12))]
ITEM_SETS = [("KIT-NFI",), ("BLANKET",), ("KIT-NFI", "BLANKET")]


@st.composite
def located_needs(draw: st.DrawFn, centre: tuple[float, float]) -> NeedDetails:
    lat0, lon0 = centre
    coordinates = draw(
        st.none()
        | st.builds(
            Coordinates,
            # Clustered over a few grid cells, so that pairs less than a kilometre apart often
            # straddle a cell's edge.
            st.floats(max(-90, lat0 - 0.015), min(90, lat0 + 0.015), allow_nan=False),
            st.floats(max(-180, lon0 - 0.03), min(180, lon0 + 0.03), allow_nan=False),
        )
    )
    start = date(2025, 3, 1) + timedelta(days=draw(st.integers(0, 60)))
    return NeedDetails(
        location=Location(
            "ML05",
            "Mopti",
            draw(st.sampled_from(["ML0501", "ML0502"])),
            None,
            draw(st.sampled_from([None, "ML050101", "ML050102"])),
            draw(st.sampled_from(SITES)),
            coordinates,
            "cod-ab-2015",
        ),
        population=Population(10, 50),
        displacement=DisplacementStatus.IDP,
        assessment=Assessment(start, AssessmentSource.DTM_ROUND),
        severity=3,
        period=Period(start, start + timedelta(days=draw(st.integers(0, 40)))),
        items=tuple(RequestedItem(code, 5) for code in draw(st.sampled_from(ITEM_SETS))),
    )


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    centre=st.sampled_from(
        [(14.5, -4.1), (16.27, -0.04), (63.0, 10.0), (-89.99, 3.0), (0.0, 179.99)]
    ),
)
def test_the_index_leaves_out_no_need_the_rule_would_flag(
    data: st.DataObject, centre: tuple[float, float]
) -> None:
    others = [
        Need.create(f"o{n}", data.draw(st.sampled_from(["DRC", "UNHCR"])), d, by="u", now=NOW)
        for n, d in enumerate(data.draw(st.lists(located_needs(centre), max_size=25)))
    ]
    probe = data.draw(located_needs(centre))
    index = CandidateIndex(others)
    assert find_duplicates("p", "NRC", probe, index.near(probe)) == find_duplicates(
        "p", "NRC", probe, others
    )


def test_the_index_compares_a_need_with_its_site_and_its_surroundings_only() -> None:
    def at(site: str | None, coordinates: Coordinates | None, cercle: str = "ML0501") -> Need:
        d = details(site_name=site, coordinates=coordinates)
        d = replace(d, location=replace(d.location, admin2_pcode=cercle))
        return Need.create(f"n-{site}-{coordinates}-{cercle}", "DRC", d, by="u", now=NOW)

    same_site = at("Sévaré 2", None)
    near = at("Other name", Coordinates(14.531, -4.091))
    far = at("Far away", Coordinates(14.9, -4.5))
    whole_cercle = at(None, None)
    other_cercle = at("Sévaré 2", None, cercle="ML0502")
    index = CandidateIndex([same_site, near, far, whole_cercle, other_cercle])

    probe = details(site_name="SEVARE 2", coordinates=Coordinates(14.53, -4.09))
    assert {n.need_id for n in index.near(probe)} == {
        same_site.need_id,
        near.need_id,
        whole_cercle.need_id,
    }
    # A need for the whole cercle may duplicate any need in it.
    assert len(index.near(details(site_name=None, coordinates=None))) == 4


def test_far_north_a_kilometre_spans_more_grid_columns_and_the_index_reaches_them() -> None:
    def at(site: str, lat: float, lon: float) -> NeedDetails:
        d = details(site_name=site, coordinates=Coordinates(lat, lon))
        return replace(d, location=replace(d.location, coordinates=Coordinates(lat, lon)))

    probe = at("Camp north", 63.0, 10.0095)
    # 0.9 km east: two grid columns away at this latitude (a degree of longitude is 50 km).
    other = Need.create("o", "DRC", at("Camp east", 63.0, 10.0273), by="u", now=NOW)
    assert distance_km(63.0, 10.0095, 63.0, 10.0273) < 1
    assert find_duplicates("p", "NRC", probe, CandidateIndex([other]).near(probe))
