"""Organisations, users, API keys and authentication, on hand-written fakes."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from kitflow_gateway.domain import secrets
from kitflow_gateway.domain.errors import InvalidInput, NotFound, NotPermitted, Unauthenticated
from kitflow_gateway.domain.identity import OrganisationKind, Principal
from kitflow_gateway.handlers.identity import (
    ChangeUser,
    CreateOrganisation,
    CreateUser,
    IdentityHandlers,
    IssueKey,
)
from kitflow_gateway.handlers.tokens import AccessTokens
from kitflow_shared.web.identity import Role

from tests.unit.gateway.fakes import FakeApiKeys, FakeClock, FakeOrganisations, FakeUsers

SECRET = "unit-test-token-secret-0123456789abcdef"
PASSWORD = "twelve chars or more"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def identity(clock: FakeClock) -> IdentityHandlers:
    handlers = IdentityHandlers(
        organisations=FakeOrganisations(),
        users=FakeUsers(),
        api_keys=FakeApiKeys(),
        tokens=AccessTokens(SECRET, timedelta(minutes=15)),
        clock=clock,
    )
    await handlers.ensure_bootstrap_admin("admin@iom.int", PASSWORD, "IOM")
    return handlers


async def _admin(identity: IdentityHandlers) -> Principal:
    return await identity.authenticate_token(
        (await identity.login("admin@iom.int", PASSWORD)).access_token
    )


async def _user(
    identity: IdentityHandlers,
    organisation: str,
    *roles: Role,
    warehouses: frozenset[str] = frozenset(),
) -> Principal:
    admin = await _admin(identity)
    if await identity.organisations.get(organisation) is None:
        await identity.create_organisation(
            CreateOrganisation(organisation, organisation, OrganisationKind.NGO), admin
        )
    user = (
        await identity.create_user(
            CreateUser(
                f"{organisation}-{len(identity.users.rows)}@x.org",
                PASSWORD,
                organisation,
                frozenset(roles),
                warehouses,
            ),
            admin,
        )
    ).value
    return await identity.authenticate_token(
        (await identity.login(user.username, PASSWORD)).access_token
    )


def test_a_password_hash_verifies_only_its_password() -> None:
    stored = secrets.hash_password(PASSWORD)
    assert stored.startswith("scrypt$")
    assert secrets.verify_password(PASSWORD, stored)
    assert not secrets.verify_password(PASSWORD + "!", stored)
    assert not secrets.verify_password(PASSWORD, "md5$whatever")
    assert secrets.hash_password(PASSWORD) != stored  # salted


def test_an_api_key_is_stored_as_a_hash_and_parsed_back() -> None:
    key = secrets.new_api_key()
    assert key.plaintext.startswith(f"{key.prefix}_")
    assert key.secret_hash not in key.plaintext
    parsed = secrets.parse_api_key(key.plaintext)
    assert parsed is not None
    assert parsed[0] == key.key_id
    assert secrets.key_secret_matches(parsed[1], key.secret_hash)
    for malformed in ("", "kf_", "kf_abc_secret", "xx_0123456789abcdef_s", "kf_0123456789ABCDEF_s"):
        assert secrets.parse_api_key(malformed) is None


async def test_bootstrapping_the_admin_twice_creates_one(identity: IdentityHandlers) -> None:
    await identity.ensure_bootstrap_admin("admin@iom.int", "another password!", "IOM")
    assert len(identity.users.rows) == 1
    assert (await _admin(identity)).roles == frozenset({Role.ADMIN})


async def test_only_admins_create_organisations_and_users(identity: IdentityHandlers) -> None:
    coordinator = await _user(identity, "NRC", Role.COORDINATOR)
    with pytest.raises(NotPermitted):
        await identity.create_organisation(
            CreateOrganisation("DRC", "DRC", OrganisationKind.NGO), coordinator
        )
    with pytest.raises(NotPermitted):
        await identity.create_user(
            CreateUser("x@nrc.org", PASSWORD, "NRC", frozenset({Role.ADMIN}), frozenset()),
            coordinator,
        )


async def test_users_need_a_known_organisation_roles_and_a_long_password(
    identity: IdentityHandlers,
) -> None:
    admin = await _admin(identity)
    cases = [
        (
            CreateUser("a@x.org", PASSWORD, "NOWHERE", frozenset({Role.PARTNER}), frozenset()),
            "organisation",
        ),
        (CreateUser("a@x.org", PASSWORD, "IOM", frozenset(), frozenset()), "roles"),
        (CreateUser("a@x.org", "short", "IOM", frozenset({Role.PARTNER}), frozenset()), "password"),
        (
            CreateUser("a@x.org", PASSWORD, "IOM", frozenset({Role.PARTNER}), frozenset({"BKO"})),
            "warehouses",
        ),
    ]
    for command, field in cases:
        with pytest.raises(InvalidInput) as refused:
            await identity.create_user(command, admin)
        assert refused.value.field == field


async def test_another_organisations_user_is_not_found(identity: IdentityHandlers) -> None:
    nrc = await _user(identity, "NRC", Role.PARTNER)
    drc = await _user(identity, "DRC", Role.PARTNER)
    with pytest.raises(NotFound):
        await identity.get_user(drc.user_id, nrc)
    with pytest.raises(NotFound):
        await identity.get_organisation("DRC", nrc)
    assert (await identity.get_organisation("NRC", nrc)).organisation_id == "NRC"


async def test_a_key_narrows_its_owner_and_authenticates_as_that_scope(
    identity: IdentityHandlers,
) -> None:
    staff = await _user(
        identity, "IOM", Role.WAREHOUSE, Role.COORDINATOR, warehouses=frozenset({"BKO", "MOP"})
    )
    with pytest.raises(InvalidInput):
        await identity.issue_key(IssueKey("x", roles=frozenset({Role.ADMIN})), staff)
    with pytest.raises(InvalidInput):
        await identity.issue_key(IssueKey("x", warehouses=frozenset({"GAO"})), staff)
    issued = (
        await identity.issue_key(
            IssueKey("scanner", roles=frozenset({Role.WAREHOUSE}), warehouses=frozenset({"MOP"})),
            staff,
        )
    ).value
    principal = await identity.authenticate_key(issued.plaintext)
    assert (principal.roles, principal.warehouses) == (
        frozenset({Role.WAREHOUSE}),
        frozenset({"MOP"}),
    )
    assert principal.key_id == issued.key.key_id
    assert principal.organisation == "IOM"


async def test_revoked_expired_and_forged_keys_are_refused(
    identity: IdentityHandlers, clock: FakeClock
) -> None:
    partner = await _user(identity, "NRC", Role.PARTNER)
    revoked = (await identity.issue_key(IssueKey("a"), partner)).value
    await identity.revoke_key(revoked.key.key_id, partner)
    expiring = (
        await identity.issue_key(IssueKey("b", expires_at=clock.now + timedelta(hours=1)), partner)
    ).value
    assert await identity.authenticate_key(expiring.plaintext)
    clock.advance(3601)
    forged = revoked.plaintext.rsplit("_", 1)[0] + "_forged"
    for plaintext in (revoked.plaintext, expiring.plaintext, forged, "kf_nope"):
        with pytest.raises(Unauthenticated):
            await identity.authenticate_key(plaintext)


async def test_someone_elses_key_cannot_be_revoked_or_seen(identity: IdentityHandlers) -> None:
    nrc = await _user(identity, "NRC", Role.PARTNER)
    drc = await _user(identity, "DRC", Role.PARTNER)
    theirs = (await identity.issue_key(IssueKey("theirs"), drc)).value
    with pytest.raises(NotFound):
        await identity.revoke_key(theirs.key.key_id, nrc)
    page = await identity.list_keys(
        nrc, user_id=drc.user_id, include_revoked=True, limit=10, offset=0
    )
    assert page.items == []


async def test_tokens_expire_and_end_when_the_user_changes(
    identity: IdentityHandlers, clock: FakeClock
) -> None:
    admin = await _admin(identity)
    partner = await _user(identity, "NRC", Role.PARTNER)
    user = await identity.users.get(partner.user_id)
    assert user is not None
    token = (await identity.login(user.username, PASSWORD)).access_token
    key = (await identity.issue_key(IssueKey("k"), partner)).value
    await identity.change_user(
        partner.user_id, ChangeUser(roles=frozenset({Role.COORDINATOR})), admin
    )
    with pytest.raises(Unauthenticated):
        await identity.authenticate_token(token)
    with pytest.raises(Unauthenticated):
        await identity.authenticate_key(key.plaintext)
    fresh = (await identity.login(user.username, PASSWORD)).access_token
    assert (await identity.authenticate_token(fresh)).roles == frozenset({Role.COORDINATOR})
    clock.advance(15 * 60)
    with pytest.raises(Unauthenticated, match="expired"):
        await identity.authenticate_token(fresh)
    forged = jwt.encode(jwt.decode(fresh, options={"verify_signature": False}), "x" * 40, "HS256")
    with pytest.raises(Unauthenticated):
        await identity.authenticate_token(forged)


async def test_wrong_password_unknown_user_and_deactivated_user_are_refused_alike(
    identity: IdentityHandlers,
) -> None:
    admin = await _admin(identity)
    partner = await _user(identity, "NRC", Role.PARTNER)
    user = await identity.users.get(partner.user_id)
    assert user is not None
    await identity.change_user(partner.user_id, ChangeUser(active=False), admin)
    for username, password in (
        ("admin@iom.int", "wrong password!!"),
        ("nobody@x.org", PASSWORD),
        (user.username, PASSWORD),
    ):
        with pytest.raises(Unauthenticated, match="wrong user name or password"):
            await identity.login(username, password)


async def test_an_admin_cannot_lock_themselves_out(identity: IdentityHandlers) -> None:
    admin = await _admin(identity)
    with pytest.raises(InvalidInput):
        await identity.change_user(admin.user_id, ChangeUser(active=False), admin)


async def test_deactivating_an_organisation_ends_its_users_tokens_and_keys_at_once(
    identity: IdentityHandlers,
) -> None:
    admin = await _admin(identity)
    partner = await _user(identity, "NRC", Role.PARTNER)
    other = await _user(identity, "DRC", Role.PARTNER)
    user = await identity.users.get(partner.user_id)
    assert user is not None
    token = (await identity.login(user.username, PASSWORD)).access_token
    key = (await identity.issue_key(IssueKey("k"), partner)).value
    other_key = (await identity.issue_key(IssueKey("k"), other)).value

    changed = (await identity.change_organisation("NRC", False, admin)).value
    assert not changed.active
    with pytest.raises(Unauthenticated):
        await identity.authenticate_token(token)
    with pytest.raises(Unauthenticated):
        await identity.authenticate_key(key.plaintext)
    with pytest.raises(Unauthenticated):
        await identity.login(user.username, PASSWORD)
    with pytest.raises(InvalidInput, match="deactivated"):
        await identity.create_user(
            CreateUser("new@nrc.no", PASSWORD, "NRC", frozenset({Role.PARTNER}), frozenset()),
            admin,
        )
    # Another organisation is untouched.
    assert (await identity.authenticate_key(other_key.plaintext)).organisation == "DRC"

    # Active again: users can be created there again; the old users stay deactivated.
    assert (await identity.change_organisation("NRC", True, admin)).value.active
    with pytest.raises(Unauthenticated):
        await identity.login(user.username, PASSWORD)
    await identity.create_user(
        CreateUser("new@nrc.no", PASSWORD, "NRC", frozenset({Role.PARTNER}), frozenset()), admin
    )


async def test_only_admins_change_organisations_and_never_their_own_to_inactive(
    identity: IdentityHandlers,
) -> None:
    admin = await _admin(identity)
    partner = await _user(identity, "NRC", Role.PARTNER)
    with pytest.raises(NotPermitted):
        await identity.change_organisation("NRC", False, partner)
    with pytest.raises(InvalidInput, match="own organisation"):
        await identity.change_organisation(admin.organisation, False, admin)
    with pytest.raises(NotFound):
        await identity.change_organisation("NOBODY", False, admin)
