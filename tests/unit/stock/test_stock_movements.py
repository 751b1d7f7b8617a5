"""The stock of one warehouse: movements, lots, transfers, kits, counts, reversals."""

from datetime import UTC, date, datetime, timedelta

import pytest
from kitflow_stock.domain.errors import Conflict, DuplicateDocument, InsufficientStock, InvalidInput
from kitflow_stock.domain.stock import (
    AdjustmentReason,
    CountedLine,
    InboundLine,
    IncomingTransfer,
    LowStockSignalled,
    MovementInfo,
    MovementLine,
    MovementRecorded,
    MovementType,
    NearExpirySignalled,
    OutboundLine,
    ReceivedLine,
    ReservationMode,
    ReservationStatus,
    TransferAnnounced,
    WarehouseStock,
)

NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
_counter = iter(range(1, 10_000))


def info(doc: str | None = None, **kw: str) -> MovementInfo:
    return MovementInfo(f"M{next(_counter)}", NOW, "fatou", document_number=doc, **kw)


def stocked(**items: int) -> WarehouseStock:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    stock.receive(info(), [InboundLine(item, qty) for item, qty in items.items()])
    stock.events.clear()
    return stock


def test_a_receipt_adds_stock_per_lot_and_records_the_running_balance() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    movement = stock.receive(
        info("GRN-1", counterparty="ECHO"),
        [
            InboundLine("SOAP", 100, "L1", date(2027, 6, 1)),
            InboundLine("SOAP", 50, "L2"),
            InboundLine("TARP", 20),
        ],
    )
    assert stock.balance("SOAP").on_hand == 150
    assert [line.on_hand_after for line in movement.lines] == [100, 150, 20]
    assert movement.lines[2].owner == "IOM"  # the warehouse's organisation by default
    [event] = stock.events
    assert isinstance(event, MovementRecorded)
    assert event.sequence == stock.sequence == 1
    assert [b.item for b in event.balances] == ["SOAP", "TARP"]


def test_a_grn_number_is_used_once_per_warehouse() -> None:
    stock = WarehouseStock("MOP-SUB")
    first = stock.receive(info("GRN-1"), [InboundLine("TARP", 5)])
    with pytest.raises(DuplicateDocument) as err:
        stock.receive(info("GRN-1"), [InboundLine("TARP", 5)])
    assert err.value.movement_id == first.id
    assert stock.balance("TARP").on_hand == 5


@pytest.mark.parametrize("qty", [0, -3])
def test_receipts_need_positive_quantities_and_change_nothing_otherwise(qty: int) -> None:
    stock = stocked(TARP=10)
    with pytest.raises(InvalidInput, match=r"lines\[1\]\.quantity"):
        stock.receive(info(), [InboundLine("TARP", 5), InboundLine("SOAP", qty)])
    assert stock.balance("TARP").on_hand == 10
    assert stock.events == []


def test_dispatch_picks_the_first_expiring_lot_first() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    stock.receive(
        info(),
        [
            InboundLine("SOAP", 10, "LATE", date(2028, 1, 1)),
            InboundLine("SOAP", 10, "EARLY", date(2027, 1, 1)),
            InboundLine("SOAP", 10, "NONE"),
        ],
    )
    movement = stock.dispatch(info("WB-1"), [OutboundLine("SOAP", 15)])
    assert [(line.lot, line.quantity) for line in movement.lines] == [("EARLY", -10), ("LATE", -5)]
    assert stock.balance("SOAP").on_hand == 15


def test_a_dispatch_beyond_what_is_available_says_how_much_is_and_changes_nothing() -> None:
    stock = stocked(TARP=10, SOAP=4)
    stock.reserve("L1", "P1", "TARP", 3, ReservationMode.PARTIAL, NOW + timedelta(days=7))
    with pytest.raises(InsufficientStock) as err:
        stock.dispatch(info("WB-1"), [OutboundLine("SOAP", 2), OutboundLine("TARP", 8)])
    assert err.value.available == 7
    assert stock.balance("SOAP").on_hand == 4
    assert "WB-1" not in stock.documents


