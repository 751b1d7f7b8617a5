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
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
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


def _qr(number: str) -> Drawing:
    """The document number as a QR code (medium error correction survives a creased page)."""
    code = segno.make(number, error="m", micro=False)
    modules = list(code.matrix)
    border = 2
    count = len(modules) + 2 * border
    cell = QR_SIZE / count
    drawing = Drawing(QR_SIZE, QR_SIZE)
    for row_index, row in enumerate(modules):
        for col_index, dark in enumerate(row):
            if dark:
                x = (col_index + border) * cell
                y = QR_SIZE - (row_index + border + 1) * cell
                square = Rect(x, y, cell, cell)
                square.fillColor = colors.black
                square.strokeColor = None
                drawing.add(square)
    return drawing


def _heading(movement: Movement, title: str, styles: Mapping[str, ParagraphStyle]) -> Table:
    number = document_number(movement)
    text = [
        Paragraph(_printable(title), styles["title"]),
        Paragraph(_printable(number), styles["number"]),
    ]
    table = Table([[text, _qr(number)]], colWidths=[None, QR_SIZE + 2 * mm])
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
    rows: list[list[Flowable]] = [
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
        rows.append([Paragraph(_printable(cell), styles["cell"]) for cell in cells])
    widths = [30 * mm, None, 24 * mm, 22 * mm, 20 * mm, 16 * mm]
    if with_losses:
        widths = [26 * mm, None, 20 * mm, 20 * mm, 18 * mm, 14 * mm, 18 * mm, 18 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (4, 1), (4, -1), "RIGHT"),
            ]
        )
    )
    return table


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
