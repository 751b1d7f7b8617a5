"""Stock in one warehouse: balances per item and lot, the movements that change them,
reservations for plan lines, and transfers on their way in.

One warehouse's stock is one aggregate (one stored document), so a multi-line receipt, a
dispatch against a waybill or a kit assembly changes it all or not at all.

Rules every method keeps (the property tests check them on random sequences):
- on hand equals the sum of the ledger (every change of on hand is a movement line);
- available = on hand - reserved, and nothing is ever negative;
- a method validates everything before it changes anything, so a refused command leaves the
  aggregate exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from kitflow_shared.text import MAX_QUANTITY

from kitflow_stock.domain.errors import (
    Conflict,
    CountAlreadySubmitted,
    DuplicateDocument,
    InsufficientStock,
    InvalidInput,
    StockError,
)


class MovementType(StrEnum):
    RECEIPT = "receipt"
    DISPATCH = "dispatch"
    TRANSFER_OUT = "transfer-out"
    TRANSFER_IN = "transfer-in"
    ADJUSTMENT = "adjustment"
    KIT_ASSEMBLY = "kit-assembly"
    KIT_BREAKDOWN = "kit-breakdown"
    REVERSAL = "reversal"


class AdjustmentReason(StrEnum):
    LOST = "lost"
    DAMAGED = "damaged"
    EXPIRED = "expired"
    FOUND = "found"
    COUNT_CORRECTION = "count-correction"


# Which way each reason may move stock: losses only reduce it, finds only add to it.
_REASON_SIGN = {
    AdjustmentReason.LOST: -1,
    AdjustmentReason.DAMAGED: -1,
    AdjustmentReason.EXPIRED: -1,
    AdjustmentReason.FOUND: 1,
    AdjustmentReason.COUNT_CORRECTION: 0,
}


class ReservationMode(StrEnum):
    PARTIAL = "partial"  # reserve what is available, up to the quantity asked
    ALL_OR_NOTHING = "all-or-nothing"  # reserve the whole quantity or none of it


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    REJECTED = "rejected"
    RELEASED = "released"
    EXPIRED = "expired"
    DISPATCHED = "dispatched"


@dataclass
class LotBalance:
    lot: str  # "" when the item is not lot-tracked
    expiry: date | None
    owner: str  # the organisation that owns these goods
    on_hand: int
    near_expiry_signalled: bool = False

    def same_lot(self, lot: str, owner: str) -> bool:
        return self.lot == lot and self.owner == owner


@dataclass
class ItemBalance:
    item: str
    lots: list[LotBalance] = field(default_factory=list)
    reserved: int = 0
    in_transit: int = 0  # sent to this warehouse by transfers not received yet
    minimum: int = 0  # below this available quantity, a low-stock signal goes out
    low_signalled: bool = False

    @property
    def on_hand(self) -> int:
        return sum(lot.on_hand for lot in self.lots)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class BalanceSnapshot:
    item: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int


@dataclass(frozen=True)
class MovementLine:
    item: str
    quantity: int  # signed: + into the warehouse, - out of it
    lot: str = ""
    expiry: date | None = None
    owner: str = ""
    on_hand_after: int = 0  # the item's on hand right after this line: the stock card's balance
    damaged: int = 0  # transfer receipts: arrived damaged (not taken into stock)
    missing: int = 0  # transfer receipts: sent but never arrived


@dataclass(frozen=True)
class Movement:
    id: str
    type: MovementType
    lines: tuple[MovementLine, ...]
    occurred_at: datetime
    recorded_by: str
    document_number: str | None = None  # GRN for receipts, waybill for dispatches/transfers
    counterparty: str | None = None  # donor/supplier, destination, or the other warehouse
    reason: AdjustmentReason | None = None
    note: str | None = None
    transfer_id: str | None = None
    reverses: str | None = None
    plan_line_id: str | None = None
    # A reversal of a plan's dispatch names the plan line, so that the plan hears of it.
    reversed_plan_line_id: str | None = None


@dataclass(frozen=True)
class Reservation:
    line_id: str
    plan_id: str
    item: str
    requested: int
    quantity: int
    status: ReservationStatus
    expires_at: datetime | None  # None for the marker of a release that came first
    mode: ReservationMode = ReservationMode.PARTIAL


@dataclass(frozen=True)
class IncomingTransfer:
    transfer_id: str
    from_warehouse: str
    lines: tuple[MovementLine, ...]  # as sent: positive quantities, lot details kept
    sent_at: datetime


# --- domain events: each carries the aggregate's version after it (`sequence`) ---------------


@dataclass(frozen=True)
class MovementRecorded:
    movement: Movement
    balances: tuple[BalanceSnapshot, ...]
    sequence: int = 0


@dataclass(frozen=True)
class ReservationConfirmed:
    reservation: Reservation
    balance: BalanceSnapshot
    sequence: int = 0


@dataclass(frozen=True)
class ReservationRejected:
    reservation: Reservation
    available: int
    reason: str
    sequence: int = 0


@dataclass(frozen=True)
class ReservationReleased:
    reservation: Reservation
    balance: BalanceSnapshot
    reason: str  # "cancelled", "expired", "remainder after dispatch"
    sequence: int = 0


@dataclass(frozen=True)
class ReservationAnswer:
    """What became of one plan line's reservation (None: stock never had one)."""

    line_id: str
    reservation: Reservation | None
    reason: str | None = None
    available: int | None = None


