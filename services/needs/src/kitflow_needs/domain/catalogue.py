"""The item and kit codes a need may ask for.

Stock owns the catalogue; needs holds a read model of it, built from stock's item events, on
top of the bundled list (items.json). The bundled list is the seed: it is what a fresh
installation knows before stock's events arrive, and it holds the planning measures (litres of
water, m² of covered space) that stock never publishes. An entry stock published replaces the
seed's entry for the same code, and a newer version replaces an older one (docs/adr/0010).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from kitflow_needs.domain.errors import FieldProblem


class ItemKind(StrEnum):
    ITEM = "item"
    KIT = "kit"
    # A planning quantity that is not a stock item: litres of water, m² of covered space.
    MEASURE = "measure"


# The sequence of an entry that comes from the bundled list: any version stock publishes
# (1 after registration) is newer.
SEED_SEQUENCE = 0


@dataclass(frozen=True)
class CatalogueItem:
    code: str
    name: str
    unit: str
    kind: ItemKind
    # The item's version in stock's catalogue; SEED_SEQUENCE for a bundled entry.
    sequence: int = SEED_SEQUENCE

    def newer_than(self, held: CatalogueItem | None) -> bool:
        return held is None or self.sequence > held.sequence


class ItemCatalogue:
    def __init__(self, items: Iterable[CatalogueItem]) -> None:
        self._items = {i.code: i for i in items}

    def __len__(self) -> int:
        return len(self._items)

    def with_items(self, items: Iterable[CatalogueItem]) -> ItemCatalogue:
        """This catalogue with each of `items` that is newer than the entry held for its code.

        Nothing is ever removed (stock's catalogue has no removal), so merging in any order,
        or twice, gives the same catalogue: what keeps the in-memory copy and the read model
        in agreement however their updates interleave."""
        merged = dict(self._items)
        for item in items:
            if item.newer_than(merged.get(item.code)):
                merged[item.code] = item
        return ItemCatalogue(merged.values())

    def knows_all(self, codes: Iterable[str]) -> bool:
        return all(code in self._items for code in codes)

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
