"""The duplicate rule: two partners reporting the same need.

Needs from different organisations are possible duplicates when they are for the same place, for
overlapping periods, and ask for at least one common item. They are flagged and linked to each
other; a coordinator then merges them or keeps both. Nothing is merged automatically: two
partners may well serve two groups on one site.

Same place: the same cercle (admin2) and, when both give one, the same commune (admin3); and
within it the same site: equal site names (accents and case aside), or coordinates less than
SAME_SITE_KM apart. A need that names no site (and gives no coordinates) covers the whole area,
so it collides with any site in it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kitflow_needs.domain.need import ACTIVE_STATUSES, DuplicateLink, Location, Need, NeedDetails
from kitflow_needs.domain.text import name_key

SAME_SITE_KM = 1.0
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180  # along a meridian; along a parallel, x cos(lat)
# The candidate index's grid: a cell is this many degrees a side, more than SAME_SITE_KM of
# latitude, so needs less than SAME_SITE_KM apart are in the same or adjacent rows of cells.
CELL_DEGREES = 0.01


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def same_place(a: Location, b: Location) -> bool:
    if a.admin2_pcode != b.admin2_pcode:
        return False
    if a.admin3_pcode and b.admin3_pcode and a.admin3_pcode != b.admin3_pcode:
        return False
    a_site = name_key(a.site_name) if a.site_name else ""
    b_site = name_key(b.site_name) if b.site_name else ""
    if a_site and b_site and a_site == b_site:
        return True
    if a.coordinates and b.coordinates:
        near = (
            distance_km(a.coordinates.lat, a.coordinates.lon, b.coordinates.lat, b.coordinates.lon)
            < SAME_SITE_KM
        )
        if near:
            return True
    a_unspecific = not a_site and a.coordinates is None
    b_unspecific = not b_site and b.coordinates is None
    return a_unspecific or b_unspecific


def duplicate_reason(
    need_id: str, organisation: str, details: NeedDetails, other: Need
) -> str | None:
    """Why `other` may duplicate the need (`need_id` of `organisation` with `details`), or None."""
    if need_id == other.need_id or organisation == other.organisation:
        return None
    if other.status not in ACTIVE_STATUSES:
        return None
    a, b = details, other.details
    if not same_place(a.location, b.location):
        return None
    if not a.period.overlaps(b.period):
        return None
    common = sorted(set(a.requested()) & set(b.requested()))
    if not common:
        return None
    place = b.location.admin3_pcode or b.location.admin2_pcode
    site = f", site {b.location.site_name!r}" if b.location.site_name else ""
    start = max(a.period.start, b.period.start)
    end = min(a.period.end, b.period.end)
    return (
        f"{other.organisation} reported a need at the same place ({place}{site}) for an "
        f"overlapping period ({start} to {end}) with items in common: {', '.join(common)}"
    )


def reason_for_partner(link: DuplicateLink) -> str:
    """What a partner is told about another organisation's possible duplicate: that there is
    one and whom to talk to. The reason itself quotes the other need (its site, the overlap of
    the periods, the items in common): another organisation's data, which coordinators see."""
    return (
        f"{link.organisation} reported a need that may be the same as this one (the same place, "
        f"an overlapping period, an item in common): talk to {link.organisation} or to the "
        "cluster's coordinators before planning it"
    )


def find_duplicates(
    need_id: str, organisation: str, details: NeedDetails, candidates: list[Need]
) -> tuple[DuplicateLink, ...]:
    links = []
    for other in candidates:
        reason = duplicate_reason(need_id, organisation, details, other)
        if reason is not None:
            links.append(DuplicateLink(other.need_id, other.organisation, reason))
    return tuple(sorted(links, key=lambda link: link.need_id))


def back_link(need: Need, other: Need) -> DuplicateLink:
    """The link `other` gets pointing at `need` (the same finding, seen from the other side)."""
    reason = (
        duplicate_reason(other.need_id, other.organisation, other.details, need)
        or "flagged as a possible duplicate"
    )
    return DuplicateLink(need.need_id, need.organisation, reason)


class CandidateIndex:
    """Other partners' needs, indexed by the places the duplicate rule can match.

    A second partner's import of an assessment that overlaps the first one's compares every new
    need with the other partners' needs of its cercle: thousands times thousands in a busy cercle
    (a 10,000-row import took minutes). The rule's same place is the same site name, or
    coordinates less than SAME_SITE_KM apart, or a need that names no site and gives no
    coordinates (it covers the whole area). So a need is compared only with the candidates of
    its cercle that share its site name, lie in its grid cell or the cells around it, or name no
    place; a need that names no place itself is compared with all of them. `near` is a superset
    of what the rule can match (tests/unit/needs/test_needs_duplicates.py proves the same links
    come out); the rule itself still decides.
    """

    def __init__(self, needs: Iterable[Need] = ()) -> None:
        self._cercles: dict[str, _Cercle] = {}
        self.add(needs)

    def add(self, needs: Iterable[Need]) -> None:
        for need in needs:
            cercle = need.details.location.admin2_pcode
            self._cercles.setdefault(cercle, _Cercle()).add(need)

    def near(self, details: NeedDetails) -> list[Need]:
        cercle = self._cercles.get(details.location.admin2_pcode)
        return cercle.near(details.location) if cercle is not None else []


class _Cercle:
    def __init__(self) -> None:
        self.everyone: list[Need] = []
        self.unspecific: list[Need] = []
        self.by_site: dict[str, list[Need]] = {}
        self.by_cell: dict[tuple[int, int], list[Need]] = {}

    def add(self, need: Need) -> None:
        location = need.details.location
        self.everyone.append(need)
        site = _site_key(location)
        if site:
            self.by_site.setdefault(site, []).append(need)
        if location.coordinates is not None:
            self.by_cell.setdefault(_cell(location), []).append(need)
        if not site and location.coordinates is None:
            self.unspecific.append(need)

    def near(self, location: Location) -> list[Need]:
        site = _site_key(location)
        if not site and location.coordinates is None:
            return self.everyone
        found = {id(n): n for n in self.unspecific}
        if site:
            found.update((id(n), n) for n in self.by_site.get(site, ()))
        if location.coordinates is not None:
            cells = _cells_around(location.coordinates.lat, location.coordinates.lon)
            if cells is None:  # near a pole: the cells around are too many to list
                return self.everyone
            for cell in cells:
                found.update((id(n), n) for n in self.by_cell.get(cell, ()))
        return list(found.values())


def _site_key(location: Location) -> str:
    return name_key(location.site_name) if location.site_name else ""


def _cell(location: Location) -> tuple[int, int]:
    assert location.coordinates is not None
    c = location.coordinates
    return math.floor(c.lat / CELL_DEGREES), math.floor(c.lon / CELL_DEGREES)


def _cells_around(lat: float, lon: float) -> list[tuple[int, int]] | None:
    row, column = math.floor(lat / CELL_DEGREES), math.floor(lon / CELL_DEGREES)
    # Columns to look at either side: a parallel's degree is shortest at the highest latitude
    # the rows around reach.
    highest = min(90.0, abs(lat) + 2 * CELL_DEGREES)
    km_per_column = KM_PER_DEGREE * math.cos(math.radians(highest)) * CELL_DEGREES
    if km_per_column < SAME_SITE_KM / 50:
        return None
    reach = math.ceil(SAME_SITE_KM / km_per_column)
    if abs(lon) + (reach + 1) * CELL_DEGREES >= 180:
        return None  # the cells around wrap over the antimeridian
    return [
        (r, c) for r in range(row - 1, row + 2) for c in range(column - reach, column + reach + 1)
    ]
