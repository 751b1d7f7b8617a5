"""Plans from draft to closed, and each need's coverage across plans: plain domain objects."""

from datetime import UTC, datetime, timedelta

import pytest
from kitflow_distribution.domain.coverage import ItemProgress, NeedCoverage, PlanContribution
from kitflow_distribution.domain.plans import (
    Delivery,
    DispatchRequestedEvent,
    InvalidPlanInput,
    LineReservation,
    Plan,
    PlanApprovedEvent,
    PlanCancelledEvent,
    PlanConflict,
    PlanLine,
    PlanStatus,
)

NOW = datetime(2026, 11, 28, 10, tzinfo=UTC)


def draft() -> Plan:
    return Plan(
        id="P1",
        title="Mopti round 1",
        created_by="awa",
        created_at=NOW,
        lines=[
            PlanLine("P1:L1", "MOP-SUB", "N1", "KIT-NFI", 60),
            PlanLine("P1:L2", "BKO-MAIN", "N2", "KIT-NFI", 40),
            PlanLine("P1:L3", "BKO-MAIN", "N2", "TARP", 0),
        ],
    )


def approved() -> Plan:
    plan = draft()
    plan.approve("awa", NOW, NOW + timedelta(minutes=10), NOW + timedelta(days=14))
    return plan


def test_approving_asks_stock_for_every_line_with_something_to_give() -> None:
    plan = approved()
    assert plan.status is PlanStatus.RESERVING
    [asked] = [e for e in plan.events if isinstance(e, PlanApprovedEvent)]
    assert [x.line_id for x in asked.lines] == ["P1:L1", "P1:L2"]
    assert all(x.reservation is LineReservation.PENDING for x in plan.lines)


def test_only_a_draft_is_approved() -> None:
    plan = approved()
    with pytest.raises(PlanConflict, match="only a draft"):
        plan.approve("awa", NOW, NOW, NOW + timedelta(days=1))
    cancelled = draft()
    cancelled.cancel("no access")
    with pytest.raises(PlanConflict):
        cancelled.approve("awa", NOW, NOW, NOW + timedelta(days=1))


def test_the_answers_decide_between_reserved_and_partly_reserved() -> None:
    plan = approved()
    assert plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    assert plan.status is PlanStatus.RESERVING
    assert plan.reservation_answered("P1:L2", LineReservation.ACTIVE, 25, None)
    assert plan.status is PlanStatus.PARTLY_RESERVED
    full = approved()
    full.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    full.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    assert full.status is PlanStatus.RESERVED


def test_a_repeated_answer_changes_nothing() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    version = plan.sequence
    assert not plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    assert plan.sequence == version


def test_dispatch_takes_only_reserved_lines_and_completes_when_stock_issued_them() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    plan.reservation_answered("P1:L2", LineReservation.REJECTED, 0, "0 available")
    lines = plan.request_dispatch("WB-1", "Sévaré")
    assert [x.line_id for x in lines] == ["P1:L1"]
    assert isinstance(plan.events[-2], DispatchRequestedEvent)
    assert plan.status is PlanStatus.DISPATCHING
    assert plan.dispatch_recorded("P1:L1", 60)
    assert not plan.dispatch_recorded("P1:L1", 60)
    assert plan.status is PlanStatus.DISPATCHED


def test_deliveries_never_exceed_what_was_dispatched() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    plan.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    plan.request_dispatch("WB-1", "Sévaré")
    plan.dispatch_recorded("P1:L1", 60)
    plan.dispatch_recorded("P1:L2", 40)
    with pytest.raises(InvalidPlanInput) as err:
        plan.record_delivery([Delivery("P1:L1", 50, 50, 250), Delivery("P1:L1", 11, 11, 55)])
    assert err.value.field == "deliveries[1].quantity"
    assert plan.line("P1:L1").delivered == 0  # nothing half-applied
    plan.record_delivery([Delivery("P1:L1", 60, 60, 300), Delivery("P1:L2", 40, 40, 200)])
    assert plan.status is PlanStatus.DELIVERED
    plan.close(NOW)
    assert plan.status is PlanStatus.CLOSED
    assert plan.closed_at == NOW


def test_cancelling_before_dispatch_releases_what_was_asked_and_not_after() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    plan.cancel("road closed")
    [cancelled] = [e for e in plan.events if isinstance(e, PlanCancelledEvent)]
    assert [x.line_id for x in cancelled.lines] == ["P1:L1", "P1:L2"]
    dispatched = approved()
    dispatched.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    dispatched.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    dispatched.request_dispatch("WB", "x")
    dispatched.dispatch_recorded("P1:L1", 60)
    with pytest.raises(PlanConflict, match="close it with a reason"):
        dispatched.cancel("too late")


def test_overdue_lines_are_asked_again_once_the_deadline_passed() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    assert not plan.ask_again(NOW + timedelta(minutes=5), NOW + timedelta(minutes=15))
    assert plan.ask_again(NOW + timedelta(minutes=11), NOW + timedelta(minutes=21))
    [_, again] = [e for e in plan.events if isinstance(e, PlanApprovedEvent)]
    assert [x.line_id for x in again.lines] == ["P1:L2"]


def test_coverage_adds_plans_and_replaces_a_plans_older_figures() -> None:
    coverage = NeedCoverage("N1", "NRC")
    first = PlanContribution(3, {"KIT-NFI": ItemProgress(planned=60)})
    assert coverage.apply_plan("P1", first)
    assert coverage.apply_plan("P2", PlanContribution(1, {"KIT-NFI": ItemProgress(planned=20)}))
    assert coverage.totals()[0]["KIT-NFI"].planned == 80
    later = PlanContribution(5, {"KIT-NFI": ItemProgress(60, 0, 60, 60)}, 60, 300)
    assert coverage.apply_plan("P1", later)
    assert not coverage.apply_plan("P1", first)  # an older state arriving late
    assert not coverage.apply_plan("P1", later)  # the same state again
    items, households, individuals = coverage.totals()
    assert items["KIT-NFI"] == ItemProgress(80, 0, 60, 60)
    assert (households, individuals) == (60, 300)
    assert [e.sequence for e in coverage.events] == [1, 2, 3]