def test_adjustment_reasons_go_one_way() -> None:
    stock = stocked(TARP=10)
    with pytest.raises(InvalidInput, match="must be negative"):
        stock.adjust(info(), AdjustmentReason.LOST, "TARP", 2)
    with pytest.raises(InvalidInput, match="must be positive"):
        stock.adjust(info(), AdjustmentReason.FOUND, "TARP", -2)
    stock.adjust(info(), AdjustmentReason.DAMAGED, "TARP", -3)
    stock.adjust(info(), AdjustmentReason.FOUND, "TARP", 1)
    assert stock.balance("TARP").on_hand == 8


def test_a_loss_cannot_eat_reserved_stock() -> None:
    stock = stocked(TARP=10)
    stock.reserve("L1", "P1", "TARP", 8, ReservationMode.PARTIAL, NOW)
    with pytest.raises(InsufficientStock):
        stock.adjust(info(), AdjustmentReason.LOST, "TARP", -3)


def test_reservations_partial_and_all_or_nothing() -> None:
    stock = stocked(TARP=10)
    expires = NOW + timedelta(days=3)
    partial = stock.reserve("L1", "P1", "TARP", 6, ReservationMode.PARTIAL, expires)
    assert (partial.status, partial.reserved) == (ReservationStatus.ACTIVE, 6)
    whole = stock.reserve("L2", "P1", "TARP", 6, ReservationMode.ALL_OR_NOTHING, expires)
    assert (whole.status, whole.reserved, whole.available) == (ReservationStatus.REJECTED, 0, 4)
    partial2 = stock.reserve("L3", "P1", "TARP", 6, ReservationMode.PARTIAL, expires)
    assert partial2.reserved == 4
    assert stock.balance("TARP").available == 0
    empty = stock.reserve("L4", "P1", "TARP", 1, ReservationMode.PARTIAL, expires)
    assert empty.status is ReservationStatus.REJECTED


def test_asking_again_for_the_same_line_changes_nothing() -> None:
    stock = stocked(TARP=10)
    stock.reserve("L1", "P1", "TARP", 6, ReservationMode.PARTIAL, NOW)
    events = len(stock.events)
    again = stock.reserve("L1", "P1", "TARP", 6, ReservationMode.PARTIAL, NOW)
    assert again.reserved == 6
    assert len(stock.events) == events
    assert stock.balance("TARP").reserved == 6


def test_a_release_that_overtakes_its_reservation_blocks_it() -> None:
    stock = stocked(TARP=10)
    assert not stock.release("L1", "P1", "TARP")
    late = stock.reserve("L1", "P1", "TARP", 5, ReservationMode.PARTIAL, NOW)
    assert late.status is ReservationStatus.RELEASED
    assert stock.balance("TARP").reserved == 0


def test_release_and_expiry_give_the_stock_back_once() -> None:
    stock = stocked(TARP=10)
    stock.reserve("L1", "P1", "TARP", 4, ReservationMode.PARTIAL, NOW - timedelta(hours=1))
    stock.reserve("L2", "P1", "TARP", 4, ReservationMode.PARTIAL, NOW + timedelta(days=1))
    assert stock.expire_reservations(NOW) == 1
    assert stock.reservations["L1"].status is ReservationStatus.EXPIRED
    assert stock.release("L2", "P1", "TARP")
    assert not stock.release("L2", "P1", "TARP")
    assert stock.balance("TARP").reserved == 0
    assert stock.balance("TARP").available == 10


