"""Domain events out, integration events (the shared contracts) in: the only place they meet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitflow_shared.contracts.catalogue import ItemState
from kitflow_shared.contracts.distribution import NeedCoverageState
from kitflow_shared.contracts.needs import (
    NEED_CANCELLED,
    NEED_COVERAGE_CHANGED,
    NEED_REJECTED,
    NEED_SUBMITTED,
    NEED_UPDATED,
    NEED_VALIDATED,
    NeedState,
    need_subject,
)
from kitflow_shared.events.envelope import CloudEvent, EventContext, RenderedEvent
from kitflow_shared.events.registry import EventSpec

from kitflow_needs.domain.catalogue import CatalogueItem, ItemKind
from kitflow_needs.domain.need import (
    DuplicateDecision,
    ItemProgress,
    Need,
    NeedEvent,
    NeedEventKind,
    Reached,
)

SPECS: dict[NeedEventKind, EventSpec[NeedState]] = {
    NeedEventKind.SUBMITTED: NEED_SUBMITTED,
    NeedEventKind.UPDATED: NEED_UPDATED,
    NeedEventKind.VALIDATED: NEED_VALIDATED,
    NeedEventKind.REJECTED: NEED_REJECTED,
    NeedEventKind.CANCELLED: NEED_CANCELLED,
    NeedEventKind.COVERAGE_CHANGED: NEED_COVERAGE_CHANGED,
}


def need_state(need: Need) -> NeedState:
    return NeedState.model_validate(need_state_data(need))


def need_state_data(need: Need) -> dict[str, Any]:
    """The need's state in the JSON form of the NeedState contract, built directly.

    A 10,000-row import emits 10,000 of these; building the model and dumping it again would
    double the cost of each event. tests/unit/needs/test_needs_events.py proves, for needs of
    every shape, that this is exactly `NeedState.model_dump(mode="json")` of a valid state."""
    d = need.details
    loc = d.location
    return {
        "need_id": need.need_id,
        "organisation": need.organisation,
        "status": need.status.value,
        "admin1_pcode": loc.admin1_pcode,
        "admin2_pcode": loc.admin2_pcode,
        "admin3_pcode": loc.admin3_pcode,
        "gazetteer_vintage": loc.gazetteer_vintage,
        "site_name": loc.site_name,
        "location": {"lat": loc.coordinates.lat, "lon": loc.coordinates.lon}
        if loc.coordinates
        else None,
        "population": d.population.as_dict(),
        "displacement_status": d.displacement.value,
        "severity": d.severity,
        "assessment_date": d.assessment.assessed_on.isoformat(),
        "assessment_source": d.assessment.source.value,
        "period_start": d.period.start.isoformat(),
        "period_end": d.period.end.isoformat(),
        "items": _item_lines(need),
        "norms_profile": f"{d.norms.profile_id}@{d.norms.profile_version}" if d.norms else None,
        "possible_duplicates": [
            link.need_id for link in need.duplicates if link.decision is DuplicateDecision.OPEN
        ],
        "merged_into": need.merged_into,
        "households_reached": need.reached.households,
        "individuals_reached": need.reached.individuals,
    }


def _item_lines(need: Need) -> list[dict[str, Any]]:
    if need.progress:
        return [
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
    # No coverage yet (every need a bulk import creates): the lines are the requested items,
    # nothing planned, all of it remaining, as `Need.lines` would give them.
    return [
        {
            "item_code": item.item_code,
            "requested": item.quantity,
            "planned": 0,
            "reserved": 0,
            "dispatched": 0,
            "delivered": 0,
            "remaining": item.quantity,
        }
        for item in need.details.items
    ]


def need_events(events: Sequence[NeedEvent], context: EventContext) -> list[CloudEvent]:
    return [
        SPECS[event.kind].wrap(
            need_state_data(event.need),
            subject=need_subject(event.need.need_id),
            sequence=event.need.sequence,
            context=context,
        )
        for event in events
    ]


def rendered_need_events(events: Sequence[NeedEvent], context: EventContext) -> list[RenderedEvent]:
    """The same events as `need_events`, straight in their stored form, for a bulk import."""
    return [
        SPECS[event.kind].render(
            need_state_data(event.need),
            subject=need_subject(event.need.need_id),
            sequence=event.need.sequence,
            context=context,
            time=event.need.updated_at,
        )
        for event in events
    ]


def coverage_of(state: NeedCoverageState) -> tuple[dict[str, ItemProgress], Reached]:
    """Distribution's coverage totals, translated at the edge into the needs domain's terms."""
    progress: dict[str, ItemProgress] = {}
    for item in state.items:
        held = progress.get(item.item_code, ItemProgress())
        progress[item.item_code] = ItemProgress(
            planned=held.planned + item.planned,
            reserved=held.reserved + item.reserved,
            dispatched=held.dispatched + item.dispatched,
            delivered=held.delivered + item.delivered,
        )
    reached = Reached(state.households_reached, state.individuals_reached)
    return progress, reached


def catalogue_item_of(state: ItemState, sequence: int) -> CatalogueItem:
    """Stock's item, translated at the edge: a kit is an item with a bill of materials (its
    contents are stock's business; a need asks for kits as whole units)."""
    return CatalogueItem(
        code=state.code,
        name=state.name_en,
        unit=state.unit,
        kind=ItemKind.KIT if state.components else ItemKind.ITEM,
        sequence=sequence,
    )
