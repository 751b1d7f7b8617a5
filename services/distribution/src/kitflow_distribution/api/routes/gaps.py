"""/v1/gaps: what is still uncovered, per item (in its unit) or sector (in households), by
region or cercle; its weekly trend; the same table as HXL CSV (issue 16)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from kitflow_shared.contracts.catalogue import ItemCategory
from kitflow_shared.spreadsheet import csv_row
from kitflow_shared.web.identity import Caller, Role, require_roles

from kitflow_distribution.api.routes.plans import actor_of
from kitflow_distribution.handlers.gaps import SORTABLE, By, GapQueries, GapQuery, Level, hxl_rows
from kitflow_distribution.handlers.ports import GapFilter

router = APIRouter(tags=["gaps"])
Reader = Annotated[Caller, Depends(require_roles(Role.COORDINATOR, Role.ADMIN, Role.PARTNER))]
SORT_PATTERN = "^-?(" + "|".join(sorted(SORTABLE)) + ")$"


async def _queries(request: Request) -> GapQueries:
    return GapQueries(request.app.state.gap_view, request.app.state.item_view)


Queries = Annotated[GapQueries, Depends(_queries)]


def _filter(
    admin1: Annotated[str | None, Query(pattern=r"^ML[0-9]{2}$", description="Region")] = None,
    admin2: Annotated[str | None, Query(pattern=r"^ML[0-9]{4}$", description="Cercle")] = None,
    item: Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$")] = None,
    sector: ItemCategory | None = None,
    organisation: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
            description="A partner's needs only (a partner always sees its own only)",
        ),
    ] = None,
) -> GapFilter:
    return GapFilter(
        organisation=organisation,
        admin1_pcode=admin1,
        admin2_pcode=admin2,
        item_code=item,
        sector=sector.value if sector else None,
    )


Filter = Annotated[GapFilter, Depends(_filter)]


def _query(
    where: Filter,
    by: By = "item",
    level: Level = "admin1",
    sort: Annotated[
        str, Query(pattern=SORT_PATTERN, description="A column, `-` first for descending")
    ] = "-households_uncovered",
) -> GapQuery:
    return GapQuery(by=by, level=level, where=where, sort=sort)


@router.get("/v1/gaps")
async def gaps(
    caller: Reader, queries: Queries, query: Annotated[GapQuery, Depends(_query)]
) -> list[dict[str, Any]]:
    """Per area and item (in the item's unit) or sector (households only: a sector mixes
    units): requested, planned, dispatched and delivered apart, and households covered, which
    for an item means its requested quantity delivered. Partners see their own needs."""
    return await queries.table(actor_of(caller), query)


@router.get("/v1/gaps/trend")
async def trend(caller: Reader, queries: Queries, where: Filter) -> list[dict[str, Any]]:
    """Per ISO week and item: requested, planned and delivered in the week, and to date."""
    return await queries.trend(actor_of(caller), where)


@router.get("/v1/gaps.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def gaps_csv(
    caller: Reader, queries: Queries, query: Annotated[GapQuery, Depends(_query)]
) -> Response:
    """The same table as HXL-tagged CSV (row 1: headers, row 2: HXL tags)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in hxl_rows(query.by, await queries.table(actor_of(caller), query)):
        writer.writerow(csv_row(["" if v is None else v for v in row]))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kitflow-gaps-{query.by}.csv"'},
    )
