"""Where each bench writes its figures: `bench/results/<name>-<UTC time>.json` (a run kept beside
the earlier ones; the report reads the newest), or `<name>.json` for a bench whose last run
replaces the one before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, result: Any, *, stamped: bool = True) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = f"-{datetime.now(UTC):%Y%m%dT%H%M%S}" if stamped else ""
    out = RESULTS / f"{name}{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out
