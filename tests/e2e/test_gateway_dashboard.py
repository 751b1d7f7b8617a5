"""The coordinator dashboard in real headless Chromium, against the four services as processes
(the real broker and store behind them): sign in, the needs gap before and after a plan (made
through the API; the plan and stock views have their own test, test_coordinator_plans.py), and
the needs view on a phone-sized screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import (
    BrowserContext,
    Locator,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from tests.support.infra import REPO_ROOT, Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess, service_process

pytestmark = pytest.mark.infra

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
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# Stock answers an approval through events: allow the saga a generous margin on a busy machine.
SAGA_TIMEOUT_MS = 60_000

ADMIN_USER = "admin@iom.int"
ADMIN_PASSWORD = "dashboard-admin-passphrase"
PASSWORD = "a long enough passphrase"


@dataclass
class Gateway:
    url: str
    client: httpx.AsyncClient


async def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def _bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    signed_in = await _ok(
        await client.post(
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        ),
        200,
    )
    return {"Authorization": f"Bearer {signed_in['access_token']}"}


async def _user(
    client: httpx.AsyncClient, admin: dict[str, str], organisation: str, role: str
) -> dict[str, str]:
    """A user of `organisation` with `role`, signed in: their Authorization header."""
    username = f"{role}@{organisation.lower()}.org"
    await _ok(
        await client.post(
            "/v1/users",
            headers=admin,
            json={
                "username": username,
                "password": PASSWORD,
                "organisation": organisation,
                "roles": [role],
                "warehouses": [],
            },
        )
    )
    return await _bearer(client, username, PASSWORD)


def _need(admin1: str, admin2: str, site: str, households: int, lat: float, lon: float) -> Any:
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


async def _seed(client: httpx.AsyncClient) -> None:
    """150 NFI kits in two warehouses; two validated needs of 120 (NRC, Mopti) and 80 (DRC, Gao)
    households, one kit each: the planner can cover 150 of 200."""
    admin = await _bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    for code, name, admin1, admin2, lat, lon in (
        ("BKO-MAIN", "Bamako main", "ML09", "ML0901", 12.6392, -8.0029),
        ("MOP-SUB", "Mopti sub-office", "ML05", "ML0501", 14.4939, -4.1966),
    ):
        await _ok(
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
    await _ok(
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
        await _ok(
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
        await _ok(
            await client.post(
                "/v1/organisations",
                headers=admin,
                json={"organisation_id": organisation, "name": organisation, "kind": "ngo"},
            )
        )
    coordinator = await _user(client, admin, "IOM", "coordinator")
    for partner, need in (
        ("NRC", _need("ML05", "ML0501", "Sévaré 2", 120, 14.5, -4.1)),
        ("DRC", _need("ML07", "ML0701", "Gao camp", 80, 16.27, -0.04)),
    ):
        reporter = await _user(client, admin, partner, "partner")
        created = await _ok(await client.post("/v1/needs", headers=reporter, json=need))
        await _ok(
            await client.post(f"/v1/needs/{created['id']}/validate", headers=coordinator), 200
        )

    # The planner works from distribution's views, which learn stock and needs from events.
    await eventually(
        lambda: client.get("/v1/views/needs", headers=admin),
        lambda r: sum(n["status"] == "validated" for n in r.json()) == 2,
        what="distribution's needs view",
        timeout_s=60,
    )
    await eventually(
        lambda: client.get("/v1/views/stock", headers=admin),
        lambda r: sum(x["balance"]["available"] for x in r.json()) == 150,
        what="distribution's stock view",
        timeout_s=60,
    )


@pytest.fixture
async def gateway(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> AsyncIterator[Gateway]:
    backends = {
        name: service_process(name, infra, topics) for name in ("stock", "needs", "distribution")
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
    async with httpx.AsyncClient(base_url=front.url, timeout=30) as client:
        await _seed(client)
        yield Gateway(front.url, client)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    return CHROMIUM


@pytest.fixture
async def playwright(chromium: Path) -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


async def _browser(
    playwright: Playwright, profile: Path, viewport: dict[str, int]
) -> BrowserContext:
    # A fresh profile per browser (under the test's own tmp_path): nothing carried over.
    context: BrowserContext = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=viewport,  # type: ignore[arg-type]
    )
    context.set_default_timeout(15_000)
    return context


async def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)


async def _sign_in(page: Page, url: str) -> None:
    response = await page.goto(url)
    assert response is not None
    assert response.ok
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    await page.get_by_label("User name").fill(ADMIN_USER)
    await page.get_by_label("Password").fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#who")).to_have_text(f"{ADMIN_USER} (IOM)")


def _cells(page: Page, table: str, key: str) -> Locator:
    """The cells of the row of `table` whose text contains `key`."""
    return page.locator(f"#{table} tbody tr").filter(has_text=key).locator("td")


# The gaps table's columns, per item by region: region, sector, item, unit, needs, requested,
# planned, dispatched, delivered, gap, households, households delivered, households uncovered.
REGION_COLUMN, REQUESTED_COLUMN, PLANNED_COLUMN, DELIVERED_COLUMN = 0, 5, 6, 8


async def _refresh_until(page: Page, region: str, value: str, column: int) -> None:
    """Press Refresh until the region's figure in `column` arrives (events take a moment)."""
    cell = _cells(page, "gaps-table", region).nth(column)
    for _ in range(SAGA_TIMEOUT_MS // 1000):
        await expect(cell).to_be_visible()
        if await cell.inner_text() == value:
            return
        await page.wait_for_timeout(1000)
        await page.get_by_role("button", name="Refresh").first.click()
    raise AssertionError(f"{region}: column {column} never became {value}")


async def _expect_gap(
    page: Page, region: str, requested: str, planned: str, delivered: str
) -> None:
    cells = _cells(page, "gaps-table", region)
    await expect(cells.nth(REGION_COLUMN)).to_have_text(region)
    await expect(cells.nth(REQUESTED_COLUMN)).to_have_text(requested)
    await expect(cells.nth(PLANNED_COLUMN)).to_have_text(planned)
    await expect(cells.nth(DELIVERED_COLUMN)).to_have_text(delivered)


async def _until_status(
    client: httpx.AsyncClient, admin: dict[str, str], plan_id: str, status: str
) -> dict[str, Any]:
    async def read() -> httpx.Response:
        return await client.get(f"/v1/plans/{plan_id}", headers=admin)

    response = await eventually(
        read, lambda r: r.json()["status"] == status, what=f"plan {status}", timeout_s=60
    )
    plan: dict[str, Any] = response.json()
    return plan


async def _plan_through_the_api(gateway: Gateway) -> None:
    """150 kits for 200 households of equal severity, shared in proportion (90 for Sévaré 2, 60
    for Gao camp), approved, dispatched, and 10 kits delivered to 10 households at Gao camp."""
    client = gateway.client
    admin = await _bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    plan = await _ok(
        await client.post("/v1/plans", headers=admin, json={"title": "Mopti and Gao NFI, round 1"})
    )
    plan_id = plan["plan_id"]
    await _ok(
        await client.post(
            f"/v1/plans/{plan_id}/approve", headers=admin, json={"all_or_nothing": False}
        ),
        200,
    )
    await _until_status(client, admin, plan_id, "reserved")
    await _ok(
        await client.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=admin,
            json={"waybill_number": "WB-MOP-0001", "destination": "Sévaré 2 and Gao camp"},
        ),
        200,
    )
    plan = await _until_status(client, admin, plan_id, "dispatched")
    gao = next(n for n, w in plan["explanation"]["needs"].items() if w["site"] == "Gao camp")
    line = next(x for x in plan["lines"] if x["need_id"] == gao and x["dispatched"] >= 10)
    delivery = {
        "need_id": gao,
        "lines": [{"line_id": line["line_id"], "quantity": 10}],
        "households": 10,
        "individuals": 50,
    }
    await _ok(
        await client.post(
            f"/v1/plans/{plan_id}/deliveries", headers=admin, json={"deliveries": [delivery]}
        ),
        200,
    )


