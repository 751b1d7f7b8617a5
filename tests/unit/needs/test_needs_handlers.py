"""The needs handlers on fakes: events, isolation between organisations, duplicates, coverage."""

from __future__ import annotations

import pytest
from kitflow_needs.domain.errors import (
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    UnknownNeed,
)
from kitflow_needs.domain.need import DuplicateDecision, NeedStatus, Population
from kitflow_needs.handlers import needs as h
from kitflow_needs.handlers.coverage import CoverageHandlers, CoverageMismatch
from kitflow_needs.handlers.ports import Actor, NeedQuery
from kitflow_shared.contracts.distribution import (
    NEED_COVERAGE_CHANGED as DISTRIBUTION_COVERAGE,
)
from kitflow_shared.contracts.distribution import (
    ItemCoverage,
    NeedCoverageState,
    need_coverage_subject,
)
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_REJECTED,
    NEED_SUBMITTED,
    NEED_UPDATED,
    NEED_VALIDATED,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.request_keys import IdempotencyKeyReused, RequestKey

from tests.unit.needs.builders import need_input
from tests.unit.needs.fakes import FakeNeedRepository, services

NRC = Actor(user="lars", organisation="NRC")
DRC = Actor(user="ines", organisation="DRC")
COORDINATOR = Actor(user="awa", organisation="OCHA", coordinator=True)


def ctx() -> EventContext:
    return EventContext.new()


async def create(svc, actor=NRC, **changes):  # type: ignore[no-untyped-def]
    result = await h.NeedHandlers(svc).create_need(
        h.CreateNeed(need_input(**changes)), actor, ctx()
    )
    return result.need


async def test_creating_stores_the_need_with_its_submitted_event() -> None:
    svc = services()
    context = ctx()
    result = await h.NeedHandlers(svc).create_need(
        h.CreateNeed(need_input(profile_id="sphere-minimum", items=())), NRC, context
    )
    repo = svc.needs
    assert isinstance(repo, FakeNeedRepository)
    [event] = repo.published
    assert event.type == NEED_SUBMITTED.type
    assert event.subject == f"need/{result.need.need_id}"
    assert event.sequence == 1
    assert event.correlationid == context.correlation_id
    state = NEED_SUBMITTED.parse(event)
    assert state.organisation == "NRC"
    assert state.admin2_pcode == "ML0501"
    assert state.location is not None
    assert state.population.households == 120
    assert state.norms_profile == "sphere-minimum@1"
    kits = next(i for i in state.items if i.item_code == "KIT-NFI")
    assert (kits.requested, kits.remaining) == (120, 120)


def key(organisation: str, value: str = "k-123456", fingerprint: str = "request") -> RequestKey:
    return RequestKey(organisation, value, fingerprint)


