"""The composition root: what the distribution service adds to the service kit
(kitflow_shared.runtime)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from kitflow_shared.offload import BoundedPool
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.topics import DISTRIBUTION_EVENTS, DISTRIBUTION_GROUP
from kitflow_shared.web.request_keys import install_request_key_problems

from kitflow_distribution import SERVICE, __version__

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection
from kitflow_distribution.adapters import mongo_alerts, mongo_gaps, mongo_plans, mongo_views
from kitflow_distribution.adapters.mongo_alerts import (
    DeadLetterWatch,
    MongoStockAlerts,
    MongoWorkAlerts,
)
from kitflow_distribution.adapters.mongo_gap_cells import MongoGapView
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.adapters.mongo_plans import MongoCoverageRepository, MongoPlanRepository
from kitflow_distribution.adapters.mongo_views import (
    MongoNeedsView,
    MongoStockView,
    MongoWarehouseView,
)
from kitflow_distribution.api.errors import install_domain_error_handlers
from kitflow_distribution.api.routes import alerts, plans, views
from kitflow_distribution.api.routes import gaps as gaps_routes
from kitflow_distribution.config import DistributionSettings
from kitflow_distribution.consumers import batch_subscriptions, subscriptions
from kitflow_distribution.domain.planner import DraftPlan, PlanningProblem, plan_allocation
from kitflow_distribution.handlers.alerts import AlertQueries
from kitflow_distribution.handlers.plans import PlanHandlers, Planner, Solve
from kitflow_distribution.handlers.ports import AlertSource
from kitflow_distribution.handlers.projections import GapProjection


def create_app() -> FastAPI:
    settings = DistributionSettings()
    runtime = ServiceRuntime.of(
        SERVICE, settings, indexes=[*mongo_views.INDEXES, *mongo_plans.INDEXES, *mongo_gaps.INDEXES]
    )
    plans_db = runtime.collection(mongo_plans.PLANS)
    coverage_db = runtime.collection(mongo_plans.COVERAGE)
    runtime.relay(DISTRIBUTION_EVENTS, [plans_db, coverage_db])
    warehouse_view = MongoWarehouseView(runtime.collection(mongo_views.WAREHOUSES))
    stock_view = MongoStockView(runtime.collection(mongo_views.STOCK))
    needs_view = MongoNeedsView(runtime.collection(mongo_views.NEEDS))
    item_view = MongoItemView(runtime.collection(mongo_gaps.ITEMS))
    gap_view = MongoGapView(
        runtime.collection(mongo_gaps.GAPS),
        {kind: runtime.collection(name) for kind, name in mongo_gaps.CELLS.items()},
    )
    gaps = GapProjection(item_view, gap_view)
    stock_alerts = MongoStockAlerts(
        runtime.collection(mongo_alerts.STOCK_ALERTS), runtime.collection(mongo_views.STOCK)
    )
    plan_handlers = PlanHandlers(
        plans=MongoPlanRepository(plans_db, runtime.notify),
        coverage=MongoCoverageRepository(coverage_db, runtime.notify),
        warehouses=warehouse_view,
        stock=stock_view,
        needs=needs_view,
        answer_within=settings.reservation_answer_timeout,
        reservations_last=settings.reservation_life,
        max_lines=settings.max_plan_lines,
        solve=_planner(runtime, settings),
    )
    ports = (warehouse_view, stock_view, needs_view, plan_handlers, gaps, stock_alerts)
    runtime.consume(
        DISTRIBUTION_GROUP, subscriptions(*ports), batch_handlers=batch_subscriptions(*ports)
    )
    # Lines whose answer from stock is overdue are asked again (stock answers again).
    runtime.add_periodic(
        "reservation-timeouts",
        settings.timeout_check_interval_s,
        plan_handlers.ask_again_where_unanswered,
        wait_first=True,
    )
    # Gap cell changes a crash left half done, when the need has no later event (ADR 0027).
    runtime.add_periodic(
        "gap-cells-pending",
        settings.gap_settle_interval_s,
        gap_view.settle_pending,
        wait_first=True,
    )
    sources = _alert_sources(runtime, settings, plans_db, stock_alerts)

    app = runtime.create_app(
        title="kitflow distribution",
        description="Read models of stock and needs built from events, the allocation planner, "
        "plans from draft to delivery, and 5W reports. Reached through the gateway.",
        version=__version__,
    )
    install_domain_error_handlers(app)
    install_request_key_problems(app)
    app.state.warehouse_view = warehouse_view
    app.state.stock_view = stock_view
    app.state.needs_view = needs_view
    app.state.item_view = item_view
    app.state.gap_view = gap_view
    app.state.alerts = AlertQueries(sources)
    app.state.plans = plan_handlers
    app.include_router(views.router)
    app.include_router(plans.router)
    app.include_router(gaps_routes.router)
    app.include_router(alerts.router)
    return app


def _alert_sources(
    runtime: ServiceRuntime,
    settings: DistributionSettings,
    plans_db: AsyncCollection[dict[str, Any]],
    stock_alerts: MongoStockAlerts,
) -> list[AlertSource]:
    """What `GET /v1/alerts` reads: stock's signals, the plans and needs waiting, and the
    dead letters (when there is a broker to read them from)."""
    work_alerts = MongoWorkAlerts(
        plans_db, runtime.collection(mongo_views.NEEDS), settings.reservation_warning
    )
    sources: list[AlertSource] = [stock_alerts, work_alerts]
    if runtime.kafka is not None:
        dead = DeadLetterWatch(runtime.kafka.bootstrap_servers, runtime.common.namespace)
        # Every replica keeps its own count of dead letters for its alerts: not one owner.
        runtime.add_periodic(
            "dead-letters", settings.dead_letter_check_interval_s, dead.refresh, one_owner=False
        )
        sources.append(dead)
    return sources


def _planner(runtime: ServiceRuntime, settings: DistributionSettings) -> Solve:
    """The planner off the event loop, in a bounded pool (ADR 0028). Threads, not processes:
    as responsive (HiGHS releases the GIL while it solves) without a copy of the service per
    worker, and the planner's errors need not be pickled."""
    pool = BoundedPool(
        "planner",
        workers=settings.planner_workers,
        queue_limit=settings.planner_queue_limit,
        kind="thread",
        retry_after_s=settings.planner_retry_after_s,
    )

    async def solve(problem: PlanningProblem, planner: Planner = plan_allocation, /) -> DraftPlan:
        return await pool.run(planner, problem)

    async def close() -> None:
        pool.close()

    runtime.add_closer(close)
    return solve
