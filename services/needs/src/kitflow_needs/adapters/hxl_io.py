"""HXL files in and out: needs from HXL-tagged CSV or XLSX (read with libhxl), and needs with
their coverage as HXL-tagged CSV.

Reading maps columns by hashtag and attributes, never by header text, so a French or an English
header row makes no difference. See the service README for the columns accepted and produced.
"""

from __future__ import annotations

import csv
import functools
import io
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import hxl
import hxl.input
import hxl.model
from kitflow_shared.bulk import collector_paused
from kitflow_shared.spreadsheet import FORMULA_PREFIXES, csv_cell
from kitflow_shared.text import control_character

from kitflow_needs.domain.catalogue import ItemCatalogue
from kitflow_needs.domain.errors import FieldProblem, UnreadableFile
from kitflow_needs.domain.intake import NeedInput
from kitflow_needs.domain.need import (
    Assessment,
    AssessmentSource,
    Coordinates,
    DisplacementStatus,
    Need,
    Population,
)
from kitflow_needs.domain.text import name_key
from kitflow_needs.handlers.imports import ImportRow

MAX_FILE_BYTES = 20 * 1024 * 1024

# Population columns: which hashtags count, in order of preference.
_PEOPLE_TAGS = ("#inneed", "#affected", "#targeted", "#population")
_GROUP_ATTRIBUTES = {"f", "m", "children", "adults", "elderly", "disabled"}
_PROGRESS_ATTRIBUTES = {"planned", "reserved", "dispatched", "delivered", "remaining"}

_DISPLACEMENT_WORDS = {
    DisplacementStatus.IDP: {"idp", "idps", "pdi", "pdis", "displaced", "deplace", "deplaces"},
    DisplacementStatus.RETURNEE: {"returnee", "returnees", "retourne", "retournes", "rapatrie"},
    DisplacementStatus.HOST_COMMUNITY: {
        "host",
        "host community",
        "host communities",
        "communaute hote",
        "communautes hotes",
        "hote",
    },
}
_SOURCE_WORDS = {
    AssessmentSource.DTM_ROUND: {"dtm", "dtm round", "dtm-round", "matrice de suivi"},
    AssessmentSource.PARTNER_ASSESSMENT: {
        "partner",
        "partner assessment",
        "partner-assessment",
        "evaluation partenaire",
        "evaluation",
        "assessment",
    },
}
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass
class NeedsSheet:
    rows: list[ImportRow]
    has_items: bool
    has_norms: bool
    columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Column:
    index: int
    tag: str
    attributes: frozenset[str]
    label: str


def _columns_of(dataset: Any) -> list[_Column]:
    out = []
    for index, column in enumerate(dataset.columns):
        if not column.tag:
            continue
        out.append(
            _Column(index, column.tag, frozenset(column.attributes), column.display_tag or "")
        )
    return out


def _pick(
    columns: Sequence[_Column],
    tag: str,
    required: Iterable[str] = (),
    excluded: Iterable[str] = (),
) -> _Column | None:
    need, refuse = set(required), set(excluded)
    for column in columns:
        if column.tag == tag and need <= column.attributes and not (refuse & column.attributes):
            return column
    return None


def _pick_people(
    columns: Sequence[_Column], required: set[str], excluded: set[str]
) -> _Column | None:
    for tag in _PEOPLE_TAGS:
        found = _pick(columns, tag, required, excluded)
        if found is not None:
            return found
    return None


@dataclass
class _Layout:
    """Which column holds which field of a need."""

    single: dict[str, _Column]
    item_codes: list[_Column]
    item_quantities: list[_Column]
    displacement_from_attributes: DisplacementStatus | None

    def labels(self) -> dict[str, str]:
        out = {name: c.label for name, c in self.single.items()}
        for i, (code, qty) in enumerate(zip(self.item_codes, self.item_quantities, strict=False)):
            out[f"items.{i}.item_code"] = code.label
            out[f"items.{i}.quantity"] = qty.label
        if self.item_codes:
            out.setdefault("items", self.item_codes[0].label)
        elif "norms.profile_id" in out:
            out.setdefault("items", out["norms.profile_id"])
        return out


