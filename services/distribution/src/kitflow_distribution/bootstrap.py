"""The composition root: settings, connections, adapters, consumers and the API, wired once."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import DISTRIBUTION_EVENTS, DISTRIBUTION_GROUP
from kitflow_shared.web.app import create_service_app
from kitflow_shared.web.request_keys import install_request_key_problems

from kitflow_distribution import SERVICE, __version__
from kitflow_distribution.adapters import mongo_plans, mongo_views
from kitflow_distribution.adapters.mongo_plans import MongoCoverageRepository, MongoPlanRepository
from kitflow_distribution.adapters.mongo_views import (
    MongoNeedsView,
    MongoStockView,
    MongoWarehouseView,
)
from kitflow_distribution.api.errors import install_domain_error_handlers
from kitflow_distribution.api.routes import plans, views
from kitflow_distribution.config import DistributionSettings
from kitflow_distribution.consumers import subscriptions
from kitflow_distribution.handlers.plans import PlanHandlers

log = logging.getLogger(__name__)


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = DistributionSettings()
    kafka = KafkaSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=kafka,
        store=StoreSettings(),
        indexes=[*mongo_views.INDEXES, *mongo_plans.INDEXES],
        run_workers=settings.run_workers,
    )
    assert runtime.producer is not None
    db = runtime.db
    relay = OutboxRelay(
        service=SERVICE,
        publisher=runtime.producer,
        topic=DISTRIBUTION_EVENTS.qualified(common.namespace),
        collections=[db[mongo_plans.PLANS], db[mongo_plans.COVERAGE]],
        sweep_interval_s=common.outbox_sweep_interval_s,
    )
    notify = relay.notify if settings.run_workers else (lambda _c, _i: None)
    warehouse_view = MongoWarehouseView(db[mongo_views.WAREHOUSES])
    stock_view = MongoStockView(db[mongo_views.STOCK])
    needs_view = MongoNeedsView(db[mongo_views.NEEDS])
    plan_handlers = PlanHandlers(
        plans=MongoPlanRepository(db[mongo_plans.PLANS], notify),
        coverage=MongoCoverageRepository(db[mongo_plans.COVERAGE], notify),
        warehouses=warehouse_view,
        stock=stock_view,
        needs=needs_view,
        answer_within=settings.reservation_answer_timeout,
        max_lines=settings.max_plan_lines,
    )
    consumer = ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=common.namespace,
        handlers=subscriptions(warehouse_view, stock_view, needs_view, plan_handlers),
        dead_letters=runtime.producer,
        client_id=f"kitflow-{SERVICE}",
    )

    async def ask_again() -> None:
        """Lines whose answer from stock is overdue are asked again (stock answers again)."""
        while True:
            await asyncio.sleep(settings.timeout_check_interval_s)
            try:
                await plan_handlers.ask_again_where_unanswered()
            except Exception:
                log.exception("re-asking overdue reservations failed; next round retries")

    runtime.add_worker("outbox-relay", relay.run)
    runtime.add_worker("consumer", consumer.run)
    runtime.add_worker("reservation-timeouts", ask_again)

    app = create_service_app(
        service=SERVICE,
        title="kitflow distribution",
        description="Read models of stock and needs built from events, the allocation planner, "
        "plans from draft to delivery, and 5W reports. Reached through the gateway.",
        version=__version__,
        lifespan=runtime.lifespan,
        readiness=lambda _app: runtime.readiness_checks(),
        internal_secret=common.internal_secret.get_secret_value(),
    )
    install_domain_error_handlers(app)
    install_request_key_problems(app)
    app.state.runtime = runtime
    app.state.relay = relay
    app.state.warehouse_view = warehouse_view
    app.state.stock_view = stock_view
    app.state.needs_view = needs_view
    app.state.plans = plan_handlers
    app.include_router(views.router)
    app.include_router(plans.router)
    return app
