"""The reference data shipped with the service: the gazetteer, the item codes, the built-in
norms profiles (JSON files in kitflow_needs/data, each recording its sources)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any

from kitflow_needs.domain.catalogue import CatalogueItem, ItemCatalogue, ItemKind
from kitflow_needs.domain.gazetteer import AdminArea, Gazetteer
from kitflow_needs.domain.norms import Basis, NormRule, NormsProfile
from kitflow_needs.domain.vintages import CercleLink, Crosswalk


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("kitflow_needs.data").joinpath(name).read_text())
    return data


@cache
def gazetteer_metadata() -> dict[str, str]:
    meta: dict[str, str] = _read("gazetteer_mali.json")["metadata"]
    return meta


GAZETTEER_FILES = ("gazetteer_mali.json", "gazetteer_mali_2021.json")
CROSSWALK_FILE = "gazetteer_mali_crosswalk.json"


def _area(entry: dict[str, Any], parent_key: str | None = None) -> AdminArea:
    return AdminArea(
        pcode=entry["pcode"],
        name=entry["name"],
        parent=entry.get(parent_key) if parent_key else None,
        aliases=tuple(entry.get("aliases", ())),
    )


def _one_vintage(raw: dict[str, Any], *, accepts_iso3_style: bool) -> Gazetteer:
    meta = raw["metadata"]
    other = raw.get("other_vintage", {})
    return Gazetteer(
        vintage=meta["vintage"],
        vintage_label=meta["vintage_short"],
        admin1=[_area(a) for a in raw["admin1"]],
        admin2=[_area(a, "admin1") for a in raw["admin2"]],
        complete_admin1=frozenset(a["pcode"] for a in raw["admin1"] if a["admin2_complete"]),
        other_vintage_label=other.get("label", "another vintage"),
        other_admin1=[_area(a) for a in other.get("admin1", ())],
        other_admin2=[_area(a) for a in other.get("admin2", ())],
        iso_names={entry["code"]: entry["name"] for entry in raw.get("iso_3166_2", ())},
        accepts_iso3_style=accepts_iso3_style,
    )


@cache
def gazetteer_vintages() -> list[dict[str, str]]:
    """Each bundled vintage's metadata (id, label, source, coverage), the default one first."""
    return [_read(name)["metadata"] for name in GAZETTEER_FILES]


@cache
def load_crosswalk() -> Crosswalk:
    raw = _read(CROSSWALK_FILE)
    older, newer = raw["metadata"]["from"], raw["metadata"]["to"]
    return Crosswalk(older, newer, [CercleLink(c[older], tuple(c[newer])) for c in raw["cercles"]])


@cache
def load_gazetteer(reporting_vintage: str | None = None) -> Gazetteer:
    """Needs give codes in the default vintage (COD-AB 2015) unless they declare another
    bundled one; places are reported in `reporting_vintage` (None: the default vintage)."""
    default, *others = (
        # Only the newer vintage is written MLI.. in the sources it is read from (the 5W).
        _one_vintage(_read(name), accepts_iso3_style=index > 0)
        for index, name in enumerate(GAZETTEER_FILES)
    )
    default.input_vintages = {g.vintage: g for g in others}
    default.crosswalk = load_crosswalk()
    if reporting_vintage not in (None, default.vintage):
        reporting = default.input_vintages.get(str(reporting_vintage))
        if reporting is None:
            known = ", ".join(default.known_vintages)
            raise ValueError(f"unknown reporting vintage {reporting_vintage!r}; known: {known}")
        default.reporting = reporting
    return default


@cache
def load_catalogue() -> ItemCatalogue:
    raw = _read("items.json")
    return ItemCatalogue(
        [CatalogueItem(i["code"], i["name"], i["unit"], ItemKind(i["kind"])) for i in raw["items"]]
    )


def profile_from_dict(raw: dict[str, Any]) -> NormsProfile:
    return NormsProfile(
        profile_id=raw["profile_id"],
        name=raw["name"],
        description=raw.get("description", ""),
        duration_days=int(raw["duration_days"]),
        rules=tuple(
            NormRule(
                item_code=r["item_code"],
                basis=Basis(r["basis"]),
                amount=Decimal(str(r["amount"])),
                amount_unit=r["amount_unit"],
                per_days=r.get("per_days"),
                content_per_item=Decimal(str(r.get("content_per_item", "1"))),
                note=r.get("note", ""),
            )
            for r in raw["rules"]
        ),
        sources=tuple(raw.get("sources", ())),
        based_on=raw.get("based_on"),
        version=int(raw.get("version", 1)),
    )


def profile_to_dict(profile: NormsProfile) -> dict[str, Any]:
    return {
        "profile_id": profile.profile_id,
        "name": profile.name,
        "description": profile.description,
        "duration_days": profile.duration_days,
        "rules": [
            {
                "item_code": r.item_code,
                "basis": r.basis.value,
                "amount": str(r.amount),
                "amount_unit": r.amount_unit,
                "per_days": r.per_days,
                "content_per_item": str(r.content_per_item),
                "note": r.note,
            }
            for r in profile.rules
        ],
        "sources": list(profile.sources),
        "based_on": profile.based_on,
        "version": profile.version,
    }


def builtin_profiles() -> list[NormsProfile]:
    catalogue = load_catalogue()
    return [
        profile_from_dict(p).validated(catalogue) for p in _read("norms_profiles.json")["profiles"]
    ]


class SystemClock:
    def now(self) -> datetime:
        # In milliseconds, as the store keeps times: the need a command answers with is the need
        # a retry of it reads back (a replay answers as the first time, to the character).
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
