"""The partner portal (`/partner/`) in real headless Chromium, against the four services as
processes (the real broker and store behind them): an information officer of NRC signs in,
switches language, walks the six sections, reports a need through the form with the norms
calculation previewed, and uploads an HXL file with bad rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kitflow_shared.spreadsheet import csv_cell
from playwright.async_api import BrowserContext, Locator, Page, Playwright, expect

from tests.support.browser import (
    CATALOGUES,
    PASSWORD,
    SCREENSHOTS,
    Gateway,
    bearer,
    launch,
    ok,
)
from tests.support.infra import REPO_ROOT

pytestmark = pytest.mark.infra

PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}
PARTNER = "partner@nrc.org"
DOCS = REPO_ROOT / "docs" / "screenshots"
TIMES = "\N{MULTIPLICATION SIGN}"

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
    return await launch(playwright, profile, viewport, language, accept_downloads=True)


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
    # The portal's own keys (its catalogue holds only `partner.*`): another page's prefix such
    # as `needs.` would match the curl examples' file names (needs.csv).
    prefixes = {key.split(".")[0] for key in _catalogue("en") if key.startswith("partner.")}
    raw = re.compile(rf"\b({'|'.join(sorted(prefixes))})\.[a-z_]+\.?[a-z_]*\b")
    text = await page.locator("body").inner_text()
    assert not raw.search(text), f"{where}: a key is shown raw: {raw.search(text)}"
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{where}: the page scrolls sideways: {widths}"


async def _screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Into test-artifacts; the README's French pictures into docs/screenshots as well when
    KITFLOW_UPDATE_SCREENSHOTS=1 (a plain test run leaves the checkout as it found it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"partner-{name}.png"), full_page=full_page)
    if name.endswith("-fr") and os.environ.get("KITFLOW_UPDATE_SCREENSHOTS") == "1":
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


async def _developers_key(gateway: Gateway, page: Page) -> None:
    """The calls shown name this server, and a key created in the page works as shown: with
    X-API-Key for the API, as the Basic password for Kobo's REST Service."""
    await page.get_by_role("link", name="For your developers").click()
    await expect(page.locator("#call-list")).to_have_text(
        f'curl -H "X-API-Key: $KITFLOW_KEY" \\\n  "{gateway.url}/v1/needs?status=submitted"'
    )
    await expect(page.locator("#kobo-url")).to_have_text(
        f"{gateway.url}/v1/integrations/kobo/submissions"
    )
    await expect(page.locator("#call-kobo")).to_contain_text('curl -u "NRC:$KITFLOW_KEY"')
    await page.get_by_label("What the key is for").fill("Kobo form Mopti")
    await page.get_by_role("button", name="Create a key").click()
    shown = await page.locator("#new-key").inner_text()
    key = shown.removeprefix("export KITFLOW_KEY=")
    assert key.startswith("kf_")
    await expect(page.locator("#keys tbody tr")).to_have_count(1)
    await expect(page.locator("#keys tbody tr")).to_contain_text("Kobo form Mopti")
    needs = await gateway.client.get("/v1/needs?status=submitted", headers={"X-API-Key": key})
    assert needs.status_code == 200, needs.text
    assert {n["organisation"] for n in needs.json()["items"]} <= {"NRC"}
    kobo = await gateway.client.get(
        "/v1/integrations/kobo/submissions", auth=httpx.BasicAuth("NRC", key)
    )
    assert kobo.status_code == 200, kobo.text
    await _no_raw_text(page, "en developers")
    await _screenshot(page, "developers-en")


async def test_shell_signs_in_switches_language_and_navigates(
    gateway: Gateway, phone_en: BrowserContext
) -> None:
    page, errors = await _page(phone_en)
    await _sign_in(page, gateway.url, "en")
    await expect(page.locator("#view-title")).to_have_text("Report a need")
    await _no_raw_text(page, "en signed in")
    await _walk(page, "en")
    await _developers_key(gateway, page)

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