def _layout(columns: list[_Column]) -> _Layout:
    single: dict[str, _Column | None] = {
        "external_ref": _pick(columns, "#meta", {"id"}),
        "organisation": _pick(columns, "#org", {"code"}) or _pick(columns, "#org", {"acronym"}),
        "location.admin1_pcode": _pick(columns, "#adm1", {"code"}),
        "location.admin1_name": _pick(columns, "#adm1", {"name"}),
        "location.admin2_pcode": _pick(columns, "#adm2", {"code"}),
        "location.admin2_name": _pick(columns, "#adm2", {"name"}),
        "location.admin3_pcode": _pick(columns, "#adm3", {"code"}),
        "location.site_name": _pick(columns, "#loc", {"name"})
        or _pick(columns, "#loc", (), {"code"}),
        "location.lat": _pick(columns, "#geo", {"lat"}),
        "location.lon": _pick(columns, "#geo", {"lon"}),
        "population.households": _pick_people(columns, {"hh"}, _GROUP_ATTRIBUTES),
        "population.individuals": _pick_people(columns, {"ind"}, _GROUP_ATTRIBUTES)
        or _pick_people(columns, set(), _GROUP_ATTRIBUTES | {"hh"}),
        "population.women": _pick_people(columns, {"f", "adults"}, {"hh"}),
        "population.men": _pick_people(columns, {"m", "adults"}, {"hh"}),
        "population.girls": _pick_people(columns, {"f", "children"}, {"hh"}),
        "population.boys": _pick_people(columns, {"m", "children"}, {"hh"}),
        "population.elderly": _pick_people(columns, {"elderly"}, {"hh", "f", "m"}),
        "population.disabled": _pick_people(columns, {"disabled"}, {"hh", "f", "m"}),
        "displacement": _pick(columns, "#beneficiary", {"type"}),
        "severity": _pick(columns, "#severity"),
        "assessment.date": _pick(columns, "#date", {"assessed"})
        or _pick(columns, "#date", {"reported"})
        or _pick(columns, "#date", (), {"start", "end"}),
        "assessment.source": _pick(columns, "#meta", {"source"}),
        "assessment.reference": _pick(columns, "#round", {"code"}),
        "period.start": _pick(columns, "#date", {"start"}),
        "period.end": _pick(columns, "#date", {"end"}),
        "norms.profile_id": _pick(columns, "#meta", {"norms"}),
        "norms.duration_days": _pick(columns, "#meta", {"days"}),
        "norms.rules": _pick(columns, "#meta", {"rules"}),
    }
    item_codes = [c for c in columns if c.tag == "#item" and "code" in c.attributes]
    item_quantities = [
        c
        for c in columns
        if c.tag == "#item" and "num" in c.attributes and not (_PROGRESS_ATTRIBUTES & c.attributes)
    ] or [c for c in columns if c.tag == "#item" and "requested" in c.attributes]
    individuals = single["population.individuals"]
    from_attributes = None
    if individuals is not None:
        if "idps" in individuals.attributes:
            from_attributes = DisplacementStatus.IDP
        elif "returnees" in individuals.attributes:
            from_attributes = DisplacementStatus.RETURNEE
    return _Layout(
        single={k: v for k, v in single.items() if v is not None},
        item_codes=item_codes,
        item_quantities=item_quantities,
        displacement_from_attributes=from_attributes,
    )


REQUIRED = {
    "location.admin1_pcode": "#adm1+code",
    "location.admin2_pcode": "#adm2+code",
    "population.households": "#inneed+hh (or #affected+hh, #targeted+hh, #population+hh)",
    "population.individuals": "#inneed+ind (or #affected+ind, #targeted+ind, #population+ind)",
    "severity": "#severity",
    "assessment.date": "#date+assessed (or #date+reported)",
}


