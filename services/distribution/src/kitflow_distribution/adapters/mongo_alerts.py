"""Where alerts come from: stock's low-stock and near-expiry signals (kept in a view), plans
and needs (distribution's own documents and views, read with a projection), and the dead-letter
topics (read by a periodic job, not on each request)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from kitflow_shared import dead_letters
from kitflow_shared.contracts.stock import LowStock, NearExpiry
from kitflow_shared.messaging.idempotency import Applied, apply_if_newer
from pymongo.asynchronous.collection import AsyncCollection

from kitflow_distribution.domain.alerts import (
    Alert,
    AlertKind,
    expiring,
    lot_still_counts,
    still_low,
)

STOCK_ALERTS = "stock_alert_view"
# An expired lot stays listed this long after its date: someone must still take it off a shelf.
KEEP_EXPIRED_LOTS = timedelta(days=30)
Document = dict[str, Any]
log = logging.getLogger(__name__)


class MongoStockAlerts:
    """Stock's signals, one document per warehouse and item (low) or lot (near expiry)."""

    def __init__(self, alerts: AsyncCollection[Document], stock: AsyncCollection[Document]):
        self._alerts, self._stock = alerts, stock

    async def low(self, signal: LowStock, at: datetime, sequence: int) -> Applied:
        return await apply_if_newer(
            self._alerts,
            f"low/{signal.warehouse}/{signal.balance.item_code}",
            sequence,
            {
                "$set": {
                    "kind": AlertKind.LOW_STOCK.value,
                    "at": at,
                    "warehouse": signal.warehouse,
                    "item_code": signal.balance.item_code,
                    "minimum": signal.minimum,
                }
            },
        )

    async def near_expiry(self, signal: NearExpiry, at: datetime, sequence: int) -> Applied:
        return await apply_if_newer(
            self._alerts,
            f"expiry/{signal.warehouse}/{signal.item_code}/{signal.lot}",
            sequence,
            # JSON mode: BSON has no plain date, so the expiry is kept as its ISO text.
            {
                "$set": {
                    "kind": AlertKind.NEAR_EXPIRY.value,
                    "at": at,
                    **signal.model_dump(mode="json"),
                }
            },
        )

    async def alerts(self, now: datetime) -> list[Alert]:
        available = {
            doc["_id"]: doc["balance"]["available"]
            async for doc in self._stock.find({}, {"balance.available": 1})
        }
        out = []
        async for doc in self._alerts.find({}):
            at = doc["at"].replace(tzinfo=UTC)
            if doc["kind"] == AlertKind.LOW_STOCK.value:
                left = available.get(f"{doc['warehouse']}/{doc['item_code']}")
                if still_low(left, doc["minimum"]):
                    out.append(
                        Alert(
                            AlertKind.LOW_STOCK,
                            at,
                            f"{doc['warehouse']}/{doc['item_code']}",
                            f"{left} available, below the minimum of {doc['minimum']}",
                            {"available": left, "minimum": doc["minimum"]},
                        )
                    )
            else:
                expiry = datetime.fromisoformat(str(doc["expiry"])).date()
                if lot_still_counts(expiry, now.date(), KEEP_EXPIRED_LOTS):
                    out.append(
                        Alert(
                            AlertKind.NEAR_EXPIRY,
                            at,
                            f"{doc['warehouse']}/{doc['item_code']}/{doc['lot']}",
                            f"{doc['on_hand']} on hand expire on {expiry.isoformat()}",
                            {"expiry": expiry.isoformat(), "on_hand": doc["on_hand"]},
                        )
                    )
        return out


class MongoWorkAlerts:
    """Plans waiting on stock or whose reservation is about to lapse; needs waiting for a
    coordinator's validation."""

    def __init__(
        self,
        plans: AsyncCollection[Document],
        needs: AsyncCollection[Document],
        reservation_warning: timedelta,
    ) -> None:
        self._plans, self._needs = plans, needs
        self._warning = reservation_warning

    async def alerts(self, now: datetime) -> list[Alert]:
        return [*(await self._plan_alerts(now)), *(await self._need_alerts())]

    async def _plan_alerts(self, now: datetime) -> list[Alert]:
        out = []
        held = {"status": {"$in": ["reserved", "partly-reserved"]}}
        fields = {"title": 1, "status": 1, "approved_at": 1, "reservation_expires_at": 1}
        async for doc in self._plans.find(held, fields):
            approved = _utc(doc.get("approved_at")) or now
            expires = _utc(doc.get("reservation_expires_at"))
            if doc["status"] == "partly-reserved":
                out.append(
                    Alert(
                        AlertKind.PLAN_WAITING_ON_STOCK,
                        approved,
                        doc["_id"],
                        f"{doc['title']}: stock could not reserve every line",
                    )
                )
            if expiring(expires, now, self._warning):
                assert expires is not None
                # Raised when it entered the warning window, so it sorts with what is new.
                out.append(
                    Alert(
                        AlertKind.RESERVATION_EXPIRING,
                        max(approved, expires - self._warning),
                        doc["_id"],
                        f"{doc['title']}: the reservation lapses at {expires.isoformat()}",
                        {"expires_at": expires.isoformat()},
                    )
                )
        return out

    async def _need_alerts(self) -> list[Alert]:
        fields = {"changed_at": 1, "state.organisation": 1, "state.site_name": 1}
        return [
            Alert(
                AlertKind.NEED_WAITING_FOR_VALIDATION,
                _utc(doc.get("changed_at")) or datetime.min.replace(tzinfo=UTC),
                doc["_id"],
                f"{doc['state']['organisation']}: {doc['state'].get('site_name') or doc['_id']}",
                {"organisation": doc["state"]["organisation"]},
            )
            async for doc in self._needs.find({"state.status": "submitted"}, fields)
        ]


def _utc(moment: datetime | None) -> datetime | None:
    # The store gives back naive UTC datetimes.
    return moment.replace(tzinfo=UTC) if moment is not None else None


class DeadLetterWatch:
    """The dead letters no `replay --all` has replayed yet, on every dead-letter topic; read
    by a periodic job (a read of every topic takes seconds), answered from memory."""

    def __init__(self, bootstrap_servers: str, namespace: str) -> None:
        self._bootstrap, self._namespace = bootstrap_servers, namespace
        self._waiting: list[Alert] = []

    async def refresh(self) -> None:
        waiting = []
        for topic in dead_letters.dead_letter_topics(self._namespace):
            letters = await dead_letters.read(self._bootstrap, topic)
            if not letters:
                continue
            replayed = await dead_letters.replayed_up_to(self._bootstrap, topic)
            for letter in letters:
                if letter.offset < replayed.get(letter.partition, 0):
                    continue
                why = letter.why
                waiting.append(
                    Alert(
                        AlertKind.DEAD_LETTER,
                        letter.parked_at,
                        f"{topic}:{letter.ref}",
                        why.get("reason", "parked"),
                        {"topic": topic, "ref": letter.ref, **why},
                    )
                )
        self._waiting = waiting

    async def alerts(self, now: datetime) -> list[Alert]:
        return list(self._waiting)
