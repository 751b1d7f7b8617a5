"""Stock's request and response bodies (XCreate, XPublic) for the warehouse routes, and their
translation from the domain."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from kitflow_shared.contracts.common import OrganisationId
from kitflow_shared.contracts.distribution import LineId
from kitflow_shared.contracts.stock import ItemCode, WarehouseCode
from kitflow_shared.text import (
    MultilineText,
    PlainText,
    Quantity,
    QuantityOrZero,
    SignedQuantity,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kitflow_stock.domain.counts import Count
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    ItemBalance,
    Movement,
    ReservationMode,
    ReservationStatus,
)

# Document numbers become keys in the stored stock: one line of printable text.
DocNumber = Annotated[PlainText, Field(min_length=1, max_length=64)]
Text = Annotated[PlainText, Field(min_length=1, max_length=500)]
Note = Annotated[MultilineText, Field(min_length=1, max_length=500)]
Lot = Annotated[PlainText, Field(max_length=64)]
# A typing error (0202 for 2022, 9999) would sort a lot first or last for first-expiry-first-out.
Expiry = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]
# Not in the future either (checked against the clock when the movement is recorded).
OccurredAt = Annotated[AwareDatetime, Field(ge=datetime(2000, 1, 1, tzinfo=UTC))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReceiptLineIn(_Strict):
    item_code: ItemCode
    quantity: Quantity
    lot: Lot = ""
    expiry: Expiry | None = None
    owner: OrganisationId | None = Field(
        default=None, description="Who owns the goods (default: the warehouse's organisation)"
    )


class ReceiptCreate(_Strict):
    """A goods-received note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "grn_number": "GRN-MOP-2026-0141",
                    "waybill_number": "WB-ECHO-7781",
                    "source": "ECHO",
                    "lines": [
                        {"item_code": "TARPAULIN-4X6", "quantity": 400, "lot": "T-2026-11"},
                        {
                            "item_code": "SOAP-BAR-250G",
                            "quantity": 2000,
                            "lot": "S-88",
                            "expiry": "2028-06-30",
                        },
                    ],
                }
            ]
        },
    )

    grn_number: DocNumber
    waybill_number: DocNumber | None = None
    source: Text = Field(description="Donor or supplier")
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=500)


class OutboundLineIn(_Strict):
    item_code: ItemCode
    quantity: Quantity
    lot: Lot | None = Field(default=None, description="None: first-expiry-first-out across lots")


class DispatchCreate(_Strict):
    waybill_number: DocNumber
    destination: Text = Field(description="Distribution site or partner, with its P-code")
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[OutboundLineIn] = Field(min_length=1, max_length=500)


class AdjustmentCreate(_Strict):
    item_code: ItemCode
    quantity: SignedQuantity = Field(
        description="Signed: negative for lost, damaged, expired; positive "
        "for found; either for a count correction"
    )
    reason: AdjustmentReason
    lot: Lot = ""
    occurred_at: OccurredAt | None = None
    note: Note | None = None


class TransferCreate(_Strict):
    to_warehouse: WarehouseCode
    waybill_number: DocNumber
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[OutboundLineIn] = Field(min_length=1, max_length=500)


class ReceivedLineIn(_Strict):
    item_code: ItemCode
    lot: Lot = ""
    owner: OrganisationId
    received: QuantityOrZero
    damaged: QuantityOrZero = 0


class TransferReceiptCreate(_Strict):
    grn_number: DocNumber | None = None
    occurred_at: OccurredAt | None = None
    note: Note | None = None
    lines: list[ReceivedLineIn] = Field(
        max_length=500, description="Lines not listed arrived with nothing (all missing)"
    )


class KittingCreate(_Strict):
    kit_code: ItemCode
    count: Quantity
    action: Literal["assemble", "break"]
    occurred_at: OccurredAt | None = None
    note: Note | None = None


class CountedLineIn(_Strict):
    item_code: ItemCode
    lot: Lot = ""
    owner: OrganisationId | None = None
    counted: QuantityOrZero
    expiry: Expiry | None = None


