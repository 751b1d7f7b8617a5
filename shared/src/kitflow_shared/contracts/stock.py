"""Events published by the stock service on `kitflow.stock.events` (owned by stock)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from kitflow_shared.contracts.common import Admin1Pcode, Admin2Pcode, GeoPoint, OrganisationId
from kitflow_shared.events.registry import registry

WarehouseCode = Annotated[
    str, StringConstraints(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
]


class WarehouseType(StrEnum):
    MAIN = "main"
    SUB_OFFICE = "sub-office"
    PARTNER = "partner"


class WarehouseState(BaseModel):
    """A warehouse as it is after the change (state-carrying: consumers need nothing else)."""

    model_config = ConfigDict(extra="forbid")

    code: WarehouseCode
    name: str = Field(min_length=1, max_length=200)
    organisation: OrganisationId
    type: WarehouseType
    admin1_pcode: Admin1Pcode
    admin2_pcode: Admin2Pcode
    location: GeoPoint | None = None
    capacity_m3: float | None = Field(default=None, gt=0)
    active: bool = True


def warehouse_subject(code: str) -> str:
    """The aggregate id used as event subject and Kafka key."""
    return f"warehouse/{code}"


WAREHOUSE_REGISTERED = registry.register(
    "org.kitflow.stock.warehouse.registered.v1",
    WarehouseState,
    service="stock",
    description="A warehouse was registered; carries its full state.",
)
WAREHOUSE_UPDATED = registry.register(
    "org.kitflow.stock.warehouse.updated.v1",
    WarehouseState,
    service="stock",
    description="A warehouse's details changed; carries its full state after the change.",
)


# --- stock balances, movements and reservations (subject: stock/<warehouse code>) -------------

ItemCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
]


def stock_subject(warehouse: str) -> str:
    """One warehouse's stock is one aggregate; its events share this key and stay in order."""
    return f"stock/{warehouse}"


class BalanceState(BaseModel):
    """One item's balance in the warehouse after the change."""

    model_config = ConfigDict(extra="forbid")

    item_code: ItemCode
    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)
    available: int = Field(ge=0)
    in_transit: int = Field(ge=0, description="On its way here by transfer")


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    DISPATCH = "dispatch"
    TRANSFER_OUT = "transfer-out"
    TRANSFER_IN = "transfer-in"
    ADJUSTMENT = "adjustment"
    KIT_ASSEMBLY = "kit-assembly"
    KIT_BREAKDOWN = "kit-breakdown"
    REVERSAL = "reversal"


class MovementLineState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: ItemCode
    quantity: int = Field(description="Signed: + into the warehouse, - out of it")
    lot: str = ""
    expiry: date | None = None
    owner: str = Field(description="The organisation that owns the goods")
    on_hand_after: int = Field(ge=0, description="The item's on hand after this line")
    damaged: int = Field(default=0, ge=0)
    missing: int = Field(default=0, ge=0)


class MovementState(BaseModel):
    """A ledger entry: never edited; undone only by a reversal."""

    model_config = ConfigDict(extra="forbid")

    movement_id: str
    kind: MovementKind
    warehouse: WarehouseCode
    occurred_at: AwareDatetime
    recorded_by: str
    document_number: str | None = None
    counterparty: str | None = None
    reason: str | None = None
    note: str | None = None
    transfer_id: str | None = None
    reverses: str | None = None
    plan_line_id: str | None = Field(
        default=None, description="For a dispatch of a plan's reservation: the plan line it issues"
    )
    reversed_plan_line_id: str | None = Field(
        default=None,
        description="For the reversal of such a dispatch: the plan line whose dispatch it undoes",
    )
    lines: list[MovementLineState]


class MovementRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    movement: MovementState
    balances: list[BalanceState]


class ReservationState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str
    plan_id: str
    warehouse: WarehouseCode
    item_code: ItemCode
    requested: int = Field(ge=0)
    reserved: int = Field(ge=0)
    status: str = Field(examples=["active", "rejected", "released", "expired", "dispatched"])
    mode: str = Field(examples=["partial", "all-or-nothing"])
    expires_at: AwareDatetime | None = None


class ReservationConfirmed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reservation: ReservationState
    balance: BalanceState


