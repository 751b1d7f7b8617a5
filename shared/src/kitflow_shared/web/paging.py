"""What every paginated route shares: the page of results a query returns, and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Beyond this a page would make the store skip a million documents, and far larger values
# overflow its 64-bit integers (a 500): refuse them as bad input (422) instead.
MAX_OFFSET = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing: its items and how many the whole listing holds."""

    items: list[T]
    total: int