class CountCreate(_Strict):
    lines: list[CountedLineIn] = Field(min_length=1, max_length=2000)


class ReversalCreate(_Strict):
    note: Note = Field(description="Why the movement is undone")


class MinimumSet(_Strict):
    minimum: QuantityOrZero = Field(description="Signal low stock below this available quantity")


class ReservationCreate(_Strict):
    line_id: LineId
    plan_id: PlainText = Field(min_length=1, max_length=80)
    item_code: ItemCode
    quantity: Quantity
    mode: ReservationMode = ReservationMode.PARTIAL
    expires_at: AwareDatetime = Field(description="In the future, within 90 days")


class ReservationDispatch(_Strict):
    waybill_number: DocNumber
    destination: Text
    quantity: Quantity | None = None


class MovementLineOut(BaseModel):
    item_code: str
    quantity: int
    lot: str
    expiry: date | None
    owner: str
    on_hand_after: int
    damaged: int
    missing: int


class MovementPublic(BaseModel):
    movement_id: str
    kind: str
    occurred_at: datetime
    recorded_by: str
    document_number: str | None
    counterparty: str | None
    reason: str | None
    note: str | None
    transfer_id: str | None
    reverses: str | None
    plan_line_id: str | None
    lines: list[MovementLineOut]

    @classmethod
    def of(cls, m: Movement) -> MovementPublic:
        return cls(
            movement_id=m.id,
            kind=m.type.value,
            occurred_at=m.occurred_at,
            recorded_by=m.recorded_by,
            document_number=m.document_number,
            counterparty=m.counterparty,
            reason=m.reason.value if m.reason else None,
            note=m.note,
            transfer_id=m.transfer_id,
            reverses=m.reverses,
            plan_line_id=m.plan_line_id,
            lines=[
                MovementLineOut(
                    item_code=x.item,
                    quantity=x.quantity,
                    lot=x.lot,
                    expiry=x.expiry,
                    owner=x.owner,
                    on_hand_after=x.on_hand_after,
                    damaged=x.damaged,
                    missing=x.missing,
                )
                for x in m.lines
            ],
        )


class LotPublic(BaseModel):
    lot: str
    expiry: date | None
    owner: str
    on_hand: int


class BalancePublic(BaseModel):
    item_code: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int
    minimum: int
    low: bool
    lots: list[LotPublic]

    @classmethod
    def of(cls, b: ItemBalance) -> BalancePublic:
        return cls(
            item_code=b.item,
            on_hand=b.on_hand,
            reserved=b.reserved,
            available=b.available,
            in_transit=b.in_transit,
            minimum=b.minimum,
            low=b.minimum > 0 and b.available < b.minimum,
            lots=[
                LotPublic(lot=x.lot, expiry=x.expiry, owner=x.owner, on_hand=x.on_hand)
                for x in b.lots
            ],
        )


class StockPublic(BaseModel):
    warehouse: str
    version: int
    items: list[BalancePublic]
    transfers_in_transit: list[str]


class StockCardPage(BaseModel):
    warehouse: str
    item_code: str
    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class ReservationPublic(BaseModel):
    line_id: str
    plan_id: str
    item_code: str
    requested: int
    reserved: int
    status: ReservationStatus
    mode: ReservationMode
    expires_at: datetime | None
    available_now: int | None = None


class CountLinePublic(BaseModel):
    item: str
    lot: str
    owner: str
    counted: int
    expiry: date | None


class CountPublic(BaseModel):
    count_id: str
    warehouse: str
    status: str = Field(description="draft, submitting (for a moment), submitted")
    lines: list[CountLinePublic]
    movement_id: str | None = Field(description="The count correction, once submitted")

    @classmethod
    def of(cls, count: Count) -> CountPublic:
        return cls(
            count_id=count.count_id,
            warehouse=count.warehouse,
            status=count.status.value,
            lines=[
                CountLinePublic(
                    item=x.item, lot=x.lot, owner=x.owner, counted=x.counted, expiry=x.expiry
                )
                for x in count.lines
            ],
            movement_id=count.movement_id,
        )
