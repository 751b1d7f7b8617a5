"""/v1/organisations, /v1/users, /v1/api-keys: who may use the API, and with which credentials.

Administrators manage organisations and users. Every user manages their own API keys (an
administrator anyone's); a key's secret is shown once, in the answer that creates it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import JSONResponse
from kitflow_shared.contracts.common import OrganisationId
from kitflow_shared.web.identity import Role
from kitflow_shared.web.paging import MAX_OFFSET
from kitflow_shared.web.request_keys import REPLAYED_HEADER, mark_replayed
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kitflow_gateway.api.deps import (
    Admin,
    Authenticated,
    CallerFirst,
    GatewayDep,
    RequestKeyDep,
)
from kitflow_gateway.domain.identity import ApiKey, Organisation, OrganisationKind, User
from kitflow_gateway.handlers.identity import (
    ChangeUser,
    CreateOrganisation,
    CreateUser,
    IssueKey,
)

router = APIRouter(tags=["identity"], route_class=CallerFirst)

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Username = Annotated[str, Field(min_length=3, max_length=200, examples=["coordinator@iom.int"])]
Password = Annotated[str, Field(min_length=12, max_length=200)]
WarehouseCode = Annotated[str, Field(min_length=1, max_length=32)]
Identifier = Annotated[str, Path(min_length=1, max_length=80)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- organisations ----------------------------------------------------------------------------


class OrganisationCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"organisation_id": "NRC", "name": "Norwegian Refugee Council", "kind": "ngo"}
            ]
        },
    )

    organisation_id: OrganisationId
    name: str = Field(min_length=1, max_length=200)
    kind: OrganisationKind


class OrganisationPublic(BaseModel):
    organisation_id: str
    name: str
    kind: OrganisationKind
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationPublic:
        return cls(
            organisation_id=organisation.organisation_id,
            name=organisation.name,
            kind=organisation.kind,
            active=organisation.active,
            created_at=organisation.created_at,
        )


class OrganisationPage(BaseModel):
    items: list[OrganisationPublic]
    total: int
    limit: int
    offset: int


@router.post(
    "/v1/organisations", status_code=status.HTTP_201_CREATED, response_model=OrganisationPublic
)
async def create_organisation(
    body: OrganisationCreate,
    admin: Admin,
    gateway: GatewayDep,
    key: RequestKeyDep,
    response: Response,
) -> OrganisationPublic:
    """Register an organisation: a partner, a UN agency, a government body (admins)."""
    applied = await gateway.identity.create_organisation(
        CreateOrganisation(body.organisation_id, body.name, body.kind), admin, key
    )
    mark_replayed(response, applied.replayed)
    return OrganisationPublic.of(applied.value)


@router.get("/v1/organisations", response_model=OrganisationPage)
async def list_organisations(
    admin: Admin, gateway: GatewayDep, limit: Limit = 100, offset: Offset = 0
) -> OrganisationPage:
    """List organisations (admins)."""
    page = await gateway.identity.list_organisations(admin, limit, offset)
    return OrganisationPage(
        items=[OrganisationPublic.of(o) for o in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/v1/organisations/{organisation_id}", response_model=OrganisationPublic)
async def get_organisation(
    organisation_id: Identifier, principal: Authenticated, gateway: GatewayDep
) -> OrganisationPublic:
    """One organisation (your own, or any for admins)."""
    return OrganisationPublic.of(
        await gateway.identity.get_organisation(organisation_id, principal)
    )


class OrganisationUpdate(_Strict):
    """Deactivating an organisation deactivates its users (ending their tokens) and revokes
    their API keys at once; activating it again leaves its users deactivated."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    active: bool


@router.patch("/v1/organisations/{organisation_id}", response_model=OrganisationPublic)
async def change_organisation(
    organisation_id: Identifier,
    body: OrganisationUpdate,
    admin: Admin,
    gateway: GatewayDep,
    key: RequestKeyDep,
    response: Response,
) -> OrganisationPublic:
    """Deactivate an organisation, or activate it again (admins)."""
    applied = await gateway.identity.change_organisation(organisation_id, body.active, admin, key)
    mark_replayed(response, applied.replayed)
    return OrganisationPublic.of(applied.value)


# ---- users ------------------------------------------------------------------------------------


class UserCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "storekeeper.mopti@iom.int",
                    "password": "a long passphrase of yours",
                    "organisation": "IOM",
                    "roles": ["warehouse"],
                    "warehouses": ["MOP-SUB"],
                }
            ]
        },
    )

    username: Username
    password: Password
    organisation: OrganisationId
    roles: list[Role] = Field(min_length=1, max_length=4)
    warehouses: list[WarehouseCode] = Field(
        default_factory=list, max_length=100, description="For the warehouse role only"
    )


class UserUpdate(_Strict):
    """Only the fields given change; any change ends the user's access tokens, and a change of
    roles or warehouses (or deactivation) revokes their API keys."""

    roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)
    warehouses: list[WarehouseCode] | None = Field(default=None, max_length=100)
    active: bool | None = None
    password: Password | None = None


class UserPublic(BaseModel):
    user_id: str
    username: str
    organisation: str
    roles: list[Role]
    warehouses: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(
            user_id=user.user_id,
            username=user.username,
            organisation=user.organisation,
            roles=sorted(user.roles),
            warehouses=sorted(user.warehouses),
            active=user.active,
            created_at=user.created_at,
        )


class UserPage(BaseModel):
    items: list[UserPublic]
    total: int
    limit: int
    offset: int


