"""The item catalogue's events, published by the stock service on `kitflow.stock.events`
(owned by stock).

A kit is a catalogue item whose `components` (its bill of materials) is not empty; a kit's
components are plain items, never kits.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kitflow_shared.events.registry import registry

# Codes are keys in stored documents and in URLs: capitals, digits and hyphens; no dots.
ItemCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
]


class ItemCategory(StrEnum):
    SHELTER = "shelter"
    NFI = "nfi"
    WASH_HYGIENE = "wash-hygiene"
    WATER = "water"


class KitComponentState(BaseModel):
    """One line of a kit's bill of materials: how many units of which item one kit holds."""

    model_config = ConfigDict(extra="forbid")

    item_code: ItemCode
    quantity: int = Field(ge=1)


class ItemState(BaseModel):
    """A catalogue item as it is after the change (state-carrying: consumers need nothing
    else)."""

    model_config = ConfigDict(extra="forbid")

    code: ItemCode
    name_en: str = Field(min_length=1, max_length=200)
    name_fr: str = Field(min_length=1, max_length=200)
    category: ItemCategory
    unit: str = Field(min_length=1, max_length=32, description="The unit stock is counted in")
    pack_size: int = Field(default=1, ge=1, description="Units per pack")
    weight_kg: float | None = Field(default=None, gt=0, description="Per unit, if known")
    volume_m3: float | None = Field(default=None, gt=0, description="Per unit, if known")
    components: list[KitComponentState] = Field(
        default_factory=list, description="A kit's bill of materials; empty for a plain item"
    )


def item_subject(code: str) -> str:
    """The aggregate id used as event subject and Kafka key."""
    return f"item/{code}"


ITEM_REGISTERED = registry.register(
    "org.kitflow.stock.item.registered.v1",
    ItemState,
    service="stock",
    description="An item or kit was added to the catalogue; carries its full state.",
)
ITEM_UPDATED = registry.register(
    "org.kitflow.stock.item.updated.v1",
    ItemState,
    service="stock",
    description="A catalogue item or kit changed; carries its full state after the change.",
)
