"""Settings blocks shared by every service, read from the environment (pydantic-settings).

Each block has its own prefix so that one `.env` can configure the whole system:
`KITFLOW_KAFKA_*`, `KITFLOW_STORE_*`, and `KITFLOW_*` for what is common to every service.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# A development-only default, refused outside development so nobody ships it by accident.
DEV_INTERNAL_SECRET = "kitflow-development-only-internal-secret-change-me"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class KafkaSettings(BaseSettings):
    """Where the broker is and how we talk to it."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:19092"
    client_id: str = "kitflow"
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    # Bounded retries before a message is parked on the dead-letter topic.
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_backoff_ms: int = Field(default=200, ge=0)
    max_poll_records: int = Field(default=200, ge=1)
    # Replicas of each topic kitflow creates: 1 for a single broker, 3 on a production cluster.
    topic_replication_factor: int = Field(default=1, ge=1, le=7)


class StoreSettings(BaseSettings):
    """The MongoDB (or MongoDB-wire) store."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_STORE_", extra="ignore")

    url: str = "mongodb://127.0.0.1:27017/"
    server_selection_timeout_ms: int = Field(default=5_000, ge=100)
    # What a write must reach before the store acknowledges it (MongoDB's write concern, for
    # every service's client; it overrides any `w`/`journal` in the URL). The services act on an
    # acknowledgement at once (answer 201, publish the events), so it must not be lost: a
    # majority of the replica set, in its on-disk journal. A number is that many members; 0
    # (unacknowledged) is refused. A standalone server treats "majority" as itself. The embedded
    # store accepts and ignores it (it makes each write durable by itself: deploy/local/README.md).
    write_concern: Annotated[int, Field(ge=1)] | Literal["majority"] = "majority"
    write_journal: bool = True
    # How long a write waits for the majority before failing (its outcome is then unknown, as
    # after a network error, and the service reports a 5xx); 0 waits for ever.
    write_timeout_ms: int = Field(default=10_000, ge=0)


class CommonSettings(BaseSettings):
    """What every service shares: environment, namespace, the internal-call secret, logging."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    # Prefixes every topic and database name, so that several kitflow systems (a demo, a staging
    # copy, each test) can share one broker and one store without seeing each other.
    namespace: str = Field(default="", pattern=r"^[a-z0-9-]{0,40}$")
    # Signs the identity the gateway passes to the services (HS256). Services refuse any call
    # not signed with it.
    internal_secret: SecretStr = SecretStr(DEV_INTERNAL_SECRET)
    log_level: str = "INFO"
    log_json: bool = True
    # How often the outbox relay sweeps for entries a crash left behind.
    outbox_sweep_interval_s: float = Field(default=2.0, gt=0)
    # One replica runs each periodic job (and the outbox sweep) under a lease in the store
    # (ADR 0028): it renews the lease every `job_lease_renew_s`; when it dies, another replica
    # takes the job over within `job_lease_s + job_lease_renew_s`. The replicas' clocks must
    # agree to well within the lease.
    job_lease_s: float = Field(default=15.0, gt=0)
    job_lease_renew_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> CommonSettings:
        secret = self.internal_secret.get_secret_value()
        if self.env is Environment.PRODUCTION and (
            secret == DEV_INTERNAL_SECRET or len(secret) < 32
        ):
            raise ValueError(
                "KITFLOW_INTERNAL_SECRET must be set to a random value of at least 32 characters "
                "in production"
            )
        return self

    @model_validator(mode="after")
    def _renew_within_the_lease(self) -> CommonSettings:
        if self.job_lease_renew_s >= self.job_lease_s:
            raise ValueError(
                "KITFLOW_JOB_LEASE_RENEW_S must be shorter than KITFLOW_JOB_LEASE_S (an owner "
                "must renew before its lease runs out)"
            )
        return self

    def database_name(self, service: str) -> str:
        """The service's own database: no service reads another's."""
        return f"{self.namespace}_kitflow_{service}" if self.namespace else f"kitflow_{service}"


class ServiceSettings(BaseSettings):
    """What every service's own settings start from: where its API listens and whether this
    process runs its background workers. A service's class sets its `env_prefix`
    (`KITFLOW_STOCK_`, ...), its default port, and adds what is particular to it."""

    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # Run the outbox relay, the consumers and the periodic jobs in this process (turn off for
    # API-only replicas: their writes wait in the outbox for a replica that runs them).
    run_workers: bool = True