@dataclass(frozen=True)
class ReservationsAnswered:
    """The answer to one request of a plan for some of its lines, all in one event."""

    plan_id: str
    answers: tuple[ReservationAnswer, ...]
    balances: tuple[BalanceSnapshot, ...]
    sequence: int = 0


@dataclass(frozen=True)
class TransferAnnounced:
    transfer: IncomingTransfer
    balances: tuple[BalanceSnapshot, ...]
    sequence: int = 0


@dataclass(frozen=True)
class LowStockSignalled:
    balance: BalanceSnapshot
    minimum: int
    sequence: int = 0


@dataclass(frozen=True)
class NearExpirySignalled:
    item: str
    lot: str
    owner: str
    expiry: date
    on_hand: int
    sequence: int = 0


StockEvent = (
    MovementRecorded
    | ReservationConfirmed
    | ReservationRejected
    | ReservationReleased
    | ReservationsAnswered
    | TransferAnnounced
    | LowStockSignalled
    | NearExpirySignalled
)


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundLine:
    item: str
    quantity: int
    lot: str = ""
    expiry: date | None = None
    owner: str = ""


@dataclass(frozen=True)
class OutboundLine:
    item: str
    quantity: int
    lot: str | None = None  # None: first-expiry-first-out across lots


@dataclass(frozen=True)
class PlanLineRequest:
    """One line of a plan's request: reserve (or release) so many of an item for it."""

    line_id: str
    item: str
    quantity: int


@dataclass(frozen=True)
class ReceivedLine:
    item: str
    lot: str
    owner: str
    received: int
    damaged: int = 0


@dataclass(frozen=True)
class CountedLine:
    item: str
    lot: str
    owner: str
    counted: int
    expiry: date | None = None


@dataclass(frozen=True)
class MovementInfo:
    """What every movement records besides its lines."""

    movement_id: str
    occurred_at: datetime
    recorded_by: str
    document_number: str | None = None
    counterparty: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReservationOutcome:
    status: ReservationStatus
    requested: int
    reserved: int
    available: int


# --- the aggregate ---------------------------------------------------------------------------


