"""Organisations, users and API keys: who may create, see and change them, and authentication.

Admins manage every organisation and user. Everyone manages their own API keys; admins manage
anyone's. An object of another organisation is "not found" for a non-admin, never "forbidden",
so its existence does not leak.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result
from kitflow_shared.web.identity import Role

from kitflow_gateway.domain import secrets as keys
from kitflow_gateway.domain.errors import (
    AlreadyExists,
    ConcurrentChange,
    InvalidInput,
    NotFound,
    NotPermitted,
    Unauthenticated,
)
from kitflow_gateway.domain.identity import (
    ApiKey,
    Organisation,
    OrganisationKind,
    Principal,
    User,
    check_roles,
    scope_for_key,
)
from kitflow_gateway.handlers.ports import (
    ApiKeyRepository,
    Clock,
    Held,
    OrganisationRepository,
    Page,
    UserRepository,
)
from kitflow_gateway.handlers.tokens import AccessTokens

T = TypeVar("T")
# A change of a user that meets another change at the same moment is tried again this often.
USER_CHANGE_ATTEMPTS = 3


@dataclass(frozen=True)
class Applied(Generic[T]):
    """What a state-changing command produced; `replayed` when its Idempotency-Key had been
    applied already and nothing changed this time (ADR 0011)."""

    value: T
    replayed: bool = False


def _replay(held: Held[T] | None, key: RequestKey | None) -> Applied[T] | None:
    """The first request's outcome when `key` is remembered on `held`; None when it is not;
    IdempotencyKeyReused when it was used for another request."""
    if held is None or key is None or held.remembered is None:
        return None
    replayed_result(held.remembered, key)
    return Applied(held.value, replayed=True)


@dataclass(frozen=True)
class CreateOrganisation:
    organisation_id: str
    name: str
    kind: OrganisationKind


@dataclass(frozen=True)
class CreateUser:
    username: str
    password: str
    organisation: str
    roles: frozenset[Role]
    warehouses: frozenset[str]


@dataclass(frozen=True)
class ChangeUser:
    roles: frozenset[Role] | None = None
    warehouses: frozenset[str] | None = None
    active: bool | None = None
    password: str | None = None


@dataclass(frozen=True)
class IssueKey:
    name: str
    # None: the caller's own key.
    user_id: str | None = None
    roles: frozenset[Role] | None = None
    warehouses: frozenset[str] | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    # None when the issue was replayed: the secret was shown once, and is not kept.
    plaintext: str | None


@dataclass(frozen=True)
class Login:
    user: User
    access_token: str
    expires_in_s: int


def new_user_id() -> str:
    return f"USR-{secrets.token_hex(8).upper()}"


def _require_admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise NotPermitted("only administrators manage organisations and users")


def principal_of(user: User, credential: str) -> Principal:
    return Principal(
        user_id=user.user_id,
        username=user.username,
        organisation=user.organisation,
        roles=user.roles,
        warehouses=user.warehouses if Role.WAREHOUSE in user.roles else frozenset(),
        credential=credential,
    )


async def _hash(password: str) -> str:
    # scrypt takes tens of milliseconds: keep the event loop free for other requests.
    return await asyncio.to_thread(keys.hash_password, password)


class IdentityHandlers:
    def __init__(
        self,
        *,
        organisations: OrganisationRepository,
        users: UserRepository,
        api_keys: ApiKeyRepository,
        tokens: AccessTokens,
        clock: Clock,
    ) -> None:
        self.organisations = organisations
        self.users = users
        self.api_keys = api_keys
        self.tokens = tokens
        self.clock = clock

    # ---- start-up ---------------------------------------------------------------------------

    async def ensure_bootstrap_admin(self, username: str, password: str, organisation: str) -> None:
        """The first administrator, so that someone can create everyone else; idempotent."""
        if await self.organisations.get(organisation) is None:
            await self.organisations.add(
                Organisation(organisation, organisation, OrganisationKind.UN_AGENCY, self.clock())
            )
        if await self.users.by_username(username) is not None:
            return
        user = User(
            user_id=new_user_id(),
            username=username,
            organisation=organisation,
            roles=frozenset({Role.ADMIN}),
            warehouses=frozenset(),
            password_hash=await _hash(password),
            created_at=self.clock(),
        )
        await self.users.add(user)

    # ---- organisations ----------------------------------------------------------------------

    def _remember(self, key: RequestKey | None, result: str) -> RememberedRequest | None:
        return None if key is None else RememberedRequest.of(key, result, self.clock())

    async def create_organisation(
        self, command: CreateOrganisation, actor: Principal, key: RequestKey | None = None
    ) -> Applied[Organisation]:
        _require_admin(actor)
        if key is not None and (
            done := _replay(await self.organisations.by_request(key.token), key)
        ):
            return done
        organisation = Organisation(
            command.organisation_id, command.name, command.kind, self.clock()
        )
        try:
            await self.organisations.add(
                organisation, self._remember(key, organisation.organisation_id)
            )
        except AlreadyExists:
            # A concurrent duplicate of this very request created it: answer as it did.
            if key is not None and (
                done := _replay(await self.organisations.by_request(key.token), key)
            ):
                return done
            raise
        return Applied(organisation)

    async def get_organisation(self, organisation_id: str, actor: Principal) -> Organisation:
        found = await self.organisations.get(organisation_id)
        if found is None or not (actor.is_admin or actor.organisation == organisation_id):
            raise NotFound("organisation", organisation_id)
        return found

    async def list_organisations(
        self, actor: Principal, limit: int, offset: int
    ) -> Page[Organisation]:
        _require_admin(actor)
        return await self.organisations.list(limit=limit, offset=offset)

    async def change_organisation(
        self,
        organisation_id: str,
        active: bool,
        actor: Principal,
        key: RequestKey | None = None,
    ) -> Applied[Organisation]:
        """Deactivate an organisation (or activate it again).

        Deactivating deactivates each of its users, which ends their access tokens and revokes
        their API keys, so the one check each request already makes (its key, or its token's
        user) refuses them from the next request on, with no extra read per request. Activating
        it again lets administrators create users there again; its users stay deactivated
        until an administrator activates each one (and issues new keys)."""
        _require_admin(actor)
        if organisation_id == actor.organisation and not active:
            # Keeps at least the acting administrator able to administer.
            raise InvalidInput.of(
                "active", "administrators cannot deactivate their own organisation"
            )
        done = await self._organisation_replay(organisation_id, key)
        if done is None:
            organisation = await self.organisations.set_active(
                organisation_id, active, self._remember(key, organisation_id)
            )
            if organisation is None:
                done = await self._organisation_replay(organisation_id, key)
                if done is None:
                    raise NotFound("organisation", organisation_id)
            else:
                done = Applied(organisation)
        if not done.value.active:
            # Also on a replay: a crash between the change and this left some users active,
            # and an inactive organisation's users are all inactive.
            await self._deactivate_users_of(organisation_id)
        return done

    async def _organisation_replay(
        self, organisation_id: str, key: RequestKey | None
    ) -> Applied[Organisation] | None:
        if key is None:
            return None
        return _replay(await self.organisations.get_with_request(organisation_id, key.token), key)

    async def _deactivate_users_of(self, organisation_id: str) -> None:
        offset = 0
        while True:
            page = await self.users.list(organisation=organisation_id, limit=500, offset=offset)
            for user in page.items:
                if user.active:
                    await self.users.replace(
                        user.with_changes(active=False), expected_version=user.token_version
                    )
                await self.api_keys.revoke_all_of(user.user_id, self.clock())
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    # ---- users ------------------------------------------------------------------------------

    async def create_user(
        self, command: CreateUser, actor: Principal, key: RequestKey | None = None
    ) -> Applied[User]:
        _require_admin(actor)
        if key is not None and (done := _replay(await self.users.by_request(key.token), key)):
            return done
        organisation = await self.organisations.get(command.organisation)
        if organisation is None:
            raise InvalidInput.of("organisation", f"no organisation {command.organisation}")
        if not organisation.active:
            raise InvalidInput.of(
                "organisation", f"organisation {command.organisation} is deactivated"
            )
        check_roles(command.roles, command.warehouses)
        problem = keys.password_problem(command.password)
        if problem:
            raise InvalidInput.of("password", problem)
        user = User(
            user_id=new_user_id(),
            username=command.username,
            organisation=command.organisation,
            roles=command.roles,
            warehouses=command.warehouses,
            password_hash=await _hash(command.password),
            created_at=self.clock(),
        )
        try:
            await self.users.add(user, self._remember(key, user.user_id))
        except AlreadyExists:
            if key is not None and (done := _replay(await self.users.by_request(key.token), key)):
                return done
            raise
        return Applied(user)

    async def get_user(self, user_id: str, actor: Principal) -> User:
        found = await self.users.get(user_id)
        if found is None or not (actor.is_admin or actor.user_id == user_id):
            raise NotFound("user", user_id)
        return found

    async def list_users(
        self, actor: Principal, organisation: str | None, limit: int, offset: int
    ) -> Page[User]:
        _require_admin(actor)
        return await self.users.list(organisation=organisation, limit=limit, offset=offset)

    async def change_user(
        self, user_id: str, change: ChangeUser, actor: Principal, key: RequestKey | None = None
    ) -> Applied[User]:
        _require_admin(actor)
        if user_id == actor.user_id and (change.active is False or change.roles is not None):
            # Keeps at least the acting administrator able to administer.
            raise InvalidInput.of(
                "user_id", "administrators cannot demote or deactivate themselves"
            )
        if (done := await self._user_replay(user_id, key)) is not None:
            return done
        password_hash = None
        if change.password is not None:
            problem = keys.password_problem(change.password)
            if problem:
                raise InvalidInput.of("password", problem)
            password_hash = await _hash(change.password)
        for _ in range(USER_CHANGE_ATTEMPTS):
            user = await self.get_user(user_id, actor)
            changed = user.with_changes(
                roles=change.roles,
                warehouses=change.warehouses,
                active=change.active,
                password_hash=password_hash,
            )
            if not changed.active or change.roles is not None or change.warehouses is not None:
                # A key's scope was checked against the roles the user had when it was issued.
                # Revoked before the user is stored: a crash in between leaves keys revoked
                # (the retry stores the change), never a changed user with the old keys.
                await self.api_keys.revoke_all_of(user_id, self.clock())
            if await self.users.replace(
                changed, self._remember(key, user_id), expected_version=user.token_version
            ):
                return Applied(changed)
            # Changed meanwhile, or by a duplicate of this very request.
            if (done := await self._user_replay(user_id, key)) is not None:
                return done
        raise ConcurrentChange(f"user {user_id} is being changed by someone else; retry")

    async def _user_replay(self, user_id: str, key: RequestKey | None) -> Applied[User] | None:
        if key is None:
            return None
        return _replay(await self.users.get_with_request(user_id, key.token), key)

    # ---- API keys ---------------------------------------------------------------------------

    async def issue_key(
        self, command: IssueKey, actor: Principal, key: RequestKey | None = None
    ) -> Applied[IssuedKey]:
        owner_id = command.user_id or actor.user_id
        if owner_id != actor.user_id and not actor.is_admin:
            raise NotFound("user", owner_id)
        if actor.key_id is not None and not actor.is_admin:
            # A leaked key must not be able to mint more keys for itself.
            raise NotPermitted("API keys are issued from a dashboard login, not from another key")
        if (done := await self._issue_replay(key)) is not None:
            return done
        owner = await self.get_user(owner_id, actor)
        if not owner.active:
            raise InvalidInput.of("user_id", "the user is deactivated")
        now = self.clock()
        if command.expires_at is not None and command.expires_at <= now:
            raise InvalidInput.of("expires_at", "must be in the future")
        roles, warehouses = scope_for_key(owner, command.roles, command.warehouses)
        new = keys.new_api_key()
        api_key = ApiKey(
            key_id=new.key_id,
            name=command.name,
            user_id=owner.user_id,
            username=owner.username,
            organisation=owner.organisation,
            roles=roles,
            warehouses=warehouses,
            secret_hash=new.secret_hash,
            created_at=now,
            created_by=actor.user_id,
            expires_at=command.expires_at,
        )
        try:
            await self.api_keys.add(api_key, self._remember(key, api_key.key_id))
        except AlreadyExists:
            if (done := await self._issue_replay(key)) is not None:
                return done
            raise
        return Applied(IssuedKey(api_key, new.plaintext))

    async def _issue_replay(self, key: RequestKey | None) -> Applied[IssuedKey] | None:
        if key is None:
            return None
        done = _replay(await self.api_keys.by_request(key.token), key)
        if done is None:
            return None
        # The secret was shown once, in the first answer, and is kept only as a hash.
        return Applied(IssuedKey(done.value, None), replayed=True)

    async def list_keys(
        self,
        actor: Principal,
        *,
        user_id: str | None,
        include_revoked: bool,
        limit: int,
        offset: int,
    ) -> Page[ApiKey]:
        if actor.is_admin:
            return await self.api_keys.list(
                organisation=None,
                user_id=user_id,
                include_revoked=include_revoked,
                limit=limit,
                offset=offset,
            )
        if user_id is not None and user_id != actor.user_id:
            return Page([], 0)
        return await self.api_keys.list(
            organisation=actor.organisation,
            user_id=actor.user_id,
            include_revoked=include_revoked,
            limit=limit,
            offset=offset,
        )

    async def revoke_key(
        self, key_id: str, actor: Principal, key: RequestKey | None = None
    ) -> Applied[ApiKey]:
        found = await self.api_keys.get(key_id)
        if found is None or not (actor.is_admin or found.user_id == actor.user_id):
            raise NotFound("API key", key_id)
        if key is not None and (
            done := _replay(await self.api_keys.get_with_request(key_id, key.token), key)
        ):
            return done
        revoked = await self.api_keys.revoke(key_id, self.clock(), self._remember(key, key_id))
        if revoked is None:
            raise NotFound("API key", key_id)
        return Applied(revoked)

    # ---- authentication ---------------------------------------------------------------------

    async def authenticate_key(self, plaintext: str) -> Principal:
        parsed = keys.parse_api_key(plaintext)
        if parsed is None:
            raise Unauthenticated("the API key is malformed")
        key_id, secret = parsed
        key = await self.api_keys.get(key_id)
        if key is None or not keys.key_secret_matches(secret, key.secret_hash):
            raise Unauthenticated("the API key is not known")
        if not key.usable_at(self.clock()):
            raise Unauthenticated("the API key is revoked or expired")
        # Keys are revoked when their user is deactivated or changed, so the key alone decides;
        # that keeps a key-authenticated request at one read.
        return Principal(
            user_id=key.user_id,
            username=key.username,
            organisation=key.organisation,
            roles=key.roles,
            warehouses=key.warehouses,
            credential=f"key:{key.key_id}",
        )

    async def login(self, username: str, password: str) -> Login:
        user = await self.users.by_username(username)
        stored = user.password_hash if user is not None else keys.DUMMY_PASSWORD_HASH
        matches = await asyncio.to_thread(keys.verify_password, password, stored)
        if user is None or not matches or not user.active:
            raise Unauthenticated("wrong user name or password")
        token = self.tokens.issue(user, self.clock())
        return Login(user, token, int(self.tokens.ttl.total_seconds()))

    async def authenticate_token(self, token: str) -> Principal:
        claims = self.tokens.verify(token, self.clock())
        user = await self.users.get(claims.user_id)
        if user is None or not user.active or user.token_version != claims.token_version:
            raise Unauthenticated("the access token was revoked")
        return principal_of(user, f"token:{user.user_id}")
