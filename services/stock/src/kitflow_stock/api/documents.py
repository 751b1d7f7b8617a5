"""The paper that travels with the truck: a movement as a printable PDF in the reader's language.

A receipt prints as a goods-received note, a dispatch as a waybill, a transfer as a transfer
note (out or in), anything else as a movement slip. Each carries the organisation, the
warehouse, the date, the lines (item code and name in the reader's language, lot, expiry,
quantity, unit), the document number as a QR code and as text, and boxes for the storekeeper,
the driver and the receiver to sign. ReportLab draws it (pure Python, its standard fonts cover
French); segno computes the QR code, drawn as vector squares so it stays sharp when printed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

import segno
from kitflow_shared.i18n import Language, format_date, format_number, translate
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kitflow_stock.domain.catalogue import CatalogueItem
from kitflow_stock.domain.stock import Movement, MovementType
from kitflow_stock.domain.warehouses import Warehouse


@dataclass(frozen=True)
class Kind:
    title: str  # English, translated when printed
    file_prefix: str
    counterparty: str | None  # the label of `Movement.counterparty`


KINDS: Mapping[MovementType, Kind] = {
    MovementType.RECEIPT: Kind("Goods received note", "GRN", "Received from"),
    MovementType.DISPATCH: Kind("Waybill", "WAYBILL", "Destination"),
    MovementType.TRANSFER_OUT: Kind("Transfer note (out)", "TRANSFER", "To warehouse"),
    MovementType.TRANSFER_IN: Kind("Transfer note (in)", "TRANSFER", "From warehouse"),
    MovementType.ADJUSTMENT: Kind("Stock adjustment slip", "MOVEMENT", None),
    MovementType.KIT_ASSEMBLY: Kind("Kit assembly slip", "MOVEMENT", None),
    MovementType.KIT_BREAKDOWN: Kind("Kit breakdown slip", "MOVEMENT", None),
    MovementType.REVERSAL: Kind("Reversal slip", "MOVEMENT", None),
}
SIGNATORIES = ("Storekeeper", "Driver", "Receiver")
QR_SIZE = 28 * mm
CELL_FONT_SIZE = 9
CELL_PADDING = 3
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def document_number(movement: Movement) -> str:
    """The GRN or waybill number recorded on the movement, else the movement's own id."""
    return movement.document_number or movement.id


def file_name(movement: Movement) -> str:
    """`GRN-<number>.pdf`, `WAYBILL-<number>.pdf`, ...; only characters safe in a header."""
    prefix = KINDS[movement.type].file_prefix
    number = _UNSAFE_IN_FILE_NAME.sub("-", document_number(movement)).strip("-") or movement.id
    if not number.upper().startswith(f"{prefix}-"):
        number = f"{prefix}-{number}"
    return f"{number}.pdf"


def render_pdf(
    movement: Movement,
    warehouse: Warehouse,
    items: Mapping[str, CatalogueItem],
    language: Language,
) -> bytes:
    """The movement's document as PDF bytes, every label in `language`."""
    out = io.BytesIO()
    kind = KINDS[movement.type]
    title = _t(kind.title, language)
    pdf = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{title} {document_number(movement)}",
        author=warehouse.details.organisation,
    )
    styles = _styles()
    story: list[Flowable] = [
        _heading(movement, title, styles),
        Spacer(1, 6 * mm),
        _facts(movement, warehouse, kind, language, styles),
        Spacer(1, 6 * mm),
        _lines(movement, items, language, styles),
        Spacer(1, 10 * mm),
        _signatures(language, styles),
    ]
    pdf.build(story)
    return out.getvalue()


def _t(text: str, language: Language) -> str:
    return translate(text, language)


def _printable(text: str) -> str:
    """ReportLab's standard fonts have no narrow no-break space (CLDR's French thousands
    separator): print a no-break space instead; and escape what Paragraph reads as markup."""
    text = text.replace("\u202f", "\u00a0")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], alignment=0, fontSize=18),
        "number": ParagraphStyle("number", parent=base["Normal"], fontSize=12, leading=15),
        "label": ParagraphStyle("label", parent=base["Normal"], fontName="Helvetica-Bold"),
        "cell": ParagraphStyle("cell", parent=base["Normal"], fontSize=9, leading=11),
        "head": ParagraphStyle(
            "head", parent=base["Normal"], fontSize=9, fontName="Helvetica-Bold"
        ),
        "small": ParagraphStyle("small", parent=base["Normal"], fontSize=8, leading=10),
    }


class QrCode(Flowable):
    """The document number as a QR code (medium error correction survives a creased page),
    drawn as one vector path of dark runs: sharp when printed, and cheap to lay out."""

    BORDER = 2  # modules of quiet zone around the code

    def __init__(self, text: str, size: float = QR_SIZE) -> None:
        super().__init__()
        self.matrix = [list(row) for row in segno.make(text, error="m", micro=False).matrix]
        self.width = self.height = size

    def dark_runs(self) -> list[tuple[int, int, int]]:
        """(row, first column, length) of each horizontal run of dark modules."""
        runs = []
        for row_index, row in enumerate(self.matrix):
            col = 0
            while col < len(row):
                if row[col]:
                    start = col
                    while col < len(row) and row[col]:
                        col += 1
                    runs.append((row_index, start, col - start))
                else:
                    col += 1
        return runs

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        cell = self.width / (len(self.matrix) + 2 * self.BORDER)
        path = self.canv.beginPath()
        for row, col, length in self.dark_runs():
            x = (col + self.BORDER) * cell
            y = self.height - (row + self.BORDER + 1) * cell
            path.rect(x, y, length * cell, cell)
        self.canv.setFillColor(colors.black)
        self.canv.drawPath(path, stroke=0, fill=1)


