"""What distribution subscribes to: one visible map from event type to handler.

- stock: warehouses and balances (read models), low-stock and near-expiry signals (alerts),
  reservation answers and dispatches (plans):
  `reservations.answered.v1` (all the lines of one request at once) and, from stock's own API
  or older versions, the per-line `reservation.*` events and dispatch movements;
- stock's catalogue: each item's sector and unit (the gap view files items by sector);
- needs: the needs' states (read model, and the gap view);
- its own plans' states: folded into each need's coverage, published to the needs service.

`batch_subscriptions`: the types whose poll's records are applied together (ADR 0033): the
warehouse and needs views in one bulk write per poll and partition. Balances stay one by one
(their events also move plans, in order with the answers).
"""

from __future__ import annotations

from kitflow_shared.contracts import distribution as plans_contract
from kitflow_shared.contracts import stock as stock_contract
from kitflow_shared.messaging.consumer import BatchHandler, Handler

from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.events import DistributionEvents
from kitflow_distribution.handlers.plans import PlanHandlers
from kitflow_distribution.handlers.ports import NeedsView, StockAlerts, StockView, WarehouseView


def subscriptions(
    warehouses: WarehouseView,
    stock: StockView,
    needs: NeedsView,
    plans: PlanHandlers,
    gaps: projections.GapProjection,
    stock_alerts: StockAlerts,
) -> dict[str, Handler]:
    events = DistributionEvents(warehouses, stock, needs, plans, gaps, stock_alerts)
    handlers: dict[str, Handler] = {
        stock_contract.WAREHOUSE_REGISTERED.type: events.on_warehouse,
        stock_contract.WAREHOUSE_UPDATED.type: events.on_warehouse,
        stock_contract.RESERVATION_REJECTED.type: events.on_reservation_answer,
        plans_contract.PLAN_UPDATED.type: events.on_plan_updated,
        stock_contract.NEAR_EXPIRY.type: events.on_near_expiry,
    }
    handlers.update({spec.type: events.on_balances for spec in projections.BALANCE_EVENTS})
    handlers.update({spec.type: events.on_need for spec in projections.NEED_EVENTS})
    handlers.update({spec.type: events.on_item for spec in projections.ITEM_EVENTS})
    return handlers


def batch_subscriptions(
    warehouses: WarehouseView,
    stock: StockView,
    needs: NeedsView,
    plans: PlanHandlers,
    gaps: projections.GapProjection,
    stock_alerts: StockAlerts,
) -> dict[str, BatchHandler]:
    events = DistributionEvents(warehouses, stock, needs, plans, gaps, stock_alerts)
    handlers: dict[str, BatchHandler] = {
        stock_contract.WAREHOUSE_REGISTERED.type: events.on_warehouses,
        stock_contract.WAREHOUSE_UPDATED.type: events.on_warehouses,
    }
    handlers.update({spec.type: events.on_needs for spec in projections.NEED_EVENTS})
    return handlers
