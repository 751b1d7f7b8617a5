"""A plan's events stay far under the broker's 1 MiB whatever the plan's size: its requests to
stock go per warehouse in parts of at most 500 lines, its state in parts of whole needs."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from kitflow_distribution.domain.plans import LineAnswer, LineReservation, Plan, PlanLine
from kitflow_distribution.handlers.integration import plan_events
from kitflow_shared.contracts import distribution as contract
from kitflow_shared.events import EventContext

NOW = datetime(2026, 11, 28, 10, tzinfo=UTC)
WELL_UNDER_THE_LIMIT = 256 * 1024


def big_plan(needs: int = 5_000) -> Plan:
    lines = [
        PlanLine(
            f"PLN-0123456789AB:L{2 * n + k:05d}",
            "MOP-SUB" if n % 2 else "BKO-MAIN",
            f"NEED-{n:05d}",
            item,
            10 + n % 7,
        )
        for n in range(needs)
        for k, item in enumerate(("KIT-NFI", "TARP"))
    ]
    return Plan("PLN-0123456789AB", "All open needs", "awa", NOW, lines)


def test_the_approval_of_ten_thousand_lines_is_many_small_events_covering_each_line_once() -> None:
    plan = big_plan()
    plan.approve("awa", NOW, NOW + timedelta(minutes=10), NOW + timedelta(days=14))
    events = plan_events(plan, plan.events, EventContext.new())
    assert max(len(e.to_bytes()) for e in events) < WELL_UNDER_THE_LIMIT
    approved = [contract.PLAN_APPROVED.parse(e) for e in events if e.type.endswith("approved.v1")]
    assert all(len({x.warehouse for x in a.lines}) == 1 for a in approved)
    assert all(len(a.lines) <= contract.MAX_LINES_PER_EVENT for a in approved)
    assert Counter(x.line_id for a in approved for x in a.lines) == Counter(
        x.line_id for x in plan.lines
    )
    states = [contract.PLAN_UPDATED.parse(e) for e in events if e.type.endswith("updated.v1")]
    assert all(s.status == "reserving" for s in states)
    needs_per_part = [{x.need_id for x in s.lines} for s in states]
    assert sum(len(n) for n in needs_per_part) == len({x.need_id for x in plan.lines})
    assert sum(len(s.lines) for s in states) == 10_000
    assert all(e.sequence == plan.sequence for e in events)


def test_an_answer_for_some_lines_republishes_only_the_needs_they_serve() -> None:
    plan = big_plan()
    plan.approve("awa", NOW, NOW + timedelta(minutes=10), NOW + timedelta(days=14))
    plan.events.clear()
    plan.answers_received(
        [LineAnswer(x.line_id, LineReservation.ACTIVE, x.quantity) for x in plan.lines[:6]]
    )
    [state] = [
        contract.PLAN_UPDATED.parse(e) for e in plan_events(plan, plan.events, EventContext.new())
    ]
    assert [x.line_id for x in state.lines] == [x.line_id for x in plan.lines[:6]]
