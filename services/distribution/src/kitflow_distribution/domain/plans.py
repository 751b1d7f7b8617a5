"""Plans: from the planner's draft to households reached.

    draft --approve--> reserving --(every line answered)--> reserved | partly-reserved
      |                    |                                      |
      +------cancel--------+-----------------cancel---------------+--> cancelled
                                                                  |
                           request dispatch --> dispatching --(stock answered every line)-->
                           dispatched --(deliveries recorded)--> delivered --close--> closed

Stock answers each line (reserved, partly, or rejected with what it had); dispatch issues what
was reserved; a reversal of that dispatch in the warehouse gives it back; deliveries say what each
line handed out and, once per need, how many households and people were reached (a household
that received a blanket and a tarpaulin is one household reached, not two). Every transition is
idempotent: an answer that arrives twice, or after the plan moved on, changes nothing.

Every step ends in an answer or a decision:
- stock answers every line it is asked about, again when asked again; lines without an answer
  by the deadline are asked again (`ask_again`), reservations and dispatch orders alike;
- a dispatch order for a reservation that expired or was released meanwhile is answered with
  what became of it: the plan is `dispatched` once every ordered line is answered, or back to
  `partly-reserved` if nothing at all could be issued;
- a coordinator can always end a plan with a reason: cancel it while nothing has left a
  warehouse (`dispatching` included), close it once something has (or while `dispatching`):
  what stock still holds for it is released.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from kitflow_distribution.domain.errors import InvalidInput, InvalidTransition


class PlanStatus(StrEnum):
    DRAFT = "draft"
    RESERVING = "reserving"
    RESERVED = "reserved"
    PARTLY_RESERVED = "partly-reserved"
    DISPATCHING = "dispatching"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class LineReservation(StrEnum):
    NOT_ASKED = "not-asked"
    PENDING = "pending"
    ACTIVE = "active"
    REJECTED = "rejected"
    RELEASED = "released"
    EXPIRED = "expired"
    DISPATCHED = "dispatched"


_ANSWERED = {
    LineReservation.ACTIVE,
    LineReservation.REJECTED,
    LineReservation.RELEASED,
    LineReservation.EXPIRED,
    LineReservation.DISPATCHED,
}
_BEFORE_DISPATCH = {
    PlanStatus.DRAFT,
    PlanStatus.RESERVING,
    PlanStatus.RESERVED,
    PlanStatus.PARTLY_RESERVED,
}


@dataclass(frozen=True)
class PlanLine:
    line_id: str
    warehouse: str
    need_id: str
    item: str
    quantity: int
    reservation: LineReservation = LineReservation.NOT_ASKED
    reserved: int = 0
    dispatched: int = 0  # what left the warehouse and was not taken back
    delivered: int = 0
    shortfall_reason: str | None = None
    returned: int = 0  # taken back into the warehouse by a reversal of the line's dispatch

    @property
    def open_for_dispatch(self) -> bool:
        return self.reservation is LineReservation.ACTIVE and self.reserved > 0


@dataclass(frozen=True)
class PlanApprovedEvent:
    lines: tuple[PlanLine, ...]
    expires_at: datetime
    all_or_nothing: bool


@dataclass(frozen=True)
class PlanCancelledEvent:
    lines: tuple[PlanLine, ...]
    reason: str


@dataclass(frozen=True)
class DispatchRequestedEvent:
    lines: tuple[PlanLine, ...]
    waybill_number: str
    destination: str


@dataclass(frozen=True)
class PlanChangedEvent:
    """The plan's state changed: its new state is published for every reader, for the needs
    named (None: every need, as when the status changed)."""

    need_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class LineAnswer:
    """Stock's answer for one line: its reservation now, or what it issued (dispatched)."""

    line_id: str
    reservation: LineReservation
    reserved: int = 0
    dispatched: int = 0
    reason: str | None = None


