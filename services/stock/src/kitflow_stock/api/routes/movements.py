"""/v1/warehouses/{code}/movements/{movement_id}: one movement, as JSON or as its printed
document (goods-received note, waybill, transfer note, movement slip) in the reader's language.

Who may read it is who may read the warehouse's stock card: its own staff, coordinators and
admins; for anyone else the warehouse, and so the movement, is not found.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from kitflow_shared.i18n import current_language
from kitflow_shared.web.problems import Problem

from kitflow_stock.api.deps import actor_of
from kitflow_stock.api.routes.stock import Code, DocumentId, Handlers, Staff
from kitflow_stock.api.schemas import MovementPublic

router = APIRouter(prefix="/v1/warehouses/{code}/movements", tags=["stock"])

PDF = "application/pdf"


def wants_pdf(accept: str | None, format_: str | None) -> bool:
    """`?format=` decides (plain links); else a PDF when Accept weighs it above JSON."""
    if format_:
        return format_ == "pdf"
    weights: dict[str, float] = {}
    for part in (accept or "").split(","):
        media, _, parameters = part.strip().partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.strip().lower()] = weight
    pdf = weights.get(PDF, 0.0)
    return pdf > 0 and pdf >= weights.get("application/json", 0.0)


@router.get(
    "/{movement_id}",
    response_model=MovementPublic,
    responses={
        200: {
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The movement; its document as a PDF when asked for.",
        }
    },
)
async def movement(
    code: Code,
    movement_id: DocumentId,
    caller: Staff,
    handlers: Handlers,
    request: Request,
    format_: Annotated[
        Literal["json", "pdf"] | None,
        Query(alias="format", description="pdf: the printable document, for plain links"),
    ] = None,
) -> MovementPublic | Response:
    """A movement with its lines. With `Accept: application/pdf` (or `?format=pdf`), its
    document to print and sign, in the language of Accept-Language (French or English):
    goods-received note, waybill, transfer note or movement slip."""
    warehouse = await handlers.readable(actor_of(caller), code)
    found = await handlers.ledger.movement(code, movement_id)
    if found is None:
        raise Problem(
            404, "Not found", f"no movement {movement_id} in {code}", slug="unknown-movement"
        )
    if not wants_pdf(request.headers.get("accept"), format_):
        return MovementPublic.of(found)
    # ReportLab takes a few seconds to import: the service pays it on the first document, not
    # at every start.
    from kitflow_stock.api import documents

    items = await handlers.catalogue.get_many({line.item for line in found.lines})
    # Laying out a long document is CPU work: off the event loop, so other requests go on.
    pdf = await run_in_threadpool(documents.render_pdf, found, warehouse, items, current_language())
    return Response(
        pdf,
        media_type=PDF,
        headers={
            "Content-Disposition": f'inline; filename="{documents.file_name(found)}"',
            "Content-Language": current_language(),
            "Vary": "Accept, Accept-Language",
        },
    )
