from kitflow_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class StockSettings(ServiceSettings):
    """`KITFLOW_STOCK_*`: where the stock API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_STOCK_", extra="ignore")

    port: int = 8001
    # How often stale reservations expire and near-expiry lots are signalled.
    housekeeping_interval_s: float = 300.0
    # How long a warehouse write that keeps losing to other replicas' writes is retried before
    # its callers hear 409 (ADR 0035); under the gateway's 30 s upstream timeout.
    write_conflict_deadline_s: float = Field(default=15.0, gt=0, le=25)