def test_dispatching_a_reservation_issues_it_and_releases_the_remainder() -> None:
    stock = stocked(TARP=10)
    stock.reserve("L1", "P1", "TARP", 6, ReservationMode.PARTIAL, NOW)
    movement = stock.dispatch_reservation(info("WB-9"), "L1", 4)
    assert movement.plan_line_id == "L1"
    assert movement.type is MovementType.DISPATCH
    balance = stock.balance("TARP")
    assert (balance.on_hand, balance.reserved, balance.available) == (6, 0, 6)
    with pytest.raises(Conflict, match="dispatched"):
        stock.dispatch_reservation(info("WB-10"), "L1")


def test_a_transfer_is_in_transit_until_received_with_damage_and_shortfall_recorded() -> None:
    bamako = WarehouseStock("BKO-MAIN", owner="IOM")
    bamako.receive(info(), [InboundLine("TARP", 100, "T1", None)])
    out = bamako.transfer_out(info("WB-T1"), "TR-1", "MOP-SUB", [OutboundLine("TARP", 40)])
    assert bamako.balance("TARP").on_hand == 60
    mopti = WarehouseStock("MOP-SUB", owner="IOM")
    transfer = IncomingTransfer(
        "TR-1",
        "BKO-MAIN",
        tuple(
            MovementLine(line.item, -line.quantity, line.lot, line.expiry, line.owner)
            for line in out.lines
        ),
        NOW,
    )
    assert mopti.announce_transfer(transfer)
    assert not mopti.announce_transfer(transfer)  # redelivered: nothing more
    assert isinstance(mopti.events[0], TransferAnnounced)
    assert mopti.balance("TARP").in_transit == 40
    received = mopti.receive_transfer(
        info("GRN-M1"), "TR-1", [ReceivedLine("TARP", "T1", "IOM", 35, damaged=3)]
    )
    [line] = received.lines
    assert (line.quantity, line.damaged, line.missing) == (35, 3, 2)
    balance = mopti.balance("TARP")
    assert (balance.on_hand, balance.in_transit) == (35, 0)
    with pytest.raises(Conflict, match="already received"):
        mopti.receive_transfer(info(), "TR-1", [])
    assert not mopti.announce_transfer(transfer)  # a late duplicate after receipt


def test_receiving_more_than_was_sent_is_refused() -> None:
    mopti = WarehouseStock("MOP-SUB", owner="IOM")
    mopti.announce_transfer(
        IncomingTransfer("TR-1", "BKO", (MovementLine("TARP", 10, "", None, "IOM"),), NOW)
    )
    with pytest.raises(InvalidInput, match="only 10"):
        mopti.receive_transfer(info(), "TR-1", [ReceivedLine("TARP", "", "IOM", 11)])
    assert mopti.balance("TARP").in_transit == 10


def test_kits_are_assembled_from_and_broken_into_their_components() -> None:
    stock = stocked(TARP=10, ROPE=10, MAT=30)
    bom = [("TARP", 2), ("ROPE", 1), ("MAT", 3)]
    stock.assemble_kits(info(), "KIT-SHELTER", 4, bom)
    assert {i: stock.balance(i).on_hand for i in ("TARP", "ROPE", "MAT", "KIT-SHELTER")} == {
        "TARP": 2,
        "ROPE": 6,
        "MAT": 18,
        "KIT-SHELTER": 4,
    }
    with pytest.raises(InsufficientStock):
        stock.assemble_kits(info(), "KIT-SHELTER", 2, bom)
    stock.break_kits(info(), "KIT-SHELTER", 1, bom)
    assert stock.balance("TARP").on_hand == 4
    assert stock.balance("KIT-SHELTER").on_hand == 3


def test_a_count_turns_differences_into_count_corrections() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    stock.receive(info(), [InboundLine("TARP", 10, "A"), InboundLine("SOAP", 5)])
    movement = stock.apply_count(
        info(), [CountedLine("TARP", "A", "IOM", 8), CountedLine("SOAP", "", "IOM", 7)]
    )
    assert movement is not None
    assert movement.reason is AdjustmentReason.COUNT_CORRECTION
    assert sorted((line.item, line.quantity) for line in movement.lines) == [
        ("SOAP", 2),
        ("TARP", -2),
    ]
    assert stock.apply_count(info(), [CountedLine("TARP", "A", "IOM", 8)]) is None


