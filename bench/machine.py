"""The machine a benchmark ran on, as the report shows it: cores and load average.

On a shared 2-core machine a figure means little without the load it was measured under, so
every bench run records the load average when it starts and when it ends.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def snapshot() -> dict[str, Any]:
    """What is known at the start of a run; `finish` adds the end."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_start": load_average(),
    }


def finish(machine: dict[str, Any]) -> dict[str, Any]:
    return {
        **machine,
        "ended": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_end": load_average(),
    }
