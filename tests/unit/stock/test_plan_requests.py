"""A plan's requests to one warehouse's stock (reserve, release, dispatch some lines): one change
and one answer for every line each time, asked once or again, and the ledger's invariants hold
on random sequences mixed with every other stock command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from kitflow_stock.domain.stock import (
    InboundLine,
    MovementInfo,
    MovementRecorded,
    PlanLineRequest,
    ReservationMode,
    ReservationsAnswered,
    ReservationStatus,
    WarehouseStock,
)

from tests.unit.stock.test_stock_invariants import ITEMS, StockMachine

NOW = datetime(2026, 11, 28, tzinfo=UTC)
LATER = NOW + timedelta(days=3)


def stocked(**items: int) -> WarehouseStock:
    stock = WarehouseStock("GAO-SUB", owner="IOM")
    stock.receive(
        MovementInfo("M0", NOW, "t", "GRN-0"), [InboundLine(i, q) for i, q in items.items()]
    )
    return stock


def answers_of(stock: WarehouseStock) -> list[tuple[str, str, int, str | None]]:
    [answered] = [e for e in stock.events if isinstance(e, ReservationsAnswered)][-1:]
    return [
        (a.line_id, a.reservation.status.value if a.reservation else "unknown",
         a.reservation.quantity if a.reservation else 0, a.reason)
        for a in answered.answers
    ]  # fmt: skip


def test_one_request_is_one_answer_for_every_line_partial_or_whole() -> None:
    stock = stocked(TARP=50)
    lines = [PlanLineRequest("P:L1", "TARP", 30), PlanLineRequest("P:L2", "TARP", 40)]
    stock.reserve_plan_lines("P", lines, ReservationMode.PARTIAL, LATER)
    assert answers_of(stock) == [
        ("P:L1", "active", 30, None),
        ("P:L2", "active", 20, "20 TARP available in GAO-SUB, 40 requested"),
    ]
    [answered] = [e for e in stock.events if isinstance(e, ReservationsAnswered)]
    assert [(b.item, b.reserved, b.available) for b in answered.balances] == [("TARP", 50, 0)]
    whole = stocked(TARP=50)
    whole.reserve_plan_lines("P", lines, ReservationMode.ALL_OR_NOTHING, LATER)
    assert [a[:3] for a in answers_of(whole)] == [
        ("P:L1", "active", 30),
        ("P:L2", "rejected", 0),
    ]


def test_a_request_asked_again_is_answered_again_and_changes_nothing() -> None:
    stock = stocked(TARP=50)
    lines = [PlanLineRequest("P:L1", "TARP", 30)]
    stock.reserve_plan_lines("P", lines, ReservationMode.PARTIAL, LATER)
    stock.reserve_plan_lines("P", lines, ReservationMode.PARTIAL, LATER)
    answered = [e for e in stock.events if isinstance(e, ReservationsAnswered)]
    assert len(answered) == 2
    assert answers_of(stock) == [("P:L1", "active", 30, None)]
    assert stock.balance("TARP").reserved == 30


def test_an_inactive_warehouse_rejects_each_new_line_with_the_reason() -> None:
    stock = stocked(TARP=50)
    stock.reserve_plan_lines(
        "P", [PlanLineRequest("P:L1", "TARP", 5)], ReservationMode.PARTIAL, LATER, "not active"
    )
    assert answers_of(stock) == [("P:L1", "rejected", 0, "not active")]
    assert stock.balance("TARP").reserved == 0


def test_a_dispatch_order_answers_every_line_and_comes_before_its_movements() -> None:
    stock = stocked(TARP=50)
    lines = [PlanLineRequest(f"P:L{n}", "TARP", 10) for n in (1, 2)]
    stock.reserve_plan_lines("P", lines, ReservationMode.PARTIAL, LATER)
    stock.release_plan_lines("P", [lines[1]], "plan cancelled")
    before = len(stock.events)
    counter = iter(range(100))
    movements = stock.dispatch_plan_lines(
        "P",
        [("P:L1", None), ("P:L2", None), ("P:L9", None)],
        lambda: MovementInfo(f"M{next(counter)}", NOW, "distribution", "WB-1"),
    )
    assert [m.plan_line_id for m in movements] == ["P:L1"]
    produced = stock.events[before:]
    assert isinstance(produced[0], ReservationsAnswered)
    assert isinstance(produced[1], MovementRecorded)
    assert [e.sequence for e in stock.events] == list(range(1, len(stock.events) + 1))
    assert answers_of(stock) == [
        ("P:L1", "dispatched", 10, None),
        ("P:L2", "released", 10, "released before the dispatch order came: nothing issued"),
        ("P:L9", "unknown", 0, "no reservation in GAO-SUB"),
    ]
    # Asked again: nothing more is issued, the same answer comes.
    stock.dispatch_plan_lines("P", [("P:L1", None)], lambda: MovementInfo("MX", NOW, "d"))
    assert answers_of(stock) == [("P:L1", "dispatched", 10, None)]
    assert stock.balance("TARP").on_hand == 40


def test_expired_reservations_are_answered_per_plan_in_small_events() -> None:
    stock = stocked(TARP=50)
    for plan in ("P", "Q"):
        stock.reserve_plan_lines(
            plan,
            [PlanLineRequest(f"{plan}:L{n}", "TARP", 1) for n in range(5)],
            ReservationMode.PARTIAL,
            NOW,
        )
    before = len(stock.events)
    assert stock.expire_reservations(NOW, per_answer=2) == 10
    answered = [e for e in stock.events[before:] if isinstance(e, ReservationsAnswered)]
    assert [(e.plan_id, len(e.answers)) for e in answered] == [
        ("P", 2), ("P", 2), ("P", 1), ("Q", 2), ("Q", 2), ("Q", 1)
    ]  # fmt: skip
    assert all(
        a.reservation.status is ReservationStatus.EXPIRED
        for e in answered
        for a in e.answers
        if a.reservation
    )
    assert stock.balance("TARP").reserved == 0


plan_lines = st.lists(
    st.tuples(st.sampled_from([f"L{i}" for i in range(8)]), st.sampled_from(ITEMS),
              st.integers(1, 30)),
    min_size=1, max_size=4,
)  # fmt: skip


class PlanRequestsMachine(StockMachine):
    """The stock machine, with a plan's requests among its commands."""

    def _answered_every_line(self, asked: list[str]) -> None:
        answered = [e for e in self.stock.events if isinstance(e, ReservationsAnswered)][-1]
        assert [a.line_id for a in answered.answers] == asked

    @rule(lines=plan_lines, whole=st.booleans(), days=st.integers(-1, 3))
    def plan_reserves(self, lines: list[tuple[str, str, int]], whole: bool, days: int) -> None:
        mode = ReservationMode.ALL_OR_NOTHING if whole else ReservationMode.PARTIAL
        requests = [PlanLineRequest(line, item, qty) for line, item, qty in lines]
        expires = self.clock + timedelta(days=days)
        self._attempt(lambda: self.stock.reserve_plan_lines("P1", requests, mode, expires))
        self._answered_every_line([line for line, _, _ in lines])

    @rule(lines=plan_lines)
    def plan_releases(self, lines: list[tuple[str, str, int]]) -> None:
        requests = [PlanLineRequest(line, item, qty) for line, item, qty in lines]
        self._attempt(lambda: self.stock.release_plan_lines("P1", requests, "cancelled"))
        self._answered_every_line([line for line, _, _ in lines])

    @rule(lines=st.lists(st.tuples(st.sampled_from([f"L{i}" for i in range(8)]),
                                   st.one_of(st.none(), st.integers(1, 30))), min_size=1,
                         max_size=4))  # fmt: skip
    def plan_dispatches(self, lines: list[tuple[str, int | None]]) -> None:
        self._attempt(lambda: self.stock.dispatch_plan_lines("P1", lines, self._info))
        self._answered_every_line([line for line, _ in lines])

    @invariant()
    def nothing_reserved_past_what_was_asked(self) -> None:
        for reservation in self.stock.reservations.values():
            assert reservation.quantity >= 0
            if reservation.status is ReservationStatus.ACTIVE:
                assert reservation.quantity <= reservation.requested


PlanRequestsMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestPlanRequestsInvariants = PlanRequestsMachine.TestCase
