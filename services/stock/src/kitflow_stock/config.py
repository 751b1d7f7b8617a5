from kitflow_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class StockSettings(ServiceSettings):
    """`KITFLOW_STOCK_*`: where the stock API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_STOCK_", extra="ignore")

    port: int = 8001
    # How often stale reservations expire and near-expiry lots are signalled.
    housekeeping_interval_s: float = 300.0
