from kitflow_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class NeedsSettings(ServiceSettings):
    """`KITFLOW_NEEDS_*`: where the needs API listens and whether this process runs workers."""

    model_config = SettingsConfigDict(env_prefix="KITFLOW_NEEDS_", extra="ignore")

    port: int = 8002
    # How often the service completes back-links between duplicates that a crash or a
    # contended need left undone (handlers.needs.complete_back_links).
    back_links_interval_s: float = 30.0
    # Whether partners read why another organisation's need may duplicate theirs (its site, the
    # overlap of the periods, the items in common). By default a partner learns only that there
    # is one and which organisation to talk to; coordinators and admins always see the details.
    duplicate_details_for_partners: bool = False
    # The P-code vintage needs are reported in (stored, sent in events, exported): a need given
    # in another bundled vintage is turned into this one through the crosswalk of cercles, and
    # keeps its codes as given beside. `cod-ab-2015` (the default) or `cod-ab-2021`.
    reporting_vintage: str = "cod-ab-2015"
