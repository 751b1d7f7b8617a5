"""The caller's identity as the gateway passes it to the services (defence in depth).

The gateway authenticates the public credential (API key or dashboard JWT), then calls a service
with a short-lived internal token in `X-Kitflow-Identity`: an HS256 JWT signed with the secret
only the gateway and the services share, naming the user, the organisation, the roles and the
warehouses the user is assigned to. A service refuses any request without a valid one, so a
caller that did not come through the gateway gets nothing, and checks role and organisation itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Header, Request
from pydantic import BaseModel, ConfigDict

from kitflow_shared.roles import Role
from kitflow_shared.web.problems import Problem

__all__ = ["IDENTITY_HEADER", "Caller", "Role", "issue_internal_token", "verify_internal_token"]

IDENTITY_HEADER = "X-Kitflow-Identity"
ISSUER = "kitflow-gateway"
AUDIENCE = "kitflow-services"
DEFAULT_TTL = timedelta(seconds=60)
# How far the gateway's clock and a service's may disagree. A token is accepted only for the
# gateway's lifetime plus this: a leaked token, or one minted with the secret for a long life,
# stops working within about a minute whatever its own expiry says.
MAX_CLOCK_SKEW = timedelta(seconds=5)


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    organisation: str
    roles: frozenset[Role]
    # Warehouse codes a warehouse-role user may operate (empty for other roles).
    warehouses: frozenset[str] = frozenset()

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


def issue_internal_token(
    caller: Caller, secret: str, ttl: timedelta = DEFAULT_TTL, now: datetime | None = None
) -> str:
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": caller.user,
        "org": caller.organisation,
        "roles": sorted(caller.roles),
        "wh": sorted(caller.warehouses),
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _lifetime_problem(claims: dict[str, object], now: datetime) -> str | None:
    """Why the token's own dates are not acceptable, or None (expiry is PyJWT's check)."""
    issued, expires = float(claims["iat"]), float(claims["exp"])  # type: ignore[arg-type]
    if issued > (now + MAX_CLOCK_SKEW).timestamp():
        return "it is issued in the future"
    if expires - issued > (DEFAULT_TTL + MAX_CLOCK_SKEW).total_seconds():
        return f"its lifetime is longer than {int(DEFAULT_TTL.total_seconds())} s"
    return None


def verify_internal_token(token: str, secret: str, now: datetime | None = None) -> Caller:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=MAX_CLOCK_SKEW,
            # `iat` is checked below, with the skew, together with the lifetime.
            options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_iat": False},
        )
        problem = _lifetime_problem(claims, now or datetime.now(UTC))
        if problem is not None:
            raise jwt.InvalidTokenError(problem)
        return Caller(
            user=claims["sub"],
            organisation=claims["org"],
            roles=frozenset(Role(r) for r in claims["roles"]),
            warehouses=frozenset(claims.get("wh", [])),
        )
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise Problem(
            401,
            "Unauthenticated",
            f"The caller's identity is not valid: {exc}",
            slug="unauthenticated",
        ) from exc


def _secret_of(request: Request) -> str:
    secret: str = request.app.state.internal_secret
    return secret


async def current_caller(
    request: Request,
    identity: Annotated[str | None, Header(alias=IDENTITY_HEADER, include_in_schema=False)] = None,
) -> Caller:
    if not identity:
        raise Problem(
            401,
            "Unauthenticated",
            f"Requests must come through the gateway (missing {IDENTITY_HEADER}).",
            slug="unauthenticated",
        )
    return verify_internal_token(identity, _secret_of(request))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require_roles(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets only callers with one of `roles` through (403 otherwise)."""

    async def check(caller: CurrentCaller) -> Caller:
        if not caller.has_any(*roles):
            allowed = ", ".join(sorted(roles))
            raise Problem(
                403, "Forbidden", f"This needs one of the roles: {allowed}.", slug="forbidden"
            )
        return caller

    return check
