"""The duplicate rule: other partners, same place, overlapping period, common items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from kitflow_needs.adapters.bundled import load_catalogue, load_gazetteer
from kitflow_needs.domain.duplicates import distance_km, duplicate_reason, find_duplicates
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import Coordinates, Need, NeedDetails, NeedStatus

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
