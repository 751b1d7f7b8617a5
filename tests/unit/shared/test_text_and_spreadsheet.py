"""The shared bounded types and the spreadsheet-cell rule."""

from __future__ import annotations

import csv
import io

import pytest
from kitflow_shared.spreadsheet import csv_row, neutralise, xlsx_cell
from kitflow_shared.text import MAX_QUANTITY, MultilineText, PlainText, Quantity
from openpyxl import Workbook, load_workbook
from pydantic import BaseModel, ValidationError


class Sample(BaseModel):
    name: PlainText
    note: MultilineText = ""
    quantity: Quantity = 1


@pytest.mark.parametrize("bad", ["GRN\x00-1", "lot\x07", "a\nb", "tab\there"])
def test_plain_text_refuses_control_characters(bad: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Sample(name=bad)
    assert raised.value.errors()[0]["loc"] == ("name",)
    assert "control characters" in raised.value.errors()[0]["msg"]


def test_multiline_text_keeps_line_breaks_and_refuses_the_rest() -> None:
    assert Sample(name="x", note="line one\r\nline\ttwo").note == "line one\r\nline\ttwo"
    with pytest.raises(ValidationError):
        Sample(name="x", note="bell\x07")


def test_quantities_stop_well_below_int64() -> None:
    assert Sample(name="x", quantity=MAX_QUANTITY).quantity == MAX_QUANTITY
    for bad in (2**63, MAX_QUANTITY + 1, 0):
        with pytest.raises(ValidationError) as raised:
            Sample(name="x", quantity=bad)
        assert raised.value.errors()[0]["loc"] == ("quantity",)


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_formula_prefixes_are_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_plain_text_and_numbers_are_unchanged() -> None:
    assert csv_row(["Sévaré 2", -5, 3.5, None]) == ["Sévaré 2", -5, 3.5, None]


def test_a_csv_row_reads_back_as_text_not_formula() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(["=1+1", "ok"]))
    assert next(csv.reader(io.StringIO(out.getvalue()))) == ["'=1+1", "ok"]


def test_an_xlsx_cell_is_never_a_formula_and_control_characters_do_not_break_it() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([xlsx_cell('=HYPERLINK("http://x")'), xlsx_cell("Gao\x00\x1b camp"), 7])
    saved = io.BytesIO()
    book.save(saved)
    saved.seek(0)
    row = next(load_workbook(saved).active.iter_rows())  # type: ignore[union-attr]
    assert [c.data_type for c in row] == ["s", "s", "n"]
    assert [c.value for c in row] == ['\'=HYPERLINK("http://x")', "Gao camp", 7]
