"""/v1/items: the item catalogue and its kits; admins maintain it, every role reads it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from kitflow_shared.contracts.catalogue import ItemCategory, ItemCode
from kitflow_shared.text import PlainText, Quantity
from kitflow_shared.web.identity import Caller, Role, require_roles
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kitflow_stock.api.deps import AnyRole, Context, actor_of
from kitflow_stock.domain import catalogue as domain
from kitflow_stock.handlers.catalogue import CatalogueHandlers, ChangeItem, RegisterItem
from kitflow_stock.handlers.ports import CatalogueRepository

router = APIRouter(prefix="/v1/items", tags=["catalogue"])


async def _catalogue(request: Request) -> CatalogueRepository:
    repo: CatalogueRepository = request.app.state.catalogue
    return repo


Catalogue = Annotated[CatalogueRepository, Depends(_catalogue)]
Admin = Annotated[Caller, Depends(require_roles(Role.ADMIN))]
CodeInPath = Annotated[str, Path(max_length=64)]
Name = Annotated[PlainText, Field(min_length=1, max_length=200)]
Unit = Annotated[PlainText, Field(min_length=1, max_length=32, examples=["piece"])]
# Per unit: a finite positive number (JSON has no infinity, but Python's parser reads one).
Measure = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Basis = Literal["given", "components", "unknown"]


class KitComponentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: ItemCode
    quantity: Quantity = Field(description="Units of the item in one kit")


class ItemCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "KIT-HYGIENE",
                    "name_en": "Hygiene kit",
                    "name_fr": "Kit d'hygiène",
                    "category": "wash-hygiene",
                    "unit": "kit",
                    "components": [
                        {"item_code": "JERRYCAN-20L", "quantity": 1},
                        {"item_code": "SOAP-BATH-250G", "quantity": 5},
                    ],
                }
            ]
        },
    )

    code: ItemCode
    name_en: Name
    name_fr: Name
    category: ItemCategory
    unit: Unit
    pack_size: Quantity = Field(default=1, description="Units per pack")
    weight_kg: Measure | None = Field(default=None, description="Per unit")
    volume_m3: Measure | None = Field(default=None, description="Per unit")
    components: list[KitComponentIn] = Field(
        default_factory=list,
        max_length=100,
        description="A kit's bill of materials (plain items only); leave empty for an item",
    )


class ItemUpdate(BaseModel):
    """Only the fields given change; `components` replaces the whole bill of materials."""

    model_config = ConfigDict(extra="forbid")

    name_en: Name | None = None
    name_fr: Name | None = None
    category: ItemCategory | None = None
    unit: Unit | None = None
    pack_size: Quantity | None = None
    weight_kg: Measure | None = Field(default=None, description="null clears it")
    volume_m3: Measure | None = Field(default=None, description="null clears it")
    components: list[KitComponentIn] | None = Field(default=None, max_length=100)

    @field_validator("name_en", "name_fr", "category", "unit", "pack_size", "components")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only on values the client sent: leaving a field out is fine, null is not.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class KitComponentPublic(BaseModel):
    item_code: str
    quantity: int
    name_en: str | None = Field(description="null only if the item vanished from the catalogue")
    name_fr: str | None
    unit: str | None
    weight_kg: float | None = Field(description="Per unit of the component")
    volume_m3: float | None = Field(description="Per unit of the component")


class KitPublic(BaseModel):
    """What a kit contains, and what one kit weighs and measures."""

    components: list[KitComponentPublic]
    total_weight_kg: float | None = Field(
        description="The kit's weight as recorded, else the sum of its components' weights "
        "(null if a component has none)"
    )
    total_weight_basis: Basis
    total_volume_m3: float | None = Field(
        description="The kit's volume as recorded, else the sum of its components' volumes "
        "(null if a component has none)"
    )
    total_volume_basis: Basis


class ItemPublic(BaseModel):
    code: str
    name_en: str
    name_fr: str
    category: ItemCategory
    unit: str
    pack_size: int
    weight_kg: float | None = Field(description="Per unit, as recorded")
    volume_m3: float | None = Field(description="Per unit, as recorded")
    is_kit: bool
    kit: KitPublic | None = Field(description="A kit's contents and totals; null for an item")
    version: int = Field(description="Increases with every change")

    @classmethod
    def of(cls, item: domain.CatalogueItem, found: dict[str, domain.CatalogueItem]) -> ItemPublic:
        """`found`: the catalogue items the kit's components refer to, by code."""
        d = item.details
        return cls(
            code=item.code,
            name_en=d.name_en,
            name_fr=d.name_fr,
            category=ItemCategory(d.category.value),
            unit=d.unit,
            pack_size=d.pack_size,
            weight_kg=d.weight_kg,
            volume_m3=d.volume_m3,
            is_kit=item.is_kit,
            kit=_kit_public(item, found) if item.is_kit else None,
            version=item.sequence,
        )


