"""What can go wrong in the stock domain, in terms a warehouse officer understands."""

from __future__ import annotations


class StockError(Exception):
    """Base of every domain error."""


class InvalidInput(StockError):
    """A value breaks a business rule; names the field and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownWarehouse(StockError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no warehouse with code {code!r}")
        self.code = code


class DuplicateWarehouse(StockError):
    def __init__(self, code: str) -> None:
        super().__init__(f"a warehouse with code {code!r} already exists")
        self.code = code


class NotPermitted(StockError):
    """The caller may not do this to this aggregate (e.g. another organisation's warehouse)."""


class ConcurrentChange(StockError):
    """Someone else changed the aggregate between our read and our write; the caller may retry."""


class UnknownItem(StockError):
    def __init__(self, codes: list[str] | str) -> None:
        self.codes = [codes] if isinstance(codes, str) else sorted(codes)
        super().__init__(f"not in the catalogue: {', '.join(self.codes)}")


class InsufficientStock(StockError):
    """A movement would take more than is available; says how much is."""

    def __init__(self, warehouse: str, item: str, requested: int, available: int) -> None:
        super().__init__(f"{warehouse} has {available} {item} available, {requested} requested")
        self.warehouse = warehouse
        self.item = item
        self.requested = requested
        self.available = available


class DuplicateDocument(StockError):
    """A waybill / goods-received-note number already used in this warehouse."""

    def __init__(self, document_number: str, movement_id: str) -> None:
        super().__init__(
            f"document number {document_number!r} is already recorded (movement {movement_id})"
        )
        self.document_number = document_number
        self.movement_id = movement_id


class Conflict(StockError):
    """The request contradicts the current state (a reversed movement, a closed transfer...)."""


class CountAlreadySubmitted(Conflict):
    """A count is applied once: its submission was already applied to the stock."""

    def __init__(self, count_id: str, movement_id: str | None) -> None:
        super().__init__(f"count {count_id} was already submitted")
        self.count_id = count_id
        self.movement_id = movement_id


class UnknownCount(StockError):
    def __init__(self, warehouse: str, count_id: str) -> None:
        super().__init__(f"no count {count_id} in {warehouse}")


class UnknownReservation(StockError):
    def __init__(self, warehouse: str, line_id: str) -> None:
        super().__init__(f"no reservation {line_id} in {warehouse}")


class Unstorable(StockError):
    """The store refused to hold a change (a value beyond its limits, a name it cannot take).

    Raised by the adapters instead of the driver's error, so that the stock writer can tell it
    from an outage: it concerns one command's input, not the store, and must fail that command
    alone. Nothing was written."""
