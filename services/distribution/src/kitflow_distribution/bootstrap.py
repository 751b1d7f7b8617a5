"""The composition root: settings, connections, adapters, consumers and the API, wired once."""

from __future__ import annotations

from fastapi import FastAPI
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import DISTRIBUTION_GROUP
from kitflow_shared.web.app import create_service_app

from kitflow_distribution import SERVICE, __version__
from kitflow_distribution.adapters import mongo_views
from kitflow_distribution.adapters.mongo_views import MongoWarehouseView
from kitflow_distribution.api.routes import views
from kitflow_distribution.config import DistributionSettings
from kitflow_distribution.consumers import subscriptions


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = DistributionSettings()
    kafka = KafkaSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=kafka,
        store=StoreSettings(),
        indexes=[*mongo_views.INDEXES],
        run_workers=settings.run_workers,
    )
    assert runtime.producer is not None
    warehouse_view = MongoWarehouseView(runtime.db[mongo_views.WAREHOUSES])
    consumer = ConsumerRunner(
        kafka=kafka,
        group=DISTRIBUTION_GROUP,
        namespace=common.namespace,
        handlers=subscriptions(warehouse_view),
        dead_letters=runtime.producer,
        client_id=f"kitflow-{SERVICE}",
    )
    runtime.add_worker("consumer", consumer.run)

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
    app.state.runtime = runtime
    app.state.warehouse_view = warehouse_view
    app.include_router(views.router)
    return app
