"""/v1/auth: the OAuth2 password flow that gives the dashboard its short-lived access token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from kitflow_shared.web.identity import Role
from kitflow_shared.web.problems import Problem
from pydantic import BaseModel, Field

from kitflow_gateway.api.deps import Authenticated, CallerFirst, GatewayDep
from kitflow_gateway.domain.errors import Unauthenticated
from kitflow_gateway.handlers.rate_limits import RateLimiter

router = APIRouter(prefix="/v1/auth", tags=["authentication"], route_class=CallerFirst)

FORM = "application/x-www-form-urlencoded"
MAX_FIELD = 200


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires")


class PrincipalPublic(BaseModel):
    user_id: str
    username: str
    organisation: str
    roles: list[Role]
    warehouses: list[str]
    credential: Annotated[str, Field(description="key:<id> or token:<user id>")]


def _invalid_request(detail: str) -> Problem:
    # RFC 6749 §5.2 error codes, carried in a problem document.
    return Problem(
        400, "Invalid token request", detail, slug="invalid-request", error="invalid_request"
    )


async def _within_limit(limiter: RateLimiter, counter: str, whose: str) -> None:
    verdict = await limiter.check(counter)
    if not verdict.allowed:
        raise Problem(
            429,
            "Too many sign-in attempts",
            f"Too many attempts {whose}; retry in {verdict.retry_after_s} s.",
            slug="rate-limited",
            headers={"Retry-After": str(verdict.retry_after_s)},
        )


@router.post(
    "/token",
    response_model=TokenPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "username", "password"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["password"]},
                            "username": {"type": "string", "maxLength": MAX_FIELD},
                            "password": {"type": "string", "maxLength": MAX_FIELD},
                        },
                    },
                    "example": {
                        "grant_type": "password",
                        "username": "coordinator@iom.int",
                        "password": "correct horse battery staple",
                    },
                }
            },
        }
    },
    responses={
        400: {"description": "Wrong user name or password, or a malformed request"},
        429: {
            "description": "Too many sign-in attempts for this user name, or from this address; "
            "see Retry-After"
        },
    },
)
async def token(request: Request, gateway: GatewayDep) -> TokenPublic:
    """Sign in with a user name and password; returns a short-lived bearer token (OAuth2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise _invalid_request(f"send the form as {FORM}")
    # Before the form is read: a client over its limit sends its body for nothing.
    address = request.client.host if request.client else "unknown"
    await _within_limit(gateway.address_login_limiter, f"login-from:{address}", "from this address")
    try:
        form = parse_qs((await request.body()).decode(), strict_parsing=False)
    except UnicodeDecodeError:
        raise _invalid_request("the form is not UTF-8") from None
    fields = {name: values[0] for name, values in form.items() if values}
    if fields.get("grant_type") != "password":
        raise Problem(
            400,
            "Unsupported grant type",
            "only grant_type=password is supported",
            slug="unsupported-grant-type",
            error="unsupported_grant_type",
        )
    username, password = fields.get("username", ""), fields.get("password", "")
    if not username or not password or len(username) > MAX_FIELD or len(password) > MAX_FIELD:
        raise _invalid_request(
            f"username and password are required (at most {MAX_FIELD} characters)"
        )
    await _within_limit(gateway.login_limiter, f"login:{username}", "for this user")
    try:
        login = await gateway.identity.login(username, password)
    except Unauthenticated:
        raise Problem(
            400,
            "Sign-in refused",
            "wrong user name or password",
            slug="invalid-grant",
            error="invalid_grant",
        ) from None
    return TokenPublic(
        access_token=login.access_token,
        token_type="bearer",  # noqa: S106 (the OAuth2 token type, not a secret)
        expires_in=login.expires_in_s,
    )


@router.get("/me", response_model=PrincipalPublic)
async def me(principal: Authenticated) -> PrincipalPublic:
    """Who the credential belongs to: user, organisation, roles and warehouses."""
    return PrincipalPublic(
        user_id=principal.user_id,
        username=principal.username,
        organisation=principal.organisation,
        roles=sorted(principal.roles),
        warehouses=sorted(principal.warehouses),
        credential=principal.credential,
    )
