"""Plans from draft to closed, and each need's coverage across plans: plain domain objects."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from kitflow_distribution.domain.coverage import ItemProgress, NeedCoverage, PlanContribution
from kitflow_distribution.domain.errors import InvalidInput, InvalidTransition
from kitflow_distribution.domain.plans import (
    DeliveredLine,
    Delivery,
    DispatchRequestedEvent,
    LineReservation,
    Plan,
    PlanApprovedEvent,
    PlanCancelledEvent,
    PlanLine,
    PlanStatus,
    Reach,
    Target,
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
    with pytest.raises(InvalidTransition, match="only a draft"):
        plan.approve("awa", NOW, NOW, NOW + timedelta(days=1))
    cancelled = draft()
    cancelled.cancel("no access")
    with pytest.raises(InvalidTransition):
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


def dispatched() -> Plan:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    plan.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    plan.request_dispatch("WB-1", "Sévaré")
    plan.dispatch_recorded("P1:L1", 60)
    plan.dispatch_recorded("P1:L2", 40)
    return plan


def delivery(
    need: str, households: int, *lines: tuple[str, int], note: str | None = None
) -> Delivery:
    return Delivery(
        need, tuple(DeliveredLine(x, q) for x, q in lines), households, households * 5, note
    )


TARGETS = {"N1": Target(60, 300), "N2": Target(40, 200)}


def test_deliveries_never_exceed_what_was_dispatched() -> None:
    plan = dispatched()
    with pytest.raises(InvalidInput) as err:
        plan.record_delivery(
            [delivery("N1", 50, ("P1:L1", 50)), delivery("N1", 10, ("P1:L1", 11))], TARGETS
        )
    assert err.value.field == "deliveries[1].lines[0].quantity"
    assert plan.line("P1:L1").delivered == 0  # nothing half-applied
    assert plan.reach == {}
    plan.record_delivery(
        [delivery("N1", 60, ("P1:L1", 60)), delivery("N2", 40, ("P1:L2", 40))], TARGETS
    )
    assert plan.status is PlanStatus.DELIVERED
    plan.close(NOW)
    assert plan.status is PlanStatus.CLOSED
    assert plan.closed_at == NOW


def test_households_are_reached_once_per_need_whatever_the_number_of_items() -> None:
    plan = Plan(
        id="P2",
        title="Sévaré",
        created_by="awa",
        created_at=NOW,
        lines=[
            PlanLine("P2:L1", "MOP-SUB", "N1", "BLANKET", 150),
            PlanLine("P2:L2", "MOP-SUB", "N1", "TARP", 150),
        ],
    )
    plan.approve("awa", NOW, NOW + timedelta(minutes=10), NOW + timedelta(days=14))
    for line in ("P2:L1", "P2:L2"):
        plan.reservation_answered(line, LineReservation.ACTIVE, 150)
    plan.request_dispatch("WB-2", "Sévaré")
    plan.dispatch_recorded("P2:L1", 150)
    plan.dispatch_recorded("P2:L2", 150)
    targets = {"N1": Target(150, 750)}
    # The same 100 households received a blanket and a tarpaulin: 100 households, not 200.
    plan.record_delivery([delivery("N1", 100, ("P2:L1", 100), ("P2:L2", 100))], targets)
    assert plan.reach["N1"] == Reach(100, 500)
    # 50 more households the week after; then a top-up for households already counted.
    plan.record_delivery([delivery("N1", 50, ("P2:L1", 40), ("P2:L2", 40))], targets)
    plan.record_delivery([delivery("N1", 0, ("P2:L1", 10))], targets)
    assert plan.reach["N1"] == Reach(150, 750)
    # Beyond the target only with the reason.
    beyond = [delivery("N1", 20, ("P2:L2", 10))]
    with pytest.raises(InvalidInput) as err:
        plan.record_delivery(beyond, targets)
    assert err.value.field == "deliveries[0].note"
    assert "more than the 150 and 750 targeted" in err.value.reason
    plan.record_delivery([replace(beyond[0], note="new arrivals since the assessment")], targets)
    assert plan.reach["N1"] == Reach(170, 850, "new arrivals since the assessment")


def test_what_other_plans_reached_at_the_need_counts_towards_its_target() -> None:
    plan = dispatched()
    elsewhere = {"N1": Target(60, 300, Reach(55, 275))}
    with pytest.raises(InvalidInput) as err:
        plan.record_delivery([delivery("N1", 10, ("P1:L1", 10))], elsewhere)
    assert "65 households and 325 people reached (all plans)" in err.value.reason
    plan.record_delivery([delivery("N1", 5, ("P1:L1", 10))], elsewhere)
    assert plan.reach["N1"] == Reach(5, 25)


def test_a_delivery_names_lines_of_its_own_need_in_this_plan() -> None:
    plan = dispatched()
    for wrong, field in (
        (delivery("N9", 1, ("P1:L1", 1)), "deliveries[0].need_id"),
        (delivery("N2", 1, ("P1:L1", 1)), "deliveries[0].lines[0].line_id"),
        (delivery("N1", 1, ("P9:L1", 1)), "deliveries[0].lines[0].line_id"),
        (Delivery("N1", (DeliveredLine("P1:L1", 1),), 5, 2), "deliveries[0].households"),
    ):
        with pytest.raises(InvalidInput) as err:
            plan.record_delivery([wrong], TARGETS)
        assert err.value.field == field


def test_a_reversed_dispatch_comes_off_the_line_once() -> None:
    plan = dispatched()
    version = plan.sequence
    assert plan.dispatch_reversed("P1:L1", 60)
    assert (plan.line("P1:L1").dispatched, plan.line("P1:L1").returned) == (0, 60)
    assert plan.sequence == version + 1
    assert not plan.dispatch_reversed("P1:L1", 60)
    assert plan.sequence == version + 1
    # Nothing left to deliver on it.
    with pytest.raises(InvalidInput):
        plan.record_delivery([delivery("N1", 1, ("P1:L1", 1))], TARGETS)


def test_a_plan_whose_other_lines_were_delivered_is_delivered_once_the_rest_is_reversed() -> None:
    plan = dispatched()
    plan.record_delivery([delivery("N2", 40, ("P1:L2", 40))], TARGETS)
    assert plan.status is PlanStatus.DISPATCHED
    plan.dispatch_reversed("P1:L1", 60)
    assert plan.status is PlanStatus.DELIVERED


def test_a_reversal_seen_before_its_dispatch_still_counts_once() -> None:
    plan = approved()
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    plan.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    plan.request_dispatch("WB-1", "Sévaré")
    assert plan.dispatch_reversed("P1:L1", 60)
    assert plan.dispatch_recorded("P1:L1", 60)
    assert (plan.line("P1:L1").dispatched, plan.line("P1:L1").returned) == (0, 60)


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
    with pytest.raises(InvalidTransition, match="close it with a reason"):
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
