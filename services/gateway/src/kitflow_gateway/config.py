from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """`KITFLOW_GATEWAY_*`: where the gateway listens and where the services are."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    stock_url: str = "http://127.0.0.1:8001"
    needs_url: str = "http://127.0.0.1:8002"
    distribution_url: str = "http://127.0.0.1:8003"
