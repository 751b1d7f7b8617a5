"""The composition root: settings, connections and the API, wired once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import CommonSettings, StoreSettings
from kitflow_shared.web.app import ReadinessCheck, create_service_app

from kitflow_gateway import SERVICE, __version__
from kitflow_gateway.config import GatewaySettings


def _upstream_alive(client: httpx.AsyncClient, base_url: str) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        response = await client.get(f"{base_url}/healthz")
        response.raise_for_status()

    return check


def create_app() -> FastAPI:
    common = CommonSettings()
    settings = GatewaySettings()
    # The gateway publishes no events of its own: it keeps organisations, users and keys.
    runtime = ServiceRuntime(
        SERVICE, common=common, kafka=None, store=StoreSettings(), indexes=[], run_workers=False
    )
    upstream = httpx.AsyncClient(timeout=2.0)
    runtime.add_closer(upstream.aclose)
    upstreams = {
        "stock": settings.stock_url,
        "needs": settings.needs_url,
        "distribution": settings.distribution_url,
    }

    def readiness(_app: FastAPI) -> list[ReadinessCheck]:
        return [
            *runtime.readiness_checks(),
            *(
                ReadinessCheck(name, _upstream_alive(upstream, url))
                for name, url in upstreams.items()
            ),
        ]

    app = create_service_app(
        service=SERVICE,
        title="kitflow gateway",
        description="The one public API of kitflow for partners, warehouse staff and "
        "coordinators, and the coordinator dashboard.",
        version=__version__,
        lifespan=runtime.lifespan,
        readiness=readiness,
        internal_secret=common.internal_secret.get_secret_value(),
    )
    app.state.runtime = runtime
    app.state.upstream = upstream
    return app