def read_needs_file(data: bytes, *, organisation: str) -> NeedsSheet:
    """Read an HXL-tagged CSV or XLSX file into one import row per need.

    Raises UnreadableFile when the file as a whole cannot be imported (nothing is imported then).
    """
    with collector_paused():
        return _read_needs_file(data, organisation=organisation)


def _read_needs_file(data: bytes, *, organisation: str) -> NeedsSheet:
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        dataset = hxl.data(io.BufferedReader(io.BytesIO(data)))
        columns = _columns_of(dataset)
        raw_rows = [(row.source_row_number, list(row.values)) for row in dataset]
    except hxl.input.HXLTagsNotFoundException:
        raise UnreadableFile(
            "not an HXL file: no row of HXL hashtags (such as #adm1+code) in its first 25 rows"
        ) from None
    except (hxl.HXLException, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"not a readable CSV or XLSX file: {exc}") from None
    except Exception as exc:  # xlrd3 and the CSV sniffer raise their own types
        raise UnreadableFile(f"not a readable CSV or XLSX file: {type(exc).__name__}") from None

    layout = _layout(columns)
    missing = tuple(tag for name, tag in REQUIRED.items() if name not in layout.single)
    if missing:
        raise UnreadableFile(f"missing required HXL columns: {', '.join(missing)}", missing=missing)
    if len(layout.item_codes) != len(layout.item_quantities):
        raise UnreadableFile(
            f"{len(layout.item_codes)} #item+code columns but {len(layout.item_quantities)} "
            "#item+num columns: each item code needs its quantity column"
        )
    labels = layout.labels()
    reader = _RowReader(layout, labels, organisation)
    rows = _group_by_reference(
        [row for n, values in raw_rows if (row := reader.read(n + 1, values)) is not None]
    )
    return NeedsSheet(
        rows=rows,
        has_items=bool(layout.item_codes),
        has_norms="norms.profile_id" in layout.single,
        columns=[c.label for c in columns],
    )


