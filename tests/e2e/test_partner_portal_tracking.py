"""The partner portal's tracking sections in real headless Chromium, against the four services as
processes: NRC's information officer records a delivery from the page (a refusal shown next to
its field first), then reads the need's coverage per item after the plan was delivered, its
possible duplicate flagged; and fixes a refused KoboToolbox submission and resubmits it. In
French and in English, failing on any missing translation key or sideways scrolling."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, Page, Playwright, expect

from tests.e2e import test_partner_portal as portal
from tests.support.browser import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    PASSWORD,
    Gateway,
    bearer,
    need_body,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.infra

SUBMISSIONS = "/v1/integrations/kobo/submissions"
# Events go from distribution to the needs service before a need shows its coverage.
COVERAGE_TIMEOUT_S = 60


@pytest.fixture
async def laptop_fr(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await portal._browser(playwright, tmp_path / "laptop-fr", "fr", portal.LAPTOP)
    yield context
    await context.close()


@pytest.fixture
async def phone_en(playwright: Playwright, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    context = await portal._browser(playwright, tmp_path / "phone-en", "en", portal.PHONE)
    yield context
    await context.close()


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _dispatched_plan(client: httpx.AsyncClient) -> tuple[str, str]:
    """NRC's need planned, approved (stock reserves) and dispatched, through the APIs; a DRC
    need at the same site makes it a possible duplicate."""
    admin = await bearer(client, ADMIN_USER, ADMIN_PASSWORD)
    coordinator = await bearer(client, "coordinator@iom.org", PASSWORD)
    drc = await bearer(client, "partner@drc.org", PASSWORD)
    same_site = need_body("ML05", "ML0501", "Sévaré 2", 40, 14.5, -4.1)
    await _ok(await client.post("/v1/needs", headers=drc, json=same_site), 201)
    needs = await _ok(await client.get("/v1/needs", headers=coordinator))
    [need_id] = [n["id"] for n in needs["items"] if n["organisation"] == "NRC"]
    title = "Sévaré décembre"
    plan = await _ok(
        await client.post(
            "/v1/plans", headers=coordinator, json={"title": title, "need_ids": [need_id]}
        ),
        201,
    )
    plan_id = plan["plan_id"]
    await _ok(await client.post(f"/v1/plans/{plan_id}/approve", headers=coordinator, json={}))
    await eventually(
        lambda: client.get(f"/v1/plans/{plan_id}", headers=admin),
        lambda r: r.json()["status"] == "reserved",
        what="the plan reserved",
        timeout_s=60,
    )
    await _ok(
        await client.post(
            f"/v1/plans/{plan_id}/dispatch",
            headers=coordinator,
            json={"waybill_number": "LT-2026-0042", "destination": "Sévaré 2"},
        )
    )
    await eventually(
        lambda: client.get(f"/v1/plans/{plan_id}", headers=admin),
        lambda r: r.json()["status"] == "dispatched",
        what="the plan dispatched",
        timeout_s=60,
    )
    return need_id, title


async def _open(page: Page, name: str) -> None:
    await page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    await expect(page.locator("#view-title")).to_have_text(name)


async def _until_shown(page: Page, refresh: Locator, target: Locator, text: str) -> None:
    """Ask the page again (its filter button) until `target` shows `text`, within a deadline:
    the coverage reaches the needs service through events."""
    deadline = time.monotonic() + COVERAGE_TIMEOUT_S
    while text not in (await target.inner_text()):
        assert time.monotonic() < deadline, f"never shown: {text!r} in {await target.inner_text()}"
        await refresh.click()
        await page.wait_for_timeout(500)


def _row(card: Locator, item: str) -> Locator:
    return card.locator("table.fold tbody tr", has_text=item)


async def test_a_delivery_recorded_from_the_page_shows_in_the_needs_coverage(
    gateway: Gateway, laptop_fr: BrowserContext, phone_en: BrowserContext
) -> None:
    need_id, title = await _dispatched_plan(gateway.client)
    page, errors = await portal._page(laptop_fr)
    await portal._sign_in(page, gateway.url, "fr")

    await _open(page, "Plans et livraisons")
    plan = page.locator("article.plan")
    await expect(plan).to_have_count(1)
    await expect(plan.get_by_role("heading")).to_have_text(title)
    await expect(plan).to_contain_text("Expédié")
    form = page.get_by_role("region", name="Enregistrer une livraison")
    await expect(form.get_by_label("Site et plan")).to_have_value("0")
    await expect(form.locator("#delivery-choice option")).to_have_text([f"Sévaré 2 — {title}"])
    # The quantities handed out start at what was dispatched and not yet delivered.
    quantities = form.locator("input[data-line]")
    total = sum([int(await q.input_value()) for q in await quantities.all()])
    assert total == 120
    await expect(form.get_by_label("Kit BNA — depuis Mopti sub-office (MOP-SUB)")).to_be_visible()

    # Beyond the 120 households targeted without a note: refused, said next to the note.
    await form.get_by_label("Ménages atteints").fill("130")
    await form.get_by_label("Personnes atteintes").fill("650")
    await form.get_by_role("button", name="Enregistrer la livraison").click()
    note = form.get_by_label("Note", exact=True)
    await expect(note).to_have_attribute("aria-invalid", "true")
    await expect(form.locator(".field-error")).to_contain_text(
        "130 ménages et 650 personnes atteints (tous plans confondus)"
    )
    await expect(page.locator("#error")).to_have_text("Corrigez les champs signalés ci-dessous.")
    await portal._no_raw_text(page, "fr delivery refused")

    await note.fill("Nouvelles arrivées de PDI depuis l'évaluation")
    await form.get_by_role("button", name="Enregistrer la livraison").click()
    await expect(page.get_by_text("Livraison enregistrée pour Sévaré 2.")).to_be_visible()
    await expect(page.locator("#error")).to_be_hidden()
    await expect(plan).to_contain_text("130 ménages et 650 personnes atteints")
    await portal._no_raw_text(page, "fr plans")
    await portal._screenshot(page, "plans-fr")

    await _open(page, "Nos besoins")
    card = page.locator(f'article[data-need="{need_id}"]')
    kits = _row(card, "Kit BNA")
    await _until_shown(
        page, page.get_by_role("button", name="Filtrer"), kits, "120\t120\t0\t120\t120"
    )
    await expect(card.locator(".badge")).to_have_text("Couvert")
    await expect(card).to_contain_text("120 ménages, 600 personnes")
    await expect(card).to_contain_text("130 ménages, 650 personnes")
    await expect(card.locator(".flag")).to_contain_text("Doublon possible : DRC")
    # Filtered by status and place: the covered need stays; Gao's region shows none of NRC's.
    await page.get_by_label("Statut").select_option("covered")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("article.need")).to_have_count(1)
    await page.get_by_label("Région").select_option("ML07")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("article.need")).to_have_count(0)
    await expect(page.locator("#needs-count")).to_have_text("0 besoin(s)")
    await page.get_by_label("Région").select_option("ML05")
    await page.get_by_label("Cercle").select_option("ML0501")
    await page.get_by_role("button", name="Filtrer").click()
    await expect(page.locator("article.need")).to_have_count(1)
    await portal._no_raw_text(page, "fr needs")
    await portal._screenshot(page, "needs-fr")

    await page.get_by_label("Langue").select_option("en")
    await expect(page.locator("#view-title")).to_have_text("Our needs")
    await expect(card.locator(".badge")).to_have_text("Covered")
    await expect(card.locator("thead")).to_contain_text("Delivered")
    await portal._no_raw_text(page, "en needs")
    await _open(page, "Plans and deliveries")
    await expect(page.locator("article.plan")).to_contain_text("130 households and 650 people")
    await portal._no_raw_text(page, "en plans")
    assert errors == []

    # On a phone the coverage folds into labelled rows: no sideways scrolling.
    phone, phone_errors = await portal._page(phone_en)
    await portal._sign_in(phone, gateway.url, "en")
    await _open(phone, "Our needs")
    await expect(
        phone.locator(f'article[data-need="{need_id}"] td[data-label="Delivered"]')
    ).to_have_text("120")
    await portal._no_raw_text(phone, "en phone needs")
    await phone.get_by_label("Language").select_option("fr")
    await expect(phone.locator("#view-title")).to_have_text("Nos besoins")
    await portal._no_raw_text(phone, "fr phone needs")
    await portal._screenshot(phone, "needs-phone-fr")
    await _open(phone, "Plans et livraisons")
    await portal._no_raw_text(phone, "fr phone plans")
    assert phone_errors == []


def _submission(cercle: str) -> dict[str, str]:
    """A KoboToolbox submission whose questions are named by their HXL hashtags."""
    return {
        "_uuid": str(uuid.uuid4()),
        "_submission_time": "2026-12-01T09:14:03",
        "#adm1+code": "ML05",
        "#adm2+code": cercle,
        "#loc+name": "Sévaré 3",
        "#inneed+hh": "60",
        "#inneed+ind": "300",
        "#beneficiary+type": "idp",
        "#severity": "3",
        "#date+assessed": "2026-11-30",
        "#item+code": "KIT-NFI",
        "#item+num": "60",
    }


async def test_a_refused_kobo_submission_is_fixed_and_resubmitted_from_the_page(
    gateway: Gateway, phone_en: BrowserContext
) -> None:
    nrc = await bearer(gateway.client, portal.PARTNER, PASSWORD)
    first, second = _submission("ML0599"), _submission("ML0598")
    for sent in (first, second):
        refused = await gateway.client.post(SUBMISSIONS, headers=nrc, json=sent)
        assert refused.status_code == 422, refused.text
    page, errors = await portal._page(phone_en)
    await portal._sign_in(page, gateway.url, "en")

    await _open(page, "Kobo submissions")
    await expect(page.locator("#kobo-count")).to_have_text("2 submission(s) to fix")
    card = page.locator(f'article[data-submission="{first["_uuid"]}"]')
    await expect(card).to_contain_text("#adm2+code: unknown admin2 P-code ML0599 in Mopti (ML05)")
    cercle = card.get_by_label("#adm2+code")
    await expect(cercle).to_have_value("ML0599")
    await expect(cercle).to_have_attribute("aria-invalid", "true")
    await expect(card.get_by_label("#loc+name")).to_have_value("Sévaré 3")
    await portal._no_raw_text(page, "en kobo")

    # A wrong fix is refused again, said next to the question.
    await cercle.fill("ML0597")
    await card.get_by_role("button", name="Fix and resubmit").click()
    await expect(card.locator(".field-error")).to_contain_text("ML0597")
    await cercle.fill("ML0501")
    await card.get_by_role("button", name="Fix and resubmit").click()
    await expect(page.get_by_text("Submission accepted: need")).to_be_visible()
    await expect(page.locator("#kobo-count")).to_have_text("1 submission(s) to fix")
    needs = await _ok(await gateway.client.get("/v1/needs", headers=nrc))
    assert [n["location"]["site_name"] for n in needs["items"]].count("Sévaré 3") == 1

    # The one left reads in French once the page is in French, reason included.
    await page.get_by_label("Language").select_option("fr")
    await expect(page.locator("#view-title")).to_have_text("Soumissions Kobo")
    left = page.locator(f'article[data-submission="{second["_uuid"]}"]')
    await expect(left).to_contain_text("P-code de cercle ML0598 inconnu dans la région de Mopti")
    await portal._no_raw_text(page, "fr kobo")
    await page.get_by_text("Correspondance des questions Kobo et des hashtags HXL").click()
    await expect(
        page.get_by_label("Une ligne par question : chemin de la question = #hashtag")
    ).to_be_visible()
    await portal._screenshot(page, "kobo-fr")
    await left.get_by_label("#adm2+code").fill("ML0501")
    await left.get_by_role("button", name="Corriger et soumettre à nouveau").click()
    await expect(page.locator("#kobo-count")).to_have_text("0 soumission(s) à corriger")
    await portal._no_raw_text(page, "fr kobo done")
    assert errors == []
