"""A need's lifecycle and coverage, in the domain: events recorded by the aggregate itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kitflow_needs.adapters.bundled import load_catalogue, load_gazetteer
from kitflow_needs.domain.errors import InvalidInput, InvalidTransition
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import (
    DuplicateDecision,
    DuplicateLink,
    ItemProgress,
    Need,
    NeedEventKind,
    NeedStatus,
    Population,
    Reached,
)

from tests.unit.needs.builders import need_input

NOW = datetime(2025, 3, 2, tzinfo=UTC)


def new_need(submit: bool = True) -> Need:
    details = build_details(
        need_input(), gazetteer=load_gazetteer(), catalogue=load_catalogue(), profiles={}
    )
    return Need.create("n1", "NRC", details, by="awa", now=NOW, submit=submit)


def kinds(need: Need) -> list[NeedEventKind]:
    return [e.kind for e in need.events]


def validated() -> Need:
    need = new_need()
    need.validate(by="coord", now=NOW)
    need.events.clear()
    return need


def test_submitting_records_one_event_at_version_one() -> None:
    need = new_need()
    assert need.status is NeedStatus.SUBMITTED
    assert need.sequence == 1
    assert kinds(need) == [NeedEventKind.SUBMITTED]


def test_a_draft_is_private_until_submitted() -> None:
    need = new_need(submit=False)
    assert need.status is NeedStatus.DRAFT
    assert need.events == []
    assert need.submit(now=NOW)
    assert kinds(need) == [NeedEventKind.SUBMITTED]
    assert need.sequence == 2


def test_a_coordinator_validates_or_rejects_with_a_reason() -> None:
    need = new_need()
    assert need.validate(by="coord", now=NOW)
    assert need.status is NeedStatus.VALIDATED
    assert need.validated_by == "coord"
    other = new_need()
    with pytest.raises(InvalidInput, match="reason"):
        other.reject("   ", now=NOW)
    assert other.reject("the site was assessed twice", now=NOW)
    assert other.status is NeedStatus.REJECTED
    assert other.rejection_reason == "the site was assessed twice"
    assert kinds(other)[-1] is NeedEventKind.REJECTED


def test_a_rejected_need_is_fixed_and_submitted_again() -> None:
    need = new_need()
    need.reject("numbers look wrong", now=NOW)
    assert need.submit(now=NOW)
    assert need.status is NeedStatus.SUBMITTED
    assert need.rejection_reason is None


def test_only_submitted_needs_are_validated() -> None:
    need = new_need(submit=False)
    with pytest.raises(InvalidTransition, match="only a submitted need"):
        need.validate(by="coord", now=NOW)


def test_changing_a_validated_need_sends_it_back_for_validation() -> None:
    need = validated()
    details = build_details(
        need_input(population=Population(150, 800)),
        gazetteer=load_gazetteer(),
        catalogue=load_catalogue(),
        profiles={},
    )
    assert need.revise(details, now=NOW)
    assert need.status is NeedStatus.SUBMITTED
    assert kinds(need) == [NeedEventKind.UPDATED]
    assert not need.revise(details, now=NOW)


def test_coverage_moves_a_validated_need_to_partially_covered_then_covered() -> None:
    need = validated()
    assert need.apply_coverage(
        {"KIT-NFI": ItemProgress(planned=120, reserved=120)}, Reached(), 1, now=NOW
    )
    assert need.status is NeedStatus.PARTIALLY_COVERED
    kit = next(line for line in need.lines() if line.item_code == "KIT-NFI")
    assert kit.remaining == 0
    jerrycans = next(line for line in need.lines() if line.item_code == "JERRYCAN-20L")
    assert jerrycans.remaining == 240
    assert need.apply_coverage(
        {
            "KIT-NFI": ItemProgress(120, 0, 120, 120),
            "JERRYCAN-20L": ItemProgress(240, 0, 240, 240),
        },
        Reached(118, 630),
        2,
        now=NOW,
    )
    assert need.status is NeedStatus.COVERED
    assert need.reached == Reached(118, 630)
    assert kinds(need) == [NeedEventKind.COVERAGE_CHANGED] * 2


def test_older_or_repeated_coverage_changes_nothing() -> None:
    need = validated()
    need.apply_coverage({"KIT-NFI": ItemProgress(planned=50)}, Reached(), 5, now=NOW)
    before = (need.sequence, need.progress)
    assert not need.apply_coverage({"KIT-NFI": ItemProgress(planned=90)}, Reached(), 5, now=NOW)
    assert not need.apply_coverage({"KIT-NFI": ItemProgress(planned=90)}, Reached(), 4, now=NOW)
    assert (need.sequence, need.progress) == before


def test_a_cancelled_plan_brings_the_need_back_to_validated() -> None:
    need = validated()
    need.apply_coverage({"KIT-NFI": ItemProgress(planned=50)}, Reached(), 1, now=NOW)
    need.apply_coverage({"KIT-NFI": ItemProgress()}, Reached(), 2, now=NOW)
    assert need.status is NeedStatus.VALIDATED


def test_coverage_of_a_need_not_yet_validated_is_kept_without_moving_its_status() -> None:
    need = new_need()
    need.apply_coverage({"KIT-NFI": ItemProgress(planned=10)}, Reached(), 1, now=NOW)
    assert need.status is NeedStatus.SUBMITTED
    assert need.progress["KIT-NFI"].planned == 10


def test_a_covered_need_cannot_be_cancelled_nor_changed() -> None:
    need = validated()
    need.apply_coverage(
        {"KIT-NFI": ItemProgress(delivered=120), "JERRYCAN-20L": ItemProgress(delivered=240)},
        Reached(),
        1,
        now=NOW,
    )
    with pytest.raises(InvalidTransition, match="delivered"):
        need.cancel("no longer needed", now=NOW)
    with pytest.raises(InvalidTransition, match="coverage has started"):
        need.revise(need.details, now=NOW)


def test_merging_cancels_the_duplicate_and_says_where_it_went() -> None:
    need = new_need()
    need.link_duplicates((DuplicateLink("n2", "DRC", "same site"),), now=NOW)
    assert need.merge_into("n2", now=NOW)
    assert need.status is NeedStatus.CANCELLED
    assert need.merged_into == "n2"
    assert need.duplicates[0].decision is DuplicateDecision.MERGED
    assert kinds(need)[-1] is NeedEventKind.CANCELLED
    with pytest.raises(InvalidInput, match="not flagged"):
        new_need().merge_into("n9", now=NOW)
