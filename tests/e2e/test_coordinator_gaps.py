"""The coordinator's gaps, map and alerts pages in real headless Chromium, in English and French,
against the four services as processes (real broker and store behind them).

Seeded scenario: NFI kits for two needs and no shelter kits. Gao's need (DRC, 80 households)
gets a plan that is delivered in full; Mopti's (NRC, 120 households, NFI and shelter) gets a
plan that stays reserved; Tombouctou's (AMSS, 30) waits for validation. The pages must show
the API's own figures, shade the cercles by the same rule, and list the reservation about to
lapse (the warning window is set longer than a reservation's 14 days)."""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Playwright, expect

from tests.support.browser import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    PASSWORD,
    SCREENSHOTS,
    Gateway,
    bearer,
    launch,
    new_user,
    ok,
    start_services,
)
from tests.support.infra import Infra
from tests.support.kafka import eventually
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.infra

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
COORDINATOR = "coordinator@iom.org"
# Reservations last 14 days: a 15-day warning puts every reserved plan on the alerts list.
RESERVATION_WARNING = "P15D"
# The dashboard's own files (page, scripts, styles, catalogue, map) as they travel: gzipped,
# as the gateway serves them. About 54 kB with every view; 70 kB is some 2 s over 2G.
PAGE_BUDGET_BYTES = 70_000
SAGA_TIMEOUT_S = 60
STEPS = 4

ITEMS = (
    ("KIT-NFI", "NFI kit", "Kit NFI", "nfi"),
    ("KIT-SHELTER", "Emergency shelter kit", "Kit abri d'urgence", "shelter"),
)
# partner, cercle, site, households, items (one each per household), validated
NEEDS = (
    ("NRC", "ML0501", "Sévaré 2", 120, ("KIT-NFI", "KIT-SHELTER"), True),
    ("DRC", "ML0701", "Gao camp", 80, ("KIT-NFI",), True),
    ("AMSS", "ML0601", "Abaradjou", 30, ("KIT-NFI",), False),
)


def _need(cercle: str, site: str, households: int, items: tuple[str, ...]) -> dict[str, Any]:
    return {
        "location": {"admin1_pcode": cercle[:4], "admin2_pcode": cercle, "site_name": site},
        "population": {"households": households, "individuals": households * 5},
        "displacement_status": "idp",
        "assessment": {"date": "2026-11-20", "source": "partner-assessment"},
        "severity": 4,
        "items": [{"item_code": code, "quantity": households} for code in items],
    }


async def _post(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: Any, status: int = 201
) -> dict[str, Any]:
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    return await ok(await client.post(path, headers=keyed, json=body), status)


async def _plan_status(
    client: httpx.AsyncClient, headers: dict[str, str], plan_id: str, status: str
) -> dict[str, Any]:
    answer = await eventually(
        lambda: client.get(f"/v1/plans/{plan_id}", headers=headers),
        lambda r: r.json()["status"] == status,
        what=f"plan {plan_id} {status}",
        timeout_s=SAGA_TIMEOUT_S,
    )
    plan: dict[str, Any] = answer.json()
    return plan