PlanEvent = PlanApprovedEvent | PlanCancelledEvent | DispatchRequestedEvent | PlanChangedEvent


@dataclass(frozen=True)
class DeliveredLine:
    line_id: str
    quantity: int


@dataclass(frozen=True)
class Delivery:
    """One distribution at one need's site: what each of the need's lines handed out, and the
    households and people it reached who were not counted in an earlier delivery for the need
    (a second item to the same households counts 0)."""

    need_id: str
    lines: tuple[DeliveredLine, ...]
    households: int
    individuals: int
    note: str | None = None  # the partner's remark; required to go beyond what was targeted
    delivered_on: date | None = None  # the day of the distribution, when the partner gave it


@dataclass(frozen=True)
class Reach:
    """The households and people a plan reached at one need, each counted once."""

    households: int = 0
    individuals: int = 0
    note: str | None = None  # the latest remark a delivery gave (why more than targeted, ...)
    delivered_on: date | None = None  # the latest day a delivery named

    def __add__(self, other: Reach) -> Reach:
        days = [d for d in (self.delivered_on, other.delivered_on) if d is not None]
        return Reach(
            self.households + other.households,
            self.individuals + other.individuals,
            self.note or other.note,
            max(days) if days else None,
        )


@dataclass(frozen=True)
class Target:
    """What the need's assessment targeted, and what other plans already reached there."""

    households: int
    individuals: int
    elsewhere: Reach = field(default_factory=Reach)

    def exceeded_by(self, reach: Reach) -> bool:
        """Does `reach` here, with what other plans reached, go beyond the target?"""
        total = reach + self.elsewhere
        return total.households > self.households or total.individuals > self.individuals