class _RowReader:
    """Reads one row's cells into a need's input.

    Column positions are resolved once per file and each row's cells are stripped once: a
    10,000-row import reads every cell of every row, so the per-row work is what counts."""

    def __init__(self, layout: _Layout, labels: dict[str, str], organisation: str) -> None:
        self._layout = layout
        self._labels = labels
        self._organisation = organisation
        self._index = {name: column.index for name, column in layout.single.items()}
        self._fingerprint_indexes = [c.index for c in self._all()]
        self._names = tuple(self._index)
        self._mapped_cells = _picker(list(self._index.values()))
        self._fingerprint_cells = _picker(self._fingerprint_indexes)
        self._item_indexes = [
            (code.index, qty.index)
            for code, qty in zip(layout.item_codes, layout.item_quantities, strict=True)
        ]
        # The field each read cell goes to, in the order of the fingerprint's cells: to name
        # the one holding a control character.
        fields = {column.index: name for name, column in layout.single.items()}
        for i, (code_at, qty_at) in enumerate(self._item_indexes):
            fields[code_at] = f"items.{i}.item_code"
            fields[qty_at] = f"items.{i}.quantity"
        self._fingerprint_fields = [fields[index] for index in self._fingerprint_indexes]
        self._width = 1 + max(
            [
                *self._index.values(),
                *self._fingerprint_indexes,
                *(i for pair in self._item_indexes for i in pair),
            ],
            default=0,
        )

    def read(self, row_number: int, values: list[Any]) -> ImportRow | None:
        """The row as a need's input, or None for a blank row (skipped, not an error)."""
        cells = _stripped(values)
        if not any(cells):
            return None
        cells, read, problems = self._cells_read(cells)
        # Each mapped field's text, looked up once per row; a blank one is left out, so that
        # text() gives None for it as for a field the file does not map.
        row = _RowFields(
            {
                name: cell
                for name, cell in zip(self._names, self._mapped_cells(cells), strict=True)
                if cell
            }.get,
            problems,
        )
        self._check_organisation(row)
        for name in REQUIRED:
            if row.text(name) is None:
                problems.append(FieldProblem(name, "is required"))
        coordinates = _coordinates(row)
        displacement = self._displacement(row)
        source, reference = _assessment_source(row)
        items = self._items(cells, problems)
        households = row.convert("population.households", _whole)
        individuals = row.convert("population.individuals", _whole)
        severity = row.convert("severity", _whole)
        assessed_on = row.convert("assessment.date", _date)
        fingerprint = "\x1f".join(read)
        if problems or None in (households, individuals, severity, assessed_on, displacement):
            return ImportRow(row_number, None, fingerprint, self._labels, tuple(problems))
        assert displacement is not None
        given = NeedInput(
            admin1_pcode=row.text("location.admin1_pcode") or "",
            admin2_pcode=row.text("location.admin2_pcode") or "",
            admin3_pcode=row.text("location.admin3_pcode"),
            admin1_name=row.text("location.admin1_name"),
            admin2_name=row.text("location.admin2_name"),
            site_name=row.text("location.site_name"),
            coordinates=coordinates,
            population=_population(row, households, individuals),
            displacement=displacement,
            assessment=Assessment(assessed_on, source, reference),
            severity=severity,
            period_start=row.convert("period.start", _date),
            period_end=row.convert("period.end", _date),
            items=tuple(items),
            profile_id=_profile_id(row.text("norms.profile_id")),
            duration_days=row.convert("norms.duration_days", _whole),
            norm_rules=rule_list(row.text("norms.rules")),
            external_ref=row.text("external_ref"),
            read_problems=tuple(problems),
        )
        if problems:
            return ImportRow(row_number, None, fingerprint, self._labels, tuple(problems))
        return ImportRow(row_number, given, fingerprint, self._labels)

    def _cells_read(
        self, cells: list[str]
    ) -> tuple[list[str], tuple[str, ...], list[FieldProblem]]:
        """The row's cells padded to the widest mapped column and unneutralised, the cells the
        import reads (the fingerprint's), and the control characters found in those."""
        if len(cells) < self._width:
            cells += [""] * (self._width - len(cells))
        read = self._fingerprint_cells(cells)
        joined = "".join(read)
        if "'" in joined:  # rare: only then is each cell looked at
            cells = [_unneutralised(cell) for cell in cells]
            read = self._fingerprint_cells(cells)
        problems: list[FieldProblem] = []
        if not joined.isprintable():  # the common case is one C call for the whole row
            problems += self._control_characters(read)
        return cells, read, problems

    def _check_organisation(self, row: _RowFields) -> None:
        org = row.text("organisation")
        if org is not None and org.casefold() != self._organisation.casefold():
            row.problems.append(
                FieldProblem(
                    "organisation",
                    f"this row is for {org}; an import is for the caller's own organisation "
                    f"({self._organisation})",
                )
            )

    def _displacement(self, row: _RowFields) -> DisplacementStatus | None:
        """From the #beneficiary+type column, else from the people column's attributes
        (`#inneed+ind+idps`) when the file has no such column."""
        displacement: DisplacementStatus | None = row.convert("displacement", _displacement)
        if displacement is None and "displacement" not in self._layout.single:
            displacement = self._layout.displacement_from_attributes
        if displacement is None and "displacement" not in [p.field for p in row.problems]:
            row.problems.append(
                FieldProblem(
                    "displacement",
                    "give the displacement status (idp, returnee or host-community) in a "
                    "#beneficiary+type column",
                )
            )
        return displacement

    def _items(self, cells: list[str], problems: list[FieldProblem]) -> list[tuple[str, int]]:
        """The (item code, quantity) pairs of the row; a pair with both cells blank is no item."""
        items: list[tuple[str, int]] = []
        for i, (code_at, qty_at) in enumerate(self._item_indexes):
            code, qty = cells[code_at], cells[qty_at]
            if not code and not qty:
                continue
            if not code:
                problems.append(
                    FieldProblem(f"items.{i}.item_code", "a quantity without an item code")
                )
                continue
            if not qty:
                problems.append(FieldProblem(f"items.{i}.quantity", f"no quantity for {code}"))
                continue
            try:
                items.append((code.upper(), _whole(qty)))
            except ValueError as exc:
                problems.append(FieldProblem(f"items.{i}.quantity", str(exc)))
        return items

    def _control_characters(self, read: Sequence[str]) -> list[FieldProblem]:
        """The read cells holding a control character (not merely a non-breaking space, which
        also makes a row not printable)."""
        out = []
        for name, cell in zip(self._fingerprint_fields, read, strict=True):
            found = control_character(cell)
            if found is not None:
                out.append(
                    FieldProblem(
                        name, f"must not contain control characters (found U+{ord(found):04X})"
                    )
                )
        return out

    def _all(self) -> Iterator[_Column]:
        yield from sorted(self._layout.single.values(), key=lambda c: c.index)
        yield from self._layout.item_codes
        yield from self._layout.item_quantities


