"""The dashboard's short-lived access tokens (OAuth2 bearer JWTs, HS256).

They name the user and the token version the user had when they were issued; the gateway looks
the user up on every request, so deactivating a user or changing their roles ends their tokens
at once rather than when the tokens expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from kitflow_shared.web.identity import DEFAULT_TTL, Caller, issue_internal_token

from kitflow_gateway.domain.errors import Unauthenticated
from kitflow_gateway.domain.identity import User
from kitflow_gateway.handlers.ports import Clock

ISSUER = "kitflow-gateway"
AUDIENCE = "kitflow-public-api"


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    token_version: int


class AccessTokens:
    def __init__(self, secret: str, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(self, user: User, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user.user_id,
            "org": user.organisation,
            "ver": user.token_version,
            "iat": now,
            "exp": now + self.ttl,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str, now: datetime) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is checked below against the gateway's clock, the one that issued it.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud", "ver"],
                    "verify_exp": False,
                },
            )
            expires = float(claims["exp"])
            user_id, version = str(claims["sub"]), int(claims["ver"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        if now.timestamp() >= expires:
            raise Unauthenticated("the access token has expired")
        return TokenClaims(user_id=user_id, token_version=version)


class InternalIdentities:
    """The signed X-Kitflow-Identity for a caller (ADR 0004), reused for half its life.

    Signing a fresh token on every forwarded request cost about a tenth of the gateway's CPU per
    request. A token names only who the caller is (user, organisation, roles, warehouses), and
    the gateway checks the caller's credential on every request before it forwards anything,
    so reusing the token changes no decision: a revoked key is refused before any token is
    used. Reused for at most half the token's lifetime, a token reaches a service with at least
    half its life left."""

    MAX_CALLERS = 10_000

    def __init__(self, secret: str, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._secret = secret
        self._clock = clock
        self._ttl = ttl
        self._reuse = ttl / 2
        self._tokens: dict[Caller, tuple[datetime, str]] = {}

    def for_caller(self, caller: Caller) -> str:
        now = self._clock()
        cached = self._tokens.get(caller)
        if cached is not None and now - cached[0] < self._reuse:
            return cached[1]
        if len(self._tokens) >= self.MAX_CALLERS:
            self._tokens.clear()  # bounded memory; the next requests sign afresh
        token = issue_internal_token(caller, self._secret, self._ttl, now)
        self._tokens[caller] = (now, token)
        return token
