"""The warehouse app (`/warehouse/`) in real headless Chromium, against the four services as
processes (the real broker and store behind them): a storekeeper of Mopti on a 360 px phone
records movements with the network gone and back, an answer lost on its way back, a refused
dispatch corrected and resent, and every view walked in French and English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Playwright, Route, expect

from tests.e2e.test_gateway_dashboard import (  # noqa: F401 (fixtures used by name)
    ADMIN_PASSWORD,
    ADMIN_USER,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    SCREENSHOTS,
    Gateway,
    _bearer,
    _ok,
    chromium,
    gateway,
    playwright,
)
from tests.support.infra import REPO_ROOT

pytestmark = pytest.mark.infra

PHONE = {"width": 360, "height": 740}
WAREHOUSE = "MOP-SUB"
STOREKEEPER = "magasinier@iom.org"
CATALOGUES = REPO_ROOT / "services/gateway/src/kitflow_gateway/web/shared/i18n"
# What a translation key looks like: shown on the page, it means a string was not translated.
RAW_KEY = re.compile(r"\b[a-z]+\.[a-z_]+(\.[a-z_]+)*\b")
SYNC_TIMEOUT_MS = 45_000

LABELS = {
    "en": {
        "username": "User name",
        "password": "Password",
        "sign_in": "Sign in",
        "ready": "ready to work offline",
        "record": "Record",
        "queue": "Sending",
        "stock": "Stock",
        "incoming": "Expected",
        "kind": "Movement",
        "save": "Save",
        "sent": "Sent",
        "waiting": "Waiting",
        "refused": "Refused",
        "correct": "Correct and resend",
    },
    "fr": {
        "username": "Nom d'utilisateur",
        "password": "Mot de passe",
        "sign_in": "Se connecter",
        "ready": "prêt à travailler hors ligne",
        "record": "Saisir",
        "queue": "Envois",
        "stock": "Stock",
        "incoming": "Attendus",
        "kind": "Mouvement",
        "save": "Enregistrer",
        "sent": "Envoyé",
        "waiting": "En attente",
        "refused": "Refusé",
        "correct": "Corriger et renvoyer",
    },
}


@pytest.fixture
async def storekeeper(gateway: Gateway) -> dict[str, str]:
    """A storekeeper of the Mopti warehouse (IOM), signed in: their Authorization header."""
    admin = await _bearer(gateway.client, ADMIN_USER, ADMIN_PASSWORD)
    await _ok(
        await gateway.client.post(
            "/v1/users",
            headers=admin,
            json={
                "username": STOREKEEPER,
                "password": PASSWORD,
                "organisation": "IOM",
                "roles": ["warehouse"],
                "warehouses": [WAREHOUSE],
            },
        )
    )
    return await _bearer(gateway.client, STOREKEEPER, PASSWORD)


async def _phone(playwright: Playwright, profile: Path, language: str) -> BrowserContext:
    context: BrowserContext = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=PHONE,  # type: ignore[arg-type]
        locale={"fr": "fr-FR", "en": "en-GB"}[language],
        has_touch=True,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
async def phone_en(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await _phone(playwright, tmp_path / "phone-en", "en")
    yield context
    await context.close()


@pytest.fixture
async def phone_fr(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await _phone(playwright, tmp_path / "phone-fr", "fr")
    yield context
    await context.close()


async def _page(context: BrowserContext) -> Page:
    page = context.pages[0] if context.pages else await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


async def _sign_in(page: Page, url: str, language: str) -> None:
    words = LABELS[language]
    response = await page.goto(f"{url}/warehouse/")
    assert response is not None
    assert response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await page.get_by_label(words["username"]).fill(STOREKEEPER)
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.get_by_role("button", name=words["sign_in"]).click()
    await expect(page.locator("#who")).to_have_text(f"{STOREKEEPER} (IOM)")
    # The service worker holds the shell: from here on the app opens with no network.
    await expect(page.get_by_text(words["ready"])).to_be_visible()
    await expect(page.locator(f"#stock-list [data-item='KIT-NFI']")).to_be_visible()


async def _record(page: Page, language: str, kind: str, fields: dict[str, str]) -> None:
    """Fill the record form for `kind` (its label) with `fields` (label: value) and save."""
    words = LABELS[language]
    await page.get_by_role("button", name=words["record"], exact=True).click()
    await page.get_by_label(words["kind"], exact=True).select_option(label=kind)
    for label, value in fields.items():
        field = page.get_by_label(label, exact=True)
        if await field.evaluate("node => node.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await page.get_by_role("button", name=words["save"], exact=True).click()
    await expect(page.locator("#view-queue")).to_be_visible()


def _records(page: Page, state: str) -> Any:
    return page.locator(f"#queue-list li.state-{state}")


async def _card(gateway: Gateway, headers: dict[str, str]) -> list[dict[str, Any]]:
    page = await _ok(
        await gateway.client.get(
            f"/v1/warehouses/{WAREHOUSE}/stock/KIT-NFI/card?limit=1000", headers=headers
        ),
        200,
    )
    rows: list[dict[str, Any]] = page["rows"]
    return rows


async def _no_page_overflow(page: Page) -> None:
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


async def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"warehouse-{name}.png"), full_page=True)


async def test_movements_recorded_offline_reach_the_ledger_once(
    gateway: Gateway, storekeeper: dict[str, str], phone_en: BrowserContext
) -> None:
    page = await _page(phone_en)
    await _sign_in(page, gateway.url, "en")
    stock = page.locator("#stock-list [data-item='KIT-NFI']")
    await expect(stock.locator(".figure").first).to_have_text("On hand100")
    await _no_page_overflow(page)

    await phone_en.set_offline(True)
    soon = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    item = "NFI kit (KIT-NFI)"
    await _record(
        page,
        "en",
        "Receipt (GRN)",
        {
            "GRN number": "GRN-OFF-1",
            "Source (donor or supplier)": "ECHO",
            "Item": "KIT-NFI",
            "Quantity": "20",
        },
    )
    await _record(
        page,
        "en",
        "Dispatch (waybill)",
        {
            "Waybill number": "WB-OFF-1",
            "Destination (site and P-code)": "Sévaré 2 (ML0501)",
            "Item": "KIT-NFI",
            "Quantity": "5",
        },
    )
    await _record(
        page, "en", "Adjustment", {"Reason": "lost", "Item": "KIT-NFI", "Quantity": "2"}
    )
    await _record(
        page,
        "en",
        "Transfer out",
        {
            "To warehouse": "BKO-MAIN",
            "Waybill number": "WB-OFF-2",
            "Item": "KIT-NFI",
            "Quantity": "3",
        },
    )
    await _record(
        page,
        "en",
        "Receipt (GRN)",
        {
            "GRN number": "GRN-OFF-2",
            "Source (donor or supplier)": "UNHCR",
            "Item": "KIT-NFI",
            "Quantity": "10",
            "Lot": "LOT-A",
            "Expiry date": soon,
        },
    )
    await expect(_records(page, "waiting")).to_have_count(5)
    await expect(page.locator("#pending")).to_have_text("5 waiting to be sent")
    await expect(page.locator("#network")).to_have_text("Offline")
    assert item  # the item is chosen by code; its name shows in the list

    # Reloaded with no network: the app opens from its own copy, with the queue and the stock
    # as last seen.
    await page.reload()
    await expect(page.locator("#who")).to_have_text(f"{STOREKEEPER} (IOM)")
    await expect(stock.locator(".figure").first).to_have_text("On hand100")
    await expect(page.locator("#stock-as-of")).to_contain_text("As last seen on")
    await page.get_by_role("button", name="Sending", exact=True).click()
    await expect(_records(page, "waiting")).to_have_count(5)
    await _screenshot(page, "offline-queue")

    await phone_en.set_offline(False)
    await expect(_records(page, "sent")).to_have_count(5, timeout=SYNC_TIMEOUT_MS)
    await expect(page.locator("#pending")).to_have_text("0 waiting to be sent")

    rows = await _card(gateway, storekeeper)
    documents = [row["document_number"] for row in rows]
    for document in ("GRN-OFF-1", "WB-OFF-1", "WB-OFF-2", "GRN-OFF-2"):
        assert documents.count(document) == 1, documents
    lost = [row for row in rows if row["reason"] == "lost"]
    assert [row["quantity"] for row in lost] == [-2], rows
    # In the order they were saved.
    assert [row["document_number"] for row in rows[-5:]] == [
        "GRN-OFF-1",
        "WB-OFF-1",
        None,
        "WB-OFF-2",
        "GRN-OFF-2",
    ]
    assert rows[-1]["on_hand_after"] == 100 + 20 - 5 - 2 - 3 + 10

    await page.get_by_role("button", name="Stock", exact=True).click()
    await expect(stock.locator(".figure").first).to_have_text("On hand120")
    await expect(stock.locator(".flags")).to_contain_text("Expires soon")
    await _no_page_overflow(page)
