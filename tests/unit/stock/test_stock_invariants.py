"""Random sequences of stock commands never break the ledger's invariants.

A Hypothesis state machine drives one warehouse's stock through receipts, dispatches,
adjustments, counts, kitting, reservations (made, released, expired, dispatched) and reversals,
keeping its own ledger from the recorded movements, and checks after every step:
- on hand equals the sum of the ledger, per item;
- reserved equals the sum of the active reservations, and available = on hand - reserved >= 0;
- no lot is ever negative or empty-but-kept;
- a refused command leaves the aggregate exactly as it was.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from kitflow_stock.domain.errors import StockError
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    CountedLine,
    InboundLine,
    Movement,
    MovementInfo,
    MovementRecorded,
    OutboundLine,
    ReservationMode,
    ReservationStatus,
    WarehouseStock,
)

ITEMS = ["TARP", "ROPE", "MAT", "KIT"]
LOTS = ["", "A", "B"]
BOM = [("TARP", 2), ("ROPE", 1), ("MAT", 3)]
NOW = datetime(2026, 11, 28, tzinfo=UTC)

items = st.sampled_from(ITEMS)
lots = st.sampled_from(LOTS)
quantities = st.integers(min_value=-3, max_value=40)
lines_ids = st.sampled_from([f"L{i}" for i in range(8)])


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stock = WarehouseStock("GAO-SUB", owner="IOM")
        self.ledger: dict[str, int] = {}
        self.movements: list[Movement] = []
        self.counter = 0
        self.clock = NOW
        self.seen_events = 0

    def _info(self, doc: str | None = None) -> MovementInfo:
        self.counter += 1
        return MovementInfo(f"M{self.counter}", self.clock, "tester", document_number=doc)

    def _attempt(self, command: object) -> None:
        before = copy.deepcopy(self.stock)
        try:
            command()  # type: ignore[operator]
        except StockError:
            assert self.stock == before, "a refused command changed the stock"
            assert self.stock.sequence == before.sequence
            del self.stock.events[len(before.events) :]
        self._absorb_events()

    def _absorb_events(self) -> None:
        for event in self.stock.events[self.seen_events :]:
            if isinstance(event, MovementRecorded):
                self.movements.append(event.movement)
                for line in event.movement.lines:
                    self.ledger[line.item] = self.ledger.get(line.item, 0) + line.quantity
        self.seen_events = len(self.stock.events)

    @rule(item=items, qty=quantities, lot=lots, doc=st.sampled_from([None, "GRN-1", "GRN-2"]))
    def receive(self, item: str, qty: int, lot: str, doc: str | None) -> None:
        self._attempt(lambda: self.stock.receive(self._info(doc), [InboundLine(item, qty, lot)]))

    @rule(item=items, qty=quantities, lot=st.one_of(st.none(), lots))
    def dispatch(self, item: str, qty: int, lot: str | None) -> None:
        self._attempt(lambda: self.stock.dispatch(self._info(), [OutboundLine(item, qty, lot)]))

    @rule(item=items, qty=st.integers(-20, 20), reason=st.sampled_from(AdjustmentReason))
    def adjust(self, item: str, qty: int, reason: AdjustmentReason) -> None:
        self._attempt(lambda: self.stock.adjust(self._info(), reason, item, qty))

    @rule(item=items, lot=lots, counted=st.integers(-1, 50))
    def count(self, item: str, lot: str, counted: int) -> None:
        self._attempt(
            lambda: self.stock.apply_count(self._info(), [CountedLine(item, lot, "IOM", counted)])
        )

    @rule(count=st.integers(-1, 5), assemble=st.booleans())
    def kitting(self, count: int, assemble: bool) -> None:
        action = self.stock.assemble_kits if assemble else self.stock.break_kits
        self._attempt(lambda: action(self._info(), "KIT", count, BOM))

    @rule(
        line=lines_ids,
        item=items,
        qty=quantities,
        mode=st.sampled_from(ReservationMode),
        days=st.integers(-2, 5),
    )
    def reserve(self, line: str, item: str, qty: int, mode: ReservationMode, days: int) -> None:
        self._attempt(
            lambda: self.stock.reserve(
                line, "P1", item, qty, mode, self.clock + timedelta(days=days)
            )
        )

    @rule(line=lines_ids, item=items)
    def release(self, line: str, item: str) -> None:
        self._attempt(lambda: self.stock.release(line, "P1", item))

    @rule(hours=st.integers(0, 72))
    def time_passes_and_stale_reservations_expire(self, hours: int) -> None:
        self.clock += timedelta(hours=hours)
        self._attempt(lambda: self.stock.expire_reservations(self.clock))

    @rule(line=lines_ids, qty=st.one_of(st.none(), st.integers(0, 30)))
    def dispatch_reservation(self, line: str, qty: int | None) -> None:
        self._attempt(lambda: self.stock.dispatch_reservation(self._info(), line, qty))

    @rule(index=st.integers(0, 200))
    def reverse(self, index: int) -> None:
        if self.movements:
            original = self.movements[index % len(self.movements)]
            self._attempt(lambda: self.stock.reverse(self._info(), original))

    @invariant()
    def on_hand_is_the_sum_of_the_ledger(self) -> None:
        for item in ITEMS:
            assert self.stock.balance(item).on_hand == self.ledger.get(item, 0), item

    @invariant()
    def reserved_is_the_sum_of_active_reservations_and_nothing_is_negative(self) -> None:
        for item in ITEMS:
            balance = self.stock.balance(item)
            active = sum(
                r.quantity
                for r in self.stock.reservations.values()
                if r.item == item and r.status is ReservationStatus.ACTIVE
            )
            assert balance.reserved == active
            assert balance.available == balance.on_hand - balance.reserved
            assert balance.available >= 0
            assert balance.in_transit >= 0
            assert all(lot.on_hand > 0 for lot in balance.lots)

    @invariant()
    def sequences_increase_by_one_per_event(self) -> None:
        assert [e.sequence for e in self.stock.events] == list(range(1, len(self.stock.events) + 1))


StockMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestStockInvariants = StockMachine.TestCase
