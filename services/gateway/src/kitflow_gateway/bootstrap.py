"""The composition root: what the gateway adds to the service kit (kitflow_shared.runtime)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from kitflow_shared.runtime import ServiceRuntime
from kitflow_shared.settings import Environment
from kitflow_shared.web.app import Lifespan, ReadinessCheck
from kitflow_shared.web.request_keys import install_request_key_problems
from starlette.middleware.cors import CORSMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kitflow_gateway import SERVICE, __version__
from kitflow_gateway.adapters import mongo
from kitflow_gateway.adapters.upstream import AiohttpUpstream, FailoverUpstream, HttpxUpstream
from kitflow_gateway.api.deps import API_KEY_HEADER, Gateway
from kitflow_gateway.api.errors import install_gateway_error_handlers
from kitflow_gateway.api.middleware import (
    AuditMiddleware,
    BodySizeLimit,
    RateLimitHeaders,
    install_body_limit_problem,
)
from kitflow_gateway.api.openapi import install_openapi
from kitflow_gateway.api.proxy import IDEMPOTENCY_HEADER, REPLAYED_HEADER, install_proxy_routes
from kitflow_gateway.api.routes import audit, auth, dashboard, identity, web
from kitflow_gateway.config import GatewaySettings
from kitflow_gateway.domain.errors import AlreadyExists
from kitflow_gateway.handlers.audit import AuditTrail
from kitflow_gateway.handlers.idempotency import IdempotencyHandlers
from kitflow_gateway.handlers.identity import IdentityHandlers
from kitflow_gateway.handlers.ports import Upstream
from kitflow_gateway.handlers.rate_limits import RateLimiter
from kitflow_gateway.handlers.tokens import AccessTokens, InternalIdentities

# Sign-in attempts per user name per minute: slows password guessing to a crawl.
LOGIN_ATTEMPTS_PER_MINUTE = 10


def _now() -> datetime:
    # To the millisecond, as the store keeps times: an answer rendered again from a stored
    # object (a replayed Idempotency-Key) is then the same as the first.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_app(transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    """`transports`: the services reached in-process (tests); by default over HTTP."""
    settings = GatewaySettings()
    # The gateway publishes no events of its own: it keeps organisations, users, keys and audit.
    runtime = ServiceRuntime.of(SERVICE, settings, indexes=mongo.INDEXES, publishes=False)
    if runtime.common.env is Environment.PRODUCTION:
        settings.refuse_development_defaults()
    upstreams = _upstreams(runtime, settings, transports or {})
    idempotency = mongo.MongoIdempotency(runtime.db[mongo.IDEMPOTENCY])
    rate_counters = mongo.MongoRateCounters(runtime.db[mongo.RATE_COUNTERS])
    gateway = _gateway(runtime, settings, upstreams, idempotency, rate_counters)

    async def housekeeping() -> None:
        """Forget expired idempotency keys and past rate windows (no TTL indexes: ADR 0002)."""
        now = _now()
        await idempotency.prune(now - timedelta(seconds=settings.idempotency_retention_s))
        await rate_counters.prune(now - timedelta(hours=1))

    runtime.add_periodic("housekeeping", settings.housekeeping_interval_s, housekeeping)

    def readiness() -> list[ReadinessCheck]:
        # Ready while the gateway's own store answers: a service that is down takes only its
        # own routes off (503 naming it), not the whole API off the load balancer.
        return [
            *runtime.readiness_checks(),
            *(
                ReadinessCheck(name, upstream.alive, required=False)
                for name, upstream in upstreams.items()
            ),
        ]

    app = runtime.create_app(
        title="kitflow gateway",
        description="The one public API of kitflow for partners, warehouse staff and "
        "coordinators. Authenticate with an API key (`X-API-Key`) or an access token from "
        "`POST /v1/auth/token` (`Authorization: Bearer`). Errors are RFC 9457 problem+json; "
        "state-changing requests accept `Idempotency-Key`; each organisation has a rate limit "
        "(429 with `Retry-After`).",
        version=__version__,
        lifespan=_lifespan(runtime, settings, gateway),
        readiness=readiness,
    )
    install_gateway_error_handlers(app)
    install_body_limit_problem(app)
    install_request_key_problems(app)
    app.state.gateway = gateway
    app.include_router(auth.router)
    app.include_router(identity.router)
    app.include_router(audit.router)
    install_proxy_routes(app)
    install_openapi(app)
    app.include_router(dashboard.router)
    app.include_router(web.router)
    _add_middleware(app, settings, gateway.audit)
    return app


def _upstreams(
    runtime: ServiceRuntime,
    settings: GatewaySettings,
    transports: dict[str, httpx.AsyncBaseTransport],
) -> dict[str, Upstream]:
    """One client per service: over HTTP, or in-process where a transport is given."""
    urls = {
        "stock": settings.stock_url,
        "needs": settings.needs_url,
        "distribution": settings.distribution_url,
    }
    upstreams: dict[str, Upstream] = {}
    for name, url in urls.items():
        transport = transports.get(name)
        if transport is not None:
            upstreams[name] = HttpxUpstream(
                url, timeout_s=settings.upstream_timeout_s, transport=transport
            )
        else:
            # Several replicas (comma-separated, this gateway's own first): failover.
            replicas = [u.strip() for u in url.split(",") if u.strip()]
            clients = [AiohttpUpstream(u, timeout_s=settings.upstream_timeout_s) for u in replicas]
            upstreams[name] = (
                clients[0]
                if len(clients) == 1
                else FailoverUpstream(clients, key_header=IDEMPOTENCY_HEADER)
            )
        runtime.add_closer(upstreams[name].aclose)
    return upstreams


def _gateway(
    runtime: ServiceRuntime,
    settings: GatewaySettings,
    upstreams: dict[str, Upstream],
    idempotency: mongo.MongoIdempotency,
    rate_counters: mongo.MongoRateCounters,
) -> Gateway:
    """The handlers over the gateway's collections, and its limits."""
    db = runtime.db
    return Gateway(
        identity=IdentityHandlers(
            organisations=mongo.MongoOrganisations(db[mongo.ORGANISATIONS]),
            users=mongo.MongoUsers(db[mongo.USERS]),
            api_keys=mongo.MongoApiKeys(db[mongo.API_KEYS]),
            tokens=AccessTokens(
                settings.token_secret.get_secret_value(),
                timedelta(seconds=settings.access_token_ttl_s),
            ),
            clock=_now,
        ),
        rate_limiter=RateLimiter(
            rate_counters, _now, settings.rate_limit_requests, settings.rate_limit_window_s
        ),
        login_limiter=RateLimiter(rate_counters, _now, LOGIN_ATTEMPTS_PER_MINUTE, 60),
        address_login_limiter=RateLimiter(
            rate_counters, _now, settings.sign_in_attempts_per_address, 60
        ),
        idempotency=IdempotencyHandlers(
            idempotency, _now, timedelta(seconds=settings.idempotency_lease_s)
        ),
        audit=AuditTrail(mongo.MongoAuditLog(db[mongo.AUDIT])),
        upstreams=upstreams,
        identities=InternalIdentities(runtime.common.internal_secret.get_secret_value(), _now),
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )


