"""The plan's side of the saga with stock: every step ends in an answer or a decision, the
re-ask after a timeout asks the same question again, and a coordinator can always end a plan
with a reason. Plain domain objects."""

from datetime import UTC, datetime, timedelta

import pytest
from kitflow_distribution.domain.errors import InvalidInput, InvalidTransition
from kitflow_distribution.domain.plans import (
    DispatchRequestedEvent,
    LineAnswer,
    LineReservation,
    Plan,
    PlanApprovedEvent,
    PlanCancelledEvent,
    PlanChangedEvent,
    PlanLine,
    PlanStatus,
)

NOW = datetime(2026, 11, 28, 10, tzinfo=UTC)
ANSWER_BY = NOW + timedelta(minutes=10)
EXPIRES = NOW + timedelta(days=14)


def draft() -> Plan:
    return Plan(
        id="P1",
        title="Mopti round 1",
        created_by="awa",
        created_at=NOW,
        lines=[
            PlanLine("P1:L1", "MOP-SUB", "N1", "KIT-NFI", 60),
            PlanLine("P1:L2", "BKO-MAIN", "N2", "KIT-NFI", 40),
        ],
    )


def test_the_re_ask_after_a_timeout_keeps_the_all_or_nothing_mode() -> None:
    plan = draft()
    plan.approve("awa", NOW, ANSWER_BY, EXPIRES, all_or_nothing=True)
    plan.reservation_answered("P1:L1", LineReservation.ACTIVE, 60)
    assert plan.ask_again(ANSWER_BY + timedelta(seconds=1), ANSWER_BY + timedelta(minutes=11))
    [first, again] = [e for e in plan.events if isinstance(e, PlanApprovedEvent)]
    assert first.all_or_nothing
    assert [x.line_id for x in again.lines] == ["P1:L2"]
    assert again.all_or_nothing, "asked again for the whole quantity or nothing, as approved"


def reserved(*answers: tuple[str, int]) -> Plan:
    plan = draft()
    plan.approve("awa", NOW, ANSWER_BY, EXPIRES)
    plan.answers_received([LineAnswer(line, LineReservation.ACTIVE, qty) for line, qty in answers])
    return plan


def test_stocks_answers_for_many_lines_are_one_change() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 25))
    assert plan.status is PlanStatus.PARTLY_RESERVED
    assert plan.sequence == 2  # approved, then answered: once
    assert not plan.answers_received([LineAnswer("P1:L1", LineReservation.ACTIVE, 60)])
    assert not plan.answers_received([LineAnswer("P9:L1", LineReservation.ACTIVE, 1)])


def test_a_line_no_longer_held_holds_nothing_whatever_it_held() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.reservation_answered("P1:L1", LineReservation.EXPIRED, 60, "expired")
    line = plan.line("P1:L1")
    assert (line.reservation, line.reserved, line.shortfall_reason) == (
        LineReservation.EXPIRED,
        0,
        "expired",
    )


def test_a_dispatch_order_ends_when_every_ordered_line_is_answered() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    plan.answers_received(
        [
            LineAnswer("P1:L1", LineReservation.DISPATCHED, dispatched=60),
            LineAnswer("P1:L2", LineReservation.EXPIRED, reason="expired before the order came"),
        ]
    )
    assert plan.status is PlanStatus.DISPATCHED
    assert plan.line("P1:L1").dispatched == 60
    assert plan.line("P1:L2").shortfall_reason == "expired before the order came"


def test_a_dispatch_order_with_nothing_left_to_issue_returns_to_the_reservation() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    plan.answers_received(
        [
            LineAnswer("P1:L1", LineReservation.RELEASED, reason="released"),
            LineAnswer("P1:L2", LineReservation.EXPIRED, reason="expired"),
        ]
    )
    assert plan.status is PlanStatus.PARTLY_RESERVED
    with pytest.raises(InvalidTransition, match="no reserved stock"):
        plan.request_dispatch("WB-2", "Sévaré")
    plan.cancel("reservations lapsed")
    assert (plan.status, plan.reason) == (PlanStatus.CANCELLED, "reservations lapsed")


def test_an_unanswered_dispatch_order_is_asked_again_under_the_same_waybill() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    plan.dispatch_recorded("P1:L1", 60)
    assert not plan.ask_again(ANSWER_BY - timedelta(seconds=1), ANSWER_BY)
    assert plan.ask_again(ANSWER_BY, ANSWER_BY + timedelta(minutes=10))
    again = plan.events[-2]
    assert isinstance(again, DispatchRequestedEvent)
    assert (again.waybill_number, again.destination) == ("WB-1", "Sévaré")
    assert [x.line_id for x in again.lines] == ["P1:L2"]
    assert plan.events[-1] == PlanChangedEvent(frozenset()), "readers see no change"


def test_a_plan_waiting_for_its_dispatch_answer_is_closed_or_cancelled_with_a_reason() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    with pytest.raises(InvalidInput) as refused:
        plan.close(NOW)
    assert refused.value.field == "reason"
    plan.close(NOW, "trucks turned back")
    assert (plan.status, plan.reason) == (PlanStatus.CLOSED, "trucks turned back")
    [release] = [e for e in plan.events if isinstance(e, PlanCancelledEvent)]
    assert [x.line_id for x in release.lines] == ["P1:L1", "P1:L2"]
    other = reserved(("P1:L1", 60), ("P1:L2", 40))
    other.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    other.cancel("site moved")
    assert other.status is PlanStatus.CANCELLED
    # Stock, which had the order first, issued one line all the same: the plan shows it.
    other.answers_received([LineAnswer("P1:L1", LineReservation.DISPATCHED, dispatched=60)])
    assert (other.status, other.line("P1:L1").dispatched) == (PlanStatus.CANCELLED, 60)


def test_only_the_needs_whose_lines_changed_are_republished_unless_the_status_moved() -> None:
    plan = reserved(("P1:L1", 60))
    assert plan.events[-1] == PlanChangedEvent(frozenset({"N1"}))
    plan.reservation_answered("P1:L2", LineReservation.ACTIVE, 40)
    assert plan.events[-1] == PlanChangedEvent(None)  # reserving -> reserved


def test_a_dispatch_ordered_before_plans_kept_their_order_is_not_asked_again_blindly() -> None:
    plan = reserved(("P1:L1", 60), ("P1:L2", 40))
    plan.request_dispatch("WB-1", "Sévaré", ANSWER_BY)
    plan.waybill_number = plan.destination = None  # as stored by the version before
    assert not plan.ask_again(ANSWER_BY, ANSWER_BY + timedelta(minutes=10))
    plan.close(NOW, "no answer from the warehouse")
    assert plan.status is PlanStatus.CLOSED