class ReservationRejected(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reservation: ReservationState
    available: int = Field(ge=0, description="What was available when the request came")
    reason: str


class ReservationReleased(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reservation: ReservationState
    balance: BalanceState
    reason: str = Field(examples=["cancelled", "expired", "remainder after dispatch"])


class ReservationAnswer(BaseModel):
    """What became of one plan line's reservation, as stock answers a plan's request."""

    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=80)
    item_code: ItemCode | None = Field(
        default=None, description="None only when stock never had a reservation for the line"
    )
    status: str = Field(
        examples=["active", "rejected", "released", "expired", "dispatched", "unknown"],
        description="unknown: stock has no reservation for the line (nothing is held)",
    )
    requested: int = Field(ge=0)
    reserved: int = Field(
        ge=0, description="Held now (active), or issued (dispatched); what was held otherwise"
    )
    reason: str | None = Field(
        default=None, description="Why not all of it was reserved, or why it is no longer held"
    )
    available: int | None = Field(
        default=None, ge=0, description="Available when the request came (rejected, partial)"
    )
    expires_at: AwareDatetime | None = None


class ReservationsAnswered(BaseModel):
    """Stock's answer to one request of a plan (reserve, release or dispatch some lines in one
    warehouse, applied in one atomic change), or to the same request asked again."""

    model_config = ConfigDict(extra="forbid")

    plan_id: str = Field(min_length=1, max_length=80)
    answers: list[ReservationAnswer] = Field(min_length=1)
    balances: list[BalanceState] = Field(description="The items' balances after the change")


class TransferInTransit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transfer_id: str
    from_warehouse: WarehouseCode
    to_warehouse: WarehouseCode
    lines: list[MovementLineState]
    balances: list[BalanceState]


class LowStock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse: WarehouseCode
    balance: BalanceState
    minimum: int = Field(ge=0)


class NearExpiry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse: WarehouseCode
    item_code: ItemCode
    lot: str
    owner: str
    expiry: date
    on_hand: int = Field(ge=0)


MOVEMENT_RECORDED = registry.register(
    "org.kitflow.stock.movement.recorded.v1",
    MovementRecorded,
    service="stock",
    description="A movement entered the ledger; carries it and the balances after it.",
)
RESERVATION_CONFIRMED = registry.register(
    "org.kitflow.stock.reservation.confirmed.v1",
    ReservationConfirmed,
    service="stock",
    description="Stock was reserved for a plan line (fully or partly); carries the balance.",
)
RESERVATION_REJECTED = registry.register(
    "org.kitflow.stock.reservation.rejected.v1",
    ReservationRejected,
    service="stock",
    description="Nothing could be reserved for a plan line; says what was available.",
)
RESERVATION_RELEASED = registry.register(
    "org.kitflow.stock.reservation.released.v1",
    ReservationReleased,
    service="stock",
    description="Reserved stock was given back (plan cancelled, reservation expired, or the "
    "remainder after a smaller dispatch); carries the balance.",
)
RESERVATIONS_ANSWERED = registry.register(
    "org.kitflow.stock.reservations.answered.v1",
    ReservationsAnswered,
    service="stock",
    description="Stock's answer to a plan's request for some of its lines in one warehouse "
    "(reserve, release, dispatch; one event per request of at most 500 lines): each line's "
    "reservation as it now is, with why where not all was reserved or it is no longer held; "
    "carries the balances after it. A request asked again is answered again, unchanged. When "
    "lines are dispatched it comes before their `movement.recorded` events. Reservations that "
    "expire are answered this way too, per plan.",
)
TRANSFER_IN_TRANSIT = registry.register(
    "org.kitflow.stock.transfer.in-transit.v1",
    TransferInTransit,
    service="stock",
    description="A transfer to this warehouse left its origin; counted as in transit here.",
)
LOW_STOCK = registry.register(
    "org.kitflow.stock.balance.low.v1",
    LowStock,
    service="stock",
    description="An item's available quantity fell below the warehouse's minimum.",
)
NEAR_EXPIRY = registry.register(
    "org.kitflow.stock.lot.near-expiry.v1",
    NearExpiry,
    service="stock",
    description="A lot in stock expires within the warning horizon (signalled once per lot).",
)
