"""The composition root: settings, connections, adapters, workers and the API, wired once."""

from __future__ import annotations

from fastapi import FastAPI
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import STOCK_EVENTS
from kitflow_shared.web.app import create_service_app

from kitflow_stock import SERVICE, __version__
from kitflow_stock.adapters import mongo_warehouses
from kitflow_stock.adapters.mongo_warehouses import MongoWarehouseRepository
from kitflow_stock.api.errors import install_domain_error_handlers
from kitflow_stock.api.routes import warehouses
from kitflow_stock.config import StockSettings


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = StockSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=KafkaSettings(),
        store=StoreSettings(),
        indexes=[*mongo_warehouses.INDEXES],
        run_workers=settings.run_workers,
    )
    assert runtime.producer is not None
    warehouse_collection = runtime.db[mongo_warehouses.COLLECTION]
    relay = OutboxRelay(
        service=SERVICE,
        publisher=runtime.producer,
        topic=STOCK_EVENTS.qualified(common.namespace),
        collections=[warehouse_collection],
        sweep_interval_s=common.outbox_sweep_interval_s,
    )
    runtime.add_worker("outbox-relay", relay.run)

    app = create_service_app(
        service=SERVICE,
        title="kitflow stock",
        description="Warehouses, the item catalogue and kits, the stock ledger, balances and "
        "reservations. Reached through the gateway.",
        version=__version__,
        lifespan=runtime.lifespan,
        readiness=lambda _app: runtime.readiness_checks(),
        internal_secret=common.internal_secret.get_secret_value(),
    )
    install_domain_error_handlers(app)
    app.state.runtime = runtime
    app.state.relay = relay
    # Without workers (an API-only replica) the writes still land in the outbox; a replica that
    # runs workers publishes them on its next sweep.
    notify = relay.notify if settings.run_workers else (lambda _c, _i: None)
    app.state.warehouses = MongoWarehouseRepository(warehouse_collection, notify)
    app.include_router(warehouses.router)
    return app
