"""A DTM dataset as HDX publishes it in HXL, read into draft needs' rows.

Read, per row (a site, a commune or a cercle): `#adm1+code`, `#adm1+name`, `#adm2+code`,
`#adm2+name`, `#adm3+code` (when given), `#loc+name` and `#loc+code` (site-level DTM),
`#geo+lat` and `#geo+lon`, `#date+reported`, `#round+code`, and the figures of two groups:
IDPs (`#affected+idps+hh`, `#affected+idps+ind`, or `#affected+idps` alone for individuals) and
returnees (`#affected+returnees+hh`, `#affected+returnees+ind`). Each group with figures makes
one need; both households and individuals are required (the norms count households).
Everything else (`#assessment+type`, `#operation+name`, shelter types, ...) is not read.

Each need's reference (`#meta+id`) names the place and the group, never the round
(`dtm:ML0501:SITE-12:idp`), so that a later round finds the draft the earlier one made. The
rows are rewritten as a needs HXL sheet and read by hxl_io: the same checks and messages as an
import; each refusal is then given back the DTM file's row and column."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import hxl

from kitflow_needs.adapters.hxl_io import MAX_FILE_BYTES, read_needs_file
from kitflow_needs.domain.errors import UnreadableFile
from kitflow_needs.handlers.imports import ImportRow

REFERENCE_PREFIX = "dtm:"
GROUPS = (("idp", "idps"), ("returnee", "returnees"))
# DTM column → the needs sheet's column it is written to.
PLACE = {
    ("#adm1", "code"): "#adm1+code",
    ("#adm1", "name"): "#adm1+name",
    ("#adm2", "code"): "#adm2+code",
    ("#adm2", "name"): "#adm2+name",
    ("#loc", "name"): "#loc+name",
    ("#geo", "lat"): "#geo+lat",
    ("#geo", "lon"): "#geo+lon",
    ("#date", "reported"): "#date+reported",
    ("#round", "code"): "#round+code",
}
PEOPLE = {"hh": "#inneed+hh", "ind": "#inneed+ind"}
OUT = ["#meta+id", *PLACE.values(), "#beneficiary+type", *PEOPLE.values(), "#severity"]


# The needs sheet written here has its hashtag row first: its first data row is row 2.
FIRST_DATA_ROW = 2


@dataclass(frozen=True)
class DtmSheet:
    rows: list[ImportRow]


def _find(columns: Sequence[Any], tag: str, needed: set[str], excluded: set[str]) -> int | None:
    for i, column in enumerate(columns):
        attributes = set(column.attributes)
        if column.tag == tag and needed <= attributes and not attributes & excluded:
            return i
    return None


def read_dtm_file(data: bytes, *, severity: int) -> DtmSheet:
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        dataset = hxl.data(io.BufferedReader(io.BytesIO(data)))
        columns = list(dataset.columns)
        raw = [(row.source_row_number + 1, list(row.values)) for row in dataset]
    except hxl.input.HXLTagsNotFoundException:
        raise UnreadableFile(
            "not an HXL file: expected a DTM dataset with HXL hashtags (#adm2+code, "
            "#affected+idps+hh, ...)"
        ) from None
    except Exception as exc:  # libhxl and the CSV sniffer raise their own types
        raise UnreadableFile(f"not a readable CSV or XLSX file: {type(exc).__name__}") from None
    place = {out: _find(columns, tag, {attr}, set()) for (tag, attr), out in PLACE.items()}
    site_id = _find(columns, "#loc", {"code"}, set())
    admin3 = _find(columns, "#adm3", {"code"}, set())
    groups = {
        status: {
            "hh": _find(columns, "#affected", {word, "hh"}, set()),
            "ind": _find(columns, "#affected", {word, "ind"}, {"hh"})
            or _find(columns, "#affected", {word}, {"hh"}),
        }
        for status, word in GROUPS
    }
    usable = {s: g for s, g in groups.items() if g["hh"] is not None and g["ind"] is not None}
    missing = [t for t in ("#adm1+code", "#adm2+code", "#date+reported") if place[t] is None]
    if missing or not usable:
        raise UnreadableFile(
            "a DTM dataset needs #adm1+code, #adm2+code, #date+reported and, for IDPs or "
            "returnees, households and individuals (#affected+idps+hh and #affected+idps+ind, "
            "or #affected+returnees+hh and #affected+returnees+ind)",
            missing=tuple(missing),
        )

    def cell(values: list[Any], index: int | None) -> str:
        if index is None or index >= len(values) or values[index] is None:
            return ""
        return str(values[index]).strip()

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(OUT)
    sources: list[tuple[int, dict[str, str]]] = []
    for row_number, values in raw:
        where = cell(values, site_id) or cell(values, admin3)
        for status, found in usable.items():
            hh, ind = cell(values, found["hh"]), cell(values, found["ind"])
            if hh in ("", "0") and ind in ("", "0"):
                continue
            ref = f"{REFERENCE_PREFIX}{cell(values, place['#adm2+code'])}:{where}:{status}"
            writer.writerow(
                [ref, *(cell(values, place[t]) for t in PLACE.values()), status, hh, ind, severity]
            )
            labels = {t: columns[i].display_tag for t, i in place.items() if i is not None}
            labels |= {
                "#inneed+hh": columns[found["hh"]].display_tag,  # type: ignore[index]
                "#inneed+ind": columns[found["ind"]].display_tag,  # type: ignore[index]
            }
            sources.append((row_number, labels))
    if not sources:
        raise UnreadableFile("the DTM dataset has no row with IDP or returnee figures")
    sheet = read_needs_file(out.getvalue().encode(), organisation="")
    return DtmSheet(rows=[_as_in_the_dtm_file(row, sources) for row in sheet.rows])


def _as_in_the_dtm_file(row: ImportRow, sources: list[tuple[int, dict[str, str]]]) -> ImportRow:
    """The row numbered and its columns named as in the DTM file, so refusals point there."""
    source_row, labels = sources[row.row - FIRST_DATA_ROW]
    return replace(
        row,
        row=source_row,
        columns={path: labels.get(col, col) for path, col in row.columns.items()},
    )
