"""P-codes checked against a bundled gazetteer that records its vintage.

Three pitfalls this guards against, all seen in real Mali data (see the service README):
- ISO 3166-2 codes are not P-codes: ISO ML-9 is Ménaka while the P-code ML09 is Bamako;
- admin2 codes changed between COD vintages: the cercle of Mopti is ML0501 in COD-AB 2015 but
  MLI0506 in the 2021+ vintage, and ML0506 is Douentza in 2015;
- a code and a name that do not match (the 5W holds pairs such as (ML05, "Gao")).
A rejected code comes with the code that matches the name, when a name was given.

More than one vintage can be bundled: codes are read in the vintage the caller declares (this
gazetteer's own by default, since ML0506 means Douentza in 2015 and Mopti in 2021+), and the
place is reported in one chosen vintage through a crosswalk of cercles (`vintages.py`), with the
codes as given kept beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from kitflow_shared.errors import Text, message

from kitflow_needs.domain.errors import FieldProblem, InvalidInput
from kitflow_needs.domain.text import name_key
from kitflow_needs.domain.vintages import Crosswalk, CrosswalkMatch

ADMIN1_FORMAT = re.compile(r"^ML[0-9]{2}$")
ADMIN2_FORMAT = re.compile(r"^ML[0-9]{4}$")
ADMIN3_FORMAT = re.compile(r"^ML[0-9]{6}$")
ISO_3166_2 = re.compile(r"^ML-([0-9]{1,2}|[A-Z]{3})$")
ISO3_STYLE = re.compile(r"^MLI([0-9]{2}|[0-9]{4}|[0-9]{6})$")


@dataclass(frozen=True)
class AdminArea:
    pcode: str
    name: str
    parent: str | None = None
    aliases: tuple[str, ...] = ()
    keys: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Computed once: names are compared for every row of an import.
        object.__setattr__(self, "keys", frozenset(name_key(n) for n in (self.name, *self.aliases)))

    def is_called(self, name: str) -> bool:
        return name_key(name) in self.keys


@dataclass(frozen=True)
class PlaceCodes:
    """The codes of a place as the caller gave them, in the vintage they were given in."""

    vintage: str
    admin1_pcode: str
    admin2_pcode: str
    admin3_pcode: str | None


@dataclass(frozen=True)
class ResolvedPlace:
    """Codes that passed the checks, with the gazetteer's names and what could be verified;
    in the reporting vintage, with the codes as given when they were given in another one."""

    admin1_pcode: str
    admin1_name: str
    admin2_pcode: str
    admin2_name: str | None
    admin3_pcode: str | None
    admin2_verified: bool
    admin3_verified: bool
    vintage: str
    as_given: PlaceCodes | None = None
    crosswalk: CrosswalkMatch | None = None


RESOLVED_CACHE_SIZE = 10_000


@dataclass
class Gazetteer:
    vintage: str
    vintage_label: str
    admin1: list[AdminArea]
    admin2: list[AdminArea]
    # Regions whose cercles are all listed: an unknown admin2 there is an error, not a gap.
    complete_admin1: frozenset[str]
    other_vintage_label: str = ""
    other_admin1: list[AdminArea] = field(default_factory=list)
    other_admin2: list[AdminArea] = field(default_factory=list)
    iso_names: dict[str, str] = field(default_factory=dict)
    # The 5W writes this vintage's codes in the ISO3 style (MLI0506): read them as ML0506.
    accepts_iso3_style: bool = False
    # Other vintages a caller may declare, the crosswalk between them and this one, and the
    # vintage places are reported in (None: this one).
    input_vintages: dict[str, Gazetteer] = field(default_factory=dict)
    crosswalk: Crosswalk | None = None
    reporting: Gazetteer | None = None

    def __post_init__(self) -> None:
        self._admin1 = {a.pcode: a for a in self.admin1}
        self._admin2 = {a.pcode: a for a in self.admin2}
        self._other1 = {a.pcode: a for a in self.other_admin1}
        self._other2 = {a.pcode: a for a in self.other_admin2}
        # Name look-ups happen for every row of an import: index them once.
        self._region_by_name = _by_name(self.admin1)
        self._cercle_by_name = _by_name(self.admin2)
        self._cercle_by_region_and_name = {
            (a.parent, key): a for a in reversed(self.admin2) for key in a.keys
        }
        # An import's rows name few distinct places: each combination is checked once.
        self._resolved: dict[tuple[str | None, ...], ResolvedPlace | tuple[FieldProblem, ...]] = {}

    @property
    def reporting_vintage(self) -> str:
        return (self.reporting or self).vintage

    @property
    def known_vintages(self) -> dict[str, Gazetteer]:
        """Every vintage a caller may declare, by id: this one first."""
        return {self.vintage: self, **self.input_vintages}

    # ------------------------------------------------------------------ look-ups

    def region(self, pcode: str) -> AdminArea | None:
        return self._admin1.get(pcode)

    def cercle(self, pcode: str) -> AdminArea | None:
        return self._admin2.get(pcode)

    def region_named(self, name: str) -> AdminArea | None:
        return self._region_by_name.get(name_key(name))

    def cercle_named(self, name: str, within: str | None = None) -> AdminArea | None:
        """The cercle of that name, preferably inside `within` (several may share a name)."""
        key = name_key(name)
        inside = self._cercle_by_region_and_name.get((within, key)) if within else None
        return inside or self._cercle_by_name.get(key)

    # ------------------------------------------------------------------ the check

    def resolve(
        self,
        admin1_pcode: str,
        admin2_pcode: str,
        admin3_pcode: str | None = None,
        *,
        admin1_name: str | None = None,
        admin2_name: str | None = None,
        vintage: str | None = None,
    ) -> ResolvedPlace:
        """Check the codes (and the names, when given) in `vintage` (this gazetteer's when None);
        raise InvalidInput naming each problem. The place comes back in the reporting vintage."""
        key = (admin1_pcode, admin2_pcode, admin3_pcode, admin1_name, admin2_name, vintage)
        known = self._resolved.get(key)
        if known is None:
            try:
                known = self._resolve_in(*key)
            except InvalidInput as exc:
                known = tuple(exc.problems)
            if len(self._resolved) >= RESOLVED_CACHE_SIZE:
                self._resolved.clear()  # bounded: a file of random codes must not grow it
            self._resolved[key] = known
        if isinstance(known, tuple):
            raise InvalidInput(*known)
        return known

    def _resolve_in(
        self,
        admin1_pcode: str,
        admin2_pcode: str,
        admin3_pcode: str | None,
        admin1_name: str | None,
        admin2_name: str | None,
        vintage: str | None,
    ) -> ResolvedPlace:
        source = self._declared(vintage)
        place = source._resolve(admin1_pcode, admin2_pcode, admin3_pcode, admin1_name, admin2_name)
        return self._reported(place)

    def _declared(self, vintage: str | None) -> Gazetteer:
        if vintage is None:
            return self
        source = self.known_vintages.get(vintage.strip().lower())
        if source is None:
            known = ", ".join(self.known_vintages)
            raise InvalidInput(
                FieldProblem("vintage", f"unknown P-code vintage {vintage!r}; known: {known}")
            )
        return source

    def _reported(self, place: ResolvedPlace) -> ResolvedPlace:
        """The place in the reporting vintage, through the crosswalk of cercles."""
        target = self.reporting or self
        if place.vintage == target.vintage:
            return place
        given = PlaceCodes(
            place.vintage, place.admin1_pcode, place.admin2_pcode, place.admin3_pcode
        )
        moved = (
            self.crosswalk.admin2(place.admin2_pcode, place.vintage, target.vintage)
            if (self.crosswalk)
            else None
        )
        cercle = target.cercle(moved.admin2_pcode) if moved else None
        if moved is None or cercle is None or cercle.parent is None:
            # Not in the crosswalk (a region whose cercles no vintage lists): admin1 codes
            # ML01-ML09 kept their meaning, the cercle's code is carried over, unverified.
            region = target.region(place.admin1_pcode)
            return ResolvedPlace(
                admin1_pcode=place.admin1_pcode,
                admin1_name=region.name if region else place.admin1_name,
                admin2_pcode=place.admin2_pcode,
                admin2_name=None,
                admin3_pcode=place.admin3_pcode,
                admin2_verified=False,
                admin3_verified=False,
                vintage=target.vintage,
                as_given=given,
                crosswalk=CrosswalkMatch.UNMAPPED,
            )
        region = target.region(cercle.parent)
        return ResolvedPlace(
            admin1_pcode=cercle.parent,
            admin1_name=region.name if region else cercle.parent,
            admin2_pcode=cercle.pcode,
            admin2_name=cercle.name,
            # Communes are not crosswalked: a commune code is kept only where its cercle's is.
            admin3_pcode=place.admin3_pcode if cercle.pcode == place.admin2_pcode else None,
            admin2_verified=True,
            admin3_verified=False,
            vintage=target.vintage,
            as_given=given,
            crosswalk=moved.match,
        )

    def _resolve(
        self,
        admin1_pcode: str,
        admin2_pcode: str,
        admin3_pcode: str | None,
        admin1_name: str | None,
        admin2_name: str | None,
    ) -> ResolvedPlace:
        a1 = self._written_ml(admin1_pcode.strip().upper())
        a2 = self._written_ml(admin2_pcode.strip().upper())
        a3 = admin3_pcode.strip().upper() if admin3_pcode and admin3_pcode.strip() else None
        a3 = self._written_ml(a3) if a3 else None
        problems: list[FieldProblem] = []
        region = self._check_admin1(a1, admin1_name, problems)
        cercle, admin2_ok = self._check_admin2(a2, region, admin2_name, problems)
        if a3 is not None and admin2_ok:
            self._check_admin3(a3, a2, problems)
        elif a3 is not None and not ADMIN3_FORMAT.match(a3):
            problems.append(FieldProblem("admin3_pcode", _admin3_format_reason(a3)))
        if problems or region is None:
            raise InvalidInput(*problems)
        return ResolvedPlace(
            admin1_pcode=a1,
            admin1_name=region.name,
            admin2_pcode=a2,
            admin2_name=cercle.name if cercle else None,
            admin3_pcode=a3,
            admin2_verified=cercle is not None,
            admin3_verified=False,
            vintage=self.vintage,
        )

    def _written_ml(self, code: str) -> str:
        return f"ML{code[3:]}" if self.accepts_iso3_style and ISO3_STYLE.match(code) else code

    def _declare_hint(self) -> Text:
        others = [v for v in self.input_vintages if v != self.vintage]
        if not others:
            return ""
        return message(
            " (to give codes of another vintage, declare it in location.vintage: {vintage})",
            vintage=others[0],
        )

    def _check_admin1(
        self, code: str, name: str | None, problems: list[FieldProblem]
    ) -> AdminArea | None:
        named = self.region_named(name) if name else None
        hint = _pcode_of(named) if named else ""
        region = self._admin1.get(code)
        refusal = self._admin1_form_refusal(code, hint) or (
            self._unknown_admin1(code, hint) if region is None else None
        )
        if refusal is None and region is not None and name and not region.is_called(name):
            suggestion = hint or message(
                " (no region called {name} in the gazetteer)", name=repr(name)
            )
            refusal = _not_called(code, region, name, suggestion, "")
        if refusal is not None:
            problems.append(FieldProblem("admin1_pcode", refusal))
            return None
        return region

    def _admin1_form_refusal(self, code: str, hint: Text) -> Text | None:
        """Why `code` is not written as an admin1 P-code (ISO codes, ISO3 style), if it is not."""
        if ISO_3166_2.match(code):
            iso_name = self.iso_names.get(code)
            what = message(" (ISO's code for {name})", name=iso_name) if iso_name else ""
            return message(
                "{code} is an ISO 3166-2 code{what}, not an OCHA P-code: ISO ML-9 is Ménaka "
                "while the P-code ML09 is Bamako{hint}",
                code=code,
                what=what,
                hint=hint or (self._where_is(iso_name) if iso_name else ""),
            )
        if ISO3_STYLE.match(code):
            return message(
                "{code} is written in the ISO3 style (MLI..); this service uses the COD-AB form "
                "ML + 2 digits{hint}",
                code=code,
                hint=hint or message(", e.g. {code}", code=f"ML{code[3:5]}"),
            )
        if not ADMIN1_FORMAT.match(code):
            return message(
                "{code} is not an admin1 P-code: ML followed by 2 digits, e.g. ML05 for "
                "Mopti{hint}",
                code=repr(code),
                hint=hint,
            )
        return None

    def _unknown_admin1(self, code: str, hint: Text) -> Text:
        other = self._other1.get(code)
        if other is not None:
            return message(
                "{code} ({name}) is a region of {other}, not of this gazetteer's vintage "
                "({vintage}){hint}{declare}",
                code=code,
                name=other.name,
                other=self.other_vintage_label,
                vintage=self.vintage_label,
                hint=hint or self._where_is(other.name),
                declare=self._declare_hint(),
            )
        return message(
            "unknown admin1 P-code {code}; the regions of {vintage} are {codes}{hint}",
            code=code,
            vintage=self.vintage_label,
            codes=", ".join(sorted(self._admin1)),
            hint=hint,
        )

    def _check_admin2(
        self,
        code: str,
        region: AdminArea | None,
        name: str | None,
        problems: list[FieldProblem],
    ) -> tuple[AdminArea | None, bool]:
        """The cercle, and whether the code is acceptable (a region whose cercles the
        gazetteer does not list accepts any well-formed code, unverified)."""
        within = region.pcode if region else None
        named = self.cercle_named(name, within) if name else None
        hint = _pcode_of(named) if named else ""
        refusal = self._admin2_form_refusal(code, hint)
        if refusal is None and region is None:
            return None, False  # the admin1 problem is already reported
        cercle = self._admin2.get(code)
        if refusal is None and region is not None:
            refusal = self._admin2_place_refusal(code, cercle, region, name, hint)
        if refusal is not None:
            problems.append(FieldProblem("admin2_pcode", refusal))
            return None, False
        return cercle, True

    def _admin2_form_refusal(self, code: str, hint: Text) -> Text | None:
        """Why `code` is not written as an admin2 P-code of this vintage, if it is not."""
        if ISO3_STYLE.match(code) or ISO_3166_2.match(code):
            other = self._other2.get(code)
            if other is None:
                return message(
                    "{code} is not an admin2 P-code of {vintage}: ML followed by 4 digits, e.g. "
                    "ML0501 for Mopti{hint}",
                    code=code,
                    vintage=self.vintage_label,
                    hint=hint,
                )
            current = self.cercle_named(other.name)
            where: Text = (
                message(
                    "; in this gazetteer's vintage ({vintage}) {name} is {pcode}",
                    vintage=self.vintage_label,
                    name=current.name,
                    pcode=current.pcode,
                )
                if current
                else ""
            )
            return message(
                "{code} ({name}) is a P-code of {other}{where}{declare}",
                code=code,
                name=other.name,
                other=self.other_vintage_label,
                where=where,
                declare=self._declare_hint(),
            )
        if not ADMIN2_FORMAT.match(code):
            return message(
                "{code} is not an admin2 P-code: ML followed by 4 digits, e.g. ML0501 for the "
                "cercle of Mopti{hint}",
                code=repr(code),
                hint=hint,
            )
        return None

    def _admin2_place_refusal(
        self,
        code: str,
        cercle: AdminArea | None,
        region: AdminArea,
        name: str | None,
        hint: Text,
    ) -> Text | None:
        """Why a well-formed `code` is not a cercle of `region` called `name`, if it is not."""
        if not code.startswith(region.pcode):
            known = (
                message(" ({name}, in {region})", name=cercle.name, region=cercle.parent)
                if cercle
                else ""
            )
            return message(
                "{code}{known} is not inside {pcode} ({name}): an admin2 P-code starts with its "
                "admin1 P-code{hint}",
                code=code,
                known=known,
                pcode=region.pcode,
                name=region.name,
                hint=hint,
            )
        other_hint = self._other_vintage_hint(code)
        if cercle is None:
            if region.pcode not in self.complete_admin1:
                return None  # the gazetteer does not list this region's cercles
            return message(
                "unknown admin2 P-code {code} in {region} ({admin1}); its cercles are "
                "{cercles}{hint}{other}",
                code=code,
                region=region.name,
                admin1=region.pcode,
                cercles=", ".join(
                    f"{a.pcode} {a.name}" for a in self.admin2 if a.parent == region.pcode
                ),
                hint=hint,
                other=other_hint,
            )
        if name and not cercle.is_called(name):
            suggestion = hint or message(
                " (no cercle called {name} in the gazetteer)", name=repr(name)
            )
            return _not_called(code, cercle, name, suggestion, other_hint)
        return None

    def _check_admin3(self, code: str, admin2: str, problems: list[FieldProblem]) -> None:
        if not ADMIN3_FORMAT.match(code):
            problems.append(FieldProblem("admin3_pcode", _admin3_format_reason(code)))
        elif not code.startswith(admin2):
            problems.append(
                FieldProblem(
                    "admin3_pcode",
                    f"{code} is not inside {admin2}: an admin3 P-code starts with its admin2 "
                    "P-code",
                )
            )

    def _where_is(self, name: str) -> Text:
        region = self.region_named(name)
        if region is not None:
            return _pcode_of(region)
        cercle = self.cercle_named(name)
        if cercle is not None:
            return message(
                "; in {vintage} {name} is the cercle {pcode} in {region}",
                vintage=self.vintage_label,
                name=cercle.name,
                pcode=cercle.pcode,
                region=cercle.parent,
            )
        return ""

    def _other_vintage_hint(self, code: str) -> Text:
        """ML0506 is Douentza here but Mopti in the newer vintage: say so."""
        other = self._other2.get(f"MLI{code[2:]}")
        if other is None:
            return ""
        return message(
            " ({code} would be {name} in {vintage}: check which vintage your source uses){declare}",
            code=code,
            name=other.name,
            vintage=self.other_vintage_label,
            declare=self._declare_hint(),
        )


def _not_called(code: str, area: AdminArea, name: str, suggestion: Text, other: Text) -> Text:
    return message(
        "{code} is {name}, not {given}{suggestion}{other}",
        code=code,
        name=area.name,
        given=name,
        suggestion=suggestion,
        other=other,
    )


def _pcode_of(area: AdminArea) -> Text:
    return message("; the P-code of {name} is {pcode}", name=area.name, pcode=area.pcode)


def _by_name(areas: Iterable[AdminArea]) -> dict[str, AdminArea]:
    """Name key → area; the first listed wins when two share a name."""
    return {key: a for a in reversed(list(areas)) for key in a.keys}


def _admin3_format_reason(code: str) -> str:
    return f"{code!r} is not an admin3 P-code: ML followed by 6 digits, e.g. ML050101"
