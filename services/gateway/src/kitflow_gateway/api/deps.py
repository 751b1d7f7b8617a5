"""What the routes share: the wired handlers, authentication, the rate limit and role checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from kitflow_shared.request_keys import RequestKey, fingerprint, key_problem
from kitflow_shared.web.identity import Role
from kitflow_shared.web.problems import Problem
from kitflow_shared.web.request_keys import IDEMPOTENCY_HEADER

from kitflow_gateway.api.errors import unauthenticated
from kitflow_gateway.domain.errors import Unauthenticated
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.audit import AuditTrail
from kitflow_gateway.handlers.idempotency import IdempotencyHandlers
from kitflow_gateway.handlers.identity import IdentityHandlers
from kitflow_gateway.handlers.ports import Upstream
from kitflow_gateway.handlers.rate_limits import RateLimiter
from kitflow_gateway.handlers.tokens import InternalIdentities

API_KEY_HEADER = "X-API-Key"
TOKEN_URL = "/v1/auth/token"  # noqa: S105 (a path, not a secret)


@dataclass
class Gateway:
    """Everything a request may need, built once by bootstrap.py."""

    identity: IdentityHandlers
    rate_limiter: RateLimiter
    login_limiter: RateLimiter
    address_login_limiter: RateLimiter
    idempotency: IdempotencyHandlers
    audit: AuditTrail
    # One client per service, keyed by service name.
    upstreams: dict[str, Upstream]
    # The signed identity the services are called with (ADR 0004).
    identities: InternalIdentities
    max_json_bytes: int
    max_upload_bytes: int


async def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(gateway_of)]

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="An API key (kf_<id>_<secret>) issued at POST /v1/api-keys.",
)
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="A short-lived access token from POST /v1/auth/token (the dashboard).",
)


# Where CallerFirst leaves the caller it checked before the body was read.
CHECKED_PRINCIPAL = "checked_principal"


async def authenticated(
    request: Request,
    gateway: GatewayDep,
    api_key: Annotated[str | None, Security(api_key_scheme)],
    token: Annotated[str | None, Security(bearer_scheme)],
) -> Principal:
    """The caller, from an API key or an access token; then the organisation's rate limit."""
    checked: Principal | None = getattr(request.state, CHECKED_PRINCIPAL, None)
    if checked is not None:
        return checked
    return await _authenticate(request, gateway, api_key, token)


def basic_api_key(request: Request) -> str | None:
    """The API key a client that can only do HTTP Basic (KoboToolbox's REST Services) sends as
    the password; the user name is not read (the key says whose it is)."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, separator, password = decoded.partition(":")
    return password or None if separator else None


async def _authenticate(
    request: Request, gateway: Gateway, api_key: str | None, token: str | None
) -> Principal:
    api_key = api_key or (None if token else basic_api_key(request))
    try:
        if api_key:
            principal = await gateway.identity.authenticate_key(api_key)
        elif token:
            principal = await gateway.identity.authenticate_token(token)
        else:
            raise unauthenticated()
    except Unauthenticated:
        raise unauthenticated() from None
    request.state.principal = principal
    verdict = await gateway.rate_limiter.check(principal.organisation)
    request.state.rate_verdict = verdict
    if not verdict.allowed:
        raise Problem(
            429,
            "Too many requests",
            f"Organisation {principal.organisation} sent more than {verdict.limit} requests in "
            f"this window; retry in {verdict.retry_after_s} s.",
            slug="rate-limited",
            headers={"Retry-After": str(verdict.retry_after_s)},
            retry_after_s=verdict.retry_after_s,
        )
    return principal


Authenticated = Annotated[Principal, Depends(authenticated)]


def _check_roles(principal: Principal, roles: frozenset[Role]) -> None:
    if roles and not principal.has_any(roles):
        allowed = ", ".join(sorted(roles))
        raise Problem(
            403, "Forbidden", f"This needs one of the roles: {allowed}.", slug="forbidden"
        )


def require(roles: frozenset[Role]) -> Callable[[Principal], Awaitable[Principal]]:
    """Only callers with one of `roles` pass (403 otherwise)."""

    async def check(principal: Authenticated) -> Principal:
        _check_roles(principal, roles)
        return principal

    check.required_roles = roles  # type: ignore[attr-defined]  # read by CallerFirst
    return check


Admin = Annotated[Principal, Depends(require(frozenset({Role.ADMIN})))]


def invalid_key(problem: str) -> Problem:
    field = f"header.{IDEMPOTENCY_HEADER}"
    return Problem(
        422,
        "Invalid request",
        f"{field}: {problem}",
        slug="validation",
        errors=[{"field": field, "reason": problem, "type": "value"}],
    )


async def request_key(request: Request, principal: Authenticated) -> RequestKey | None:
    """The Idempotency-Key of a request to one of the gateway's own state-changing routes, with
    the caller's organisation and the request's fingerprint (ADR 0011); None without one."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    problem = key_problem(key)
    if problem is not None:
        raise invalid_key(problem)
    query = request.scope.get("query_string", b"").decode("latin-1")
    print_ = fingerprint(request.method, request.url.path, query, await request.body())
    return RequestKey(principal.organisation, key, print_)


RequestKeyDep = Annotated[RequestKey | None, Depends(request_key)]


def roles_required(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's dependencies ask for (empty: any authenticated caller); None when the
    route does not authenticate at all."""
    for dependency in dependant.dependencies:
        roles: frozenset[Role] | None = getattr(dependency.call, "required_roles", None)
        if roles is not None:
            return roles
    return frozenset() if _authenticates(dependant) else None


def _authenticates(dependant: Dependant) -> bool:
    return any(d.call is authenticated or _authenticates(d) for d in dependant.dependencies)


class CallerFirst(APIRoute):
    """A route that checks its caller (credential, rate limit, role) before FastAPI reads the
    request's body into its model: an unknown caller, or one whose role may not do this, is
    refused without the gateway taking in a byte of the body (ADR 0006). The dependencies then
    find the caller already checked."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        roles = roles_required(self.dependant)
        if roles is None:
            return handler

        async def caller_first(request: Request) -> Response:
            gateway: Gateway = request.app.state.gateway
            scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
            bearer = token if scheme.lower() == "bearer" and token else None
            api_key = request.headers.get(API_KEY_HEADER) or None
            principal = await _authenticate(request, gateway, api_key, bearer)
            _check_roles(principal, roles)
            setattr(request.state, CHECKED_PRINCIPAL, principal)
            return await handler(request)

        return caller_first