async def _seed(client: httpx.AsyncClient) -> dict[str, Any]:
    """The scenario above; returns the coordinator's headers, the need ids and Mopti's draft."""
    admin = await bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    await ok(
        await client.post(
            "/v1/warehouses",
            headers=admin,
            json={
                "code": "MOP-SUB",
                "name": "Mopti sub-office",
                "organisation": "IOM",
                "type": "main",
                "admin1_pcode": "ML05",
                "admin2_pcode": "ML0501",
                "location": {"lat": 14.4939, "lon": -4.1966},
            },
        )
    )
    for code, name_en, name_fr, category in ITEMS:
        await ok(
            await client.post(
                "/v1/items",
                headers=admin,
                json={
                    "code": code,
                    "name_en": name_en,
                    "name_fr": name_fr,
                    "category": category,
                    "unit": "kit",
                },
            )
        )
    await ok(
        await client.post(
            "/v1/warehouses/MOP-SUB/receipts",
            headers=admin,
            json={
                "grn_number": "GRN-MOP-1",
                "source": "ECHO",
                "lines": [{"item_code": "KIT-NFI", "quantity": 250}],
            },
        )
    )
    coordinator = await new_user(client, admin, COORDINATOR, "IOM", "coordinator")
    ids: dict[str, str] = {}
    for partner, cercle, site, households, items, validated in NEEDS:
        await ok(
            await client.post(
                "/v1/organisations",
                headers=admin,
                json={"organisation_id": partner, "name": partner, "kind": "ngo"},
            )
        )
        reporter = await new_user(client, admin, f"needs@{partner.lower()}.org", partner, "partner")
        created = await ok(
            await client.post(
                "/v1/needs", headers=reporter, json=_need(cercle, site, households, items)
            )
        )
        ids[cercle] = created["id"]
        if validated:
            await ok(
                await client.post(f"/v1/needs/{created['id']}/validate", headers=coordinator),
                200,
            )
    await eventually(
        lambda: client.get("/v1/views/stock", headers=admin),
        lambda r: sum(x["balance"]["available"] for x in r.json()) == 250,
        what="distribution's stock view",
        timeout_s=SAGA_TIMEOUT_S,
    )
    await eventually(
        lambda: client.get("/v1/views/needs", headers=admin),
        lambda r: sum(n["status"] == "validated" for n in r.json()) == 2,
        what="distribution's needs view",
        timeout_s=SAGA_TIMEOUT_S,
    )
    # Gao: planned, dispatched and delivered in full (80 households covered for NFI).
    gao = await _post(
        client, "/v1/plans", coordinator, {"title": "Gao NFI", "need_ids": [ids["ML0701"]]}
    )
    await _post(client, f"/v1/plans/{gao['plan_id']}/approve", coordinator, {}, 200)
    await _plan_status(client, coordinator, gao["plan_id"], "reserved")
    await _post(
        client,
        f"/v1/plans/{gao['plan_id']}/dispatch",
        coordinator,
        {"waybill_number": "WB-GAO-1", "destination": "Gao camp"},
        200,
    )
    dispatched = await _plan_status(client, coordinator, gao["plan_id"], "dispatched")
    await _post(
        client,
        f"/v1/plans/{gao['plan_id']}/deliveries",
        coordinator,
        {
            "deliveries": [
                {
                    "need_id": ids["ML0701"],
                    "lines": [
                        {"line_id": line["line_id"], "quantity": line["dispatched"]}
                        for line in dispatched["lines"]
                    ],
                    "households": 80,
                    "individuals": 400,
                }
            ]
        },
        200,
    )
    # Mopti: drafted now, approved during the test (its reservation is the alert to see).
    mopti = await _post(
        client,
        "/v1/plans",
        coordinator,
        {"title": "Mopti NFI", "need_ids": [ids["ML0501"]], "item_codes": ["KIT-NFI"]},
    )
    return {"coordinator": coordinator, "needs": ids, "mopti_plan": mopti["plan_id"]}


@pytest.fixture
async def seeded(
    infra: Infra, topics: str, processes: list[ServiceProcess]
) -> AsyncIterator[tuple[Gateway, dict[str, Any]]]:
    url = await start_services(
        infra,
        topics,
        processes,
        distribution_env={"KITFLOW_DISTRIBUTION_RESERVATION_WARNING": RESERVATION_WARNING},
    )
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        scenario = await _seed(client)
        yield Gateway(url, client), scenario


async def _browser(
    playwright: Playwright, profile: Path, viewport: dict[str, int], language: str
) -> BrowserContext:
    return await launch(playwright, profile, viewport, language, accept_downloads=True)


async def _page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else await context.new_page()


