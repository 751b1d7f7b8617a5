"""/v1/needs: partners report and follow their needs; coordinators validate, reject and settle
duplicates.

Every route that changes a need takes an Idempotency-Key (ADR 0011): a retry of a request
already applied answers as the first time, with `Idempotent-Replayed: true`, and changes
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from kitflow_shared.contracts.catalogue import ItemCode
from kitflow_shared.contracts.common import OrganisationId
from kitflow_shared.contracts.needs import NeedStatus
from kitflow_shared.web.identity import Caller
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed
from pydantic import AfterValidator, Field

from kitflow_needs.api.deps import Context, Coordinator, Reader, Reporter, Services, actor_of
from kitflow_needs.api.schemas import NeedCreate, NeedPage, NeedPublic, NeedUpdate, ReasonIn
from kitflow_needs.domain.need import Need
from kitflow_needs.domain.need import NeedStatus as DomainStatus
from kitflow_needs.handlers.needs import Answer, CreateNeed, NeedHandlers
from kitflow_needs.handlers.ports import NeedQuery, NeedsServices

router = APIRouter(prefix="/v1/needs", tags=["needs"])

NeedId = Annotated[str, Path(min_length=1, max_length=64)]


def _public(need: Need, caller: Caller, svc: NeedsServices) -> NeedPublic:
    """The need as the caller may read it (a partner reads whom to talk to about another
    organisation's possible duplicate, not that need's details)."""
    details = NeedHandlers(svc).shows_duplicate_details(actor_of(caller))
    return NeedPublic.of(need, svc.catalogue.current(), duplicate_details=details)


def _answer(answer: Answer, caller: Caller, svc: NeedsServices, response: Response) -> NeedPublic:
    mark_replayed(response, answer.replayed)
    return _public(answer.need, caller, svc)


def _in_utc(moment: datetime) -> datetime:
    """The moment in UTC (a time without an offset read as UTC), as the store compares it; a
    moment that has no UTC date (before year 1 or after 9999) is refused as the bad input it is."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("out of range once in UTC (years 1 to 9999)") from None


Moment = Annotated[datetime, AfterValidator(_in_utc)]


@dataclass
class NeedPicker:
    """The coordinator's need picker: more filters, each narrowing the list."""

    partner: Annotated[
        list[OrganisationId] | None,
        Query(max_length=100, description="Reporting organisations (any of them)"),
    ] = None
    severity: Annotated[
        list[Annotated[int, Field(ge=1, le=5)]] | None,
        Query(max_length=5, description="Severities 1-5 (any of them)"),
    ] = None
    item_code: Annotated[ItemCode | None, Query(description="Needs requesting this item")] = None
    created_after: Annotated[
        Moment | None, Query(description="Reported after this time (ISO 8601)")
    ] = None
    created_before: Annotated[
        Moment | None, Query(description="Reported before this time (ISO 8601)")
    ] = None


def query_of(
    status_: list[NeedStatus] | None,
    admin1_pcode: str | None,
    admin2_pcode: str | None,
    min_severity: int | None,
    duplicates: bool,
    limit: int,
    offset: int,
    picker: NeedPicker | None = None,
) -> NeedQuery:
    picker = picker or NeedPicker()
    return NeedQuery(
        partners=frozenset(picker.partner) if picker.partner else None,
        severities=frozenset(picker.severity) if picker.severity else None,
        item_code=picker.item_code,
        created_after=picker.created_after,
        created_before=picker.created_before,
        statuses=frozenset(DomainStatus(s.value) for s in status_) if status_ else None,
        admin1_pcode=admin1_pcode,
        admin2_pcode=admin2_pcode,
        min_severity=min_severity,
        with_open_duplicates=duplicates,
        limit=limit,
        offset=offset,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NeedPublic)
