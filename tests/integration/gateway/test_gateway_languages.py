"""Through the gateway, in front of the real services: problems in the caller's language
(Accept-Language goes on to the service), and a movement's PDF passed on intact."""

from __future__ import annotations

import io
import uuid

import pytest
from kitflow_shared.web.identity import Role
from pypdf import PdfReader

from tests.integration.gateway import test_gateway_api
from tests.integration.gateway.test_gateway_api import System, _caller, _organisation

# The gateway in front of the real services, seeded (a fixture of this module of its own).
system = test_gateway_api.system

pytestmark = pytest.mark.infra

FRENCH = {"Accept-Language": "fr-ML,fr;q=0.9,en;q=0.8"}


async def _staff(system: System, warehouse: str = "BKO-MAIN") -> dict[str, str]:
    return await _caller(system, await _organisation(system, "LANG"), Role.WAREHOUSE, (warehouse,))


async def _receipt(system: System, staff: dict[str, str], quantity: int) -> dict[str, object]:
    grn = f"GRN-{uuid.uuid4().hex[:8].upper()}"
    response = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts",
        headers=staff,
        json={
            "grn_number": grn,
            "source": "ECHO",
            "lines": [{"item_code": "BLANKET", "quantity": quantity, "lot": "B-7"}],
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_refusal_reads_in_french_when_the_caller_asks_for_french(system: System) -> None:
    staff = await _staff(system)
    await _receipt(system, staff, 10)
    available = (await system.client.get("/v1/warehouses/BKO-MAIN/stock", headers=staff)).json()[
        "items"
    ][0]["available"]

    invalid = await system.client.post(
        "/v1/warehouses/BKO-MAIN/dispatches",
        headers=staff | FRENCH,
        json={"waybill_number": "WB-FR-1", "lines": [{"item_code": "BLANKET", "quantity": 0}]},
    )
    assert invalid.status_code == 422, invalid.text
    assert invalid.headers["content-type"] == "application/problem+json"
    problem = invalid.json()
    assert problem["title"] == "Requête invalide"
    reasons = {e["field"]: e["reason"] for e in problem["errors"]}
    assert reasons == {
        "body.destination": "Champ obligatoire",
        "body.lines.0.quantity": "Doit être supérieur ou égal à 1",
    }
    assert "body.lines.0.quantity: Doit être supérieur ou égal à 1" in problem["detail"]

    too_much = await system.client.post(
        "/v1/warehouses/BKO-MAIN/dispatches",
        headers=staff | FRENCH,
        json={
            "waybill_number": f"WB-{uuid.uuid4().hex[:8]}",
            "destination": "Site Sévaré (ML0501)",
            "lines": [{"item_code": "BLANKET", "quantity": available + 1}],
        },
    )
    assert too_much.status_code == 409, too_much.text
    problem = too_much.json()
    assert problem["title"] == "Stock insuffisant"
    assert problem["detail"] == (
        f"BKO-MAIN a {available} BLANKET disponible(s), {available + 1} demandé(s)"
    )
    # What programs read stays as it is.
    assert (problem["type"], problem["item_code"], problem["requested"]) == (
        "/problems/insufficient-stock",
        "BLANKET",
        available + 1,
    )

    # The same refusal for a caller that names no language, or prefers English: English.
    for headers in ({}, {"Accept-Language": "en-GB,fr;q=0.5"}):
        english = await system.client.post(
            "/v1/warehouses/BKO-MAIN/dispatches",
            headers=staff | headers,
            json={"waybill_number": "WB-EN-1", "lines": [{"item_code": "BLANKET", "quantity": 0}]},
        )
        assert english.json()["title"] == "Invalid request"
        assert {e["reason"] for e in english.json()["errors"]} == {
            "Field required",
            "Input should be greater than or equal to 1",
        }


async def test_the_gateways_own_refusals_follow_accept_language(system: System) -> None:
    unauthenticated = await system.client.get("/v1/warehouses", headers=FRENCH)
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["title"] == "Non authentifié"
    assert unauthenticated.json()["detail"].startswith("Envoyez une clé d'API valide")
    partner = await _caller(system, await _organisation(system, "LANG"), Role.PARTNER)
    forbidden = await system.client.get("/v1/warehouses/BKO-MAIN/stock", headers=partner | FRENCH)
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Interdit"
    assert forbidden.json()["detail"].startswith("Il faut l'un de ces rôles : ")
    unsupported = await system.client.post(
        "/v1/warehouses/BKO-MAIN/receipts",
        headers=(await _staff(system)) | FRENCH | {"Content-Type": "text/plain"},
        content=b"GRN",
    )
    assert unsupported.status_code == 415
    assert unsupported.json()["title"] == "Type de contenu non pris en charge"


async def test_a_grn_pdf_comes_through_the_gateway_in_french(system: System) -> None:
    staff = await _staff(system)
    receipt = await _receipt(system, staff, 1500)
    path = f"/v1/warehouses/BKO-MAIN/movements/{receipt['movement_id']}"

    pdf = await system.client.get(path, headers=staff | FRENCH | {"Accept": "application/pdf"})
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-language"] == "fr"
    assert (
        pdf.headers["content-disposition"] == f'inline; filename="{receipt["document_number"]}.pdf"'
    )
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    # No-break spaces (French thousands) read as plain spaces, to compare with what we print.
    text = "\n".join(p.extract_text() for p in pages).replace("\xa0", " ")
    for expected in [
        "Bon de réception",
        str(receipt["document_number"]),
        "Couverture",
        "B-7",
        "1 500",
        "Magasinier",
        "Chauffeur",
        "Réceptionnaire",
    ]:
        assert expected in text, (expected, text)
    as_json = await system.client.get(path, headers=staff)
    assert as_json.json()["document_number"] == receipt["document_number"]

    # Staff of another organisation's warehouse: not found, and nothing of it leaks.
    intruder = await _staff(system, "GAO-DRC")
    for accept in ({"Accept": "application/pdf"}, {}):
        refused = await system.client.get(path, headers=intruder | FRENCH | accept)
        assert refused.status_code == 404, refused.text
        assert refused.json()["title"] == "Introuvable"
        assert str(receipt["document_number"]) not in refused.text
    unknown = await system.client.get(
        "/v1/warehouses/BKO-MAIN/movements/MV-NOPE", headers=staff | FRENCH
    )
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "aucun mouvement MV-NOPE à BKO-MAIN"