async def _sign_in(page: Page, url: str, labels: tuple[str, str, str]) -> None:
    await page.goto(url)
    user, password, submit = labels
    await page.get_by_label(user).fill(COORDINATOR)
    await page.get_by_label(password).fill(PASSWORD)
    await page.get_by_role("button", name=submit).click()
    # The sign-in and the first call after it wait on the password hash and a loaded machine.
    await expect(page.locator("#who")).to_have_text(f"{COORDINATOR} (IOM)", timeout=30_000)


async def _missing_keys(page: Page) -> list[str]:
    missing: list[str] = await page.evaluate(
        "async () => (await import('/web/shared/i18n.js')).missingKeys()"
    )
    return missing


async def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def _no_page_overflow(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def _number(value: int) -> re.Pattern[str]:
    """`value` as the page may write it: 1 234 in French, 1,234 in English."""
    return re.compile(r"^\s*" + r"\D?".join(str(value)) + r"\s*$")


async def _api(gateway: Gateway, headers: dict[str, str], path: str) -> Any:
    answer = await gateway.client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


NUMBERS = {
    "item": (
        "needs",
        "requested",
        "planned",
        "dispatched",
        "delivered",
        "gap",
        "households",
        "households_delivered",
        "households_uncovered",
    ),
    "sector": (
        "needs",
        "households",
        "households_planned",
        "households_dispatched",
        "households_delivered",
        "households_uncovered",
    ),
}


async def _expect_gap_table(page: Page, rows: list[dict[str, Any]], by: str) -> None:
    """Every row of the API's answer is on the page, in the API's order, with its numbers."""
    table = page.locator(f'#gaps-table[data-by="{by}"][data-level="admin2"] tbody tr')
    await expect(table).to_have_count(len(rows))
    for index, row in enumerate(rows):
        line = table.nth(index)
        await expect(line).to_have_attribute("data-admin", row["admin2_pcode"])
        await expect(line).to_have_attribute("data-sector", row["sector"])
        if by == "item":
            await expect(line).to_have_attribute("data-item", row["item_code"])
        for column in NUMBERS[by]:
            cell = line.locator(f'td[data-col="{column}"]')
            await expect(cell).to_have_text(_number(row[column]))


async def _gaps_match_the_api(page: Page, gateway: Gateway, headers: dict[str, str]) -> None:
    await page.locator('.tabs button[data-view="gaps"]').click()
    await page.locator("#gaps-level").select_option("admin2")
    for by in ("item", "sector"):
        await page.locator("#gaps-by").select_option(by)
        rows = await _api(gateway, headers, f"/v1/gaps?by={by}&level=admin2")
        await _expect_gap_table(page, rows, by)


def _step(metric: str, row: dict[str, Any] | None, largest: int) -> str:
    """The map's rule (map.js gapStep): quarters of the largest uncovered, or of what is not
    delivered for the fill rate; no households, no shade."""
    if row is None or row["households"] <= 0:
        return "gap-none"
    if metric == "fill":
        missing = 1 - row["households_delivered"] / row["households"]
    else:
        missing = row["households_uncovered"] / max(1, largest)
    return f"gap-{min(STEPS, math.ceil(missing * STEPS - 1e-9))}"


async def _map_matches_the_api(
    page: Page, gateway: Gateway, headers: dict[str, str], metric_label: str
) -> dict[str, str]:
    """Each seeded cercle (and one without needs) shaded as the API's figures say, for NFI."""
    await page.locator('.tabs button[data-view="map"]').click()
    await page.locator("#map-sector").select_option("nfi")
    rows = await _api(gateway, headers, "/v1/gaps?by=sector&level=admin2&sector=nfi")
    by_cercle = {r["admin2_pcode"]: r for r in rows}
    largest = max(r["households_uncovered"] for r in rows)
    seen: dict[str, str] = {}
    for metric in ("uncovered", "fill"):
        if metric == "fill":
            await page.get_by_label(metric_label).check()
        await expect(page.locator("#map-canvas")).to_have_attribute("data-metric", metric)
        for cercle in ("ML0501", "ML0701", "ML0601", "ML0502"):
            expected = _step(metric, by_cercle.get(cercle), largest)
            circle = page.locator(f'#map-canvas circle.cercle[data-pcode="{cercle}"]')
            await expect(circle).to_have_attribute("data-step", expected)
            await expect(circle).to_have_class(re.compile(rf"\b{expected}\b"))
            seen[f"{metric}:{cercle}"] = expected
    return seen


async def test_gaps_map_and_alerts_follow_the_api_in_english_and_french(
    seeded: tuple[Gateway, dict[str, Any]], playwright: Playwright, tmp_path: Path
) -> None:
    gateway, scenario = seeded
    headers = scenario["coordinator"]
    plan_id = scenario["mopti_plan"]
    # The gap view has the delivery to Gao before the pages are read.
    await eventually(
        lambda: gateway.client.get("/v1/gaps?by=item&level=admin2", headers=headers),
        lambda r: any(
            x["admin2_pcode"] == "ML0701" and x["households_delivered"] == 80 for x in r.json()
        ),
        what="the delivery in the gap view",
        timeout_s=SAGA_TIMEOUT_S,
    )

    english = await _browser(playwright, tmp_path / "en", DESKTOP, "en")
    try:
        page = await _page(english)
        own_files: list[int] = []

        async def count(response: Any) -> None:
            path = response.url.split("://", 1)[1].split("/", 1)[1]
            if not path.startswith("v1/") and response.status == 200:
                headers = await response.all_headers()
                # What crossed the link: the compressed length when the file came gzipped.
                sent = headers.get("content-length")
                own_files.append(int(sent) if sent else len(await response.body()))

        page.on("response", count)
        await _sign_in(page, gateway.url, ("User name", "Password", "Sign in"))
        await expect(page.locator("html")).to_have_attribute("lang", "en")

        # Alerts: the need waiting for validation, no reservation yet; approving Mopti's plan
        # puts its reservation on the list (the window is longer than a reservation's life).
        await page.get_by_role("button", name=re.compile("^Alerts")).click()
        await expect(
            page.locator('#alerts-list li[data-kind="need-waiting-for-validation"]')
        ).to_have_count(1)
        await expect(
            page.locator('#alerts-list li[data-kind="reservation-expiring"]')
        ).to_have_count(0)
        await _post(gateway.client, f"/v1/plans/{plan_id}/approve", headers, {}, 200)
        await _plan_status(gateway.client, headers, plan_id, "reserved")
        expiring = page.locator('#alerts-list li[data-kind="reservation-expiring"]')
        for _ in range(SAGA_TIMEOUT_S):
            await page.get_by_role("button", name="Refresh").last.click()
            if await expiring.count() == 1:
                break
            await page.wait_for_timeout(1000)
        await expect(expiring).to_contain_text(
            f"Plan Mopti NFI ({plan_id}): the reservation lapses on"
        )
        await expect(expiring.get_by_role("link", name="Open the plans")).to_be_visible()
        alerts = await _api(gateway, headers, "/v1/alerts")
        await expect(page.locator("#alerts-list li")).to_have_count(len(alerts))
        await expect(page.locator("#alerts-badge")).to_have_text(str(len(alerts)))
        await _screenshot(page, "alerts-desktop-en")

        # The Mopti plan's reservation reached the gap view: planned 120 of 120 NFI kits.
        await eventually(
            lambda: gateway.client.get("/v1/gaps?by=item&level=admin2", headers=headers),
            lambda r: any(
                x["admin2_pcode"] == "ML0501" and x["item_code"] == "KIT-NFI" and x["planned"]
                for x in r.json()
            ),
            what="Mopti's plan in the gap view",
            timeout_s=SAGA_TIMEOUT_S,
        )
        await _gaps_match_the_api(page, gateway, headers)
        # Sorted by the API from a heading: requested, largest first.
        await page.locator("#gaps-by").select_option("item")
        await page.locator('#gaps-table button[data-sort="requested"]').click()
        await expect(page.locator('#gaps-table th[aria-sort="descending"]')).to_contain_text(
            "Requested"
        )
        ordered = await _api(gateway, headers, "/v1/gaps?by=item&level=admin2&sort=-requested")
        await _expect_gap_table(page, ordered, "item")
        # A filter is the API's filter.
        await page.locator("#gaps-sector").select_option("shelter")
        shelter = await _api(
            gateway, headers, "/v1/gaps?by=item&level=admin2&sector=shelter&sort=-requested"
        )
        await _expect_gap_table(page, shelter, "item")
        # The export is the API's HXL CSV for the same query.
        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Export HXL CSV").click()
        download = await download_info.value
        exported = await asyncio.to_thread(Path(await download.path()).read_bytes)
        from_api = await gateway.client.get(
            "/v1/gaps.csv?by=item&level=admin2&sector=shelter&sort=-requested", headers=headers
        )
        assert exported == from_api.content
        assert b"#adm2+code" in exported
        await page.locator("#gaps-sector").select_option("")
        # The trend: one row per week for the chosen item, the chart drawn beside it.
        trend = await _api(gateway, headers, "/v1/gaps/trend")
        nfi_weeks = [w for w in trend if w["item_code"] == "KIT-NFI"]
        await page.locator("#gaps-trend-item").select_option("KIT-NFI")
        weeks = page.locator("#gaps-trend-table tbody tr")
        await expect(weeks).to_have_count(len(nfi_weeks))
        last = nfi_weeks[-1]
        await expect(weeks.last.locator('td[data-col="delivered_to_date"]')).to_have_text(
            _number(last["delivered_to_date"])
        )
        await expect(page.locator("#gaps-trend-chart svg polyline")).to_have_count(3)
        await _screenshot(page, "gaps-desktop-en")

        shades = await _map_matches_the_api(
            page, gateway, headers, "Fill rate (households delivered)"
        )
        # The seeded scenario gives a spread: Mopti the largest gap, Gao covered, no need in
        # Bandiagara.
        assert shades["uncovered:ML0501"] == "gap-4"
        assert shades["fill:ML0701"] == "gap-0"
        assert shades["uncovered:ML0502"] == "gap-none"
        # A cercle chosen with the keyboard lists its partners and needs.
        await page.locator('#map-canvas circle[data-pcode="ML0501"]').focus()
        await page.keyboard.press("Enter")
        await expect(page.locator("#map-detail-title")).to_have_text("Mopti (ML0501)")
        await expect(page.locator("#map-detail .detail-partners")).to_have_text("NRC")
        await expect(page.locator("#map-detail-body")).to_contain_text("Sévaré 2")
        await _screenshot(page, "map-desktop-en")

        assert await _missing_keys(page) == []
        total = sum(own_files)
        assert 0 < total <= PAGE_BUDGET_BYTES, f"the dashboard's files weigh {total} bytes"
    finally:
        await english.close()

    french = await _browser(playwright, tmp_path / "fr", PHONE, "fr")
    try:
        page = await _page(french)
        await _sign_in(page, gateway.url, ("Nom d'utilisateur", "Mot de passe", "Se connecter"))
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await expect(page.get_by_role("button", name="Carte", exact=True)).to_be_visible()
        await _gaps_match_the_api(page, gateway, headers)
        await expect(page.locator("#gaps-table thead")).to_contain_text("Ménages non couverts")
        await _no_page_overflow(page)
        await _map_matches_the_api(page, gateway, headers, "Taux de couverture (ménages livrés)")
        await _no_page_overflow(page)
        await page.get_by_role("button", name=re.compile("^Alertes")).click()
        await expect(
            page.locator('#alerts-list li[data-kind="reservation-expiring"]')
        ).to_contain_text(f"Plan Mopti NFI ({plan_id}) : la réservation expire le")
        await _no_page_overflow(page)
        assert await _missing_keys(page) == []
        # The switch goes back to English and stays for the next visit.
        await page.get_by_label("Langue").select_option("en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(
            page.locator('#alerts-list li[data-kind="reservation-expiring"]')
        ).to_contain_text("the reservation lapses on")
        assert await _missing_keys(page) == []
    finally:
        await french.close()