@dataclass
class WarehouseStock:
    warehouse: str
    owner: str = ""  # the warehouse's organisation: default owner of received goods
    items: dict[str, ItemBalance] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    incoming: dict[str, IncomingTransfer] = field(default_factory=dict)
    # Document numbers (GRN, waybill, reversal markers) already used here -> movement id.
    documents: dict[str, str] = field(default_factory=dict)
    sequence: int = 0
    events: list[StockEvent] = field(default_factory=list, compare=False, repr=False)
    changed_items: set[str] = field(default_factory=set, compare=False, repr=False)
    # (section, key) of the map entries changed since loading, so a save writes only those.
    changed_entries: set[tuple[str, str]] = field(default_factory=set, compare=False, repr=False)

    # ---- reading

    def balance(self, item: str) -> ItemBalance:
        return self.items.get(item) or ItemBalance(item=item)

    def snapshot(self, item: str) -> BalanceSnapshot:
        b = self.balance(item)
        return BalanceSnapshot(item, b.on_hand, b.reserved, b.available, b.in_transit)

    # ---- movements

    def receive(self, info: MovementInfo, lines: Sequence[InboundLine]) -> Movement:
        """Goods arrive from a donor or supplier (a goods-received note)."""
        self._require_lines(lines)
        self._require_new_document(info.document_number)
        for i, line in enumerate(lines):
            self._require_positive(f"lines[{i}].quantity", line.quantity)
        movement_lines = [self._put(line) for line in lines]
        return self._record_movement(MovementType.RECEIPT, info, movement_lines)

    def dispatch(self, info: MovementInfo, lines: Sequence[OutboundLine]) -> Movement:
        """Goods leave for a distribution site or a partner (a waybill)."""
        self._require_lines(lines)
        self._require_new_document(info.document_number)
        plan = self._plan_takes(lines)
        return self._record_movement(MovementType.DISPATCH, info, self._take(plan))

    def adjust(
        self,
        info: MovementInfo,
        reason: AdjustmentReason,
        item: str,
        quantity: int,
        lot: str = "",
        owner: str = "",
        expiry: date | None = None,
    ) -> Movement:
        """Record a loss, damage, expiry, find or count correction (signed quantity)."""
        if quantity == 0:
            raise InvalidInput.of("quantity", "must not be 0")
        sign = _REASON_SIGN[reason]
        if sign and (quantity > 0) != (sign > 0):
            direction = "negative (stock leaves)" if sign < 0 else "positive (stock is added)"
            raise InvalidInput.of("quantity", f"a {reason} adjustment must be {direction}")
        if quantity > 0:
            lines = [self._put(InboundLine(item, quantity, lot, expiry, owner or self.owner))]
        else:
            plan = self._plan_takes([OutboundLine(item, -quantity, lot)], owner=owner or None)
            lines = self._take(plan)
        return self._record_movement(MovementType.ADJUSTMENT, info, lines, reason=reason)

    def apply_count(self, info: MovementInfo, counted: Sequence[CountedLine]) -> Movement | None:
        """A submitted physical count: each difference becomes a count-correction line.

        Lots and items not in the count are left alone (counting one aisle is normal)."""
        self._require_lines(counted)
        seen: set[tuple[str, str, str]] = set()
        inbound: list[InboundLine] = []
        outbound: list[tuple[str, str, str, int]] = []
        for i, line in enumerate(counted):
            if line.counted < 0:
                raise InvalidInput.of(f"lines[{i}].counted", "must not be negative")
            key = (line.item, line.lot, line.owner or self.owner)
            if key in seen:
                raise InvalidInput.of(f"lines[{i}]", f"{line.item} lot {line.lot!r} counted twice")
            seen.add(key)
            current = self._lot_on_hand(*key)
            if line.counted > current:
                inbound.append(
                    InboundLine(key[0], line.counted - current, key[1], line.expiry, key[2])
                )
            elif line.counted < current:
                outbound.append((key[0], key[1], key[2], current - line.counted))
        if not inbound and not outbound:
            return None
        # Check the decreases against reservations before changing anything.
        needed: dict[str, int] = {}
        for item, _, _, qty in outbound:
            needed[item] = needed.get(item, 0) + qty
        for item, qty in needed.items():
            self._require_available(item, qty)
        lines = [self._put(line) for line in inbound]
        for item, lot, owner, qty in outbound:
            lines.extend(self._take([(item, self._find_lot(item, lot, owner), qty)]))
        return self._record_movement(
            MovementType.ADJUSTMENT, info, lines, reason=AdjustmentReason.COUNT_CORRECTION
        )

    def submit_count(
        self, info: MovementInfo, count_id: str, counted: Sequence[CountedLine]
    ) -> Movement | None:
        """Apply a submitted count, once. A count is absolute: applied a second time after a
        receipt, it would undo the receipt. The count's marker is stored with its corrections,
        in the same write, so a second submission of it is refused."""
        marker = f"count:{count_id}"
        if marker in self.documents:
            raise CountAlreadySubmitted(count_id, self.documents[marker] or None)
        movement = self.apply_count(info, counted)
        # "" when the count matched the stock: submitted, with nothing to correct.
        self._remember_document(marker, movement.id if movement else "")
        return movement

    def transfer_out(
        self,
        info: MovementInfo,
        transfer_id: str,
        to_warehouse: str,
        lines: Sequence[OutboundLine],
    ) -> Movement:
        """Send goods to another warehouse: they leave here now and are in transit there."""
        if to_warehouse == self.warehouse:
            raise InvalidInput.of("to_warehouse", "a transfer goes to another warehouse")
        self._require_lines(lines)
        self._require_new_document(info.document_number)
        plan = self._plan_takes(lines)
        info = replace(info, counterparty=to_warehouse)
        return self._record_movement(
            MovementType.TRANSFER_OUT, info, self._take(plan), transfer_id=transfer_id
        )

    def announce_transfer(self, transfer: IncomingTransfer) -> bool:
        """A transfer to this warehouse left its origin: count it as in transit (idempotent)."""
        if transfer.transfer_id in self.incoming or self._closed_transfer(transfer.transfer_id):
            return False
        for line in transfer.lines:
            self._balance_for_update(line.item).in_transit += line.quantity
        self.incoming[transfer.transfer_id] = transfer
        self.changed_entries.add(("incoming", transfer.transfer_id))
        items = sorted({line.item for line in transfer.lines})
        self._record(TransferAnnounced(transfer, tuple(self.snapshot(i) for i in items)))
        return True

    def receive_transfer(
        self, info: MovementInfo, transfer_id: str, received: Sequence[ReceivedLine]
    ) -> Movement:
        """Receive a transfer: what arrived goes into stock; damage and shortfall are recorded."""
        transfer = self.incoming.get(transfer_id)
        if transfer is None:
            if self._closed_transfer(transfer_id):
                raise Conflict(f"transfer {transfer_id} was already received")
            raise Conflict(f"no transfer {transfer_id} is on its way to {self.warehouse}")
        sent: dict[tuple[str, str, str], MovementLine] = {
            (line.item, line.lot, line.owner): line for line in transfer.lines
        }
        got: dict[tuple[str, str, str], ReceivedLine] = {}
        for i, rec in enumerate(received):
            key = (rec.item, rec.lot, rec.owner)
            if key not in sent:
                raise InvalidInput.of(f"lines[{i}]", f"{rec.item} lot {rec.lot!r} was not sent")
            if key in got:
                raise InvalidInput.of(f"lines[{i}]", f"{rec.item} lot {rec.lot!r} listed twice")
            if rec.received < 0 or rec.damaged < 0:
                raise InvalidInput.of(f"lines[{i}]", "quantities must not be negative")
            if rec.received + rec.damaged > sent[key].quantity:
                raise InvalidInput.of(
                    f"lines[{i}]",
                    f"{rec.received + rec.damaged} received and damaged, but only "
                    f"{sent[key].quantity} {rec.item} were sent",
                )
            got[key] = rec
        self._require_new_document(info.document_number)
        lines: list[MovementLine] = []
        for key, sent_line in sent.items():
            arrived = got.get(key, ReceivedLine(key[0], key[1], key[2], 0))
            self._balance_for_update(key[0]).in_transit -= sent_line.quantity
            put = InboundLine(key[0], arrived.received, key[1], sent_line.expiry, key[2])
            line = (
                self._put(put)
                if arrived.received
                else MovementLine(
                    key[0], 0, key[1], sent_line.expiry, key[2], self.balance(key[0]).on_hand
                )
            )
            lines.append(
                replace(
                    line,
                    damaged=arrived.damaged,
                    missing=sent_line.quantity - arrived.received - arrived.damaged,
                )
            )
        del self.incoming[transfer_id]
        self.changed_entries.add(("incoming", transfer_id))
        self._remember_document(f"transfer:{transfer_id}", info.movement_id)
        info = replace(info, counterparty=transfer.from_warehouse)
        return self._record_movement(MovementType.TRANSFER_IN, info, lines, transfer_id=transfer_id)

    def assemble_kits(
        self, info: MovementInfo, kit: str, count: int, components: Sequence[tuple[str, int]]
    ) -> Movement:
        """Build kits from their components (the bill of materials)."""
        self._require_kit_count(kit, count, components)
        plan = self._plan_takes([OutboundLine(item, qty * count) for item, qty in components])
        lines = self._take(plan)
        lines.append(self._put(InboundLine(kit, count, owner=self.owner)))
        return self._record_movement(MovementType.KIT_ASSEMBLY, info, lines)

    def break_kits(
        self, info: MovementInfo, kit: str, count: int, components: Sequence[tuple[str, int]]
    ) -> Movement:
        """Unpack kits into their components."""
        self._require_kit_count(kit, count, components)
        plan = self._plan_takes([OutboundLine(kit, count)])
        owner = plan[0][1].owner if plan else self.owner
        lines = self._take(plan)
        lines.extend(
            self._put(InboundLine(item, qty * count, owner=owner)) for item, qty in components
        )
        return self._record_movement(MovementType.KIT_BREAKDOWN, info, lines)

    def reverse(self, info: MovementInfo, original: Movement) -> Movement:
        """Undo a movement by a compensating one; the original stays in the ledger."""
        marker = f"reversal:{original.id}"
        if marker in self.documents:
            raise Conflict(
                f"movement {original.id} was already reversed by {self.documents[marker]}"
            )
        if original.type in (
            MovementType.REVERSAL,
            MovementType.TRANSFER_OUT,
            MovementType.TRANSFER_IN,
        ):
            raise Conflict(
                f"a {original.type} movement cannot be reversed: record a new movement instead"
            )
        inbound = [
            InboundLine(line.item, -line.quantity, line.lot, line.expiry, line.owner)
            for line in original.lines
            if line.quantity < 0
        ]
        outbound = [
            (line.item, line.lot, line.owner, line.quantity)
            for line in original.lines
            if line.quantity > 0
        ]
        needed: dict[str, int] = {}
        for item, lot, owner, qty in outbound:
            if self._lot_on_hand(item, lot, owner) < qty:
                raise InsufficientStock(
                    self.warehouse, item, qty, self._lot_on_hand(item, lot, owner)
                )
            needed[item] = needed.get(item, 0) + qty
        for item, qty in needed.items():
            self._require_available(item, qty)
        lines = [self._put(line) for line in inbound]
        for item, lot, owner, qty in outbound:
            lines.extend(self._take([(item, self._find_lot(item, lot, owner), qty)]))
        self._remember_document(marker, info.movement_id)
        return self._record_movement(
            MovementType.REVERSAL,
            info,
            lines,
            reverses=original.id,
            reversed_plan_line_id=original.plan_line_id,
        )

    # ---- reservations

    def reserve(
        self,
        line_id: str,
        plan_id: str,
        item: str,
        quantity: int,
        mode: ReservationMode,
        expires_at: datetime,
    ) -> ReservationOutcome:
        """Reserve stock for a plan line. Asking again for the same line changes nothing."""
        self._require_positive("quantity", quantity)
        existing = self.reservations.get(line_id)
        if existing is not None:
            return ReservationOutcome(
                existing.status, existing.requested, existing.quantity, self.balance(item).available
            )
        available = self.balance(item).available
        granted = (
            min(quantity, available)
            if mode is ReservationMode.PARTIAL
            else (quantity if available >= quantity else 0)
        )
        if granted <= 0:
            rejected = Reservation(
                line_id, plan_id, item, quantity, 0, ReservationStatus.REJECTED, expires_at, mode
            )
            self._set_reservation(rejected)
            reason = f"{available} {item} available in {self.warehouse}, {quantity} requested"
            self._record(ReservationRejected(rejected, available, reason))
            return ReservationOutcome(ReservationStatus.REJECTED, quantity, 0, available)
        balance = self._balance_for_update(item)
        balance.reserved += granted
        reservation = Reservation(
            line_id, plan_id, item, quantity, granted, ReservationStatus.ACTIVE, expires_at, mode
        )
        self._set_reservation(reservation)
        self._record(ReservationConfirmed(reservation, self.snapshot(item)))
        self._check_low_stock(item)
        return ReservationOutcome(ReservationStatus.ACTIVE, quantity, granted, balance.available)

    def release(self, line_id: str, plan_id: str, item: str, reason: str = "cancelled") -> bool:
        """Give reserved stock back. A release that arrives before its reservation (messages
        out of order) leaves a marker, so the late reservation request is refused."""
        existing = self.reservations.get(line_id)
        if existing is None:
            self._set_reservation(
                Reservation(line_id, plan_id, item, 0, 0, ReservationStatus.RELEASED, None)
            )
            return False
        if existing.status is not ReservationStatus.ACTIVE:
            return False
        self._end_reservation(existing, ReservationStatus.RELEASED, reason)
        return True

    def expire_reservations(self, now: datetime, per_answer: int = 500) -> int:
        """Release every active reservation past its expiry. Each plan hears of its own in
        `ReservationsAnswered` events of at most `per_answer` lines (events stay small)."""
        stale = [
            r
            for r in self.reservations.values()
            if r.status is ReservationStatus.ACTIVE
            and r.expires_at is not None
            and r.expires_at <= now
        ]
        by_plan: dict[str, list[Reservation]] = {}
        for reservation in sorted(stale, key=lambda r: r.line_id):
            by_plan.setdefault(reservation.plan_id, []).append(reservation)
        for plan_id, reservations in sorted(by_plan.items()):
            for start in range(0, len(reservations), per_answer):
                answers = []
                for reservation in reservations[start : start + per_answer]:
                    self._balance_for_update(reservation.item).reserved -= reservation.quantity
                    ended = replace(reservation, status=ReservationStatus.EXPIRED)
                    self._set_reservation(ended)
                    answers.append(ReservationAnswer(reservation.line_id, ended, "expired"))
                self._answer(plan_id, answers)
        return len(stale)

    def dispatch_reservation(
        self, info: MovementInfo, line_id: str, quantity: int | None = None
    ) -> Movement:
        """Turn a reservation into a dispatch; what is not dispatched is released."""
        reservation = self.reservations.get(line_id)
        if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
            state = reservation.status.value if reservation else "unknown"
            raise Conflict(f"reservation {line_id} is {state}, not active")
        qty = reservation.quantity if quantity is None else quantity
        self._require_positive("quantity", qty)
        if qty > reservation.quantity:
            raise InvalidInput.of("quantity", f"only {reservation.quantity} are reserved")
        movement = self._issue(info, reservation, qty)
        if qty < reservation.quantity:
            remainder = replace(
                reservation, quantity=reservation.quantity - qty, status=ReservationStatus.RELEASED
            )
            self._record(
                ReservationReleased(
                    remainder, self.snapshot(reservation.item), "remainder after dispatch"
                )
            )
        return movement

    def _issue(self, info: MovementInfo, reservation: Reservation, qty: int) -> Movement:
        """Issue `qty` of an active reservation and give back the rest of it."""
        # One waybill carries many plan lines, so its number is not claimed here: the plan
        # line itself makes the dispatch happen once.
        # Reserved stock is part of on hand: pick it first-expiry-first-out.
        plan = self._plan_takes([OutboundLine(reservation.item, qty)], extra_available=qty)
        balance = self._balance_for_update(reservation.item)
        balance.reserved -= reservation.quantity
        lines = self._take(plan)
        self._set_reservation(
            replace(reservation, status=ReservationStatus.DISPATCHED, quantity=qty)
        )
        return self._record_movement(
            MovementType.DISPATCH,
            info,
            lines,
            plan_line_id=reservation.line_id,
            claim_document=False,
        )

    # ---- a plan's requests (from distribution's events): one change and one answer each

    def reserve_plan_lines(
        self,
        plan_id: str,
        lines: Sequence[PlanLineRequest],
        mode: ReservationMode,
        expires_at: datetime,
        refusal: str | None = None,
    ) -> None:
        """Reserve a plan's lines and answer for every one in one event. A line asked for
        again (its first answer may have been lost) changes nothing and is answered as it
        stands. `refusal` rejects every new line with that reason (an inactive warehouse)."""
        answers: list[ReservationAnswer] = []
        for line in lines:
            existing = self.reservations.get(line.line_id)
            if existing is not None:
                answers.append(self._as_it_stands(existing))
                continue
            available = self.balance(line.item).available
            granted = (
                0
                if refusal or line.quantity <= 0
                else min(line.quantity, available)
                if mode is ReservationMode.PARTIAL
                else (line.quantity if available >= line.quantity else 0)
            )
            status = ReservationStatus.ACTIVE if granted else ReservationStatus.REJECTED
            reservation = Reservation(
                line.line_id, plan_id, line.item, line.quantity, granted, status, expires_at, mode
            )
            self._set_reservation(reservation)
            if granted:
                self._balance_for_update(line.item).reserved += granted
            short = refusal or (
                None
                if granted == line.quantity
                else f"{available} {line.item} available in {self.warehouse}, "
                f"{line.quantity} requested"
            )
            answers.append(ReservationAnswer(line.line_id, reservation, short, available))
        self._answer(plan_id, answers)
        for item in sorted({line.item for line in lines}):
            self._check_low_stock(item)

    def release_plan_lines(
        self, plan_id: str, lines: Sequence[PlanLineRequest], reason: str
    ) -> None:
        """Give back what a plan's lines hold and answer for every one in one event. A line
        not reserved yet (its request still on its way) is marked released, so the late
        request is refused."""
        answers: list[ReservationAnswer] = []
        for line in lines:
            existing = self.reservations.get(line.line_id)
            if existing is None:
                marker = Reservation(
                    line.line_id, plan_id, line.item, 0, 0, ReservationStatus.RELEASED, None
                )
                self._set_reservation(marker)
                answers.append(ReservationAnswer(line.line_id, marker, reason))
            elif existing.status is ReservationStatus.ACTIVE:
                self._balance_for_update(existing.item).reserved -= existing.quantity
                ended = replace(existing, status=ReservationStatus.RELEASED)
                self._set_reservation(ended)
                answers.append(ReservationAnswer(line.line_id, ended, reason))
            else:
                answers.append(self._as_it_stands(existing))
        self._answer(plan_id, answers)

    def dispatch_plan_lines(
        self,
        plan_id: str,
        lines: Sequence[tuple[str, int | None]],
        movement_info: Callable[[], MovementInfo],
    ) -> list[Movement]:
        """Issue a plan's reserved lines (quantity None: all that is reserved; never more) and
        answer for every one in one event, also for a line whose reservation expired or was
        released meanwhile: nothing is issued for it, and the answer says what became of it.

        The answer goes out before the movements: the plan learns the whole order in one step,
        and the movements that follow (for the ledger's readers) find their lines settled."""
        first = len(self.events)
        answers: list[ReservationAnswer] = []
        movements: list[Movement] = []
        for line_id, quantity in lines:
            reservation = self.reservations.get(line_id)
            if reservation is None:
                answers.append(
                    ReservationAnswer(line_id, None, f"no reservation in {self.warehouse}")
                )
            elif reservation.status is not ReservationStatus.ACTIVE:
                answers.append(self._as_it_stands(reservation, before_dispatch=True))
            else:
                wanted = reservation.quantity if quantity is None else quantity
                try:
                    movement = self._issue(
                        movement_info(), reservation, min(wanted, reservation.quantity)
                    )
                except StockError as error:  # checked before anything changed: nothing to undo
                    answers.append(ReservationAnswer(line_id, reservation, f"not issued: {error}"))
                    continue
                movements.append(movement)
                answers.append(ReservationAnswer(line_id, self.reservations[line_id]))
        if not answers:
            return movements
        self._answer(plan_id, answers)
        # The answer first, then the movements; sequences follow the new order.
        produced = [self.events[-1], *self.events[first:-1]]
        base = self.events[first].sequence
        self.events[first:] = [replace(e, sequence=base + n) for n, e in enumerate(produced)]
        return movements

    def _as_it_stands(
        self, reservation: Reservation, before_dispatch: bool = False
    ) -> ReservationAnswer:
        status = reservation.status
        if status is ReservationStatus.ACTIVE:
            short = reservation.quantity < reservation.requested
            reason = (
                f"{reservation.quantity} of {reservation.requested} reserved in {self.warehouse}"
                if short
                else None
            )
            return ReservationAnswer(reservation.line_id, reservation, reason)
        if status is ReservationStatus.DISPATCHED:
            return ReservationAnswer(reservation.line_id, reservation)
        reason = {
            ReservationStatus.REJECTED: f"nothing could be reserved in {self.warehouse}",
            ReservationStatus.RELEASED: "released",
            ReservationStatus.EXPIRED: "expired",
        }[status]
        if before_dispatch:
            reason = f"{reason} before the dispatch order came: nothing issued"
        return ReservationAnswer(reservation.line_id, reservation, reason)

    def _answer(self, plan_id: str, answers: Sequence[ReservationAnswer]) -> None:
        if not answers:
            return
        items = sorted({a.reservation.item for a in answers if a.reservation is not None})
        balances = tuple(self.snapshot(item) for item in items if item)
        self._record(ReservationsAnswered(plan_id, tuple(answers), balances))

    # ---- signals

    def set_minimum(self, item: str, minimum: int) -> None:
        if minimum < 0:
            raise InvalidInput.of("minimum", "must not be negative")
        balance = self._balance_for_update(item)
        balance.minimum = minimum
        balance.low_signalled = False
        self._check_low_stock(item)

    def signal_near_expiry(self, today: date, horizon: timedelta) -> int:
        """Signal, once per lot, stock that expires within the horizon."""
        signalled = 0
        for item in sorted(self.items):
            for lot in self.items[item].lots:
                if (
                    lot.expiry is not None
                    and lot.on_hand > 0
                    and not lot.near_expiry_signalled
                    and lot.expiry <= today + horizon
                ):
                    lot.near_expiry_signalled = True
                    self.changed_items.add(item)
                    self._record(
                        NearExpirySignalled(item, lot.lot, lot.owner, lot.expiry, lot.on_hand)
                    )
                    signalled += 1
        return signalled

    # ---- internals

    def _record(self, event: StockEvent) -> None:
        self.sequence += 1
        self.events.append(replace(event, sequence=self.sequence))

    def _record_movement(
        self,
        type_: MovementType,
        info: MovementInfo,
        lines: list[MovementLine],
        *,
        reason: AdjustmentReason | None = None,
        transfer_id: str | None = None,
        reverses: str | None = None,
        plan_line_id: str | None = None,
        reversed_plan_line_id: str | None = None,
        claim_document: bool = True,
    ) -> Movement:
        movement = Movement(
            id=info.movement_id,
            type=type_,
            lines=tuple(lines),
            occurred_at=info.occurred_at,
            recorded_by=info.recorded_by,
            document_number=info.document_number,
            counterparty=info.counterparty,
            reason=reason,
            note=info.note,
            transfer_id=transfer_id,
            reverses=reverses,
            plan_line_id=plan_line_id,
            reversed_plan_line_id=reversed_plan_line_id,
        )
        if info.document_number and claim_document:
            self._remember_document(info.document_number, info.movement_id)
        items = sorted({line.item for line in lines})
        self._record(MovementRecorded(movement, tuple(self.snapshot(i) for i in items)))
        for item in items:
            self._check_low_stock(item)
        return movement

    def _remember_document(self, number: str, movement_id: str) -> None:
        self.documents[number] = movement_id
        self.changed_entries.add(("documents", number))

    def _set_reservation(self, reservation: Reservation) -> None:
        self.reservations[reservation.line_id] = reservation
        self.changed_entries.add(("reservations", reservation.line_id))

    def _end_reservation(
        self, reservation: Reservation, status: ReservationStatus, reason: str
    ) -> None:
        self._balance_for_update(reservation.item).reserved -= reservation.quantity
        ended = replace(reservation, status=status)
        self._set_reservation(ended)
        self._record(ReservationReleased(ended, self.snapshot(reservation.item), reason))

    def _check_low_stock(self, item: str) -> None:
        balance = self.items.get(item)
        if balance is None or balance.minimum == 0:
            return
        if balance.available < balance.minimum and not balance.low_signalled:
            balance.low_signalled = True
            self._record(LowStockSignalled(self.snapshot(item), balance.minimum))
        elif balance.available >= balance.minimum:
            balance.low_signalled = False

    def _balance_for_update(self, item: str) -> ItemBalance:
        self.changed_items.add(item)
        return self.items.setdefault(item, ItemBalance(item=item))

    def _put(self, line: InboundLine) -> MovementLine:
        owner = line.owner or self.owner
        balance = self._balance_for_update(line.item)
        lot = next((lot for lot in balance.lots if lot.same_lot(line.lot, owner)), None)
        if lot is None:
            lot = LotBalance(line.lot, line.expiry, owner, 0)
            balance.lots.append(lot)
        elif line.expiry is not None and lot.expiry is None:
            lot.expiry = line.expiry
        lot.on_hand += line.quantity
        return MovementLine(line.item, line.quantity, lot.lot, lot.expiry, owner, balance.on_hand)

    def _plan_takes(
        self, lines: Iterable[OutboundLine], *, owner: str | None = None, extra_available: int = 0
    ) -> list[tuple[str, LotBalance, int]]:
        """Decide which lots each outbound line takes from (first expiry first out), checking
        everything first. `extra_available` lets a reservation's own stock be used."""
        wanted: dict[str, int] = {}
        plan: list[tuple[str, LotBalance, int]] = []
        taken: dict[int, int] = {}
        for i, line in enumerate(lines):
            self._require_positive(f"lines[{i}].quantity", line.quantity)
            wanted[line.item] = wanted.get(line.item, 0) + line.quantity
            balance = self.items.get(line.item)
            lots = [
                lot
                for lot in (balance.lots if balance else [])
                if (line.lot is None or lot.lot == line.lot)
                and (owner is None or lot.owner == owner)
            ]
            lots.sort(key=lambda lot: (lot.expiry is None, lot.expiry or date.max, lot.lot))
            free_total = sum(lot.on_hand - taken.get(id(lot), 0) for lot in lots)
            if free_total < line.quantity:
                available = min(free_total, self.balance(line.item).available + extra_available)
                raise InsufficientStock(self.warehouse, line.item, line.quantity, max(0, available))
            remaining = line.quantity
            for lot in lots:
                step = min(lot.on_hand - taken.get(id(lot), 0), remaining)
                if step <= 0:
                    continue
                plan.append((line.item, lot, step))
                taken[id(lot)] = taken.get(id(lot), 0) + step
                remaining -= step
                if remaining == 0:
                    break
        for item, qty in wanted.items():
            self._require_available(item, qty, extra_available)
        return plan

    def _take(self, plan: list[tuple[str, LotBalance, int]]) -> list[MovementLine]:
        lines = []
        for item, lot, qty in plan:
            balance = self._balance_for_update(item)
            lot.on_hand -= qty
            lines.append(MovementLine(item, -qty, lot.lot, lot.expiry, lot.owner, balance.on_hand))
            if lot.on_hand == 0:
                balance.lots.remove(lot)
        return lines

    def _require_available(self, item: str, qty: int, extra: int = 0) -> None:
        available = self.balance(item).available + extra
        if qty > available:
            raise InsufficientStock(self.warehouse, item, qty, available)

    def _lot_on_hand(self, item: str, lot: str, owner: str) -> int:
        balance = self.items.get(item)
        if balance is None:
            return 0
        return sum(x.on_hand for x in balance.lots if x.same_lot(lot, owner))

    def _find_lot(self, item: str, lot: str, owner: str) -> LotBalance:
        return next(x for x in self.items[item].lots if x.same_lot(lot, owner))

    def _closed_transfer(self, transfer_id: str) -> bool:
        return f"transfer:{transfer_id}" in self.documents

    def _require_new_document(self, number: str | None) -> None:
        if number and number in self.documents:
            raise DuplicateDocument(number, self.documents[number])

    @classmethod
    def _require_kit_count(
        cls, kit: str, count: int, components: Sequence[tuple[str, int]]
    ) -> None:
        cls._require_positive("count", count)
        if not components:
            raise InvalidInput.of("kit", f"{kit} has no bill of materials")
        for item, quantity in components:
            if quantity * count > MAX_QUANTITY:
                raise InvalidInput.of(
                    "count",
                    f"{count} {kit} hold {quantity * count} {item}: more than the "
                    f"{MAX_QUANTITY} one movement line may carry",
                )

    @staticmethod
    def _require_lines(lines: Sequence[object]) -> None:
        if not lines:
            raise InvalidInput.of("lines", "at least one line is needed")

    @staticmethod
    def _require_positive(field_name: str, value: int) -> None:
        if value <= 0:
            raise InvalidInput.of(field_name, "must be greater than 0")
