"""The composition root: settings, connections and the API, wired once."""

from __future__ import annotations

from fastapi import FastAPI
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.web.app import create_service_app

from kitflow_needs import SERVICE, __version__
from kitflow_needs.config import NeedsSettings


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = NeedsSettings()
    runtime = ServiceRuntime(
        SERVICE,
        common=common,
        kafka=KafkaSettings(),
        store=StoreSettings(),
        indexes=[],
        run_workers=settings.run_workers,
    )
    app = create_service_app(
        service=SERVICE,
        title="kitflow needs",
        description="Assessed needs of partner organisations: P-coded locations, population, "
        "quantities computed from norms, duplicate detection, HXL import and export.",
        version=__version__,
        lifespan=runtime.lifespan,
        readiness=lambda _app: runtime.readiness_checks(),
        internal_secret=common.internal_secret.get_secret_value(),
    )
    app.state.runtime = runtime
    return app
