"""Physical counts: a draft the warehouse team fills in, then submits once.

A draft changes no stock. Submitting it first freezes its lines (status `submitting`), then
applies its differences to the warehouse's stock as one count-correction movement, together with
the count's marker (`WarehouseStock.submit_count`): that single write is what makes a count
apply once, whoever submits it how often. Only then is the count marked `submitted`. A crash in
between leaves it `submitting`; the next submission finds the marker, or applies the count if
the first never did, and finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kitflow_stock.domain.stock import CountedLine


class CountStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Count:
    count_id: str
    warehouse: str
    status: CountStatus
    lines: tuple[CountedLine, ...]
    created_by: str
    created_at: datetime
    movement_id: str | None = None