async def _no_page_overflow(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


async def test_coordinator_follows_needs_stock_and_a_plan_in_the_dashboard(
    gateway: Gateway, playwright: Playwright, tmp_path: Path
) -> None:
    desktop = await _browser(playwright, tmp_path / "desktop-profile", DESKTOP)
    try:
        page = desktop.pages[0] if desktop.pages else await desktop.new_page()
        await _sign_in(page, gateway.url)

        # The gaps per item open first (the first dashboard's "needs gap" added every item's
        # quantities together): nothing planned yet.
        await expect(page.get_by_role("heading", name="Gaps per item and sector")).to_be_visible()
        await _refresh_until(page, "Mopti (ML05)", "120", REQUESTED_COLUMN)
        await _refresh_until(page, "Gao (ML07)", "80", REQUESTED_COLUMN)
        await _expect_gap(page, "Mopti (ML05)", "120", "0", "0")
        await _expect_gap(page, "Gao (ML07)", "80", "0", "0")
        await _screenshot(page, "desktop-gaps")

        # Stock and plans have their own browser test (test_coordinator_plans.py); here a plan
        # made through the API moves the needs gap the phone reads below.
        await _plan_through_the_api(gateway)
    finally:
        await desktop.close()

    phone = await _browser(playwright, tmp_path / "phone-profile", PHONE)
    try:
        page = phone.pages[0] if phone.pages else await phone.new_page()
        await _no_page_overflow(page)
        await _sign_in(page, gateway.url)
        # Approval and the delivery recorded through the API reached distribution's gap cells.
        await _refresh_until(page, "Mopti (ML05)", "90", PLANNED_COLUMN)
        await _refresh_until(page, "Gao (ML07)", "10", DELIVERED_COLUMN)
        await _expect_gap(page, "Mopti (ML05)", "120", "90", "0")
        await _expect_gap(page, "Gao (ML07)", "80", "60", "10")
        await _no_page_overflow(page)
        await _screenshot(page, "phone-gaps")
        await page.get_by_role("button", name="Plans", exact=True).click()
        await expect(page.locator("#plans-table tbody tr")).to_have_count(1)
        await _no_page_overflow(page)
        await _screenshot(page, "phone-plans")
    finally:
        await phone.close()
