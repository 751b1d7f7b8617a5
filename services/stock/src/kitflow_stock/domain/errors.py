"""What can go wrong in the stock domain, in terms a warehouse officer understands.

Every error is one of the five shared kinds (`kitflow_shared.errors`), which the API answers the
same way in every service; the ones here say more (their own slug, the figures a client needs).
"""

from __future__ import annotations

from kitflow_shared import errors as kinds
from kitflow_shared.errors import message


class StockError(kinds.KitflowError):
    """Base of every stock domain error: one command's failure, never the store's."""


class InvalidInput(StockError, kinds.InvalidInput):
    """A value breaks a business rule; names the field and why."""


class NotPermitted(StockError, kinds.NotPermitted):
    """The caller may not do this to this aggregate (e.g. another organisation's warehouse)."""


class ConcurrentChange(StockError, kinds.ConcurrentChange):
    """Someone else changed the aggregate between our read and our write; the caller may retry."""


class Conflict(StockError, kinds.Conflict):
    """The request contradicts the current state (a reversed movement, a closed transfer...)."""


class UnknownWarehouse(StockError, kinds.NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(message("no warehouse with code {code!r}", code=code))
        self.code = code


class DuplicateWarehouse(StockError, kinds.Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(message("a warehouse with code {code!r} already exists", code=code))
        self.code = code


class UnknownItem(StockError, kinds.NotFound):
    def __init__(self, codes: list[str] | str) -> None:
        self.codes = [codes] if isinstance(codes, str) else sorted(codes)
        super().__init__(message("not in the catalogue: {codes}", codes=", ".join(self.codes)))


class InsufficientStock(StockError, kinds.Conflict):
    """A movement would take more than is available; says how much is."""

    def __init__(self, warehouse: str, item: str, requested: int, available: int) -> None:
        super().__init__(
            message(
                "{warehouse} has {available} {item} available, {requested} requested",
                warehouse=warehouse,
                item=item,
                requested=requested,
                available=available,
            )
        )
        self.warehouse = warehouse
        self.item = item
        self.requested = requested
        self.available = available


class DuplicateDocument(StockError, kinds.Conflict):
    """A waybill / goods-received-note number already used in this warehouse."""

    def __init__(self, document_number: str, movement_id: str) -> None:
        super().__init__(
            message(
                "document number {document_number!r} is already recorded (movement {movement_id})",
                document_number=document_number,
                movement_id=movement_id,
            )
        )
        self.document_number = document_number
        self.movement_id = movement_id


class CountAlreadySubmitted(Conflict):
    """A count is applied once: its submission was already applied to the stock."""

    def __init__(self, count_id: str, movement_id: str | None) -> None:
        super().__init__(message("count {count_id} was already submitted", count_id=count_id))
        self.count_id = count_id
        self.movement_id = movement_id


class UnknownCount(StockError, kinds.NotFound):
    def __init__(self, warehouse: str, count_id: str) -> None:
        super().__init__(
            message("no count {count_id} in {warehouse}", count_id=count_id, warehouse=warehouse)
        )


class UnknownReservation(StockError, kinds.NotFound):
    def __init__(self, warehouse: str, line_id: str) -> None:
        super().__init__(
            message("no reservation {line_id} in {warehouse}", line_id=line_id, warehouse=warehouse)
        )


class Unstorable(StockError):
    """The store refused to hold a change (a value beyond its limits, a name it cannot take).

    Raised by the adapters instead of the driver's error, so that the stock writer can tell it
    from an outage: it concerns one command's input, not the store, and must fail that command
    alone. Nothing was written."""
