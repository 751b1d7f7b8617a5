"""Stock's near-expiry signal kept in the real store, and listed as an alert."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from kitflow_distribution.adapters import mongo_alerts, mongo_views
from kitflow_distribution.adapters.mongo_alerts import MongoStockAlerts
from kitflow_distribution.domain.alerts import AlertKind
from kitflow_shared.contracts.stock import NearExpiry
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra


async def test_a_near_expiry_signal_is_kept_and_listed(db: AsyncDatabase[dict[str, Any]]) -> None:
    alerts = MongoStockAlerts(db[mongo_alerts.STOCK_ALERTS], db[mongo_views.STOCK])
    lot = NearExpiry(
        warehouse="WH-MOPTI",
        item_code="KIT-NFI",
        lot="L-7",
        owner="IOM",
        expiry=date(2027, 1, 3),
        on_hand=40,
    )
    now = datetime(2026, 12, 6, tzinfo=UTC)
    await alerts.near_expiry(lot, now, 1)
    [alert] = await alerts.alerts(now)
    assert alert.kind is AlertKind.NEAR_EXPIRY
    assert alert.data == {"expiry": "2027-01-03", "on_hand": 40}