def _lifespan(runtime: ServiceRuntime, settings: GatewaySettings, gateway: Gateway) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app):
            # AlreadyExists: another gateway instance created it at the same moment.
            with contextlib.suppress(AlreadyExists):
                await gateway.identity.ensure_bootstrap_admin(
                    settings.bootstrap_admin_username,
                    settings.bootstrap_admin_password.get_secret_value(),
                    settings.bootstrap_admin_organisation,
                )
            try:
                yield
            finally:
                # Before the store connection closes: the queued audit entries are written.
                await gateway.audit.close()

    return lifespan


def _add_middleware(app: FastAPI, settings: GatewaySettings, audit_trail: AuditTrail) -> None:
    """Added last = outermost: CORS answers preflights before anything else runs, and behind
    trusted proxies every layer sees the client the ingress names."""
    app.add_middleware(
        BodySizeLimit,
        max_json_bytes=settings.max_json_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(AuditMiddleware, log=audit_trail)
    if settings.dashboard_origin:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[settings.dashboard_origin],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                API_KEY_HEADER,
                IDEMPOTENCY_HEADER,
                "X-Correlation-Id",
            ],
            expose_headers=[
                "X-Correlation-Id",
                "Retry-After",
                "Location",
                REPLAYED_HEADER,
                "RateLimit-Limit",
                "RateLimit-Remaining",
            ],
            max_age=600,
        )
    if settings.trusted_proxies:
        # Outermost: every layer (the sign-in limit per address, the audit log) sees the client
        # the ingress names, not the ingress.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
