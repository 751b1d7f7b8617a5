"""/v1/integrations/dtm/imports: IOM's DTM figures, as HDX publishes them in HXL, turned into
draft needs for a partner or the cluster to review."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field

from kitflow_needs.adapters.dtm import read_dtm_file
from kitflow_needs.adapters.hxl_io import MAX_FILE_BYTES
from kitflow_needs.api.deps import Context, Coordinator, Services
from kitflow_needs.api.routes.transfer import report_of
from kitflow_needs.api.schemas import ImportReportPublic
from kitflow_needs.domain.errors import UnreadableFile
from kitflow_needs.domain.norms import PROFILE_ID
from kitflow_needs.handlers.imports import ImportHandlers, ImportOptions
from kitflow_needs.handlers.ports import Actor

router = APIRouter(prefix="/v1/integrations/dtm", tags=["DTM"])


class DtmReportPublic(ImportReportPublic):
    kept: int = Field(
        description="Needs a new round would have changed but left alone: a person edited "
        "them, or they are no longer drafts"
    )


@router.post(
    "/imports",
    response_model=DtmReportPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            },
        }
    },
)
async def import_dtm(
    request: Request,
    caller: Coordinator,
    svc: Services,
    context: Context,
    profile: Annotated[
        str,
        Query(max_length=64, pattern=PROFILE_ID.pattern, description="The norms profile"),
    ],
    organisation: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            description="Whose drafts they are (a partner's); the cluster's (yours) if left out",
        ),
    ] = None,
    severity: Annotated[int, Query(ge=1, le=5, description="DTM gives none: set it")] = 3,
    duration_days: Annotated[int | None, Query(ge=1, le=366)] = None,
) -> DtmReportPublic:
    """Import a DTM dataset (HXL CSV or XLSX, the body) into draft needs computed with the
    norms profile. A later round updates the drafts an earlier one made, and leaves alone the
    needs a person edited or submitted; the same round again changes nothing."""
    data = await request.body()
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    sheet = await asyncio.to_thread(read_dtm_file, data, severity=severity)
    actor = Actor(
        user=caller.user,
        organisation=organisation or caller.organisation,
        coordinator=True,
        admin=False,
    )
    options = ImportOptions(
        submit=False,
        profile_id=profile,
        duration_days=duration_days,
        only_untouched_drafts=True,
    )
    report = await ImportHandlers(svc).import_needs(sheet.rows, options, actor, context)
    return DtmReportPublic(**report_of(report).model_dump(), kept=report.kept)
