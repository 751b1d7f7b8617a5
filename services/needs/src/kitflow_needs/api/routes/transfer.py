"""/v1/needs/imports and /v1/needs/export.csv: needs in and out as HXL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from kitflow_shared.contracts.needs import NeedStatus
from kitflow_shared.i18n import render
from kitflow_shared.web.problems import Problem, problem_response
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed

from kitflow_needs.adapters.hxl_io import (
    MAX_FILE_BYTES,
    export_header,
    export_rows,
    read_needs_file,
)
from kitflow_needs.api.deps import Context, Reader, Reporter, Services, actor_of
from kitflow_needs.api.routes.needs import query_of
from kitflow_needs.api.schemas import ImportReportPublic, RowErrorPublic, RuleCode, rule_codes
from kitflow_needs.domain.errors import InvalidInput, UnreadableFile
from kitflow_needs.domain.norms import PROFILE_ID
from kitflow_needs.handlers.imports import ImportHandlers, ImportOptions, ImportReport
from kitflow_needs.handlers.needs import NeedHandlers
from kitflow_needs.handlers.ports import NeedQuery

router = APIRouter(prefix="/v1/needs", tags=["HXL import and export"])

EXPORT_PAGE = 500
ACCEPTED_TYPES = (
    "text/csv",
    "text/plain",
    "application/csv",
    "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
)


def report_of(report: ImportReport) -> ImportReportPublic:
    """The report as the caller reads it: each row's reason in the request's language (a
    retry's stored report too, so the same file reads in French for one caller and English
    for another)."""
    return ImportReportPublic(
        rows=report.rows,
        imported=report.imported,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        errors=[
            RowErrorPublic(row=e.row, column=e.column, reason=render(e.reason))
            for e in report.errors
        ],
        created=report.created,
    )


@router.post(
    "/imports",
    response_model=ImportReportPublic,
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
async def import_file(
    request: Request,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
    submit: Annotated[bool, Query(description="Submit the imported needs (else drafts)")] = True,
    profile: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=PROFILE_ID.pattern,
            description="Norms profile for rows that give no items",
        ),
    ] = None,
    duration_days: Annotated[int | None, Query(ge=1, le=366)] = None,
    rules: Annotated[
        list[RuleCode] | None,
        Query(description="Which of that profile's rules apply (repeat it); all when left out"),
    ] = None,
) -> ImportReportPublic | JSONResponse:
    """Import needs from an HXL-tagged CSV or XLSX file (the request body); bad rows are listed.
    Importing the same file again changes nothing; with an Idempotency-Key, a retry answers
    with the first import's report."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in ACCEPTED_TYPES:
        raise Problem(
            415,
            "Unsupported media type",
            f"send the file as text/csv or as an XLSX workbook, not {content_type}",
            slug="unsupported-media-type",
        )
    data = await request.body()
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    actor = actor_of(caller)
    options = ImportOptions(submit, profile, duration_days, rule_codes(rules))

    async def run() -> ImportReport:
        sheet = await asyncio.to_thread(read_needs_file, data, organisation=actor.organisation)
        if not sheet.has_items and not sheet.has_norms and profile is None:
            raise UnreadableFile(
                "no items to import: add #item+code and #item+num columns, a #meta+norms "
                "column, or name a norms profile with ?profile="
            )
        try:
            return await ImportHandlers(svc).import_needs(sheet.rows, options, actor, context)
        except InvalidInput as exc:
            raise Problem(
                422,
                "Invalid request",
                str(exc),
                slug="validation",
                errors=[
                    {"field": f"query.{p.field}", "reason": p.reason, "type": "business_rule"}
                    for p in exc.problems
                ],
            ) from None

    answer = await ImportHandlers(svc).import_once(key, run)
    report = answer.report
    public = report_of(report)
    if report.refused:
        return problem_response(
            422,
            "No row could be imported",
            f"all {report.rows} rows have errors; nothing was imported",
            instance=request.url.path,
            slug="import-rejected",
            errors=[
                {"field": f"row {e.row} {e.column}".strip(), "reason": e.reason, "type": "row"}
                for e in report.errors
            ],
            report=public.model_dump(mode="json"),
        )
    mark_replayed(response, answer.replayed)
    return public


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "HXL-tagged CSV"}},
)
async def export_csv(
    caller: Reader,
    svc: Services,
    status_: Annotated[list[NeedStatus] | None, Query(alias="status")] = None,
    admin1_pcode: Annotated[str | None, Query(pattern=r"^ML[0-9]{2}$")] = None,
    admin2_pcode: Annotated[str | None, Query(pattern=r"^ML[0-9]{4}$")] = None,
    min_severity: Annotated[int | None, Query(ge=1, le=5)] = None,
) -> StreamingResponse:
    """Needs and their coverage as HXL-tagged CSV, one row per need and item."""
    actor = actor_of(caller)
    base = query_of(status_, admin1_pcode, admin2_pcode, min_severity, False, EXPORT_PAGE, 0)

    async def rows() -> AsyncIterator[str]:
        yield export_header()
        # Names and units as the read model has them now; read once for the whole file.
        catalogue = await svc.catalogue.refresh()
        offset = 0
        while True:
            query = NeedQuery(**{**base.__dict__, "offset": offset})
            page = await NeedHandlers(svc).list_needs(query, actor)
            if not page.items:
                return
            yield export_rows(page.items, catalogue)
            offset += len(page.items)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="needs-hxl.csv"'},
    )