@pytest.fixture
async def laptop_fr(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await _browser(playwright, tmp_path / "laptop-fr", "fr", LAPTOP)
    yield context
    await context.close()


async def _need(gateway: Gateway, need_id: str) -> dict[str, Any]:
    headers = await bearer(gateway.client, PARTNER, PASSWORD)
    need: dict[str, Any] = await ok(
        await gateway.client.get(f"/v1/needs/{need_id}", headers=headers), 200
    )
    return need


def _preview_row(page: Page, item_code: str) -> Locator:
    return page.locator(f"#preview-table tr[data-item='{item_code}']")


async def test_a_need_is_reported_through_the_form_with_its_norms_previewed(
    gateway: Gateway, laptop_fr: BrowserContext
) -> None:
    page, errors = await _page(laptop_fr)
    await _sign_in(page, gateway.url, "fr")
    await expect(page.locator("#view-title")).to_have_text("Signaler un besoin")

    # The place: "Menaka" typed without its accent finds the cercle, with its P-code.
    await page.get_by_label("Rechercher un lieu par son nom").fill("Menaka")
    await page.get_by_role("button", name="Cercle Ménaka (Gao) — ML0704").click()
    await expect(page.get_by_label("Région", exact=True)).to_have_value("ML07")
    await expect(page.get_by_label("Cercle", exact=True)).to_have_value("ML0704")
    await expect(page.locator("#place-chosen")).to_have_text(
        "P-codes retenus : région ML07, cercle ML0704"
    )
    await page.get_by_label("Site (facultatif)").fill("Site de Ménaka-Est")
    await page.get_by_label("Ménages").fill("700")
    await page.get_by_label("Personnes", exact=True).fill("640")
    await page.get_by_label("Statut de déplacement").select_option("idp")
    await page.get_by_label("Date de l'évaluation").fill("2026-11-20")
    await page.get_by_label("Sévérité").select_option("4")

    # Item by item first: the service's refusal is shown next to its field, in French.
    await page.get_by_label("Saisies article par article").check()
    await page.get_by_label("Article", exact=True).select_option("KIT-NFI")
    await page.get_by_label("Quantité", exact=True).fill("120")
    await page.get_by_role("button", name="Soumettre maintenant").click()
    households = page.get_by_label("Ménages")
    await expect(households).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".field-error[data-for='population.households']")).to_have_text(
        "700 ménages ne peuvent compter seulement 640 personnes : un ménage compte au moins "
        "une personne"
    )
    await _no_raw_text(page, "fr field error")
    await households.fill("120")

    # Then with the Sphere profile, three of its rules and one it cannot compute (no women).
    await page.get_by_label("Calculées avec un profil de normes").check()
    await page.get_by_label("Profil de normes", exact=True).select_option("sphere-minimum")
    chosen = {"KIT-NFI", "JERRYCAN-20L", "SOAP-BATH-250G", "MENSTRUAL-KIT"}
    for box in await page.locator("#rules input[name=rule]").all():
        await box.set_checked(await box.get_attribute("value") in chosen)
    # Saving shows the calculation first; nothing is saved unseen.
    await page.get_by_role("button", name="Enregistrer comme brouillon").click()
    await expect(page.locator("#form-status")).to_have_text(
        "Vérifiez le calcul ci-dessus, puis enregistrez à nouveau."
    )
    # One NFI kit and two jerrycans per household, 250 g of soap a person a month (Sphere).
    expected = {"KIT-NFI": 120, "JERRYCAN-20L": 2 * 120, "SOAP-BATH-250G": 640 * 250 // 250}
    await expect(page.locator("#preview-table tbody tr")).to_have_count(len(expected))
    for code, quantity in expected.items():
        await expect(_preview_row(page, code).locator(".quantity")).to_have_text(str(quantity))
    await expect(_preview_row(page, "SOAP-BATH-250G").locator(".formula")).to_have_text(
        f"⌈640 personnes {TIMES} 250 g par unité {TIMES} (30 j ÷ 30 j) ÷ 250 g par article⌉ = 640"
    )
    await expect(page.locator(".skipped")).to_contain_text("le nombre de femmes n'est pas connu")
    await _no_raw_text(page, "fr preview")
    await _screenshot(page, "report-fr")

    await page.get_by_role("button", name="Enregistrer comme brouillon").click()
    await expect(page.locator("#form-status")).to_contain_text("Brouillon enregistré")
    draft = page.locator("#drafts li[data-need]")
    await expect(draft).to_have_count(1)
    need_id = await draft.get_attribute("data-need")
    assert need_id is not None
    saved = await _need(gateway, need_id)
    assert saved["status"] == "draft"
    assert {i["item_code"]: i["requested"] for i in saved["items"]} == expected
    assert saved["location"]["admin2_pcode"] == "ML0704"

    # Submitted later, from the list of drafts.
    await expect(draft).to_contain_text("120 ménages, 640 personnes · évalué le 20/11/2026")
    await draft.get_by_role("button", name="Soumettre").click()
    await expect(page.locator("#form-status")).to_contain_text("Besoin soumis au cluster")
    await expect(page.locator("#drafts")).to_have_text("Aucun brouillon.")
    assert (await _need(gateway, need_id))["status"] == "submitted"

    # The language switch relabels the form without losing what was typed.
    await page.get_by_label("Langue").select_option("en")
    await expect(page.get_by_label("Households")).to_have_value("120")
    await expect(_preview_row(page, "SOAP-BATH-250G").locator(".formula")).to_have_text(
        f"⌈640 people {TIMES} 250 g each {TIMES} (30 d ÷ 30 d) ÷ 250 g per item⌉ = 640"
    )
    await _no_raw_text(page, "en report")
    assert errors == []


HXL_FILE = (
    "Ref,Région,Cercle,Ménages,Personnes,Statut,Sévérité,Date,Article,Quantité\n"
    "#meta+id,#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,#severity,"
    "#date+assessed,#item+code,#item+num\n"
    "UP-1,ML05,ML0502,40,200,idp,3,2026-11-02,KIT-NFI,40\n"
    "UP-2,ML05,ML0502,40,200,idp,3,2026-11-02,KIT-NOPE,40\n"
    "UP-3,ML06,ML0601,700,50,returnee,4,2026-11-03,KIT-NFI,700\n"
)
REFUSED = {
    "en": [
        ("4", "#item+code", "unknown item or kit code 'KIT-NOPE'; did you mean KIT-NFI?"),
        (
            "5",
            "#inneed+hh",
            "700 households cannot hold only 50 individuals: a household has at least one member",
        ),
    ],
    "fr": [
        (
            "4",
            "#item+code",
            "code d'article ou de kit inconnu 'KIT-NOPE' ; vouliez-vous dire KIT-NFI ?",
        ),
        (
            "5",
            "#inneed+hh",
            "700 ménages ne peuvent compter seulement 50 personnes : un ménage compte au moins "
            "une personne",
        ),
    ],
}


async def _upload(page: Page, path: Path, import_label: str) -> None:
    await page.locator("#file").set_input_files(str(path))
    await page.get_by_role("button", name=import_label, exact=True).click()
    await expect(page.locator("#import-errors tbody tr")).to_have_count(2)


async def _downloaded(page: Page, label: str) -> str:
    async with page.expect_download() as info:
        await page.get_by_role("button", name=label).click()
    download = await info.value
    path = await download.path()
    return await asyncio.to_thread(Path(path).read_text, encoding="utf-8")


async def test_a_file_with_bad_rows_is_reported_row_by_row_and_the_rows_to_fix_download(
    gateway: Gateway, phone_en: BrowserContext, tmp_path: Path
) -> None:
    sheet = tmp_path / "needs-mopti.csv"
    sheet.write_text(HXL_FILE, encoding="utf-8")
    page, errors = await _page(phone_en)
    await _sign_in(page, gateway.url, "en")
    await page.get_by_role("link", name="Upload a file").click()
    await _upload(page, sheet, "Import")

    # The bar followed the upload itself: XMLHttpRequest's progress events, to the file's size.
    assert await page.locator("#upload-progress").get_attribute("max") == str(sheet.stat().st_size)
    figures = page.locator("#upload-report .figure dd")
    await expect(figures).to_have_text(["3", "1", "0", "0", "2"])
    await expect(page.locator("#import-errors tbody tr")).to_have_text(
        ["".join(row) for row in REFUSED["en"]]
    )
    await _no_raw_text(page, "en upload report")

    # The rows to fix, for Excel: UTF-8 with its byte-order mark, commas for an English Excel.
    text = await _downloaded(page, "Download the refused rows (CSV)")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows == [["Row", "Column", "Reason"], *[list(row) for row in REFUSED["en"]]]
    # OWASP's rule, the same as kitflow_shared.spreadsheet's: every cell stays text in Excel.
    values = ["=1+1", "+A1", "-2", "@SUM(A1)", "\tx", "Sévaré 2"]
    cells = await page.evaluate(
        "async (values) => (await import('/partner/js/upload.js'))"
        ".errorsCsv(values.map((v) => ({ row: 1, column: '#loc+name', reason: v })))",
        values,
    )
    written = list(csv.reader(io.StringIO(cells.removeprefix("\ufeff"))))[1:]
    assert [row[2] for row in written] == [csv_cell(v) for v in values]
    assert written[0][2] == "'=1+1"

    # In French, the same file again: nothing doubled, and each reason in French.
    await page.get_by_label("Language").select_option("fr")
    await _upload(page, sheet, "Importer")
    await expect(figures).to_have_text(["3", "0", "0", "1", "2"])
    await expect(page.locator("#import-errors tbody tr")).to_have_text(
        ["".join(row) for row in REFUSED["fr"]]
    )
    await _no_raw_text(page, "fr upload report")
    await _screenshot(page, "upload-fr")
    text = await _downloaded(page, "Télécharger les lignes refusées (CSV)")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert rows == [["Ligne", "Colonne", "Motif"], *[list(row) for row in REFUSED["fr"]]]
    assert errors == []
