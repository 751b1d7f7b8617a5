"""The warehouse app (`/warehouse/`) in real headless Chromium, against the four services as
processes (the real broker and store behind them): a storekeeper of Mopti on a 360 px phone
records movements with the network gone and back, an answer lost on its way back, a refused
dispatch corrected and resent, and every view walked in French and English."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Playwright, Route, expect
from playwright.async_api import Error as PlaywrightError
from pypdf import PdfReader

from tests.support.browser import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CATALOGUES,
    PASSWORD,
    SCREENSHOTS,
    Gateway,
    bearer,
    launch,
    ok,
)

pytestmark = pytest.mark.infra

PHONE = {"width": 360, "height": 740}
WAREHOUSE = "MOP-SUB"
STOREKEEPER = "magasinier@iom.org"
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
    admin = await bearer(gateway.client, ADMIN_USER, ADMIN_PASSWORD)
    await ok(
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
    return await bearer(gateway.client, STOREKEEPER, PASSWORD)


async def _phone(playwright: Playwright, profile: Path, language: str) -> BrowserContext:
    return await launch(playwright, profile, PHONE, language, has_touch=True)


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
    await expect(page.locator("#stock-list [data-item='KIT-NFI']")).to_be_visible()


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


# Replaces the kept token by one the gateway refuses, as an expired one would be.
EXPIRE_TOKEN = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("kitflow-warehouse");
  open.onsuccess = () => {
    const kept = open.result.transaction("kept", "readwrite").objectStore("kept");
    const read = kept.get("session");
    read.onsuccess = () => {
      const write = kept.put({ ...read.result, token: "expired.token.value" }, "session");
      write.onsuccess = () => resolve(true);
      write.onerror = () => reject(write.error);
    };
  };
})"""


