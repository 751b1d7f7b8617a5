"""The item catalogue: what can be stocked, in which unit, and what each kit contains.

Kits are catalogue items like any other (a need for kits is met by kits); their bill of
materials is data, so a cluster defines its own kits without a code change.

One rule keeps kits simple and free of cycles: a kit's components are plain items, never kits
(a cluster that hands out "8 hygiene kits" with a flood kit lists them as two lines of a
distribution, not as a kit inside a kit). So nesting is one level deep, and a cycle cannot form.
The rule spans several aggregates, so the handlers check it through the repository.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from kitflow_shared import errors as kinds
from kitflow_shared.errors import message

from kitflow_stock.domain.errors import InvalidInput, StockError

# Codes are used as keys in stored documents and in URLs: no dots, dollars or spaces.
CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,63}$")


class ItemCategory(StrEnum):
    SHELTER = "shelter"
    NFI = "nfi"
    WASH_HYGIENE = "wash-hygiene"
    WATER = "water"


@dataclass(frozen=True)
class KitComponent:
    item_code: str
    quantity: int


@dataclass(frozen=True)
class ItemDetails:
    name_en: str
    name_fr: str
    category: ItemCategory
    unit: str  # the unit stock is counted in: "piece", "kit", "roll", "bar", ...
    pack_size: int = 1  # units per pack, for receiving and picking in packs
    weight_kg: float | None = None  # per unit
    volume_m3: float | None = None  # per unit
    components: tuple[KitComponent, ...] = ()  # a kit's bill of materials; empty for an item

    @property
    def is_kit(self) -> bool:
        return bool(self.components)

    def validated(self, code: str) -> ItemDetails:
        if not CODE_PATTERN.match(code):
            raise InvalidInput.of("code", "use capital letters, digits and hyphens (max 64)")
        for field_name in ("name_en", "name_fr", "unit"):
            if not getattr(self, field_name).strip():
                raise InvalidInput.of(field_name, "must not be blank")
        if self.pack_size < 1:
            raise InvalidInput.of("pack_size", "must be at least 1")
        for field_name in ("weight_kg", "volume_m3"):
            value = getattr(self, field_name)
            if value is not None and value <= 0:
                raise InvalidInput.of(field_name, "must be greater than 0")
        seen: set[str] = set()
        for i, component in enumerate(self.components):
            where = f"components.{i}"
            if component.item_code == code:
                raise InvalidInput.of(f"{where}.item_code", "a kit cannot contain itself")
            if component.item_code in seen:
                raise InvalidInput.of(
                    f"{where}.item_code", f"{component.item_code} is listed twice"
                )
            if component.quantity < 1:
                raise InvalidInput.of(f"{where}.quantity", "must be at least 1")
            seen.add(component.item_code)
        return replace(
            self,
            name_en=self.name_en.strip(),
            name_fr=self.name_fr.strip(),
            unit=self.unit.strip(),
        )


@dataclass(frozen=True)
class ItemRegistered:
    item: CatalogueItem


@dataclass(frozen=True)
class ItemChanged:
    item: CatalogueItem


ItemEvent = ItemRegistered | ItemChanged


class DuplicateItem(StockError, kinds.Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(
            message("an item with code {code!r} is already in the catalogue", code=code)
        )
        self.code = code


@dataclass
class CatalogueItem:
    code: str
    details: ItemDetails
    # The aggregate's version: 1 after registration, +1 per change. Events carry it so that
    # consumers can apply "only if newer".
    sequence: int = 0
    events: list[ItemEvent] = field(default_factory=list, compare=False, repr=False)

    @property
    def is_kit(self) -> bool:
        return self.details.is_kit

    @classmethod
    def register(cls, code: str, details: ItemDetails) -> CatalogueItem:
        item = cls(code=code, details=details.validated(code), sequence=1)
        item.events.append(ItemRegistered(item.snapshot()))
        return item

    def change(self, details: ItemDetails) -> bool:
        """Apply new details; return False (and record nothing) when nothing changed."""
        details = details.validated(self.code)
        if details == self.details:
            return False
        self.details = details
        self.sequence += 1
        self.events.append(ItemChanged(self.snapshot()))
        return True

    def snapshot(self) -> CatalogueItem:
        return CatalogueItem(code=self.code, details=self.details, sequence=self.sequence)


def check_bill_of_materials(details: ItemDetails, found: Mapping[str, CatalogueItem]) -> None:
    """A kit's components must be in the catalogue (`found`: those of them that are) and be
    plain items, not kits. Names the first offending component."""
    for i, component in enumerate(details.components):
        where = f"components.{i}.item_code"
        held = found.get(component.item_code)
        if held is None:
            raise InvalidInput.of(where, f"{component.item_code} is not in the catalogue")
        if held.is_kit:
            raise InvalidInput.of(
                where, f"{component.item_code} is a kit; a kit's components must be plain items"
            )


def check_may_become_kit(code: str, kits_containing_it: list[str]) -> None:
    """An item that is a component of kits must stay a plain item (no kit inside a kit)."""
    if kits_containing_it:
        raise InvalidInput.of(
            "components",
            f"{code} is a component of {', '.join(sorted(kits_containing_it))}; "
            "a component cannot become a kit",
        )


@dataclass(frozen=True)
class KitTotal:
    """A kit's weight or volume: as recorded on the kit, else summed from its components."""

    value: float | None
    # "given" (recorded on the kit), "components" (summed), "unknown" (a component has none)
    basis: Literal["given", "components", "unknown"]


def kit_totals(
    item: CatalogueItem, found: Mapping[str, CatalogueItem]
) -> tuple[KitTotal, KitTotal]:
    """The kit's (weight in kg, volume in m3), from `found` (its components by code)."""

    def total(attribute: str) -> KitTotal:
        given: float | None = getattr(item.details, attribute)
        if given is not None:
            return KitTotal(given, "given")
        parts: list[float] = []
        for component in item.details.components:
            held = found.get(component.item_code)
            per_unit = getattr(held.details, attribute) if held is not None else None
            if per_unit is None:
                return KitTotal(None, "unknown")
            parts.append(per_unit * component.quantity)
        # Rounded so that 3 x 1.6 kg reads 4.8, not 4.800000000000001.
        return KitTotal(round(sum(parts), 6), "components")

    return total("weight_kg"), total("volume_m3")


def search_key(*texts: str) -> str:
    """What text search matches on: lower case, without accents ("Bâche" is found by "bache")."""
    joined = " ".join(texts).casefold()
    decomposed = unicodedata.normalize("NFKD", joined)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def item_search_key(item: CatalogueItem) -> str:
    return search_key(item.code, item.details.name_en, item.details.name_fr)
