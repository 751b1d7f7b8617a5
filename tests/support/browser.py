"""What the browser tests share: Debian's Chromium launched the same way, the four services as
processes behind one gateway with a bootstrap administrator, and the API calls that sign in and
make users. Each page's test keeps its own words, scenario and checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Playwright

from tests.support.infra import REPO_ROOT, Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess, service_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Outside the tracked tree: a test run leaves the checkout clean.
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CATALOGUES = REPO_ROOT / "services/gateway/src/kitflow_gateway/web/shared/i18n"
LOCALES = {"fr": "fr-FR", "en": "en-GB"}
# Stock answers an approval through events: allow the saga a generous margin on a busy machine.
SAGA_TIMEOUT_MS = 60_000

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "dashboard-admin-passphrase"
PASSWORD = "a long enough passphrase"


@dataclass
class Gateway:
    url: str
    client: httpx.AsyncClient


async def ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    signed_in = await ok(
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        ),
        200,
    )
    return {"Authorization": f"Bearer {signed_in['access_token']}"}


async def new_user(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    username: str,
    organisation: str,
    role: str,
    warehouses: tuple[str, ...] = (),
) -> dict[str, str]:
    """A user of `organisation` with `role` (and `warehouses`), signed in: their header."""
    await ok(
        await client.post(
            "/v1/users",
            headers=admin,
            json={
                "username": username,
                "password": PASSWORD,
                "organisation": organisation,
                "roles": [role],
                "warehouses": list(warehouses),
            },
        )
    )
    return await bearer(client, username, PASSWORD)


async def start_services(
    infra: Infra,
    topics: str,
    processes: list[ServiceProcess],
    distribution_env: dict[str, str] | None = None,
) -> str:
    """Stock, needs, distribution and a gateway in front of them, ready; the gateway's URL.
    Each process joins `processes`, which the e2e conftest stops at the test's end."""
    backends = {
        "stock": service_process("stock", infra, topics),
        "needs": service_process("needs", infra, topics),
        "distribution": service_process("distribution", infra, topics, **(distribution_env or {})),
    }
    front = service_process(
        "gateway",
        infra,
        topics,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
        KITFLOW_GATEWAY_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **{f"KITFLOW_GATEWAY_{name.upper()}_URL": p.url for name, p in backends.items()},
    )
    for process in [*backends.values(), front]:
        processes.append(process.start())
    for process in processes:
        await process.wait_ready()
    return front.url


async def launch(
    playwright: Playwright,
    profile: Path,
    viewport: dict[str, int],
    language: str | None = None,
    **options: Any,
) -> BrowserContext:
    """A fresh Chromium profile (under the test's own tmp_path: nothing carried over), in the
    language's locale if one is given; `options` go to Playwright (downloads, touch)."""
    if language is not None:
        options["locale"] = LOCALES[language]
    context: BrowserContext = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=viewport,  # type: ignore[arg-type]
        **options,
    )
    context.set_default_timeout(15_000)
    return context


def need_body(admin1: str, admin2: str, site: str, households: int, lat: float, lon: float) -> Any:
    return {
        "location": {
            "admin1_pcode": admin1,
            "admin2_pcode": admin2,
            "site_name": site,
            "coordinates": {"lat": lat, "lon": lon},
        },
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": 4,
        "items": [{"item_code": "KIT-NFI", "quantity": households}],
    }


async def seed_two_needs(client: httpx.AsyncClient) -> None:
    """150 NFI kits in two warehouses; two validated needs of 120 (NRC, Mopti) and 80 (DRC, Gao)
    households, one kit each: the planner can cover 150 of 200."""
    admin = await bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    for code, name, admin1, admin2, lat, lon in (
        ("BKO-MAIN", "Bamako main", "ML09", "ML0901", 12.6392, -8.0029),
        ("MOP-SUB", "Mopti sub-office", "ML05", "ML0501", 14.4939, -4.1966),
    ):
        await ok(
            await client.post(
                "/v1/warehouses",
                headers=admin,
                json={
                    "code": code,
                    "name": name,
                    "organisation": "IOM",
                    "type": "main",
                    "admin1_pcode": admin1,
                    "admin2_pcode": admin2,
                    "location": {"lat": lat, "lon": lon},
                },
            )
        )
    await ok(
        await client.post(
            "/v1/items",
            headers=admin,
            json={
                "code": "KIT-NFI",
                "name_en": "NFI kit",
                "name_fr": "Kit BNA",
                "category": "nfi",
                "unit": "kit",
            },
        )
    )
    for code, quantity in (("MOP-SUB", 100), ("BKO-MAIN", 50)):
        await ok(
            await client.post(
                f"/v1/warehouses/{code}/receipts",
                headers=admin,
                json={
                    "grn_number": f"GRN-{code}",
                    "source": "ECHO",
                    "lines": [{"item_code": "KIT-NFI", "quantity": quantity}],
                },
            )
        )
    for organisation in ("NRC", "DRC"):
        await ok(
            await client.post(
                "/v1/organisations",
                headers=admin,
                json={"organisation_id": organisation, "name": organisation, "kind": "ngo"},
            )
        )
    coordinator = await new_user(client, admin, "coordinator@iom.org", "IOM", "coordinator")
    for partner, need in (
        ("NRC", need_body("ML05", "ML0501", "Sévaré 2", 120, 14.5, -4.1)),
        ("DRC", need_body("ML07", "ML0701", "Gao camp", 80, 16.27, -0.04)),
    ):
        reporter = await new_user(
            client, admin, f"partner@{partner.lower()}.org", partner, "partner"
        )
        created = await ok(await client.post("/v1/needs", headers=reporter, json=need))
        await ok(await client.post(f"/v1/needs/{created['id']}/validate", headers=coordinator), 200)

    # The planner works from distribution's views, which learn stock and needs from events.
    await eventually(
        lambda: client.get("/v1/views/needs", headers=admin),
        lambda r: sum(n["status"] == "validated" for n in r.json()) == 2,
        what="distribution's needs view",
        timeout_s=60,
    )
    # A warehouse's registration and its receipts reach distribution from different outboxes:
    # the planner uses stock only at warehouses it knows.
    await eventually(
        lambda: client.get("/v1/views/warehouses", headers=admin),
        lambda r: len(r.json()) == 2,
        what="distribution's warehouse view",
        timeout_s=60,
    )
    await eventually(
        lambda: client.get("/v1/views/stock", headers=admin),
        lambda r: sum(x["balance"]["available"] for x in r.json()) == 150,
        what="distribution's stock view",
        timeout_s=60,
    )
