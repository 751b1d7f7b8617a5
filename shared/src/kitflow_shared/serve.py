"""Run one service's API (and its workers) under uvicorn."""

from __future__ import annotations

import uvicorn

from kitflow_shared.logging import configure_logging
from kitflow_shared.settings import CommonSettings

# How long a service keeps an idle keep-alive connection open (uvicorn's default, made explicit
# because the gateway's client must give connections up before a service closes them).
KEEP_ALIVE_S = 5


def serve(app_factory: str, *, service: str, host: str, port: int) -> None:
    """`app_factory` is an import path such as "kitflow_stock.bootstrap:create_app"."""
    common = CommonSettings()
    configure_logging(service, common.log_level, common.log_json)
    uvicorn.run(
        app_factory,
        factory=True,
        host=host,
        port=port,
        log_config=None,  # keep our JSON logging
        access_log=False,  # request metrics and the audit log say more
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_S,
        # Forwarded addresses are the app's business: the gateway trusts its configured proxies
        # (KITFLOW_GATEWAY_TRUSTED_PROXIES) and the services are reached by the gateway only.
        proxy_headers=False,
    )