@dataclass
class Plan:
    id: str
    title: str
    created_by: str
    created_at: datetime
    lines: list[PlanLine]
    status: PlanStatus = PlanStatus.DRAFT
    approved_by: str | None = None
    approved_at: datetime | None = None
    # Stock's answers (to the reservation request, then to the dispatch order) expected by then.
    reservation_deadline: datetime | None = None
    reservation_expires_at: datetime | None = None
    all_or_nothing: bool = False
    waybill_number: str | None = None
    destination: str | None = None
    closed_at: datetime | None = None
    reason: str | None = None  # why it was cancelled, or closed before it was delivered
    # What the planner said: objectives, per-need coverage, and why not more (JSON-ready).
    explanation: dict[str, object] = field(default_factory=dict)
    # Ids of stock events already taken into account (answers may be redelivered).
    handled_events: list[str] = field(default_factory=list)
    # Need id -> the households and people reached there (deliveries are per need, not per line).
    reach: dict[str, Reach] = field(default_factory=dict)
    sequence: int = 0
    events: list[PlanEvent] = field(default_factory=list, compare=False, repr=False)

    def line(self, line_id: str, field_name: str = "line_id") -> PlanLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise InvalidInput.of(field_name, f"plan {self.id} has no line {line_id}")

    def _set(self, line: PlanLine) -> None:
        self.lines = [line if x.line_id == line.line_id else x for x in self.lines]

    def _changed(self, need_ids: frozenset[str] | None = None) -> None:
        self.sequence += 1
        self.events.append(PlanChangedEvent(need_ids))

    def handled(self, event_id: str) -> bool:
        return event_id in self.handled_events

    def remember(self, event_id: str, keep: int = 1000) -> None:
        self.handled_events = [*self.handled_events, event_id][-keep:]

    # ---- coordinator decisions

    def approve(
        self,
        by: str,
        now: datetime,
        answer_by: datetime,
        expires_at: datetime,
        all_or_nothing: bool = False,
    ) -> None:
        if self.status is not PlanStatus.DRAFT:
            raise InvalidTransition(
                f"plan {self.id} is {self.status}; only a draft can be approved"
            )
        if not any(line.quantity > 0 for line in self.lines):
            raise InvalidTransition(f"plan {self.id} has nothing to distribute")
        if expires_at <= now:
            raise InvalidInput.of("reservation_expires_at", "must be in the future")
        self.lines = [
            replace(x, reservation=LineReservation.PENDING) for x in self.lines if x.quantity > 0
        ]
        self.status = PlanStatus.RESERVING
        self.approved_by, self.approved_at = by, now
        self.reservation_deadline, self.reservation_expires_at = answer_by, expires_at
        self.all_or_nothing = all_or_nothing
        self.events.append(PlanApprovedEvent(tuple(self.lines), expires_at, all_or_nothing))
        self._changed()

    def cancel(self, reason: str) -> None:
        """End the plan before anything left a warehouse; what stock holds for it is released.
        While `dispatching`, stock may still issue what it was ordered before it hears of
        this: the lines will show it."""
        if self.status is PlanStatus.CANCELLED:
            return
        if self.status not in _BEFORE_DISPATCH and self.status is not PlanStatus.DISPATCHING:
            raise InvalidTransition(
                f"plan {self.id} is {self.status}: only a plan not yet dispatched is cancelled"
            )
        if any(x.dispatched for x in self.lines):
            raise InvalidTransition(
                f"plan {self.id} has lines stock already issued: close it with a reason instead"
            )
        self.status = PlanStatus.CANCELLED
        self.reason = reason
        self._release_what_is_held(reason)
        self._changed()

    def request_dispatch(
        self, waybill_number: str, destination: str, answer_by: datetime | None = None
    ) -> tuple[PlanLine, ...]:
        if self.status not in (PlanStatus.RESERVED, PlanStatus.PARTLY_RESERVED):
            raise InvalidTransition(
                f"plan {self.id} is {self.status}: dispatch follows the reservation answers"
            )
        lines = tuple(x for x in self.lines if x.open_for_dispatch)
        if not lines:
            raise InvalidTransition(f"plan {self.id} has no reserved stock to dispatch")
        self.status = PlanStatus.DISPATCHING
        self.waybill_number, self.destination = waybill_number, destination
        if answer_by is not None:
            self.reservation_deadline = answer_by
        self.events.append(DispatchRequestedEvent(lines, waybill_number, destination))
        self._changed()
        return lines

    def record_delivery(
        self, deliveries: Sequence[Delivery], targets: Mapping[str, Target]
    ) -> None:
        """Add deliveries, all or none. `targets`: what each need's assessment targeted; going
        beyond it needs a note saying why (new arrivals, a larger household count, ...)."""
        if self.status not in (PlanStatus.DISPATCHING, PlanStatus.DISPATCHED, PlanStatus.DELIVERED):
            raise InvalidTransition(f"plan {self.id} is {self.status}: nothing was dispatched yet")
        updated: dict[str, PlanLine] = {}
        reach = dict(self.reach)
        served = {x.need_id for x in self.lines}
        for index, d in enumerate(deliveries):
            at = f"deliveries[{index}]"
            if d.need_id not in served:
                raise InvalidInput.of(f"{at}.need_id", f"plan {self.id} serves no need {d.need_id}")
            for n, delivered in enumerate(d.lines):
                line = self._delivered_on(updated, delivered, d.need_id, f"{at}.lines[{n}]")
                updated[line.line_id] = line
            if d.households > d.individuals and d.individuals:
                raise InvalidInput.of(f"{at}.households", "more households than individuals")
            given = Reach(d.households, d.individuals, d.note, d.delivered_on)
            after = given + reach.get(d.need_id, Reach())
            target = targets.get(d.need_id)
            if target is not None and target.exceeded_by(after) and not after.note:
                total = after + target.elsewhere
                raise InvalidInput.of(
                    f"{at}.note",
                    f"need {d.need_id} would have {total.households} households and "
                    f"{total.individuals} people reached (all plans), more than the "
                    f"{target.households} and {target.individuals} targeted: say why in a note",
                )
            reach[d.need_id] = after
        for line in updated.values():
            self._set(line)
        self.reach = reach
        self._delivered_when_complete()
        self._changed()

    def _delivered_when_complete(self) -> None:
        out = [x for x in self.lines if x.dispatched]
        if (
            self.status is PlanStatus.DISPATCHED
            and out
            and all(x.delivered >= x.dispatched for x in out)
        ):
            self.status = PlanStatus.DELIVERED

    def _delivered_on(
        self, updated: dict[str, PlanLine], delivered: DeliveredLine, need_id: str, at: str
    ) -> PlanLine:
        line = updated.get(delivered.line_id) or self.line(delivered.line_id, f"{at}.line_id")
        if line.need_id != need_id:
            raise InvalidInput.of(
                f"{at}.line_id", f"line {line.line_id} serves need {line.need_id}, not {need_id}"
            )
        if delivered.quantity < 0:
            raise InvalidInput.of(f"{at}.quantity", "must not be negative")
        if line.delivered + delivered.quantity > line.dispatched:
            raise InvalidInput.of(
                f"{at}.quantity",
                f"{line.delivered + delivered.quantity} delivered on line {line.line_id}, but "
                f"only {line.dispatched} were dispatched",
            )
        return replace(line, delivered=line.delivered + delivered.quantity)

    def close(self, now: datetime, reason: str | None = None) -> None:
        """Close a plan that was dispatched; a plan still waiting for stock's answer to its
        dispatch order is closed with a reason, and what stock still holds is released."""
        if self.status is PlanStatus.DISPATCHING:
            if not reason:
                raise InvalidInput.of(
                    "reason", "closing a plan still waiting for stock's answer needs a reason"
                )
            self._release_what_is_held(reason)
        elif self.status not in (PlanStatus.DISPATCHED, PlanStatus.DELIVERED):
            raise InvalidTransition(
                f"plan {self.id} is {self.status}: close after dispatch (or cancel it)"
            )
        self.status = PlanStatus.CLOSED
        self.closed_at = now
        self.reason = reason or self.reason
        self._changed()

    def _release_what_is_held(self, reason: str) -> None:
        held = (LineReservation.PENDING, LineReservation.ACTIVE)
        to_release = tuple(x for x in self.lines if x.reservation in held)
        if to_release:
            self.events.append(PlanCancelledEvent(to_release, reason))

    # ---- stock's answers

    def reservation_answered(
        self, line_id: str, status: LineReservation, reserved: int, reason: str | None = None
    ) -> bool:
        """Record stock's answer for a line; returns False when it changes nothing."""
        return self.answers_received([LineAnswer(line_id, status, reserved, 0, reason)])

    def answers_received(self, answers: Sequence[LineAnswer]) -> bool:
        """Record stock's answers for some lines in one change; returns False when they change
        nothing. Answers about lines this plan does not have, or never asked about, are left
        aside; a line only moves forward (once dispatched, it stays so)."""
        position = {x.line_id: n for n, x in enumerate(self.lines)}
        lines = list(self.lines)
        touched: set[str] = set()
        for answer in answers:
            n = position.get(answer.line_id)
            if n is None:
                continue
            after = _answered(lines[n], answer)
            if after is not None:
                lines[n] = after
                touched.add(after.need_id)
        if not touched:
            return False
        self.lines = lines
        before = self.status
        self._settle()
        self._changed(None if self.status is not before else frozenset(touched))
        return True

    def dispatch_recorded(self, line_id: str, quantity: int) -> bool:
        line = self.line(line_id)
        if line.reservation is LineReservation.DISPATCHED:
            return False
        # A reversal taken into account first (its event redriven out of order) stays deducted.
        dispatched = max(0, quantity - line.returned)
        self._set(
            replace(line, reservation=LineReservation.DISPATCHED, dispatched=dispatched, reserved=0)
        )
        before = self.status
        self._settle()
        self._changed(None if self.status is not before else frozenset({line.need_id}))
        return True

    def _settle(self) -> None:
        """Move on once stock answered every line the plan waits for."""
        if self.status is PlanStatus.RESERVING and all(
            x.reservation in _ANSWERED for x in self.lines
        ):
            short = any(x.reserved < x.quantity for x in self.lines)
            self.status = PlanStatus.PARTLY_RESERVED if short else PlanStatus.RESERVED
        elif self.status is PlanStatus.DISPATCHING and not any(
            x.open_for_dispatch for x in self.lines
        ):
            # Nothing issued at all (every reservation was gone): back to what is left of the
            # reservation, where the coordinator decides (cancel it, with a reason).
            issued = any(x.dispatched for x in self.lines)
            self.status = PlanStatus.DISPATCHED if issued else PlanStatus.PARTLY_RESERVED

    def dispatch_reversed(self, line_id: str, quantity: int) -> bool:
        """Stock reversed the line's dispatch: `quantity` is back in the warehouse, no longer on
        its way to the need. A line is dispatched once and its dispatch reversed at most once, so
        a reversal already taken into account changes nothing."""
        line = self.line(line_id)
        if line.returned or quantity <= 0:
            return False
        dispatched = line.dispatched
        if line.reservation is LineReservation.DISPATCHED:
            dispatched = max(0, dispatched - quantity)
        self._set(replace(line, returned=quantity, dispatched=dispatched))
        self._delivered_when_complete()  # what is still out may all have been delivered
        self._changed()
        return True

    def unanswered(self, now: datetime) -> tuple[PlanLine, ...]:
        """Lines still waiting for stock after the deadline: to be asked again (the
        reservation of a line not answered yet, or the dispatch of a line not issued yet)."""
        if self.reservation_deadline is None or now < self.reservation_deadline:
            return ()
        if self.status is PlanStatus.RESERVING:
            return tuple(x for x in self.lines if x.reservation is LineReservation.PENDING)
        if self.status is PlanStatus.DISPATCHING:
            return tuple(x for x in self.lines if x.open_for_dispatch)
        return ()

    def ask_again(self, now: datetime, answer_by: datetime) -> bool:
        """Ask stock again, the same question as before (stock answers again, changing
        nothing it already did)."""
        lines = self.unanswered(now)
        if not lines:
            return False
        again: PlanEvent
        if self.status is PlanStatus.DISPATCHING:
            if not self.waybill_number or not self.destination:
                return False  # ordered before plans kept their order: the coordinator decides
            again = DispatchRequestedEvent(lines, self.waybill_number, self.destination)
        elif self.reservation_expires_at is not None:
            again = PlanApprovedEvent(lines, self.reservation_expires_at, self.all_or_nothing)
        else:
            return False
        self.reservation_deadline = answer_by
        self.events.append(again)
        self._changed(frozenset())  # nothing a reader sees changed
        return True


def _answered(line: PlanLine, answer: LineAnswer) -> PlanLine | None:
    """The line after stock's answer, or None when the answer changes nothing."""
    if line.reservation in (LineReservation.NOT_ASKED, LineReservation.DISPATCHED):
        return None
    if answer.reservation is LineReservation.DISPATCHED:
        issued = answer.dispatched or answer.reserved
        return replace(
            line,
            reservation=LineReservation.DISPATCHED,
            dispatched=issued,
            reserved=0,
            shortfall_reason=answer.reason,
        )
    # Nothing is held for a line rejected, released or expired, whatever it once held.
    reserved = answer.reserved if answer.reservation is LineReservation.ACTIVE else 0
    if (line.reservation, line.reserved, line.shortfall_reason) == (
        answer.reservation,
        reserved,
        answer.reason,
    ):
        return None
    return replace(
        line, reservation=answer.reservation, reserved=reserved, shortfall_reason=answer.reason
    )
