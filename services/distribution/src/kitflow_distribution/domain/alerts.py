"""Alerts (issue 16): what is stuck and why, in one list, newest first.

Each source (stock's low-stock and near-expiry signals, plans, needs, dead letters) gives
alerts with the moment they arose; this module only decides what is still an alert and the
order, so that the list reads the same whatever the source."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    LOW_STOCK = "low-stock"
    NEAR_EXPIRY = "near-expiry"
    PLAN_WAITING_ON_STOCK = "plan-waiting-on-stock"
    RESERVATION_EXPIRING = "reservation-expiring"
    NEED_WAITING_FOR_VALIDATION = "need-waiting-for-validation"
    DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    at: datetime
    subject: str = field(metadata={"doc": "what it is about: a warehouse/item, plan, need ..."})
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def still_low(available: int | None, minimum: int) -> bool:
    """A low-stock signal stays an alert while the item's available stock is below minimum."""
    return available is not None and available < minimum


def expiring(expires_at: datetime | None, now: datetime, within: timedelta) -> bool:
    """A reservation still held that lapses within `within` (or has lapsed unanswered)."""
    return expires_at is not None and expires_at <= now + within


def lot_still_counts(expiry: date, today: date, keep_expired_for: timedelta) -> bool:
    """A lot signalled near expiry stays listed until a while after it expired."""
    return today <= expiry + keep_expired_for


def newest_first(alerts: Iterable[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.at, a.kind.value, a.subject), reverse=True)
