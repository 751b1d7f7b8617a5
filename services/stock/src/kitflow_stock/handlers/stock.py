"""Stock commands: check who asks and what they name, then apply one command to one
warehouse's stock through the writer.

Reads that only validate (the warehouse exists, the caller may operate it, the items are in the
catalogue) happen before the command; the change itself is one atomic write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RequestKey

from kitflow_stock.domain.errors import (
    InvalidInput,
    NotPermitted,
    UnknownReservation,
    UnknownWarehouse,
)
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    CountedLine,
    InboundLine,
    IncomingTransfer,
    Movement,
    MovementInfo,
    MovementLine,
    OutboundLine,
    ReceivedLine,
    ReservationMode,
    ReservationOutcome,
    ReservationStatus,
    WarehouseStock,
)
from kitflow_stock.domain.warehouses import Warehouse
from kitflow_stock.handlers.ports import (
    ALL_PARTS,
    Actor,
    CatalogueReader,
    Done,
    Ledger,
    StockParts,
    WarehouseRepository,
    only,
)
from kitflow_stock.handlers.stock_writer import Replay, StockWriter

Clock = Callable[[], datetime]
T = TypeVar("T")
NEAR_EXPIRY_HORIZON = timedelta(days=180)  # OpenLMIS warns at 6 months (OLMIS-3186)
# How far ahead a coordinator may hold stock: plans reserve for 14 days by default; a season's
# distribution is planned within three months. Beyond that, stock would sit idle.
RESERVATION_HORIZON = timedelta(days=90)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class StockRecord:
    """Who recorded a movement, when it happened, under which document."""

    occurred_at: datetime | None = None
    document_number: str | None = None
    counterparty: str | None = None
    note: str | None = None


@dataclass
class StockHandlers:
    writer: StockWriter
    warehouses: WarehouseRepository
    catalogue: CatalogueReader
    ledger: Ledger
    clock: Clock = lambda: datetime.now(UTC)
    reservation_horizon: timedelta = RESERVATION_HORIZON
    # Warehouse details change rarely and every stock command needs them: a short-lived cache
    # saves a store round trip per command. A deactivation takes effect within this time.
    warehouse_ttl: timedelta = timedelta(seconds=2)
    _warehouse_cache: dict[str, tuple[datetime, Warehouse]] = field(default_factory=dict)

    async def warehouse(self, code: str) -> Warehouse:
        now = self.clock()
        cached = self._warehouse_cache.get(code)
        if cached is not None and now - cached[0] < self.warehouse_ttl:
            return cached[1]
        found = await self.warehouses.get(code)
        self._warehouse_cache[code] = (now, found)
        return found

    # ---- guards

    async def _operable(self, actor: Actor, code: str) -> Warehouse:
        """The warehouse, if the actor may record movements there. Staff of other warehouses
        get "unknown warehouse": they learn nothing about stock that is not theirs."""
        warehouse = await self.warehouse(code)
        if not actor.may_operate(code):
            raise (
                UnknownWarehouse(code)
                if not actor.coordinator
                else NotPermitted("only the warehouse's staff (or an admin) record its movements")
            )
        if not warehouse.details.active:
            raise InvalidInput.of("warehouse", f"{code} is not active")
        return warehouse

    async def readable(self, actor: Actor, code: str) -> Warehouse:
        warehouse = await self.warehouse(code)
        if not actor.may_read_stock(code):
            raise UnknownWarehouse(code)
        return warehouse

    async def _known_items(self, codes: Sequence[str], field: str = "lines") -> None:
        found = await self.catalogue.get_many(set(codes))
        for index, code in enumerate(codes):
            if code not in found:
                raise InvalidInput.of(
                    f"{field}[{index}].item_code", f"{code} is not in the catalogue"
                )

    # The count handlers guard their commands the same way.
    operable = _operable
    known_items = _known_items

    def _info(self, actor: Actor, record: StockRecord, prefix: str = "MV") -> MovementInfo:
        occurred = record.occurred_at or self.clock()
        if occurred > self.clock() + timedelta(minutes=5):
            raise InvalidInput.of("occurred_at", "cannot be in the future")
        # The store keeps milliseconds: the answer to a replay, read back from the store,
        # must say what the first answer said.
        occurred = occurred.replace(microsecond=occurred.microsecond // 1000 * 1000)
        return MovementInfo(
            new_id(prefix),
            occurred,
            actor.user,
            record.document_number,
            record.counterparty,
            record.note,
        )

    async def _run(
        self,
        warehouse: Warehouse,
        command: Callable[[WarehouseStock], T],
        context: EventContext,
        parts: StockParts = ALL_PARTS,
    ) -> T:
        return await self.writer.execute(
            warehouse.code, command, context, owner=warehouse.details.organisation, parts=parts
        )

    async def _run_once(
        self,
        warehouse: Warehouse,
        command: Callable[[WarehouseStock], T],
        context: EventContext,
        parts: StockParts,
        key: RequestKey | None,
        remember: Callable[[T], str],
        recall: Callable[[str], Awaitable[T]],
    ) -> Done[T]:
        """Run the command, once per Idempotency-Key: applied with its key remembered in the
        same write, or, for a key remembered before, `recall`ed from what was remembered."""
        if key is None:
            return Done(await self._run(warehouse, command, context, parts))
        outcome = await self.writer.execute_once(
            warehouse.code,
            command,
            context,
            key,
            remember,
            owner=warehouse.details.organisation,
            parts=parts,
        )
        if isinstance(outcome, Replay):
            return Done(await recall(outcome.result), replayed=True)
        return Done(outcome)

    async def _movement_once(
        self,
        warehouse: Warehouse,
        command: Callable[[WarehouseStock], Movement],
        context: EventContext,
        parts: StockParts,
        key: RequestKey | None,
    ) -> Done[Movement]:
        """A movement, once per Idempotency-Key; a replay reads the first one back."""

        async def recall(movement_id: str) -> Movement:
            movement = await self.ledger.movement(warehouse.code, movement_id)
            if movement is None:
                raise LookupError(f"movement {movement_id} of {warehouse.code} is not stored")
            return movement

        return await self._run_once(warehouse, command, context, parts, key, lambda m: m.id, recall)

    # ---- movements

    async def receive(
        self,
        actor: Actor,
        code: str,
        lines: Sequence[InboundLine],
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        await self._known_items([line.item for line in lines])
        if not record.document_number:
            raise InvalidInput.of("grn_number", "a receipt needs its goods-received-note number")
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse,
            lambda s: s.receive(info, lines),
            context,
            only(documents=[info.document_number]),
            key,
        )

    async def dispatch(
        self,
        actor: Actor,
        code: str,
        lines: Sequence[OutboundLine],
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        await self._known_items([line.item for line in lines])
        if not record.document_number:
            raise InvalidInput.of("waybill_number", "a dispatch needs its waybill number")
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse,
            lambda s: s.dispatch(info, lines),
            context,
            only(documents=[info.document_number]),
            key,
        )

    async def adjust(
        self,
        actor: Actor,
        code: str,
        reason: AdjustmentReason,
        item: str,
        quantity: int,
        lot: str,
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        await self._known_items([item], "item_code")
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse, lambda s: s.adjust(info, reason, item, quantity, lot), context, only(), key
        )

    async def transfer(
        self,
        actor: Actor,
        code: str,
        to_warehouse: str,
        lines: Sequence[OutboundLine],
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        try:
            destination = await self.warehouses.get(to_warehouse)
        except UnknownWarehouse:
            raise InvalidInput.of(
                "to_warehouse", f"no warehouse with code {to_warehouse}"
            ) from None
        if not destination.details.active:
            raise InvalidInput.of("to_warehouse", f"{to_warehouse} is not active")
        await self._known_items([line.item for line in lines])
        if not record.document_number:
            raise InvalidInput.of("waybill_number", "a transfer needs its waybill number")
        info = self._info(actor, record)
        transfer_id = new_id("TR")
        return await self._movement_once(
            warehouse,
            lambda s: s.transfer_out(info, transfer_id, to_warehouse, lines),
            context,
            only(documents=[info.document_number]),
            key,
        )

    async def receive_transfer(
        self,
        actor: Actor,
        code: str,
        transfer_id: str,
        lines: Sequence[ReceivedLine],
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse,
            lambda s: s.receive_transfer(info, transfer_id, lines),
            context,
            only(documents=[info.document_number, f"transfer:{transfer_id}"]),
            key,
        )

    async def kitting(
        self,
        actor: Actor,
        code: str,
        kit: str,
        count: int,
        assemble: bool,
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        items = await self.catalogue.get_many({kit})
        if kit not in items:
            raise InvalidInput.of("kit_code", f"{kit} is not in the catalogue")
        if not items[kit].is_kit:
            raise InvalidInput.of("kit_code", f"{kit} is an item, not a kit")
        bom = [(c.item_code, c.quantity) for c in items[kit].details.components]
        info = self._info(actor, record)

        def kits(stock: WarehouseStock) -> Movement:
            if assemble:
                return stock.assemble_kits(info, kit, count, bom)
            return stock.break_kits(info, kit, count, bom)

        return await self._movement_once(warehouse, kits, context, only(), key)

    async def submit_count(
        self,
        actor: Actor,
        code: str,
        count_id: str,
        lines: Sequence[CountedLine],
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[str]:
        """Apply a count's differences once (CountAlreadySubmitted the second time); the
        correction's movement id, "" when the count matched the stock."""
        warehouse = await self._operable(actor, code)
        await self._known_items([line.item for line in lines])
        info = self._info(actor, StockRecord(note=f"count {count_id}"))

        def submit(stock: WarehouseStock) -> str:
            movement = stock.submit_count(info, count_id, lines)
            return movement.id if movement else ""

        async def recall(movement_id: str) -> str:
            return movement_id

        parts = only(documents=[f"count:{count_id}"])
        return await self._run_once(warehouse, submit, context, parts, key, lambda m: m, recall)

    async def remembered(self, code: str, key: RequestKey) -> str | None:
        """The first result of the request with this key in this warehouse's stock, if any."""
        return await self.writer.remembered(code, key)

    async def reverse(
        self,
        actor: Actor,
        code: str,
        movement_id: str,
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        original = await self.ledger.movement(code, movement_id)
        if original is None:
            raise InvalidInput.of("movement_id", f"no movement {movement_id} in {code}'s ledger")
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse,
            lambda s: s.reverse(info, original),
            context,
            only(documents=[f"reversal:{original.id}"]),
            key,
        )

    async def set_minimum(
        self,
        actor: Actor,
        code: str,
        item: str,
        minimum: int,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[None]:
        warehouse = await self._operable(actor, code)
        await self._known_items([item], "item_code")

        async def recall(_: str) -> None:
            return None

        return await self._run_once(
            warehouse,
            lambda s: s.set_minimum(item, minimum),
            context,
            only(),
            key,
            lambda _: "",
            recall,
        )

    # ---- reservations (coordinators through the API; distribution's plans through events)

    async def reserve(
        self,
        actor: Actor | None,
        code: str,
        line_id: str,
        plan_id: str,
        item: str,
        quantity: int,
        mode: ReservationMode,
        expires_at: datetime,
        context: EventContext,
    ) -> ReservationOutcome:
        warehouse = await self.warehouse(code)
        if actor is not None:
            self._require_reservable(actor, warehouse, expires_at)
        if expires_at <= self.clock():
            raise InvalidInput.of("expires_at", "must be in the future")
        return await self._run(
            warehouse,
            lambda s: s.reserve(line_id, plan_id, item, quantity, mode, expires_at),
            context,
            only(reservations=[line_id]),
        )

    async def release(
        self,
        actor: Actor | None,
        code: str,
        line_id: str,
        plan_id: str,
        item: str,
        context: EventContext,
    ) -> bool:
        warehouse = await self.warehouse(code)
        if actor is not None:
            self._require_reserver(actor, warehouse)
        return await self._run(
            warehouse,
            lambda s: s.release(line_id, plan_id, item),
            context,
            only(reservations=[line_id]),
        )

    async def dispatch_reservation(
        self,
        actor: Actor | None,
        code: str,
        line_id: str,
        quantity: int | None,
        record: StockRecord,
        context: EventContext,
        system_user: str = "distribution",
    ) -> Movement:
        if actor is not None:
            warehouse = await self._operable(actor, code)
            info = self._info(actor, record)
        else:
            warehouse = await self.warehouse(code)
            info = self._info(Actor(system_user, warehouse.details.organisation), record)
        return await self._run(
            warehouse,
            lambda s: s.dispatch_reservation(info, line_id, quantity),
            context,
            only(reservations=[line_id]),
        )

    # ---- reservations asked for over the API (coordinators; staff issue them)

    def _require_reserver(self, actor: Actor, warehouse: Warehouse) -> None:
        """Reservations are the plans' business: like every other write, a warehouse's
        reservations belong to its organisation's coordinators (and admins)."""
        if not actor.may_reserve_in(warehouse.details.organisation):
            raise NotPermitted(
                f"only coordinators of {warehouse.details.organisation} (or an admin) reserve "
                f"or release the stock of {warehouse.code}"
            )

    def _require_reservable(self, actor: Actor, warehouse: Warehouse, expires_at: datetime) -> None:
        self._require_reserver(actor, warehouse)
        if not warehouse.details.active:
            raise InvalidInput.of("warehouse", f"{warehouse.code} is not active")
        latest = self.clock() + self.reservation_horizon
        if expires_at > latest:
            raise InvalidInput.of(
                "expires_at",
                f"must be within {self.reservation_horizon.days} days "
                f"(by {latest.isoformat(timespec='minutes')})",
            )

    async def reserve_as(
        self,
        actor: Actor,
        code: str,
        line_id: str,
        plan_id: str,
        item: str,
        quantity: int,
        mode: ReservationMode,
        expires_at: datetime,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Done[ReservationOutcome]:
        warehouse = await self.warehouse(code)
        self._require_reservable(actor, warehouse, expires_at)
        if expires_at <= self.clock():
            raise InvalidInput.of("expires_at", "must be in the future")

        async def recall(outcome: str) -> ReservationOutcome:
            fields = json.loads(outcome)
            return ReservationOutcome(**{**fields, "status": ReservationStatus(fields["status"])})

        return await self._run_once(
            warehouse,
            lambda s: s.reserve(line_id, plan_id, item, quantity, mode, expires_at),
            context,
            only(reservations=[line_id]),
            key,
            lambda outcome: json.dumps(asdict(outcome)),
            recall,
        )

    async def release_as(
        self, actor: Actor, code: str, line_id: str, context: EventContext, key: RequestKey | None
    ) -> Done[bool]:
        """Release the reservation of a plan line (UnknownReservation if there is none)."""
        warehouse = await self.warehouse(code)
        self._require_reserver(actor, warehouse)
        held = (await self.writer.peek(code, only(reservations=[line_id]))).reservations.get(
            line_id
        )
        if held is None:
            raise UnknownReservation(code, line_id)

        async def recall(released: str) -> bool:
            return released == "released"

        return await self._run_once(
            warehouse,
            lambda s: s.release(line_id, held.plan_id, held.item),
            context,
            only(reservations=[line_id]),
            key,
            lambda released: "released" if released else "unchanged",
            recall,
        )

    async def dispatch_reservation_as(
        self,
        actor: Actor,
        code: str,
        line_id: str,
        quantity: int | None,
        record: StockRecord,
        context: EventContext,
        key: RequestKey | None,
    ) -> Done[Movement]:
        warehouse = await self._operable(actor, code)
        info = self._info(actor, record)
        return await self._movement_once(
            warehouse,
            lambda s: s.dispatch_reservation(info, line_id, quantity),
            context,
            only(reservations=[line_id]),
            key,
        )

    # ---- reactions and housekeeping

    async def announce_transfer(
        self,
        to_warehouse: str,
        transfer_id: str,
        from_warehouse: str,
        lines: Sequence[MovementLine],
        sent_at: datetime,
        context: EventContext,
    ) -> bool:
        warehouse = await self.warehouse(to_warehouse)
        transfer = IncomingTransfer(transfer_id, from_warehouse, tuple(lines), sent_at)
        return await self._run(
            warehouse,
            lambda s: s.announce_transfer(transfer),
            context,
            only(documents=[f"transfer:{transfer_id}"]),
        )

    async def housekeeping(self, code: str, today: date | None = None) -> tuple[int, int]:
        """Expire stale reservations and signal near-expiry lots in one warehouse."""
        warehouse = await self.warehouses.get(code)
        now = self.clock()

        def tidy(stock: WarehouseStock) -> tuple[int, int]:
            expired = stock.expire_reservations(now)
            signalled = stock.signal_near_expiry(today or now.date(), NEAR_EXPIRY_HORIZON)
            return expired, signalled

        return await self._run(warehouse, tidy, EventContext.new())
