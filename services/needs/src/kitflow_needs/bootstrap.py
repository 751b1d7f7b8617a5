"""The composition root: settings, connections, adapters, workers and the API, wired once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.messaging.consumer import ConsumerRunner
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.topics import NEEDS_EVENTS, NEEDS_GROUP
from kitflow_shared.web.app import create_service_app
from kitflow_shared.web.request_keys import install_request_key_problems

from kitflow_needs import SERVICE, __version__
from kitflow_needs.adapters import (
    mongo_catalogue,
    mongo_import_requests,
    mongo_needs,
    mongo_profiles,
)
from kitflow_needs.adapters.bundled import (
    SystemClock,
    builtin_profiles,
    load_catalogue,
    load_gazetteer,
)
from kitflow_needs.adapters.mongo_catalogue import MongoCatalogueRepository
from kitflow_needs.adapters.mongo_import_requests import MongoImportRequestRepository
from kitflow_needs.adapters.mongo_needs import MongoNeedRepository
from kitflow_needs.adapters.mongo_profiles import MongoProfileRepository
from kitflow_needs.api.errors import install_domain_error_handlers
from kitflow_needs.api.routes import needs, profiles, reference, transfer
from kitflow_needs.config import NeedsSettings
from kitflow_needs.consumers import subscriptions
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.imports import forget_old_import_keys
from kitflow_needs.handlers.needs import complete_back_links
from kitflow_needs.handlers.ports import NeedsServices

log = logging.getLogger(__name__)
# How often the keys of old imports are forgotten (handlers.imports.IMPORT_KEYS_RETENTION).
FORGET_IMPORT_KEYS_INTERVAL_S = 3600.0


def new_need_id() -> str:
    return str(uuid.uuid4())


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = NeedsSettings()
    kafka = KafkaSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=kafka,
        store=StoreSettings(),
        indexes=[
            *mongo_needs.INDEXES,
            *mongo_profiles.INDEXES,
            *mongo_catalogue.INDEXES,
            *mongo_import_requests.INDEXES,
        ],
        run_workers=settings.run_workers,
    )
    assert runtime.producer is not None
    need_collection = runtime.db[mongo_needs.COLLECTION]
    relay = OutboxRelay(
        service=SERVICE,
        publisher=runtime.producer,
        topic=NEEDS_EVENTS.qualified(common.namespace),
        collections=[need_collection],
        sweep_interval_s=common.outbox_sweep_interval_s,
    )
    runtime.add_worker("outbox-relay", relay.run)
    # Without workers (an API-only replica) the writes still land in the outbox; a replica that
    # runs workers publishes them on its next sweep.
    notify = relay.notify if settings.run_workers else (lambda _c, _i: None)
    services = NeedsServices(
        needs=MongoNeedRepository(need_collection, notify),
        profiles=MongoProfileRepository(runtime.db[mongo_profiles.COLLECTION]),
        gazetteer=load_gazetteer(settings.reporting_vintage),
        catalogue=LiveCatalogue(
            load_catalogue(), MongoCatalogueRepository(runtime.db[mongo_catalogue.COLLECTION])
        ),
        clock=SystemClock(),
        new_id=new_need_id,
        import_requests=MongoImportRequestRepository(runtime.db[mongo_import_requests.COLLECTION]),
        duplicate_details_for_partners=settings.duplicate_details_for_partners,
    )
    consumer = ConsumerRunner(
        kafka=kafka,
        group=NEEDS_GROUP,
        namespace=common.namespace,
        handlers=subscriptions(services),
        dead_letters=runtime.producer,
        client_id=f"kitflow-{SERVICE}",
    )
    runtime.add_worker("consumer", consumer.run)

    async def back_links() -> None:
        while True:
            try:
                await complete_back_links(services, EventContext.new())
            except Exception:
                log.exception("completing back-links failed; the next round retries")
            await asyncio.sleep(settings.back_links_interval_s)

    runtime.add_worker("back-links", back_links)

    async def forget_import_keys() -> None:
        while True:
            try:
                await forget_old_import_keys(services)
            except Exception:
                log.exception("forgetting old import keys failed; the next round retries")
            await asyncio.sleep(FORGET_IMPORT_KEYS_INTERVAL_S)

    runtime.add_worker("import-keys", forget_import_keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            # The built-in profiles, where missing; an admin's later changes are never undone.
            await services.profiles.seed(builtin_profiles())
            # What stock published so far (the consumer keeps it up to date from here on).
            await services.catalogue.refresh()
            yield

    app = create_service_app(
        service=SERVICE,
        title="kitflow needs",
        description="Assessed needs of partner organisations: P-coded locations, population, "
        "quantities computed from norms, duplicate detection, HXL import and export. Reached "
        "through the gateway.",
        version=__version__,
        lifespan=lifespan,
        readiness=lambda _app: runtime.readiness_checks(),
        internal_secret=common.internal_secret.get_secret_value(),
    )
    install_domain_error_handlers(app)
    install_request_key_problems(app)
    app.state.runtime = runtime
    app.state.relay = relay
    app.state.services = services
    # The import and export paths come first: "/v1/needs/imports" is not a need id.
    app.include_router(transfer.router)
    app.include_router(needs.router)
    app.include_router(profiles.router)
    app.include_router(reference.router)
    return app