@router.post("/v1/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def create_user(
    body: UserCreate, admin: Admin, gateway: GatewayDep, key: RequestKeyDep, response: Response
) -> UserPublic:
    """Create a user of an organisation with roles (and warehouses for warehouse staff; admins)."""
    applied = await gateway.identity.create_user(
        CreateUser(
            username=body.username,
            password=body.password,
            organisation=body.organisation,
            roles=frozenset(body.roles),
            warehouses=frozenset(body.warehouses),
        ),
        admin,
        key,
    )
    mark_replayed(response, applied.replayed)
    return UserPublic.of(applied.value)


@router.get("/v1/users", response_model=UserPage)
async def list_users(
    admin: Admin,
    gateway: GatewayDep,
    organisation: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UserPage:
    """List users, optionally of one organisation (admins)."""
    page = await gateway.identity.list_users(admin, organisation, limit, offset)
    return UserPage(
        items=[UserPublic.of(u) for u in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/v1/users/{user_id}", response_model=UserPublic)
async def get_user(
    user_id: Identifier, principal: Authenticated, gateway: GatewayDep
) -> UserPublic:
    """One user (yourself, or anyone for admins)."""
    return UserPublic.of(await gateway.identity.get_user(user_id, principal))


@router.patch("/v1/users/{user_id}", response_model=UserPublic)
async def change_user(
    user_id: Identifier,
    body: UserUpdate,
    admin: Admin,
    gateway: GatewayDep,
    key: RequestKeyDep,
    response: Response,
) -> UserPublic:
    """Change a user's roles, warehouses, password or active flag (admins)."""
    change = ChangeUser(
        roles=frozenset(body.roles) if body.roles is not None else None,
        warehouses=frozenset(body.warehouses) if body.warehouses is not None else None,
        active=body.active,
        password=body.password,
    )
    applied = await gateway.identity.change_user(user_id, change, admin, key)
    mark_replayed(response, applied.replayed)
    return UserPublic.of(applied.value)


# ---- API keys ---------------------------------------------------------------------------------


class ApiKeyCreate(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "NRC needs upload script", "roles": ["partner"]}]},
    )

    name: str = Field(min_length=1, max_length=100, description="What the key is for")
    user_id: str | None = Field(
        default=None, max_length=80, description="Whose key (admins only; default: yours)"
    )
    roles: list[Role] | None = Field(
        default=None, min_length=1, max_length=4, description="Narrow the owner's roles"
    )
    warehouses: list[WarehouseCode] | None = Field(
        default=None, max_length=100, description="Narrow the owner's warehouses"
    )
    expires_at: AwareDatetime | None = None


class ApiKeyPublic(BaseModel):
    key_id: str
    prefix: str = Field(description="The key's visible beginning, to recognise it")
    name: str
    user_id: str
    organisation: str
    roles: list[Role]
    warehouses: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            key_id=key.key_id,
            prefix=f"kf_{key.key_id}",
            name=key.name,
            user_id=key.user_id,
            organisation=key.organisation,
            roles=sorted(key.roles),
            warehouses=sorted(key.warehouses),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The whole key: shown this once, never again")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyPublic]
    total: int
    limit: int
    offset: int


@router.post(
    "/v1/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses={
        200: {
            "model": ApiKeyPublic,
            "description": "A repeat of an issue (same Idempotency-Key): the key the first request "
            "issued, without its secret, which was shown once. Revoke it and issue another if "
            "that answer was lost.",
        }
    },
)
async def issue_key(
    body: ApiKeyCreate,
    principal: Authenticated,
    gateway: GatewayDep,
    key: RequestKeyDep,
    response: Response,
) -> ApiKeyCreated | JSONResponse:
    """Issue an API key, optionally narrowed to some roles and warehouses; shown once."""
    applied = await gateway.identity.issue_key(
        IssueKey(
            name=body.name,
            user_id=body.user_id,
            roles=frozenset(body.roles) if body.roles is not None else None,
            warehouses=frozenset(body.warehouses) if body.warehouses is not None else None,
            expires_at=body.expires_at,
        ),
        principal,
        key,
    )
    public = ApiKeyPublic.of(applied.value.key)
    if applied.value.plaintext is None:
        return JSONResponse(public.model_dump(mode="json"), headers={REPLAYED_HEADER: "true"})
    # The answer holds a secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(**public.model_dump(), key=applied.value.plaintext)


@router.get("/v1/api-keys", response_model=ApiKeyPage)
async def list_keys(
    principal: Authenticated,
    gateway: GatewayDep,
    user_id: Annotated[str | None, Query(max_length=80)] = None,
    include_revoked: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ApiKeyPage:
    """Your API keys (admins: anyone's, optionally one user's); never their secrets."""
    page = await gateway.identity.list_keys(
        principal, user_id=user_id, include_revoked=include_revoked, limit=limit, offset=offset
    )
    return ApiKeyPage(
        items=[ApiKeyPublic.of(k) for k in page.items], total=page.total, limit=limit, offset=offset
    )


@router.delete("/v1/api-keys/{key_id}", response_model=ApiKeyPublic)
async def revoke_key(
    key_id: Identifier,
    principal: Authenticated,
    gateway: GatewayDep,
    key: RequestKeyDep,
    response: Response,
) -> ApiKeyPublic:
    """Revoke an API key at once (yours, or anyone's for admins); revoking twice is harmless."""
    applied = await gateway.identity.revoke_key(key_id, principal, key)
    mark_replayed(response, applied.replayed)
    return ApiKeyPublic.of(applied.value)
