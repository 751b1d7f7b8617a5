"""The dashboard's short-lived access tokens (OAuth2 bearer JWTs, HS256).

They name the user and the token version the user had when they were issued; the gateway looks
the user up on every request, so deactivating a user or changing their roles ends their tokens
at once rather than when the tokens expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from kitflow_gateway.domain.errors import Unauthenticated
from kitflow_gateway.domain.identity import User

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
