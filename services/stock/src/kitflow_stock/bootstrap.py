"""The composition root: settings, connections, adapters, workers and the API, wired once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import STOCK_EVENTS, STOCK_GROUP
from kitflow_shared.web.app import create_service_app
from kitflow_shared.web.request_keys import install_request_key_problems

from kitflow_stock import SERVICE, __version__
from kitflow_stock.adapters import mongo_catalogue, mongo_counts, mongo_stock, mongo_warehouses
from kitflow_stock.adapters.mongo_catalogue import MongoCatalogueRepository
from kitflow_stock.adapters.mongo_counts import MongoCounts
from kitflow_stock.adapters.mongo_stock import (
    JournalWriter,
    MongoLedger,
    MongoWarehouseStockRepository,
)
from kitflow_stock.adapters.mongo_warehouses import MongoWarehouseRepository
from kitflow_stock.api.errors import install_domain_error_handlers
from kitflow_stock.api.routes import catalogue, movements, stock, warehouses
from kitflow_stock.config import StockSettings
from kitflow_stock.consumers import subscriptions
from kitflow_stock.handlers.counts import CountHandlers
from kitflow_stock.handlers.stock import StockHandlers
from kitflow_stock.handlers.stock_writer import StockWriter

log = logging.getLogger(__name__)


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = StockSettings()
    kafka = KafkaSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=kafka,
        store=StoreSettings(),
        indexes=[
            *mongo_warehouses.INDEXES,
            *mongo_catalogue.INDEXES,
            *mongo_stock.INDEXES,
            *mongo_counts.INDEXES,
        ],
        run_workers=settings.run_workers,
    )
    assert runtime.producer is not None
    warehouse_collection = runtime.db[mongo_warehouses.COLLECTION]
    catalogue_collection = runtime.db[mongo_catalogue.COLLECTION]
    stock_collection = runtime.db[mongo_stock.STOCK]
    relay = OutboxRelay(
        service=SERVICE,
        publisher=runtime.producer,
        topic=STOCK_EVENTS.qualified(common.namespace),
        collections=[warehouse_collection, catalogue_collection, stock_collection],
        sweep_interval_s=common.outbox_sweep_interval_s,
    )
    journal = JournalWriter(
        stock_collection, runtime.db[mongo_stock.LEDGER], common.outbox_sweep_interval_s
    )

    def notify_stock(collection: str, doc_id: Any, has_journal: bool) -> None:
        relay.notify(collection, doc_id)
        if has_journal:
            journal.notify(collection, doc_id)

    # Without workers (an API-only replica) the writes still land in the outbox and journal; a
    # replica that runs workers moves them on its next sweep.
    run = settings.run_workers
    notify = relay.notify if run else (lambda _c, _i: None)
    warehouse_repo = MongoWarehouseRepository(warehouse_collection, notify)
    catalogue_repo = MongoCatalogueRepository(catalogue_collection, notify)
    stock_repo = MongoWarehouseStockRepository(
        stock_collection, notify_stock if run else (lambda _c, _i, _j: None)
    )
    handlers = StockHandlers(
        writer=StockWriter(stock_repo),
        warehouses=warehouse_repo,
        catalogue=catalogue_repo,
        ledger=MongoLedger(runtime.db[mongo_stock.LEDGER], stock_collection),
    )
    consumer = ConsumerRunner(
        kafka=kafka,
        group=STOCK_GROUP,
        namespace=common.namespace,
        handlers=subscriptions(handlers),
        dead_letters=runtime.producer,
        client_id=f"kitflow-{SERVICE}",
    )

    async def housekeeping() -> None:
        """Expire stale reservations and signal near-expiry lots, every few minutes."""
        while True:
            for code in await stock_repo.all_warehouses():
                try:
                    await handlers.housekeeping(code)
                except Exception:
                    log.exception("housekeeping of %s failed; next round retries", code)
            await asyncio.sleep(settings.housekeeping_interval_s)

    runtime.add_worker("outbox-relay", relay.run)
    runtime.add_worker("journal-writer", journal.run)
    runtime.add_worker("consumer", consumer.run)
    runtime.add_worker("housekeeping", housekeeping)

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
    install_request_key_problems(app)
    app.state.runtime = runtime
    app.state.relay = relay
    app.state.journal = journal
    app.state.warehouses = warehouse_repo
    app.state.catalogue = catalogue_repo
    app.state.stock = handlers
    app.state.counts = CountHandlers(handlers, MongoCounts(runtime.db[mongo_counts.COUNTS]))
    app.include_router(warehouses.router)
    app.include_router(catalogue.router)
    app.include_router(stock.router)
    app.include_router(movements.router)
    return app
