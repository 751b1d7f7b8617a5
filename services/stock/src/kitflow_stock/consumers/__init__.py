"""What stock subscribes to: one visible map from event type to handler.

- distribution's plans: reserve their lines, release them on cancellation, dispatch them, each
  request answered for every line (`reservations.answered.v1`), again when asked again;
- stock's own movements: a transfer that left one warehouse is announced to the other.
Every handler is idempotent: a redelivered or late message changes nothing.
"""

from __future__ import annotations

from kitflow_shared.contracts.distribution import (
    PLAN_APPROVED,
    PLAN_CANCELLED,
    PLAN_DISPATCH_REQUESTED,
)
from kitflow_shared.contracts.stock import MOVEMENT_RECORDED
from kitflow_shared.messaging.consumer import Handler

from kitflow_stock.handlers.plan_requests import PlanRequests
from kitflow_stock.handlers.stock import StockHandlers
from kitflow_stock.handlers.transfers import TransferArrivals


def subscriptions(stock: StockHandlers) -> dict[str, Handler]:
    plans = PlanRequests(stock)
    transfers = TransferArrivals(stock)
    return {
        PLAN_APPROVED.type: plans.approved,
        PLAN_CANCELLED.type: plans.cancelled,
        PLAN_DISPATCH_REQUESTED.type: plans.dispatch_requested,
        MOVEMENT_RECORDED.type: transfers.movement_recorded,
    }
