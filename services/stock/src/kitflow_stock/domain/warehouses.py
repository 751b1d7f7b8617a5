"""Warehouses: where stock is kept, who owns them, where they are and how big."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from kitflow_stock.domain.errors import InvalidInput


class WarehouseKind(StrEnum):
    MAIN = "main"
    SUB_OFFICE = "sub-office"
    PARTNER = "partner"


@dataclass(frozen=True)
class Coordinates:
    lat: float
    lon: float


@dataclass(frozen=True)
class WarehouseDetails:
    """What a warehouse is, apart from its code and its version."""

    name: str
    organisation: str
    kind: WarehouseKind
    admin1_pcode: str
    admin2_pcode: str
    coordinates: Coordinates | None = None
    capacity_m3: float | None = None
    active: bool = True

    def validated(self) -> WarehouseDetails:
        if not self.name.strip():
            raise InvalidInput.of("name", "must not be blank")
        # A P-code nests: the cercle ML0501 (Mopti) lies in the region ML05 (Mopti).
        if not self.admin2_pcode.startswith(self.admin1_pcode):
            raise InvalidInput.of(
                "admin2_pcode",
                f"{self.admin2_pcode} is not inside {self.admin1_pcode}: an admin2 P-code starts "
                "with its admin1 P-code",
            )
        if self.capacity_m3 is not None and self.capacity_m3 <= 0:
            raise InvalidInput.of("capacity_m3", "must be greater than 0")
        return replace(self, name=self.name.strip())


@dataclass(frozen=True)
class WarehouseRegistered:
    warehouse: Warehouse


@dataclass(frozen=True)
class WarehouseChanged:
    warehouse: Warehouse


WarehouseEvent = WarehouseRegistered | WarehouseChanged


@dataclass
class Warehouse:
    code: str
    details: WarehouseDetails
    # The aggregate's version: 1 after registration, +1 per change. Events carry it so that
    # consumers can apply "only if newer".
    sequence: int = 0
    events: list[WarehouseEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def register(cls, code: str, details: WarehouseDetails) -> Warehouse:
        warehouse = cls(code=code, details=details.validated(), sequence=1)
        warehouse.events.append(WarehouseRegistered(warehouse.snapshot()))
        return warehouse

    def change(self, details: WarehouseDetails) -> bool:
        """Apply new details; return False (and record nothing) when nothing changed."""
        details = details.validated()
        if details == self.details:
            return False
        self.details = details
        self.sequence += 1
        self.events.append(WarehouseChanged(self.snapshot()))
        return True

    def snapshot(self) -> Warehouse:
        return Warehouse(code=self.code, details=self.details, sequence=self.sequence)