class _RowFields:
    """One row's mapped fields as text, and the problems found while reading them."""

    __slots__ = ("problems", "text")

    def __init__(self, text: Callable[[str], str | None], problems: list[FieldProblem]) -> None:
        self.text = text
        self.problems = problems

    def convert(self, name: str, parse: Callable[[str], Any]) -> Any:
        """The field parsed, or None when blank or unparseable (then a problem names it)."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(FieldProblem(name, str(exc)))
            return None


def _coordinates(row: _RowFields) -> Coordinates | None:
    lat, lon = row.convert("location.lat", _decimal), row.convert("location.lon", _decimal)
    if (lat is None) != (lon is None):
        row.problems.append(FieldProblem("location.lat", "give both #geo+lat and #geo+lon"))
    elif lat is not None and lon is not None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            row.problems.append(FieldProblem("location.lat", f"{lat}, {lon} are not coordinates"))
        else:
            return Coordinates(lat, lon)
    return None


def _assessment_source(row: _RowFields) -> tuple[AssessmentSource, str | None]:
    """The source and round code; a row naming a round without a source is from a DTM round."""
    source = row.convert("assessment.source", _source)
    reference = row.text("assessment.reference")
    if source is None:
        source = AssessmentSource.DTM_ROUND if reference else AssessmentSource.PARTNER_ASSESSMENT
    return source, reference


def _population(row: _RowFields, households: int, individuals: int) -> Population:
    return Population(
        households=households,
        individuals=individuals,
        women=row.convert("population.women", _whole),
        men=row.convert("population.men", _whole),
        girls=row.convert("population.girls", _whole),
        boys=row.convert("population.boys", _whole),
        elderly=row.convert("population.elderly", _whole),
        disabled=row.convert("population.disabled", _whole),
    )


def _stripped(values: list[Any]) -> list[str]:
    try:
        return list(map(str.strip, values))  # a CSV file's cells are all text
    except TypeError:  # an XLSX file's are numbers and dates too
        return [str(v).strip() for v in values]


def _unneutralised(cell: str) -> str:
    """The text before the export neutralised it: `'=x` is `=x` again (see neutralised())."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


def neutralised(value: Any) -> Any:
    """An exported cell: never a formula (kitflow_shared.spreadsheet), and read back as it was.

    The import takes one quote off text that begins with quotes and then a formula prefix, so
    the export puts one on such text too (`'=x` is exported as `''=x`): every value exported
    reads back unchanged."""
    if isinstance(value, str) and value.startswith("'"):
        if value.lstrip("'").startswith(FORMULA_PREFIXES):
            return "'" + value
        return value
    return csv_cell(value)


