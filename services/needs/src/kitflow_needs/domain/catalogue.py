"""The item and kit codes a need may ask for (a copy of stock's catalogue, see items.json)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum

from kitflow_needs.domain.errors import FieldProblem


class ItemKind(StrEnum):
    ITEM = "item"
    KIT = "kit"
    # A planning quantity that is not a stock item: litres of water, m² of covered space.
    MEASURE = "measure"


@dataclass(frozen=True)
class CatalogueItem:
    code: str
    name: str
    unit: str
    kind: ItemKind


class ItemCatalogue:
    def __init__(self, items: list[CatalogueItem]) -> None:
        self._items = {i.code: i for i in items}

    def __contains__(self, code: object) -> bool:
        return code in self._items

    def get(self, code: str) -> CatalogueItem | None:
        return self._items.get(code)

    def all(self) -> list[CatalogueItem]:
        return [self._items[c] for c in sorted(self._items)]

    def problem(self, code: str, field: str) -> FieldProblem | None:
        """None if the code is known; else why not, with the closest known codes."""
        if code in self._items:
            return None
        close = difflib.get_close_matches(code.upper(), list(self._items), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return FieldProblem(field, f"unknown item or kit code {code!r}{hint}")
