"""The composition root: what the stock service adds to the service kit (kitflow_shared.runtime)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.topics import STOCK_EVENTS, STOCK_GROUP
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
INDEXES = [
    *mongo_warehouses.INDEXES,
    *mongo_catalogue.INDEXES,
    *mongo_stock.INDEXES,
    *mongo_counts.INDEXES,
]


def create_app() -> FastAPI:
    settings = StockSettings()
    runtime = ServiceRuntime.of(SERVICE, settings, indexes=INDEXES)
    warehouses_db = runtime.collection(mongo_warehouses.COLLECTION)
    catalogue_db = runtime.collection(mongo_catalogue.COLLECTION)
    stock_db = runtime.collection(mongo_stock.STOCK)
    ledger_db = runtime.collection(mongo_stock.LEDGER)
    runtime.relay(STOCK_EVENTS, [warehouses_db, catalogue_db, stock_db])
    # Stock's own worker: it moves the movements a write left in a warehouse's stock document
    # to the ledger (ADR 0007), kicked like the relay.
    journal = JournalWriter(stock_db, ledger_db, runtime.common.outbox_sweep_interval_s)
    runtime.add_worker("journal-writer", journal.run)

    def notify_stock(collection: str, doc_id: Any, has_journal: bool) -> None:
        runtime.notify(collection, doc_id)
        if has_journal and settings.run_workers:
            journal.notify(collection, doc_id)

    stock_repo = MongoWarehouseStockRepository(stock_db, notify_stock)
    warehouse_repo = MongoWarehouseRepository(warehouses_db, runtime.notify)
    catalogue_repo = MongoCatalogueRepository(catalogue_db, runtime.notify)
    handlers = StockHandlers(
        writer=StockWriter(stock_repo, conflict_deadline_s=settings.write_conflict_deadline_s),
        warehouses=warehouse_repo,
        catalogue=catalogue_repo,
        ledger=MongoLedger(ledger_db, stock_db),
    )
    runtime.consume(STOCK_GROUP, subscriptions(handlers))

    async def housekeeping() -> None:
        """Expire stale reservations and signal near-expiry lots, warehouse by warehouse."""
        for code in await stock_repo.all_warehouses():
            try:
                await handlers.housekeeping(code)
            except Exception:
                log.exception("housekeeping of %s failed; next round retries", code)

    runtime.add_periodic("housekeeping", settings.housekeeping_interval_s, housekeeping)

    app = runtime.create_app(
        title="kitflow stock",
        description="Warehouses, the item catalogue and kits, the stock ledger, balances and "
        "reservations. Reached through the gateway.",
        version=__version__,
    )
    install_domain_error_handlers(app)
    install_request_key_problems(app)
    app.state.journal = journal
    app.state.warehouses = warehouse_repo
    app.state.catalogue = catalogue_repo
    app.state.stock = handlers
    app.state.counts = CountHandlers(handlers, MongoCounts(runtime.collection(mongo_counts.COUNTS)))
    app.include_router(warehouses.router)
    app.include_router(catalogue.router)
    app.include_router(stock.router)
    app.include_router(movements.router)
    return app
