"""The composition root: what the needs service adds to the service kit (kitflow_shared.runtime)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.topics import NEEDS_EVENTS, NEEDS_GROUP
from kitflow_shared.web.request_keys import install_request_key_problems

from kitflow_needs import SERVICE, __version__
from kitflow_needs.adapters import (
    mongo_catalogue,
    mongo_import_requests,
    mongo_kobo,
    mongo_needs,
    mongo_profiles,
)
from kitflow_needs.adapters.bundled import (
    SystemClock,
    builtin_profiles,
    load_catalogue,
    load_gazetteer,
)
from kitflow_needs.adapters.kobo import read_submission
from kitflow_needs.adapters.mongo_catalogue import MongoCatalogueRepository
from kitflow_needs.adapters.mongo_import_requests import MongoImportRequestRepository
from kitflow_needs.adapters.mongo_needs import MongoNeedRepository
from kitflow_needs.adapters.mongo_profiles import MongoProfileRepository
from kitflow_needs.api.errors import install_domain_error_handlers
from kitflow_needs.api.routes import dtm, kobo, needs, profiles, reference, transfer
from kitflow_needs.config import NeedsSettings
from kitflow_needs.consumers import subscriptions
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.imports import ImportHandlers
from kitflow_needs.handlers.kobo import KoboServices
from kitflow_needs.handlers.needs import NeedHandlers
from kitflow_needs.handlers.ports import NeedsServices

# How often the keys of old imports are forgotten (handlers.imports.IMPORT_KEYS_RETENTION).
FORGET_IMPORT_KEYS_INTERVAL_S = 3600.0
INDEXES = [
    *mongo_needs.INDEXES,
    *mongo_profiles.INDEXES,
    *mongo_catalogue.INDEXES,
    *mongo_import_requests.INDEXES,
    *mongo_kobo.INDEXES,
]


def new_need_id() -> str:
    return str(uuid.uuid4())


def create_app() -> FastAPI:
    settings = NeedsSettings()
    runtime = ServiceRuntime.of(SERVICE, settings, indexes=INDEXES)
    need_collection = runtime.collection(mongo_needs.COLLECTION)
    runtime.relay(NEEDS_EVENTS, [need_collection])
    services = NeedsServices(
        needs=MongoNeedRepository(need_collection, runtime.notify),
        profiles=MongoProfileRepository(runtime.collection(mongo_profiles.COLLECTION)),
        gazetteer=load_gazetteer(settings.reporting_vintage),
        catalogue=LiveCatalogue(
            load_catalogue(),
            MongoCatalogueRepository(runtime.collection(mongo_catalogue.COLLECTION)),
        ),
        clock=SystemClock(),
        new_id=new_need_id,
        import_requests=MongoImportRequestRepository(
            runtime.collection(mongo_import_requests.COLLECTION)
        ),
        duplicate_details_for_partners=settings.duplicate_details_for_partners,
    )
    runtime.consume(NEEDS_GROUP, subscriptions(services))
    runtime.add_periodic(
        "back-links",
        settings.back_links_interval_s,
        lambda: NeedHandlers(services).complete_back_links(EventContext.new()),
    )
    runtime.add_periodic(
        "import-keys",
        FORGET_IMPORT_KEYS_INTERVAL_S,
        lambda: ImportHandlers(services).forget_old_import_keys(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            # The built-in profiles, where missing; an admin's later changes are never undone.
            await services.profiles.seed(builtin_profiles())
            # What stock published so far (the consumer keeps it up to date from here on).
            await services.catalogue.refresh()
            yield

    app = runtime.create_app(
        title="kitflow needs",
        description="Assessed needs of partner organisations: P-coded locations, population, "
        "quantities computed from norms, duplicate detection, HXL import and export. Reached "
        "through the gateway.",
        version=__version__,
        lifespan=lifespan,
    )
    install_domain_error_handlers(app)
    install_request_key_problems(app)
    app.state.services = services
    app.state.kobo = KoboServices(
        submissions=mongo_kobo.MongoKoboSubmissions(runtime.collection(mongo_kobo.SUBMISSIONS)),
        mappings=mongo_kobo.MongoKoboMappings(runtime.collection(mongo_kobo.MAPPINGS)),
        read=lambda payload, mapping, organisation: read_submission(
            payload, mapping, organisation=organisation
        ),
    )
    # The import and export paths come first: "/v1/needs/imports" is not a need id.
    app.include_router(transfer.router)
    app.include_router(needs.router)
    app.include_router(profiles.router)
    app.include_router(reference.router)
    app.include_router(kobo.router)
    app.include_router(dtm.router)
    return app