def _picker(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The cells at these positions, as a tuple, in one C call per row."""
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    return lambda cells: tuple(cells[i] for i in indexes)


def _group_by_reference(rows: list[ImportRow]) -> list[ImportRow]:
    """Rows sharing a `#meta+id` are one need listed item by item (the export's layout)."""
    out: list[ImportRow] = []
    first: dict[str, int] = {}
    for row in rows:
        ref = row.given.external_ref if row.given else None
        if ref is None or ref not in first:
            if ref is not None:
                first[ref] = len(out)
            out.append(row)
            continue
        held = out[first[ref]]
        assert held.given is not None
        assert row.given is not None
        if replace(held.given, items=()) != replace(row.given, items=()):
            out.append(
                ImportRow(
                    row.row,
                    None,
                    row.fingerprint,
                    row.columns,
                    (
                        FieldProblem(
                            "external_ref",
                            f"the #meta+id {ref!r} is used by row {held.row} too, with other "
                            "values: one #meta+id is one need",
                        ),
                    ),
                )
            )
            continue
        merged = replace(held.given, items=held.given.items + row.given.items)
        out[first[ref]] = ImportRow(
            held.row, merged, held.fingerprint + "\x1e" + row.fingerprint, held.columns
        )
    return out


# ---------------------------------------------------------------------- value parsers

_VERSIONED_PROFILE = re.compile(r"^(.+)@\d+$")


def _profile_id(raw: str | None) -> str | None:
    """The export names the version a need was computed with (`sphere-minimum@2`); an import
    computes with the profile's current version, so the version is left aside."""
    if raw is None:
        return None
    versioned = _VERSIONED_PROFILE.match(raw)
    return versioned.group(1) if versioned else raw


_RULE_SEPARATORS = re.compile(r"[\s,;]+")


def rule_list(raw: str | None) -> tuple[str, ...] | None:
    """A norms profile's rules named in one cell (`KIT-NFI JERRYCAN-20L`, commas work too);
    None for a blank cell: every rule applies."""
    if raw is None:
        return None
    codes = tuple(code.upper() for code in _RULE_SEPARATORS.split(raw) if code)
    return codes or None


# Longer numbers than this are refused while reading (the domain bounds the rest): converting
# a cell of thousands of digits would take time, and no count of people or items has that many.
MAX_DIGITS = 18


def _whole(raw: str) -> int:
    if raw.isdigit() and len(raw) <= MAX_DIGITS:  # nearly every cell: no separators, no sign
        return int(raw)
    cleaned = raw.replace("\u00a0", "").replace(" ", "")
    if len(cleaned.lstrip("+-0")) > MAX_DIGITS:
        raise ValueError(f"{raw[:30]!r} is too large a number")
    try:
        number = float(cleaned)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not number.is_integer():
        raise ValueError(f"{raw!r} is not a whole number")
    return int(number)


def _decimal(raw: str) -> float:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


@functools.lru_cache(maxsize=1024)  # a column of dates repeats a few values
def _date(raw: str) -> date:
    text = raw.strip()[:10] if "T" not in raw else raw.split("T")[0]
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = _DMY.match(raw.strip())
    if match:
        day, month, year = (int(g) for g in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            pass
    raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")


# The words repeat down a column; normalising each (accents, case) once per value is enough.
@functools.lru_cache(maxsize=256)
def _displacement(raw: str) -> DisplacementStatus:
    key = name_key(raw)
    for status, words in _DISPLACEMENT_WORDS.items():
        if key in words or key == status.value.replace("-", " "):
            return status
    raise ValueError(f"{raw!r} is not a displacement status: idp, returnee or host-community")


@functools.lru_cache(maxsize=256)
def _source(raw: str) -> AssessmentSource:
    key = name_key(raw)
    if key.startswith("dtm"):
        return AssessmentSource.DTM_ROUND
    for source, words in _SOURCE_WORDS.items():
        if key in {name_key(w) for w in words}:
            return source
    raise ValueError(f"{raw!r} is not an assessment source: dtm-round or partner-assessment")


# ---------------------------------------------------------------------- export

EXPORT_COLUMNS: list[tuple[str, str]] = [
    ("Need id", "#meta+id"),
    ("Partner reference", "#meta+ref"),
    ("Organisation", "#org+code"),
    ("Status", "#status"),
    ("Region P-code", "#adm1+code"),
    ("Region", "#adm1+name"),
    ("Cercle P-code", "#adm2+code"),
    ("Cercle", "#adm2+name"),
    ("Commune P-code", "#adm3+code"),
    ("Site", "#loc+name"),
    ("Latitude", "#geo+lat"),
    ("Longitude", "#geo+lon"),
    ("Gazetteer vintage", "#meta+vintage"),
    ("Displacement status", "#beneficiary+type"),
    ("Households", "#inneed+hh"),
    ("Individuals", "#inneed+ind"),
    ("Women", "#inneed+f+adults"),
    ("Men", "#inneed+m+adults"),
    ("Girls", "#inneed+f+children"),
    ("Boys", "#inneed+m+children"),
    ("Elderly", "#inneed+elderly"),
    ("People with disabilities", "#inneed+disabled"),
    ("Severity", "#severity"),
    ("Assessment date", "#date+assessed"),
    ("Assessment source", "#meta+source"),
    ("DTM round", "#round+code"),
    ("Needed from", "#date+start"),
    ("Needed until", "#date+end"),
    ("Norms profile", "#meta+norms"),
    ("Norms rules chosen", "#meta+rules"),
    ("Possible duplicates", "#meta+duplicates"),
    ("Item code", "#item+code"),
    ("Item", "#item+name"),
    ("Unit", "#item+unit"),
    ("Requested", "#item+num+requested"),
    ("Planned", "#item+num+planned"),
    ("Reserved", "#item+num+reserved"),
    ("Dispatched", "#item+num+dispatched"),
    ("Delivered", "#item+num+delivered"),
    ("Remaining to plan", "#item+num+remaining"),
    ("Households reached", "#reached+hh"),
    ("Individuals reached", "#reached+ind"),
]


def export_header() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for header, _ in EXPORT_COLUMNS])
    writer.writerow([tag for _, tag in EXPORT_COLUMNS])
    return buffer.getvalue()


def export_rows(needs: Iterable[Need], catalogue: ItemCatalogue) -> str:
    """One row per need and item: the need's columns repeat, the item's coverage follows.

    Every text cell is neutralised (OWASP's CSV-injection rule): a site named `=HYPERLINK(...)`
    is exported as `'=HYPERLINK(...)`, which a spreadsheet shows as text, and which our import
    reads back as `=HYPERLINK(...)`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for need in needs:
        d = need.details
        loc, pop = d.location, d.population
        common = [
            need.need_id,
            d.external_ref or "",
            need.organisation,
            need.status.value,
            loc.admin1_pcode,
            loc.admin1_name,
            loc.admin2_pcode,
            loc.admin2_name or "",
            loc.admin3_pcode or "",
            loc.site_name or "",
            loc.coordinates.lat if loc.coordinates else "",
            loc.coordinates.lon if loc.coordinates else "",
            loc.gazetteer_vintage,
            d.displacement.value,
            pop.households,
            pop.individuals,
            *("" if v is None else v for v in (pop.women, pop.men, pop.girls, pop.boys)),
            "" if pop.elderly is None else pop.elderly,
            "" if pop.disabled is None else pop.disabled,
            d.severity,
            d.assessment.assessed_on.isoformat(),
            d.assessment.source.value,
            d.assessment.reference or "",
            d.period.start.isoformat(),
            d.period.end.isoformat(),
            f"{d.norms.profile_id}@{d.norms.profile_version}" if d.norms else "",
            " ".join(d.norms.rules) if d.norms and d.norms.rules is not None else "",
            " ".join(link.need_id for link in need.duplicates if link.decision.value == "open"),
        ]
        common = [neutralised(value) for value in common]
        for line in need.lines():
            item = catalogue.get(line.item_code)
            writer.writerow(
                [
                    *common,
                    neutralised(line.item_code),
                    neutralised(item.name) if item else "",
                    neutralised(item.unit) if item else "",
                    line.requested,
                    line.planned,
                    line.reserved,
                    line.dispatched,
                    line.delivered,
                    line.remaining,
                    need.reached.households,
                    need.reached.individuals,
                ]
            )
    return buffer.getvalue()