def test_a_reversal_compensates_once_and_keeps_the_original() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    receipt = stock.receive(info("GRN-1"), [InboundLine("TARP", 10)])
    reversal = stock.reverse(info(), receipt)
    assert reversal.reverses == receipt.id
    assert stock.balance("TARP").on_hand == 0
    with pytest.raises(Conflict, match="already reversed"):
        stock.reverse(info(), receipt)
    with pytest.raises(Conflict, match="cannot be reversed"):
        stock.reverse(info(), reversal)


def test_the_reversal_of_a_plans_dispatch_names_the_plan_line_it_gives_back() -> None:
    stock = stocked(TARP=10)
    stock.reserve("P1:L1", "P1", "TARP", 6, ReservationMode.PARTIAL, NOW + timedelta(days=1))
    dispatch = stock.dispatch_reservation(info("WB-9"), "P1:L1")
    reversal = stock.reverse(info(), dispatch)
    # Not its plan_line_id: that names a dispatch, and this movement is none.
    assert (reversal.reversed_plan_line_id, reversal.plan_line_id) == ("P1:L1", None)
    assert stock.balance("TARP").available == 10
    plain = stock.dispatch(info("WB-10"), [OutboundLine("TARP", 2)])
    assert stock.reverse(info(), plain).reversed_plan_line_id is None


def test_a_receipt_whose_goods_left_cannot_be_reversed() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    receipt = stock.receive(info("GRN-1"), [InboundLine("TARP", 10)])
    stock.dispatch(info("WB-1"), [OutboundLine("TARP", 6)])
    with pytest.raises(InsufficientStock):
        stock.reverse(info(), receipt)
    assert stock.balance("TARP").on_hand == 4


def test_low_stock_is_signalled_when_crossing_the_minimum_and_rearmed_after() -> None:
    stock = stocked(TARP=10)
    stock.set_minimum("TARP", 5)
    stock.dispatch(info(), [OutboundLine("TARP", 4)])
    stock.dispatch(info(), [OutboundLine("TARP", 2)])
    stock.dispatch(info(), [OutboundLine("TARP", 1)])
    low = [e for e in stock.events if isinstance(e, LowStockSignalled)]
    assert len(low) == 1
    assert low[0].balance.available == 4
    stock.receive(info(), [InboundLine("TARP", 10)])
    stock.dispatch(info(), [OutboundLine("TARP", 10)])
    assert len([e for e in stock.events if isinstance(e, LowStockSignalled)]) == 2


def test_near_expiry_is_signalled_once_per_lot() -> None:
    stock = WarehouseStock("MOP-SUB", owner="IOM")
    stock.receive(
        info(),
        [
            InboundLine("SOAP", 10, "A", date(2027, 3, 1)),
            InboundLine("SOAP", 10, "B", date(2028, 3, 1)),
        ],
    )
    assert stock.signal_near_expiry(date(2026, 11, 28), timedelta(days=180)) == 1
    assert stock.signal_near_expiry(date(2026, 11, 28), timedelta(days=180)) == 0
    [event] = [e for e in stock.events if isinstance(e, NearExpirySignalled)]
    assert (event.lot, event.on_hand) == ("A", 10)


def test_every_event_gets_its_own_increasing_sequence() -> None:
    stock = stocked(TARP=10)
    stock.set_minimum("TARP", 9)
    stock.reserve("L1", "P1", "TARP", 5, ReservationMode.PARTIAL, NOW)
    sequences = [e.sequence for e in stock.events]
    assert sequences == list(range(2, 2 + len(sequences)))
    assert stock.sequence == sequences[-1]
