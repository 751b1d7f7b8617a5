"""Organisations, their users, the users' API keys, and who a request is acting as.

Roles are the shared ones the services check too (partner, warehouse, coordinator, admin).
An API key acts for its user, narrowed to the roles and warehouses it was scoped to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from kitflow_shared.roles import Role

from kitflow_gateway.domain.errors import InvalidInput


class OrganisationKind(StrEnum):
    UN_AGENCY = "un-agency"
    NGO = "ngo"
    GOVERNMENT = "government"
    OTHER = "other"


@dataclass(frozen=True)
class Organisation:
    organisation_id: str
    name: str
    kind: OrganisationKind
    created_at: datetime
    active: bool = True


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    organisation: str
    roles: frozenset[Role]
    warehouses: frozenset[str]
    password_hash: str
    created_at: datetime
    active: bool = True
    # Raised when the user is deactivated or their password or roles change: access tokens
    # carry the version they were issued under and stop working at once.
    token_version: int = 1

    def with_changes(
        self,
        *,
        roles: frozenset[Role] | None = None,
        warehouses: frozenset[str] | None = None,
        active: bool | None = None,
        password_hash: str | None = None,
    ) -> User:
        """The user after an administrator's change; any change invalidates their tokens."""
        changed = replace(
            self,
            roles=self.roles if roles is None else roles,
            warehouses=self.warehouses if warehouses is None else warehouses,
            active=self.active if active is None else active,
            password_hash=self.password_hash if password_hash is None else password_hash,
        )
        check_roles(changed.roles, changed.warehouses)
        return replace(changed, token_version=self.token_version + 1)


def check_roles(roles: frozenset[Role], warehouses: frozenset[str]) -> None:
    if not roles:
        raise InvalidInput.of("roles", "at least one role is needed")
    if warehouses and Role.WAREHOUSE not in roles:
        raise InvalidInput.of("warehouses", "only a user with the warehouse role has warehouses")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    user_id: str
    username: str
    organisation: str
    roles: frozenset[Role]
    warehouses: frozenset[str]
    secret_hash: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = field(default=None, compare=False)

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def scope_for_key(
    owner: User, roles: frozenset[Role] | None, warehouses: frozenset[str] | None
) -> tuple[frozenset[Role], frozenset[str]]:
    """A key may narrow its owner's roles and warehouses, never widen them."""
    scoped_roles = owner.roles if roles is None else roles
    if not scoped_roles:
        raise InvalidInput.of("roles", "at least one role is needed")
    beyond = scoped_roles - owner.roles
    if beyond:
        names = ", ".join(sorted(beyond))
        raise InvalidInput.of("roles", f"the key's owner does not have the role(s) {names}")
    if Role.WAREHOUSE not in scoped_roles:
        return scoped_roles, frozenset()
    scoped_warehouses = owner.warehouses if warehouses is None else warehouses
    outside = scoped_warehouses - owner.warehouses
    if outside:
        names = ", ".join(sorted(outside))
        raise InvalidInput.of("warehouses", f"the key's owner is not assigned to {names}")
    return scoped_roles, scoped_warehouses


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, after authentication."""

    user_id: str
    username: str
    organisation: str
    roles: frozenset[Role]
    warehouses: frozenset[str]
    # "key:<id>" or "token:<user id>": which credential was used, for the audit log.
    credential: str

    @property
    def key_id(self) -> str | None:
        kind, _, identifier = self.credential.partition(":")
        return identifier if kind == "key" else None

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)

    def may_operate_warehouse(self, code: str) -> bool:
        """Warehouse staff act on their assigned warehouses only; other roles are not narrowed
        here (the service decides what a coordinator may read)."""
        if self.is_admin or Role.COORDINATOR in self.roles:
            return True
        if Role.WAREHOUSE in self.roles:
            return code in self.warehouses
        return True