def _kit_public(item: domain.CatalogueItem, found: dict[str, domain.CatalogueItem]) -> KitPublic:
    components = []
    for c in item.details.components:
        held = found.get(c.item_code)
        components.append(
            KitComponentPublic(
                item_code=c.item_code,
                quantity=c.quantity,
                name_en=held.details.name_en if held else None,
                name_fr=held.details.name_fr if held else None,
                unit=held.details.unit if held else None,
                weight_kg=held.details.weight_kg if held else None,
                volume_m3=held.details.volume_m3 if held else None,
            )
        )
    weight, volume = domain.kit_totals(item, found)
    return KitPublic(
        components=components,
        total_weight_kg=weight.value,
        total_weight_basis=weight.basis,
        total_volume_m3=volume.value,
        total_volume_basis=volume.basis,
    )


class ItemPage(BaseModel):
    items: list[ItemPublic]
    total: int
    limit: int
    offset: int


def _components(given: list[KitComponentIn]) -> tuple[domain.KitComponent, ...]:
    return tuple(domain.KitComponent(c.item_code, c.quantity) for c in given)


async def _public(items: list[domain.CatalogueItem], repo: CatalogueRepository) -> list[ItemPublic]:
    """The items with their kits' components looked up in one call."""
    codes = {c.item_code for item in items for c in item.details.components}
    found = await repo.get_many(codes) if codes else {}
    return [ItemPublic.of(item, found) for item in items]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ItemPublic)
async def register(
    body: ItemCreate,
    caller: Admin,
    repo: Catalogue,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> ItemPublic:
    """Add an item or a kit to the catalogue (admins only)."""
    details = domain.ItemDetails(
        name_en=body.name_en,
        name_fr=body.name_fr,
        category=domain.ItemCategory(body.category.value),
        unit=body.unit,
        pack_size=body.pack_size,
        weight_kg=body.weight_kg,
        volume_m3=body.volume_m3,
        components=_components(body.components),
    )
    done = await CatalogueHandlers(repo).register_item(
        RegisterItem(body.code, details), actor_of(caller), context, key
    )
    mark_replayed(response, done.replayed)
    [public] = await _public([done.value], repo)
    return public


@router.patch("/{code}", response_model=ItemPublic)
async def change(
    code: CodeInPath,
    body: ItemUpdate,
    caller: Admin,
    repo: Catalogue,
    context: Context,
    key: RequestKeyDep,
    response: Response,
) -> ItemPublic:
    """Change an item's or a kit's details (admins only)."""
    changes: dict[str, object] = {}
    for field, value in body.model_dump(exclude_unset=True).items():
        if field == "category":
            changes["category"] = domain.ItemCategory(value)
        elif field == "components":
            changes["components"] = _components(body.components or [])
        else:
            changes[field] = value
    done = await CatalogueHandlers(repo).change_item(
        ChangeItem(code, changes), actor_of(caller), context, key
    )
    mark_replayed(response, done.replayed)
    [public] = await _public([done.value], repo)
    return public


@router.get("", response_model=ItemPage)
async def list_items(
    caller: AnyRole,
    repo: Catalogue,
    category: ItemCategory | None = None,
    is_kit: bool | None = None,
    q: Annotated[
        PlainText | None,
        Query(max_length=100, description="Text within the code or a name (accents ignored)"),
    ] = None,
    component: Annotated[
        PlainText | None, Query(max_length=64, description="Only the kits that contain this item")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ItemPage:
    """List catalogue items and kits (every role: the catalogue is the cluster's shared list)."""
    page = await repo.list(
        category=category.value if category else None,
        is_kit=is_kit,
        text=q,
        component=component,
        limit=limit,
        offset=offset,
    )
    return ItemPage(
        items=await _public(page.items, repo), total=page.total, limit=limit, offset=offset
    )


@router.get("/{code}", response_model=ItemPublic)
async def get_item(code: CodeInPath, caller: AnyRole, repo: Catalogue) -> ItemPublic:
    """One item by its code; for a kit, what it contains and what it weighs."""
    [public] = await _public([await repo.get(code)], repo)
    return public
