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
