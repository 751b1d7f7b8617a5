"""The partner portal (`/partner/`) in real headless Chromium, against the four services as
processes (the real broker and store behind them): an information officer of NRC signs in,
switches language, walks the six sections, reports a need through the form with the norms
calculation previewed, and uploads an HXL file with bad rows."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, expect

from tests.e2e import test_gateway_dashboard as dashboard
from tests.e2e.test_gateway_dashboard import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    SCREENSHOTS,
    Gateway,
)
from tests.support.infra import REPO_ROOT

# The dashboard test's fixtures, used by name: the four services as processes, seeded with
# NRC's and DRC's partner users, Debian's Chromium, Playwright.
gateway = dashboard.gateway
chromium = dashboard.chromium
playwright = dashboard.playwright

pytestmark = pytest.mark.infra

PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}
PARTNER = "partner@nrc.org"
CATALOGUES = REPO_ROOT / "services/gateway/src/kitflow_gateway/web/shared/i18n"
DOCS = REPO_ROOT / "docs" / "screenshots"

SECTIONS = {
    "en": [
        "Report a need",
        "Upload a file",
        "Our needs",
        "Plans and deliveries",
        "Kobo submissions",
        "For your developers",
    ],
    "fr": [
        "Signaler un besoin",
        "Importer un fichier",
        "Nos besoins",
        "Plans et livraisons",
        "Soumissions Kobo",
        "Pour vos développeurs",
    ],
}
WORDS = {
    "en": {"username": "User name", "password": "Password", "sign_in": "Sign in"},
    "fr": {"username": "Nom d'utilisateur", "password": "Mot de passe", "sign_in": "Se connecter"},
}


async def _browser(
    playwright: Playwright, profile: Path, language: str, viewport: dict[str, int]
) -> BrowserContext:
    context: BrowserContext = await playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=viewport,  # type: ignore[arg-type]
        locale={"fr": "fr-FR", "en": "en-GB"}[language],
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
async def phone_en(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await _browser(playwright, tmp_path / "phone-en", "en", PHONE)
    yield context
    await context.close()


async def _page(context: BrowserContext) -> tuple[Page, list[str]]:
    page = context.pages[0] if context.pages else await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def _sign_in(page: Page, url: str, language: str) -> None:
    words = WORDS[language]
    response = await page.goto(f"{url}/partner/")
    assert response is not None
    assert response.ok
    assert "default-src 'self'" in response.headers["content-security-policy"]
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await page.get_by_label(words["username"]).fill(PARTNER)
    await page.get_by_label(words["password"]).fill(PASSWORD)
    await page.get_by_role("button", name=words["sign_in"]).click()
    await expect(page.locator("#who")).to_have_text(f"{PARTNER} (NRC)")


def _catalogue(language: str) -> dict[str, str]:
    catalogue: dict[str, str] = json.loads((CATALOGUES / f"{language}.json").read_text())
    return catalogue


async def _no_raw_text(page: Page, where: str) -> None:
    """Every string came from the catalogue: no key missing, none shown raw, no sideways
    scrolling."""
    missing = await page.evaluate("async () => (await import('/web/shared/i18n.js')).missingKeys()")
    assert missing == [], f"{where}: keys missing from the catalogue: {missing}"
    prefixes = {key.split(".")[0] for key in _catalogue("en")}
    raw = re.compile(rf"\b({'|'.join(sorted(prefixes))})\.[a-z_]+\.?[a-z_]*\b")
    text = await page.locator("body").inner_text()
    assert not raw.search(text), f"{where}: a key is shown raw: {raw.search(text)}"
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where}: the page scrolls sideways: {widths}"


async def _screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Into test-artifacts, and the README's French pictures into docs/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"partner-{name}.png"), full_page=full_page)
    if name.endswith("-fr"):
        DOCS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS / f"partner-{name}.png"), full_page=full_page)


async def _walk(page: Page, language: str) -> None:
    """Every section opens from the navigation, named in the page's language."""
    nav = page.get_by_role("navigation")
    await expect(nav.get_by_role("link")).to_have_text(SECTIONS[language])
    for name in SECTIONS[language]:
        await nav.get_by_role("link", name=name, exact=True).click()
        await expect(page.locator("#view-title")).to_have_text(name)
        await expect(page.locator("#view-title")).to_be_focused()
        await expect(nav.get_by_role("link", name=name, exact=True)).to_have_attribute(
            "aria-current", "page"
        )
        await _no_raw_text(page, f"{language} {name}")


async def test_shell_signs_in_switches_language_and_navigates(
    gateway: Gateway, phone_en: BrowserContext
) -> None:
    page, errors = await _page(phone_en)
    await _sign_in(page, gateway.url, "en")
    await expect(page.locator("#view-title")).to_have_text("Report a need")
    await _no_raw_text(page, "en signed in")
    await _walk(page, "en")

    await page.get_by_label("Language").select_option("fr")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    # The open section is renamed in place.
    await expect(page.locator("#view-title")).to_have_text("Pour vos développeurs")
    await _walk(page, "fr")
    # The choice is kept, and a link to a section opens it.
    await page.goto(f"{gateway.url}/partner/#upload")
    await expect(page.locator("#view-title")).to_have_text("Importer un fichier")
    await _screenshot(page, "shell-fr", full_page=False)

    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    await _no_raw_text(page, "fr sign-in")
    await page.get_by_label("Langue").select_option("en")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # A wrong password is answered in the page, not by a crash.
    await page.get_by_label("User name").fill(PARTNER)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await _no_raw_text(page, "en sign-in")
    assert errors == []
