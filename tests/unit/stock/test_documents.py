"""The printed documents of every kind of movement, drawn in memory and read back."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import segno
from kitflow_stock.api.documents import KINDS, QR_SIZE, QrCode, file_name, render_pdf
from kitflow_stock.api.routes.movements import wants_pdf
from kitflow_stock.domain.catalogue import CatalogueItem, ItemCategory, ItemDetails
from kitflow_stock.domain.stock import AdjustmentReason, Movement, MovementLine, MovementType
from kitflow_stock.domain.warehouses import Warehouse, WarehouseDetails, WarehouseKind
from pypdf import PdfReader

GAO = Warehouse(
    "GAO-MAIN",
    WarehouseDetails("Gao <central> & co", "IOM", WarehouseKind.MAIN, "ML07", "ML0701"),
)
ITEMS = {
    "TARP": CatalogueItem("TARP", ItemDetails("Tarpaulin", "Bâche", ItemCategory.SHELTER, "piece")),
}
AT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


def _movement(kind: MovementType, **changes: object) -> Movement:
    fields: dict[str, object] = {
        "id": "MV-42",
        "type": kind,
        "lines": (MovementLine("TARP", -1234, "T-1", date(2027, 1, 31), "IOM"),),
        "occurred_at": AT,
        "recorded_by": "storekeeper@iom.int",
        **changes,
    }
    return Movement(**fields)  # type: ignore[arg-type]


def _text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return "\n".join(p.extract_text() for p in pages).replace("\xa0", " ")


@pytest.mark.parametrize("kind", list(MovementType), ids=str)
def test_every_kind_of_movement_prints_in_french(kind: MovementType) -> None:
    movement = _movement(
        kind,
        reason=AdjustmentReason.DAMAGED if kind is MovementType.ADJUSTMENT else None,
        lines=(MovementLine("TARP", -1234, "T-1", date(2027, 1, 31), "IOM", 0, 3, 2),),
    )
    text = _text(render_pdf(movement, GAO, ITEMS, "fr"))
    expected = [
        "MV-42",
        "Gao <central> & co (GAO-MAIN)",
        "06/12/2026 09:30 UTC",
        "Bâche",
        "1 234",
        "31/01/2027",
        "Magasinier",
        "Chauffeur",
        "Réceptionnaire",
    ]
    if kind is MovementType.TRANSFER_IN:
        expected += ["Endommagé", "Manquant"]
    if kind is MovementType.ADJUSTMENT:
        expected += ["Motif", "avarie"]
    for part in expected:
        assert part in text, (kind, part, text)


def test_an_unknown_item_still_prints_its_code() -> None:
    movement = _movement(MovementType.DISPATCH, lines=(MovementLine("GONE", -5),))
    text = _text(render_pdf(movement, GAO, {}, "en"))
    assert "GONE" in text
    assert "Waybill" in text


def test_hundreds_of_lines_run_onto_further_pages() -> None:
    lines = tuple(MovementLine("TARP", 10, f"LOT-{n:03}") for n in range(300))
    pdf = render_pdf(_movement(MovementType.RECEIPT, lines=lines), GAO, ITEMS, "en")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 1
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "LOT-000" in text
    assert "LOT-299" in text
    # The headings repeat on every page.
    assert all("Item code" in p.extract_text() for p in reader.pages[:-1])


def test_the_qr_code_holds_the_document_number() -> None:
    code = QrCode("WB-2026-0007")
    expected = segno.make("WB-2026-0007", error="m", micro=False).matrix
    dark = {(r, c) for r, row in enumerate(expected) for c, module in enumerate(row) if module}
    drawn = {(r, c + i) for r, c, length in code.dark_runs() for i in range(length)}
    assert drawn == dark
    assert code.wrap(500, 500) == (QR_SIZE, QR_SIZE)


def test_file_names_are_safe_in_a_header() -> None:
    assert file_name(_movement(MovementType.RECEIPT, document_number="GRN-0001")) == "GRN-0001.pdf"
    assert file_name(_movement(MovementType.RECEIPT, document_number="0001")) == "GRN-0001.pdf"
    assert file_name(_movement(MovementType.DISPATCH, document_number='WB "7"/é\r\n')) == (
        "WAYBILL-WB-7.pdf"
    )
    assert file_name(_movement(MovementType.ADJUSTMENT)) == "MOVEMENT-MV-42.pdf"
    assert set(KINDS) == set(MovementType)


@pytest.mark.parametrize(
    ("accept", "format_", "pdf"),
    [
        ("application/pdf", None, True),
        ("application/pdf, application/json;q=0.5", None, True),
        ("application/json, application/pdf;q=0.5", None, False),
        ("application/pdf;q=0", None, False),
        ("*/*", None, False),
        (None, None, False),
        ("application/json", "pdf", True),
        ("application/pdf", "json", False),
    ],
)
def test_a_pdf_when_asked_for(accept: str | None, format_: str | None, pdf: bool) -> None:
    assert wants_pdf(accept, format_) is pdf
