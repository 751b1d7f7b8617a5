from pydantic_settings import BaseSettings, SettingsConfigDict


class StockSettings(BaseSettings):
    """`KITFLOW_STOCK_*`: where the stock API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_STOCK_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    # Run the outbox relay and the consumers in this process (turn off for API-only replicas).
    run_workers: bool = True
    # How often stale reservations expire and near-expiry lots are signalled.
    housekeeping_interval_s: float = 300.0
