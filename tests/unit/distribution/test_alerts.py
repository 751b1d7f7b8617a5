"""What is still an alert, and the order of the one list."""

from datetime import UTC, date, datetime, timedelta

from kitflow_distribution.domain.alerts import (
    Alert,
    AlertKind,
    expiring,
    lot_still_counts,
    newest_first,
    still_low,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_one_list_newest_first_whatever_the_source() -> None:
    old = Alert(AlertKind.DEAD_LETTER, NOW - timedelta(days=2), "dlq:0:3", "parked")
    new = Alert(AlertKind.LOW_STOCK, NOW, "GAO/KIT-NFI", "low")
    mid = Alert(AlertKind.NEED_WAITING_FOR_VALIDATION, NOW - timedelta(hours=1), "N1", "wait")
    assert newest_first([old, new, mid]) == [new, mid, old]


def test_low_stock_ends_when_the_stock_is_back_above_its_minimum() -> None:
    assert still_low(available=10, minimum=50)
    assert not still_low(available=50, minimum=50)
    assert not still_low(available=None, minimum=50)


def test_a_reservation_is_expiring_within_the_horizon_only() -> None:
    day = timedelta(hours=24)
    assert expiring(NOW + timedelta(hours=3), NOW, day)
    assert expiring(NOW - timedelta(hours=1), NOW, day)
    assert not expiring(NOW + timedelta(days=3), NOW, day)
    assert not expiring(None, NOW, day)


def test_an_expired_lot_stays_listed_for_a_while_then_goes() -> None:
    week = timedelta(days=7)
    assert lot_still_counts(date(2026, 12, 1), date(2026, 12, 6), week)
    assert not lot_still_counts(date(2026, 11, 1), date(2026, 12, 6), week)
