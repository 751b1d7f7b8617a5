from datetime import timedelta

from kitflow_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class DistributionSettings(ServiceSettings):
    """`KITFLOW_DISTRIBUTION_*`: where the API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_DISTRIBUTION_", extra="ignore")

    port: int = 8003
    # Stock should answer a reservation request within this time; overdue lines are asked again.
    reservation_answer_timeout: timedelta = timedelta(minutes=10)
    timeout_check_interval_s: float = 60.0
    # A draft with more lines is refused (422): the plan must fit in one store document.
    max_plan_lines: int = Field(default=10_000, ge=1, le=10_000)
    # How long an approved plan holds its stock before the reservation lapses (stock refuses
    # to hold stock more than 90 days ahead: it would sit idle).
    reservation_life: timedelta = Field(
        default=timedelta(days=14), ge=timedelta(hours=1), le=timedelta(days=90)
    )
    # A reservation that lapses within this time is on the alerts list.
    reservation_warning: timedelta = timedelta(hours=24)
    # The planner solves in a pool of threads off the event loop (ADR 0028): at most this many
    # plans at once, this many more waiting; past that a draft is refused with 503 and
    # Retry-After (the planner's own estimate of a large plan's solve).
    planner_workers: int = Field(default=1, ge=1, le=16)
    planner_queue_limit: int = Field(default=4, ge=0, le=100)
    planner_retry_after_s: int = Field(default=30, ge=1)
    # How often the dead-letter topics are read for the alerts list.
    dead_letter_check_interval_s: float = Field(default=60.0, gt=0)
    # How often gap documents left with cell changes half done (a crash, then the event
    # parked) are completed (ADR 0027).
    gap_settle_interval_s: float = Field(default=60.0, gt=0)
