"""/v1/norms-profiles: the scenario templates that turn population into quantities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from kitflow_shared.web.request_keys import RequestKeyDep, mark_replayed

from kitflow_needs.api.deps import Admin, AnyRole, Services, actor_of
from kitflow_needs.api.schemas import (
    CalculationRequest,
    NormsProfileCreate,
    NormsProfilePublic,
    NormsProfileUpdate,
    NormsResultPublic,
    rule_codes,
)
from kitflow_needs.domain.errors import InvalidInput
from kitflow_needs.domain.need import Population
from kitflow_needs.handlers.profiles import ProfileHandlers

router = APIRouter(prefix="/v1/norms-profiles", tags=["norms profiles"])

ProfileId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", response_model=list[NormsProfilePublic])
async def list_profiles(caller: AnyRole, svc: Services) -> list[NormsProfilePublic]:
    """Every norms profile, with its rules and sources."""
    return [NormsProfilePublic.of(p) for p in await svc.profiles.all()]


@router.get("/{profile_id}", response_model=NormsProfilePublic)
async def get_profile(profile_id: ProfileId, caller: AnyRole, svc: Services) -> NormsProfilePublic:
    """One norms profile."""
    return NormsProfilePublic.of(await svc.profiles.get(profile_id))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NormsProfilePublic)
async def add_profile(
    body: NormsProfileCreate, caller: Admin, svc: Services, response: Response, key: RequestKeyDep
) -> NormsProfilePublic:
    """Add a norms profile, e.g. a cluster-specific variant (admins)."""
    answer = await ProfileHandlers(svc).add_profile(body.to_profile(), actor_of(caller), key)
    mark_replayed(response, answer.replayed)
    return NormsProfilePublic.of(answer.profile)


@router.put("/{profile_id}", response_model=NormsProfilePublic)
async def replace_profile(
    profile_id: ProfileId,
    body: NormsProfileUpdate,
    caller: Admin,
    svc: Services,
    response: Response,
    key: RequestKeyDep,
) -> NormsProfilePublic:
    """Change a profile: a new version; needs keep the version they were computed with (admins)."""
    if body.profile_id != profile_id:
        raise InvalidInput.of("profile_id", f"must be {profile_id!r}, the profile in the path")
    answer = await ProfileHandlers(svc).replace_profile(
        body.to_profile(profile_id), body.expected_version, actor_of(caller), key
    )
    mark_replayed(response, answer.replayed)
    return NormsProfilePublic.of(answer.profile)


@router.post("/{profile_id}/calculate", response_model=NormsResultPublic)
async def preview(
    profile_id: ProfileId, body: CalculationRequest, caller: AnyRole, svc: Services
) -> NormsResultPublic:
    """Compute the quantities a population would get, with each formula (changes nothing)."""
    population = Population(**body.population.model_dump())
    result = await ProfileHandlers(svc).preview(
        profile_id, population, body.duration_days, rule_codes(body.rules)
    )
    return NormsResultPublic.of(result)