async def _card(gateway: Gateway, headers: dict[str, str]) -> list[dict[str, Any]]:
    page = await ok(
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


async def _screenshot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"warehouse-{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)


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
    await _record(page, "en", "Adjustment", {"Reason": "lost", "Item": "KIT-NFI", "Quantity": "2"})
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

    # The sign-in expires while offline (a token the gateway no longer accepts): back online,
    # the app asks to sign in again, the queue is still there, and then it goes.
    await page.evaluate(EXPIRE_TOKEN)
    await page.reload()
    await page.get_by_role("button", name="Sending", exact=True).click()
    await expect(_records(page, "waiting")).to_have_count(5)
    await phone_en.set_offline(False)
    await expect(page.locator("#login-again")).to_contain_text("Sign in again")
    await page.get_by_label("User name").fill(STOREKEEPER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name="Sending", exact=True).click()
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


async def _until(page: Page, condition: Any, timeout_ms: int = SYNC_TIMEOUT_MS) -> None:
    """Poll `condition` (of what the test's handlers saw) until it holds, or fail."""
    for _ in range(timeout_ms // 200):
        if condition():
            return
        await page.wait_for_timeout(200)
    raise AssertionError("the browser never sent the request")


def _losing_answers(kept: list[dict[str, str | None]], released: asyncio.Event) -> Any:
    """A route handler that lets the first request reach the server, then drops its answer
    (the link fails on the way back); later ones wait for `released`, then go through.
    `kept`: each request's key.

    Holding the retries is what makes the "waiting" check deterministic: the app also retries
    every 15 s on its own, and on a loaded machine that retry could otherwise land (and turn
    the record "sent") before the test looks."""

    async def handle(route: Route) -> None:
        kept.append({"key": route.request.headers.get("idempotency-key")})
        if len(kept) == 1:
            answer = await route.fetch()
            kept[0]["status"] = str(answer.status)
            await route.abort("connectionreset")
            return
        await released.wait()
        # A retry held across the reload belongs to the page that is gone.
        with contextlib.suppress(PlaywrightError):
            await route.continue_()

    return handle


async def _prints_the_waybill_in_french(page: Page, number: str) -> None:
    """The sent dispatch's print button fetches its PDF with the token: a French waybill that
    carries the document number."""
    sent = _records(page, "sent")
    # Read on the way through (a page's fetch answered as a blob leaves no body to read later).
    documents: list[tuple[int, str, bytes]] = []

    async def keep(route: Route) -> None:
        answer = await route.fetch()
        documents.append((answer.status, answer.headers["content-type"], await answer.body()))
        await route.fulfill(response=answer)

    await page.route("**/movements/**", keep)
    await sent.get_by_role("button", name="Imprimer").click()
    await _until(page, lambda: len(documents) == 1)
    await page.unroute("**/movements/**", keep)
    status, content_type, body = documents[0]
    assert status == 200, body[:500]
    assert content_type.startswith("application/pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(body)).pages)
    assert "Lettre de transport" in text, text
    assert number in text, text


async def test_lost_answers_and_a_refusal_on_a_french_phone(
    gateway: Gateway, storekeeper: dict[str, str], phone_fr: BrowserContext
) -> None:
    page = await _page(phone_fr)
    replayed: list[str] = []
    page.on(
        "response",
        lambda r: replayed.append(r.url) if r.headers.get("idempotent-replayed") else None,
    )
    await _sign_in(page, gateway.url, "fr")
    stock = page.locator("#stock-list [data-item='KIT-NFI']")
    await expect(stock.locator(".figure").first).to_have_text("Physique100")

    # A dispatch of more than there is: refused with the server's reason, in a French app.
    dispatch = {
        "N° de la lettre de transport": "WB-MOP-9",
        "Destination (site et P-code)": "Sévaré 2 (ML0501)",
        "Article": "KIT-NFI",
        "Quantité": "1000",
    }
    await _record(page, "fr", "Expédition (lettre de transport)", dispatch)
    refused = _records(page, "refused")
    await expect(refused).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    await expect(refused.locator(".badge")).to_have_text("Refusé")
    await expect(refused.locator(".reason")).to_contain_text("Motif : ")
    await expect(refused.locator(".reason")).to_contain_text(re.compile(r"1\s000"))
    # The server's own reason, in French (Accept-Language), not only the app's words around it.
    await expect(refused.locator(".reason")).to_contain_text("Stock insuffisant")
    await _no_page_overflow(page)
    await _screenshot(page, "refused-fr")
    # Corrected and resent: the form comes back filled in, as a new request.
    await refused.get_by_role("button", name="Corriger et renvoyer").click()
    await expect(page.get_by_label("Quantité", exact=True)).to_have_value("1000")
    await expect(page.get_by_label("N° de la lettre de transport")).to_have_value("WB-MOP-9")
    await page.get_by_label("Quantité", exact=True).fill("10")
    await page.get_by_role("button", name="Enregistrer", exact=True).click()
    await expect(_records(page, "sent")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    await expect(_records(page, "refused")).to_have_count(0)
    await _prints_the_waybill_in_french(page, "WB-MOP-9")

    # A receipt whose answer is lost after the server applied it; the page is reloaded before
    # the retry: the same key goes again and the server replays its first answer.
    receipts: list[dict[str, str | None]] = []
    receipts_released = asyncio.Event()
    await page.route(
        f"**/v1/warehouses/{WAREHOUSE}/receipts", _losing_answers(receipts, receipts_released)
    )
    await _record(
        page,
        "fr",
        "Réception (bon de réception)",
        {
            "N° du bon de réception": "GRN-LOST-1",
            "Provenance (bailleur ou fournisseur)": "ECHO",
            "Article": "KIT-NFI",
            "Quantité": "20",
        },
    )
    await _until(page, lambda: len(receipts) == 1 and "status" in receipts[0])
    assert receipts[0]["status"] == "201", receipts
    await page.get_by_role("button", name="Envois", exact=True).click()
    await expect(_records(page, "waiting")).to_have_count(1)
    receipts_released.set()
    await page.reload()
    await page.get_by_role("button", name="Envois", exact=True).click()
    await expect(_records(page, "sent")).to_have_count(2, timeout=SYNC_TIMEOUT_MS)
    # The retry after the reload, and perhaps the app's own timed one before it: one key.
    assert len(receipts) >= 2, receipts
    assert {receipt["key"] for receipt in receipts} == {receipts[0]["key"]}, receipts

    # A physical count (two requests) whose submission's answer is lost.
    submits: list[dict[str, str | None]] = []
    submits_released = asyncio.Event()
    await page.route(
        f"**/v1/warehouses/{WAREHOUSE}/counts/*/submit", _losing_answers(submits, submits_released)
    )
    await _record(page, "fr", "Inventaire physique", {"Article": "KIT-NFI", "Compté": "105"})
    await _until(page, lambda: len(submits) == 1 and "status" in submits[0])
    assert submits[0]["status"] == "200", submits
    await expect(_records(page, "waiting")).to_have_count(1)
    submits_released.set()
    await page.reload()
    await page.get_by_role("button", name="Envois", exact=True).click()
    await expect(_records(page, "sent")).to_have_count(3, timeout=SYNC_TIMEOUT_MS)
    assert len(submits) >= 2, submits
    assert {submit["key"] for submit in submits} == {submits[0]["key"]}, submits
    assert any(url.endswith("/receipts") for url in replayed), replayed
    assert any(url.endswith("/submit") for url in replayed), replayed

    rows = await _card(gateway, storekeeper)
    documents = [row["document_number"] for row in rows]
    assert documents.count("GRN-LOST-1") == 1, documents
    assert documents.count("WB-MOP-9") == 1, documents
    corrections = [row for row in rows if row["reason"] == "count-correction"]
    assert [row["quantity"] for row in corrections] == [-5], rows
    assert rows[-1]["on_hand_after"] == 105
    await page.get_by_role("button", name="Stock", exact=True).click()
    await expect(stock.locator(".figure").first).to_have_text("Physique105")


async def _arrange_incoming(gateway: Gateway) -> None:
    """1 234 more kits in Mopti, a transfer on its way from Bamako, and a plan line reserved."""
    admin = await bearer(gateway.client, ADMIN_USER, ADMIN_PASSWORD)
    base = f"/v1/warehouses/{WAREHOUSE}"
    await ok(
        await gateway.client.post(
            f"{base}/receipts",
            headers=admin,
            json={
                "grn_number": "GRN-WALK-1",
                "source": "ECHO",
                "lines": [{"item_code": "KIT-NFI", "quantity": 1234, "lot": "LOT-W"}],
            },
        )
    )
    await ok(
        await gateway.client.post(
            "/v1/warehouses/BKO-MAIN/transfers",
            headers=admin,
            json={
                "to_warehouse": WAREHOUSE,
                "waybill_number": "WB-BKO-77",
                "lines": [{"item_code": "KIT-NFI", "quantity": 7}],
            },
        )
    )
    await ok(
        await gateway.client.post(
            f"{base}/reservations",
            headers=admin,
            json={
                "line_id": "PLAN-W:1",
                "plan_id": "PLAN-W",
                "item_code": "KIT-NFI",
                "quantity": 30,
                "expires_at": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
            },
        )
    )


async def _no_raw_text(page: Page, where: str) -> None:
    """Every string of the screen came from the catalogue: no key missing, none shown raw."""
    missing = await page.evaluate("async () => (await import('/web/shared/i18n.js')).missingKeys()")
    assert missing == [], f"{where}: keys missing from the catalogue: {missing}"
    prefixes = {key.split(".")[0] for key in _catalogue("en")}
    raw = re.compile(rf"\b({'|'.join(sorted(prefixes))})\.[a-z_]+")
    text = await page.locator("body").inner_text()
    assert not raw.search(text), f"{where}: a key is shown raw: {raw.search(text)}"
    labels = await page.evaluate(
        "() => [...document.querySelectorAll('[aria-label], title')]"
        ".map(n => n.getAttribute('aria-label') || n.textContent)"
    )
    assert not any(raw.search(label) for label in labels), f"{where}: {labels}"
    await _no_page_overflow(page)


def _catalogue(language: str) -> dict[str, str]:
    import json

    catalogue: dict[str, str] = json.loads((CATALOGUES / f"{language}.json").read_text())
    return catalogue


async def _walk(page: Page, language: str) -> None:
    words = LABELS[language]
    await expect(page.locator("html")).to_have_attribute("lang", language)
    await page.get_by_role("button", name=words["stock"], exact=True).click()
    stock = page.locator("#stock-list [data-item='KIT-NFI']")
    # 100 seeded + 1 234 + 1 received in the app: grouped the locale's way.
    on_hand = {"fr": "Physique1\u202f335", "en": "On hand1,335"}[language]
    await expect(stock.locator(".figure").first).to_have_text(on_hand)
    await expect(page.locator("#last-sync")).to_contain_text(re.compile(r"\d\d/\d\d/20\d\d"))
    await stock.get_by_role("button").click()
    await expect(page.locator("#card-table tbody tr")).not_to_have_count(0)
    await expect(page.locator("#card-table")).to_contain_text("GRN-WALK-1")
    await _no_raw_text(page, f"{language} stock and card")
    await _screenshot(page, f"stock-{language}")
    # What a phone shows (the README's picture): the top of the stock view.
    await page.evaluate("() => window.scrollTo(0, 0)")
    await _screenshot(page, f"phone-{language}", full_page=False)

    await page.get_by_role("button", name=words["record"], exact=True).click()
    kinds = page.get_by_label(words["kind"], exact=True)
    for value in await kinds.locator("option").evaluate_all("os => os.map(o => o.value)"):
        await kinds.select_option(value)
        # Saved empty: every required field says so, in the page's language.
        await page.get_by_role("button", name=words["save"], exact=True).click()
        await expect(page.locator(".field-error:visible").first).to_be_visible()
        await _no_raw_text(page, f"{language} record {value}")

    await page.get_by_role("button", name=words["queue"], exact=True).click()
    for state in ("sent", "refused", "waiting"):
        await expect(_records(page, state)).to_have_count(1)
    await _no_raw_text(page, f"{language} queue")
    await _screenshot(page, f"queue-{language}")

    await page.get_by_role("button", name=words["incoming"], exact=True).click()
    await expect(page.locator("#plan-lines")).to_contain_text("PLAN-W")
    await expect(page.locator("#transfers-in li")).to_have_count(1)
    await _no_raw_text(page, f"{language} incoming")


async def test_every_view_is_walked_in_french_and_english(
    gateway: Gateway, storekeeper: dict[str, str], phone_en: BrowserContext
) -> None:
    # Served compressed: this is what a phone on 2G downloads.
    script = await gateway.client.get("/warehouse/js/app.js")
    assert script.headers["content-encoding"] == "gzip"
    await _arrange_incoming(gateway)
    page = await _page(phone_en)
    await _sign_in(page, gateway.url, "en")
    await _no_raw_text(page, "en signed in")
    # One movement in each state: sent, refused, and (offline) waiting.
    await _record(
        page,
        "en",
        "Receipt (GRN)",
        {
            "GRN number": "GRN-WALK-2",
            "Source (donor or supplier)": "ECHO",
            "Item": "KIT-NFI",
            "Quantity": "1",
        },
    )
    await expect(_records(page, "sent")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    await _record(
        page,
        "en",
        "Dispatch (waybill)",
        {
            "Waybill number": "WB-WALK-1",
            "Destination (site and P-code)": "Sévaré 2",
            "Item": "KIT-NFI",
            "Quantity": "100000",
        },
    )
    await expect(_records(page, "refused")).to_have_count(1, timeout=SYNC_TIMEOUT_MS)
    # The stock card is read once online; offline it shows as last seen.
    await page.get_by_role("button", name="Stock", exact=True).click()
    await page.locator("#stock-list [data-item='KIT-NFI']").get_by_role("button").click()
    await expect(page.locator("#card-table")).to_contain_text("GRN-WALK-2")
    await page.context.set_offline(True)
    await _record(page, "en", "Adjustment", {"Reason": "found", "Item": "KIT-NFI", "Quantity": "1"})
    await expect(_records(page, "waiting")).to_have_count(1)

    await _walk(page, "en")
    # The switch on the page: French from here on, and kept for the next visit.
    await page.get_by_label("Language").select_option("fr")
    await _walk(page, "fr")
    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await _walk(page, "fr")
    await page.get_by_role("button", name="Se déconnecter").click()
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    await _no_raw_text(page, "fr sign-in")
    await page.get_by_label("Langue").select_option("en")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await _no_raw_text(page, "en sign-in")