def _heading(movement: Movement, title: str, styles: Mapping[str, ParagraphStyle]) -> Table:
    number = document_number(movement)
    text = [
        Paragraph(_printable(title), styles["title"]),
        Paragraph(_printable(number), styles["number"]),
    ]
    table = Table([[text, QrCode(number)]], colWidths=[None, QR_SIZE + 2 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _facts(
    movement: Movement,
    warehouse: Warehouse,
    kind: Kind,
    language: Language,
    styles: Mapping[str, ParagraphStyle],
) -> Table:
    details = warehouse.details
    place = f"{details.name} ({warehouse.code}), {details.admin2_pcode}"
    occurred = f"{format_date(movement.occurred_at, language)} {movement.occurred_at:%H:%M} UTC"
    facts: list[tuple[str, str]] = [
        ("Document number", document_number(movement)),
        ("Organisation", details.organisation),
        ("Warehouse", place),
        ("Date", occurred),
    ]
    if kind.counterparty and movement.counterparty:
        facts.append((kind.counterparty, movement.counterparty))
    if movement.reason:
        facts.append(("Reason", _t(movement.reason.value, language)))
    if movement.note:
        facts.append(("Note", movement.note))
    facts += [("Movement", movement.id), ("Recorded by", movement.recorded_by)]
    rows = [
        [
            Paragraph(_printable(_t(label, language)), styles["label"]),
            Paragraph(_printable(value), styles["cell"]),
        ]
        for label, value in facts
    ]
    table = Table(rows, colWidths=[45 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _lines(
    movement: Movement,
    items: Mapping[str, CatalogueItem],
    language: Language,
    styles: Mapping[str, ParagraphStyle],
) -> Table:
    with_losses = movement.type is MovementType.TRANSFER_IN
    headings = ["Item code", "Item", "Lot", "Expiry", "Quantity", "Unit"]
    if with_losses:
        headings += ["Damaged", "Missing"]
    widths = [30 * mm, 68 * mm, 24 * mm, 22 * mm, 20 * mm, 16 * mm]
    if with_losses:
        widths = [22 * mm, 42 * mm, 18 * mm, 22 * mm, 18 * mm, 14 * mm, 22 * mm, 22 * mm]
    rows: list[list[Flowable | str]] = [
        [Paragraph(_printable(_t(h, language)), styles["head"]) for h in headings]
    ]
    for line in movement.lines:
        item = items.get(line.item)
        name = ""
        unit = ""
        if item is not None:
            name = item.details.name_fr if language == "fr" else item.details.name_en
            unit = item.details.unit
        cells = [
            line.item,
            name,
            line.lot,
            format_date(line.expiry, language) if line.expiry else "",
            # Signed in the ledger; on paper the document's kind says which way it went.
            format_number(abs(line.quantity), language),
            unit,
        ]
        if with_losses:
            cells += [
                format_number(line.damaged, language),
                format_number(line.missing, language),
            ]
        rows.append(
            [_cell(cell, width, styles["cell"]) for cell, width in zip(cells, widths, strict=True)]
        )
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTSIZE", (0, 1), (-1, -1), CELL_FONT_SIZE),
                ("ALIGN", (4, 1), (4, -1), "RIGHT"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ]
        )
    )
    return table


def _cell(text: str, width: float, style: ParagraphStyle) -> Flowable | str:
    """Plain text when it fits on one line, a wrapping paragraph otherwise: a paragraph costs
    about ten times as much to lay out, and a 500-line waybill has 3,000 cells."""
    text = text.replace("\u202f", "\u00a0")
    if stringWidth(text, "Helvetica", CELL_FONT_SIZE) <= width - 2 * CELL_PADDING:
        return text
    return Paragraph(_printable(text), style)


def _signatures(language: Language, styles: Mapping[str, ParagraphStyle]) -> Table:
    """One box per signatory: name, signature, date; the receiver notes what arrived."""
    boxes = []
    for who in SIGNATORIES:
        lines = [Paragraph(_printable(_t(who, language)), styles["label"]), Spacer(1, 3 * mm)]
        for field in ("Name", "Signature", "Date"):
            lines += [
                Paragraph(_printable(_t(field, language)), styles["small"]),
                Spacer(1, 7 * mm),
            ]
        if who == "Receiver":
            note = _t("Quantities received and any damage or loss", language)
            lines.append(Paragraph(_printable(note), styles["small"]))
        boxes.append(lines)
    table = Table([boxes], colWidths=[60 * mm] * 3, rowHeights=[62 * mm])
    table.setStyle(
        TableStyle(
            [("BOX", (0, 0), (0, 0), 0.8, colors.black),
             ("BOX", (1, 0), (1, 0), 0.8, colors.black),
             ("BOX", (2, 0), (2, 0), 0.8, colors.black),
             ("VALIGN", (0, 0), (-1, -1), "TOP")]
        )
    )  # fmt: skip
    return table
