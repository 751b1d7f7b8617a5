from pydantic_settings import BaseSettings, SettingsConfigDict


class NeedsSettings(BaseSettings):
    """`KITFLOW_NEEDS_*`: where the needs API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_NEEDS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    # Run the outbox relay and the consumers in this process (turn off for API-only replicas).
    run_workers: bool = True
    # How often the service completes back-links between duplicates that a crash or a
    # contended need left undone (handlers.needs.complete_back_links).
    back_links_interval_s: float = 30.0
