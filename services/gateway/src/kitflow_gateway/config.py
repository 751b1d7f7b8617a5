"""`KITFLOW_GATEWAY_*` settings: where the gateway listens, where the services are, its secrets
and its limits."""

from __future__ import annotations

from kitflow_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

# Development-only defaults, refused in production so nobody ships them by accident.
DEV_TOKEN_SECRET = "kitflow-development-only-dashboard-token-secret"  # noqa: S105
DEV_ADMIN_PASSWORD = "kitflow-development-admin"  # noqa: S105
MIN_SECRET_LENGTH = 32
MIN_ADMIN_PASSWORD_LENGTH = 12


class GatewaySettings(ServiceSettings):
    """`KITFLOW_GATEWAY_*`: where the gateway listens and where the services are."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_GATEWAY_", extra="ignore")

    port: int = 8000
    stock_url: str = "http://127.0.0.1:8001"
    needs_url: str = "http://127.0.0.1:8002"
    distribution_url: str = "http://127.0.0.1:8003"
    upstream_timeout_s: float = Field(default=30.0, gt=0)

    # Signs the dashboard's short-lived access tokens (HS256); distinct from the internal secret
    # so a leaked dashboard token secret cannot mint service identities.
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)

    # The first administrator, created at start-up if no user has that name yet.
    bootstrap_admin_username: str = "admin@iom.int"
    bootstrap_admin_password: SecretStr = SecretStr(DEV_ADMIN_PASSWORD)
    bootstrap_admin_organisation: str = "IOM"

    # The only origin a browser may call the API from (the dashboard); empty: none.
    dashboard_origin: str = ""

    # Requests per organisation per window, shared by every gateway instance (see ADR 0006).
    rate_limit_requests: int = Field(default=600, ge=1)
    rate_limit_window_s: int = Field(default=60, ge=1, le=3_600)
    # Sign-in attempts per client address per minute, whatever the user names: stops password
    # spraying across many accounts (each user name has its own limit of 10 as well). Generous
    # enough for an office whose staff share one address.
    sign_in_attempts_per_address: int = Field(default=60, ge=1)
    # The proxies in front of the gateway (an ingress controller), as addresses or networks
    # separated by commas ("10.0.0.0/8,fd00::/8"); "*" trusts any. From a connection that comes
    # from one of them, the client is the right-most address of X-Forwarded-For that is not a
    # trusted proxy (what the ingress appended; what the client wrote itself is to its left).
    # Empty: the connection's own address is the client.
    trusted_proxies: str = ""

    max_json_bytes: int = Field(default=1024 * 1024, ge=1_024)
    # HXL imports: the needs service reads files up to 20 MiB.
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1_024)

    # How long a completed Idempotency-Key is remembered, and how long an in-flight claim holds
    # before a retry may take it over (the instance that claimed it may have died).
    idempotency_retention_s: int = Field(default=86_400, ge=60)
    idempotency_lease_s: int = Field(default=60, ge=1)
    housekeeping_interval_s: float = Field(default=300.0, gt=0)

    def refuse_development_defaults(self) -> None:
        """Called in production: the development secrets must have been replaced."""
        secret = self.token_secret.get_secret_value()
        if secret == DEV_TOKEN_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                "KITFLOW_GATEWAY_TOKEN_SECRET must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters in production"
            )
        password = self.bootstrap_admin_password.get_secret_value()
        if password == DEV_ADMIN_PASSWORD or len(password) < MIN_ADMIN_PASSWORD_LENGTH:
            raise ValueError(
                "KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD must be set to a password of at least "
                f"{MIN_ADMIN_PASSWORD_LENGTH} characters in production"
            )