async def test_a_retried_create_with_the_same_key_returns_the_first_need() -> None:
    svc = services()
    first = await h.NeedHandlers(svc).create_need(
        h.CreateNeed(need_input(), key=key("NRC")), NRC, ctx()
    )
    again = await h.NeedHandlers(svc).create_need(
        h.CreateNeed(need_input(), key=key("NRC")), NRC, ctx()
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert again.need.need_id == first.need.need_id
    assert len(svc.needs.rows) == 1  # type: ignore[attr-defined]
    with pytest.raises(IdempotencyKeyReused):
        await h.NeedHandlers(svc).create_need(
            h.CreateNeed(need_input(severity=2), key=key("NRC", fingerprint="another")),
            NRC,
            ctx(),
        )
    # Keys belong to an organisation: another partner's same key is another request.
    other = await h.NeedHandlers(svc).create_need(
        h.CreateNeed(need_input(), key=key("DRC")), DRC, ctx()
    )
    assert not other.replayed


async def test_a_keyed_change_retried_after_a_later_change_answers_and_changes_nothing() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    need = await create(svc)
    validate = key("OCHA", "validate-1")
    first = await h.NeedHandlers(svc).validate_need(need.need_id, COORDINATOR, ctx(), validate)
    await h.NeedHandlers(svc).cancel_need(need.need_id, "served", NRC, ctx())
    events = len(repo.published)
    again = await h.NeedHandlers(svc).validate_need(need.need_id, COORDINATOR, ctx(), validate)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.need.status is NeedStatus.CANCELLED
    assert len(repo.published) == events
    # Without the key it is a new request, refused in the need's state.
    with pytest.raises(InvalidTransition):
        await h.NeedHandlers(svc).validate_need(need.need_id, COORDINATOR, ctx())
    with pytest.raises(IdempotencyKeyReused):
        await h.NeedHandlers(svc).validate_need(
            need.need_id, COORDINATOR, ctx(), key("OCHA", "validate-1", "another")
        )


async def test_a_keyed_request_that_found_its_effect_there_is_remembered_too() -> None:
    """Submitting a submitted need changes nothing, and answers 200: its retry after a
    rejection answers the same, rather than submitting the rejected need again."""
    repo = FakeNeedRepository()
    svc = services(repo)
    need = await create(svc)
    submit = key("NRC", "submit-1")
    first = await h.NeedHandlers(svc).submit_need(need.need_id, NRC, ctx(), submit)
    assert not first.replayed
    assert repo.rows[need.need_id].requests[0].token == submit.token
    assert repo.need(need.need_id).sequence == need.sequence  # remembered, not changed
    await h.NeedHandlers(svc).reject_need(need.need_id, "twice", COORDINATOR, ctx())
    again = await h.NeedHandlers(svc).submit_need(need.need_id, NRC, ctx(), submit)
    assert again.replayed
    assert repo.need(need.need_id).status is NeedStatus.REJECTED


async def test_a_keyed_change_that_loses_to_a_concurrent_copy_answers_as_the_copy() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    need = await create(svc)
    reject = key("OCHA", "reject-1")
    real_remembered = repo.remembered
    copy_applied = False

    async def remembered_then_copy_applies(need_id: str, k: RequestKey):  # type: ignore[no-untyped-def]
        # The copy's write lands between this request's read and its write.
        nonlocal copy_applied
        found = await real_remembered(need_id, k)
        if not copy_applied:
            copy_applied = True
            await h.NeedHandlers(svc).reject_need(need_id, "twice", COORDINATOR, ctx(), k)
        return found

    repo.remembered = remembered_then_copy_applies  # type: ignore[method-assign]
    answer = await h.NeedHandlers(svc).reject_need(
        need.need_id, "twice", COORDINATOR, ctx(), reject
    )
    assert answer.replayed
    assert [e.type for e in repo.published].count(NEED_REJECTED.type) == 1


async def test_bad_input_stores_nothing() -> None:
    svc = services()
    with pytest.raises(InvalidInput):
        await create(svc, population=Population(-1, 10))
    assert svc.needs.rows == {}  # type: ignore[attr-defined]


async def test_a_partner_sees_only_its_own_organisations_needs() -> None:
    svc = services()
    mine = await create(svc, NRC)
    theirs = await create(svc, DRC, site_name="Socoura", coordinates=None, items=(("BLANKET", 3),))
    assert (await h.NeedHandlers(svc).get_need(mine.need_id, NRC)).organisation == "NRC"
    with pytest.raises(UnknownNeed):
        await h.NeedHandlers(svc).get_need(theirs.need_id, NRC)
    page = await h.NeedHandlers(svc).list_needs(NeedQuery(), NRC)
    assert [n.need_id for n in page.items] == [mine.need_id]
    assert (await h.NeedHandlers(svc).list_needs(NeedQuery(), COORDINATOR)).total == 2
    for action in (
        h.NeedHandlers(svc).revise_need(theirs.need_id, need_input(), NRC, ctx()),
        h.NeedHandlers(svc).cancel_need(theirs.need_id, "not ours", NRC, ctx()),
        h.NeedHandlers(svc).submit_need(theirs.need_id, NRC, ctx()),
    ):
        with pytest.raises(UnknownNeed):
            await action
    assert svc.needs.need(theirs.need_id).status is NeedStatus.SUBMITTED  # type: ignore[attr-defined]


async def test_only_coordinators_validate_and_reject() -> None:
    svc = services()
    need = await create(svc)
    with pytest.raises(NotPermitted):
        await h.NeedHandlers(svc).validate_need(need.need_id, NRC, ctx())
    validated = (await h.NeedHandlers(svc).validate_need(need.need_id, COORDINATOR, ctx())).need
    assert validated.status is NeedStatus.VALIDATED
    assert svc.needs.published[-1].type == NEED_VALIDATED.type  # type: ignore[attr-defined]


async def test_a_coordinator_may_cancel_but_not_edit_a_partners_need() -> None:
    svc = services()
    need = await create(svc)
    with pytest.raises(NotPermitted):
        await h.NeedHandlers(svc).revise_need(
            need.need_id, need_input(severity=5), COORDINATOR, ctx()
        )
    cancelled = (
        await h.NeedHandlers(svc).cancel_need(need.need_id, "site closed", COORDINATOR, ctx())
    ).need
    assert cancelled.status is NeedStatus.CANCELLED


async def test_a_change_retries_when_another_writer_got_in_first() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    need = await create(svc)
    repo.conflicts_to_inject = 2
    changed = (
        await h.NeedHandlers(svc).revise_need(need.need_id, need_input(severity=5), NRC, ctx())
    ).need
    assert changed.details.severity == 5
    assert repo.published[-1].type == NEED_UPDATED.type
    assert repo.published[-1].sequence == 2


async def test_duplicates_are_flagged_on_both_needs_each_with_its_event() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    first = await create(svc, NRC)
    second = await create(svc, DRC)
    assert [d.need_id for d in second.duplicates] == [first.need_id]
    back = repo.need(first.need_id)
    assert [(d.need_id, d.organisation) for d in back.duplicates] == [(second.need_id, "DRC")]
    assert "NRC reported" not in back.duplicates[0].reason
    assert "DRC reported a need at the same place" in back.duplicates[0].reason
    updated = repo.published[-1]
    assert updated.type == NEED_UPDATED.type
    assert NEED_UPDATED.parse(updated).possible_duplicates == [second.need_id]
    page = await h.NeedHandlers(svc).list_needs(NeedQuery(with_open_duplicates=True), COORDINATOR)
    assert page.total == 2


async def test_a_create_whose_back_links_all_succeed_owes_nothing() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    first = await create(svc, NRC)
    assert not repo.need(first.need_id).owes_back_links  # nothing to link: no duplicate yet
    second = await create(svc, DRC)
    assert not repo.need(second.need_id).owes_back_links
    assert await repo.owing_back_links(10) == []


async def test_back_links_a_crash_left_undone_are_completed_by_the_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    first = await create(svc, NRC)

    async def crash(*_args: object) -> None:
        raise RuntimeError("the process died after storing the new need")

    # The process dies between storing the new need and reading the needs to link back.
    monkeypatch.setattr(repo, "get_many", crash)
    with pytest.raises(RuntimeError):
        await create(svc, DRC)
    monkeypatch.undo()
    [second] = [n for n in repo.rows if n != first.need_id]
    assert repo.need(second).owes_back_links
    assert repo.need(first.need_id).duplicates == ()  # the pair is one-sided for now

    assert await h.NeedHandlers(svc).complete_back_links(ctx()) == 1
    assert [d.need_id for d in repo.need(first.need_id).duplicates] == [second]
    assert not repo.need(second).owes_back_links
    events = len(repo.published)
    assert (
        await h.NeedHandlers(svc).complete_back_links(ctx()) == 0
    )  # done: nothing more, no new event
    assert len(repo.published) == events


async def test_a_contended_back_link_stays_owed_for_the_next_sweep() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    first = await create(svc, NRC)
    # Contended at the first write of all the back-links, then at each attempt one by one.
    repo.conflicts_to_inject = 1 + h.MAX_ATTEMPTS
    second = await create(svc, DRC)
    assert repo.need(second.need_id).owes_back_links
    assert repo.need(first.need_id).duplicates == ()
    assert await h.NeedHandlers(svc).complete_back_links(ctx()) == 1
    assert [d.need_id for d in repo.need(first.need_id).duplicates] == [second.need_id]
    assert not repo.need(second.need_id).owes_back_links


async def test_a_coordinator_keeps_both_or_merges_one_into_the_other() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    first = await create(svc, NRC)
    second = await create(svc, DRC)
    kept = (
        await h.NeedHandlers(svc).keep_both(first.need_id, second.need_id, COORDINATOR, ctx())
    ).need
    assert kept.duplicates[0].decision is DuplicateDecision.KEPT
    assert repo.need(second.need_id).duplicates[0].decision is DuplicateDecision.KEPT

    third = await create(svc, Actor("x", "IRC"))
    merged = (
        await h.NeedHandlers(svc).merge_need(third.need_id, first.need_id, COORDINATOR, ctx())
    ).need
    assert merged.status is NeedStatus.CANCELLED
    assert merged.merged_into == first.need_id
    survivor = repo.need(first.need_id)
    assert survivor.duplicate_link(third.need_id).decision is DuplicateDecision.MERGED  # type: ignore[union-attr]
    with pytest.raises(NotPermitted):
        await h.NeedHandlers(svc).keep_both(first.need_id, second.need_id, NRC, ctx())


def coverage_event(need_id: str, org: str, seq: int, planned: int, delivered: int = 0):  # type: ignore[no-untyped-def]
    state = NeedCoverageState(
        need_id=need_id,
        organisation=org,
        items=[
            ItemCoverage(
                item_code="KIT-NFI", planned=planned, reserved=0, dispatched=0, delivered=delivered
            )
        ],
        households_reached=0,
    )
    return DISTRIBUTION_COVERAGE.new(
        state, subject=need_coverage_subject(need_id), sequence=seq, context=ctx()
    )


async def test_coverage_is_applied_once_and_published_with_the_need_state() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    need = await create(svc)
    await h.NeedHandlers(svc).validate_need(need.need_id, COORDINATOR, ctx())
    event = coverage_event(need.need_id, "NRC", 2, planned=60)
    assert await CoverageHandlers(svc).coverage_changed(event) is Applied.APPLIED
    assert await CoverageHandlers(svc).coverage_changed(event) is Applied.DUPLICATE
    stale = coverage_event(need.need_id, "NRC", 1, 99)
    assert await CoverageHandlers(svc).coverage_changed(stale) is Applied.DUPLICATE
    out = repo.published[-1]
    assert out.type == NEED_COVERAGE_CHANGED.type
    assert out.causationid == event.id
    state = NEED_COVERAGE_CHANGED.parse(out)
    assert state.status == "partially-covered"
    kit = next(i for i in state.items if i.item_code == "KIT-NFI")
    assert (kit.planned, kit.remaining) == (60, 60)


async def test_coverage_for_another_organisation_is_refused() -> None:
    svc = services()
    need = await create(svc)
    with pytest.raises(CoverageMismatch):
        await CoverageHandlers(svc).coverage_changed(coverage_event(need.need_id, "DRC", 1, 5))
    with pytest.raises(UnknownNeed):
        await CoverageHandlers(svc).coverage_changed(coverage_event("nope", "NRC", 1, 5))