async def create(
    body: NeedCreate,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Report a need of the caller's organisation (submitted at once, or kept as a draft)."""
    answer = await NeedHandlers(svc).create_need(
        CreateNeed(body.to_input(), body.submit, key), actor_of(caller), context
    )
    response.headers["Location"] = f"/v1/needs/{answer.need.need_id}"
    return _answer(answer, caller, svc, response)


@router.get("", response_model=NeedPage)
async def list_needs(
    caller: Reader,
    svc: Services,
    status_: Annotated[list[NeedStatus] | None, Query(alias="status")] = None,
    admin1_pcode: Annotated[str | None, Query(pattern=r"^ML[0-9]{2}$")] = None,
    admin2_pcode: Annotated[str | None, Query(pattern=r"^ML[0-9]{4}$")] = None,
    min_severity: Annotated[int | None, Query(ge=1, le=5)] = None,
    duplicates: Annotated[
        bool, Query(description="Only needs with undecided possible duplicates")
    ] = False,
    picker: Annotated[NeedPicker, Depends()] = NeedPicker(),
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> NeedPage:
    """List needs: a partner sees its own organisation's, coordinators and admins all."""
    query = query_of(
        status_, admin1_pcode, admin2_pcode, min_severity, duplicates, limit, offset, picker
    )
    page = await NeedHandlers(svc).list_needs(query, actor_of(caller))
    return NeedPage(
        items=[_public(n, caller, svc) for n in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/{need_id}", response_model=NeedPublic)
async def get_need(need_id: NeedId, caller: Reader, svc: Services) -> NeedPublic:
    """One need (another organisation's need is not found for a partner)."""
    need = await NeedHandlers(svc).get_need(need_id, actor_of(caller))
    return _public(need, caller, svc)


@router.put("/{need_id}", response_model=NeedPublic)
async def update(
    need_id: NeedId,
    body: NeedUpdate,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Replace a need's details (its organisation only); a validated need needs validating again."""
    answer = await NeedHandlers(svc).revise_need(
        need_id, body.to_input(), actor_of(caller), context, key=key
    )
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/submit", response_model=NeedPublic)
async def submit(
    need_id: NeedId,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Submit a draft (or a rejected need after fixing it) to the coordinators."""
    answer = await NeedHandlers(svc).submit_need(need_id, actor_of(caller), context, key)
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/cancel", response_model=NeedPublic)
async def cancel(
    need_id: NeedId,
    body: ReasonIn,
    caller: Reporter,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Cancel a need, with the reason (its organisation, or a coordinator)."""
    answer = await NeedHandlers(svc).cancel_need(
        need_id, body.reason, actor_of(caller), context, key
    )
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/validate", response_model=NeedPublic)
async def validate(
    need_id: NeedId,
    caller: Coordinator,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Validate a submitted need: it may now be planned (coordinators)."""
    answer = await NeedHandlers(svc).validate_need(need_id, actor_of(caller), context, key)
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/reject", response_model=NeedPublic)
async def reject(
    need_id: NeedId,
    body: ReasonIn,
    caller: Coordinator,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Reject a submitted need, with the reason the partner will read (coordinators)."""
    answer = await NeedHandlers(svc).reject_need(
        need_id, body.reason, actor_of(caller), context, key
    )
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/duplicates/{other_id}/keep", response_model=NeedPublic)
async def keep_both(
    need_id: NeedId,
    other_id: NeedId,
    caller: Coordinator,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Keep both needs: they are not the same need (coordinators)."""
    answer = await NeedHandlers(svc).keep_both(need_id, other_id, actor_of(caller), context, key)
    return _answer(answer, caller, svc, response)


@router.post("/{need_id}/duplicates/{other_id}/merge", response_model=NeedPublic)
async def merge(
    need_id: NeedId,
    other_id: NeedId,
    caller: Coordinator,
    svc: Services,
    context: Context,
    response: Response,
    key: RequestKeyDep,
) -> NeedPublic:
    """Merge this need into the other one, which stays; this one is cancelled (coordinators)."""
    answer = await NeedHandlers(svc).merge_need(need_id, other_id, actor_of(caller), context, key)
    return _answer(answer, caller, svc, response)
