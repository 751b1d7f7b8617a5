"""A movement's printed document from the stock service (real store): the GRN, the waybill and
the transfer note as PDFs in French and English, and who may read them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kitflow_shared.web.identity import Role
from pypdf import PdfReader

from tests.support.infra import Infra
from tests.support.services import identity
from tests.support.stock_app import (
    ADMIN,
    BKO_STAFF,
    COORDINATOR,
    MOP_STAFF,
    PARTNER,
    RECEIPT,
    seeded_stock,
)

pytestmark = pytest.mark.infra

# Warehouse staff of another organisation, assigned to a warehouse of their own.
OTHER_ORG_STAFF = identity("NRC", Role.WAREHOUSE, warehouses=frozenset({"NRC-GAO"}))
PDF = {"Accept": "application/pdf"}
FRENCH = {"Accept-Language": "fr-ML,fr;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
async def stock(
    infra: Infra, topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with seeded_stock(infra, topics, monkeypatch) as client:
        yield client


async def _recorded(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    response = await client.post(f"/v1/warehouses/BKO-MAIN/{path}", json=body, headers=BKO_STAFF)
    assert response.status_code == 201, response.text
    movement_id: str = response.json()["movement_id"]
    return movement_id


def _text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    # No-break spaces (French thousands) read as plain spaces, to compare with what we print.
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


async def test_a_receipts_grn_prints_in_french_and_in_english(stock: httpx.AsyncClient) -> None:
    movement_id = await _recorded(stock, "receipts", {**RECEIPT, "lines": [
        {"item_code": "TARP", "quantity": 1200, "lot": "T-1"},
        *RECEIPT["lines"][1:],
    ]})  # fmt: skip
    path = f"/v1/warehouses/BKO-MAIN/movements/{movement_id}"

    french = await stock.get(path, headers=BKO_STAFF | PDF | FRENCH)
    assert french.headers["content-disposition"] == 'inline; filename="GRN-0001.pdf"'
    text = _text(french)
    for expected in [
        "Bon de réception",
        "GRN-0001",
        "Organisation",
        "IOM",
        "Bamako (BKO-MAIN)",
        "Reçu de",
        "ECHO",
        "TARP",
        "Bâche",
        "T-1",
        "1 200",
        "SOAP",
        "Savon",
        "S-1",
        "31/01/2027",
        "Corde 30 m",
        "Magasinier",
        "Chauffeur",
        "Réceptionnaire",
        "Quantité",
        "Péremption",
    ]:
        assert expected in text, (expected, text)
    assert "Tarpaulin" not in text

    english = _text(await stock.get(path, headers=BKO_STAFF | PDF | ENGLISH))
    for expected in [
        "Goods received note",
        "GRN-0001",
        "Tarpaulin",
        "1,200",
        "31 Jan 2027",
        "Storekeeper",
        "Driver",
        "Receiver",
    ]:
        assert expected in english, (expected, english)

    # A plain link asks with ?format=pdf; without either, the movement is JSON.
    linked = await stock.get(f"{path}?format=pdf", headers=BKO_STAFF | FRENCH)
    assert "Bon de réception" in _text(linked)
    as_json = await stock.get(path, headers=BKO_STAFF)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert (body["movement_id"], body["kind"], body["document_number"]) == (
        movement_id,
        "receipt",
        "GRN-0001",
    )
    assert [line["quantity"] for line in body["lines"]] == [1200, 50, 30]


async def test_a_dispatch_prints_as_a_waybill_and_a_transfer_as_a_transfer_note(
    stock: httpx.AsyncClient,
) -> None:
    await _recorded(stock, "receipts", RECEIPT)
    dispatch = await _recorded(
        stock,
        "dispatches",
        {
            "waybill_number": "WB 77/2026",
            "destination": "Site Sévaré (ML0501)",
            "lines": [{"item_code": "TARP", "quantity": 30}, {"item_code": "SOAP", "quantity": 5}],
        },
    )
    waybill = await stock.get(
        f"/v1/warehouses/BKO-MAIN/movements/{dispatch}", headers=BKO_STAFF | PDF | FRENCH
    )
    # What a header can carry safely; the number itself prints as it was recorded.
    assert waybill.headers["content-disposition"] == 'inline; filename="WAYBILL-WB-77-2026.pdf"'
    text = _text(waybill)
    for expected in [
        "Lettre de transport",
        "WB 77/2026",
        "Destination",
        "Site Sévaré (ML0501)",
        "Bâche",
        "30",
        "Savon",
        "T-1",
        "Magasinier",
        "Chauffeur",
        "Réceptionnaire",
    ]:
        assert expected in text, (expected, text)

    transfer = await _recorded(
        stock,
        "transfers",
        {
            "to_warehouse": "MOP-SUB",
            "waybill_number": "TR-WB-9",
            "lines": [{"item_code": "ROPE", "quantity": 10}],
        },
    )
    note = _text(
        await stock.get(
            f"/v1/warehouses/BKO-MAIN/movements/{transfer}", headers=BKO_STAFF | PDF | FRENCH
        )
    )
    for expected in ["Bordereau de transfert (sortie)", "TR-WB-9", "MOP-SUB", "Corde 30 m"]:
        assert expected in note, (expected, note)


async def test_only_who_reads_the_stock_card_reads_a_movement(stock: httpx.AsyncClient) -> None:
    movement_id = await _recorded(stock, "receipts", RECEIPT)
    path = f"/v1/warehouses/BKO-MAIN/movements/{movement_id}"
    for allowed in (BKO_STAFF, COORDINATOR, ADMIN):
        response = await stock.get(path, headers=allowed | PDF)
        assert response.status_code == 200, response.text
    for other, status in ((OTHER_ORG_STAFF, 404), (MOP_STAFF, 404), (PARTNER, 403)):
        for accept in (PDF, {}):
            response = await stock.get(path, headers=other | accept | FRENCH)
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert "GRN-0001" not in response.text

    unknown = await stock.get(
        "/v1/warehouses/BKO-MAIN/movements/MV-NOPE", headers=BKO_STAFF | PDF | FRENCH
    )
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "Introuvable"
    assert unknown.json()["detail"] == "aucun mouvement MV-NOPE à BKO-MAIN"
    # A movement of another warehouse is not found under this one.
    other_warehouse = await stock.get(
        f"/v1/warehouses/MOP-SUB/movements/{movement_id}", headers=ADMIN | PDF
    )
    assert other_warehouse.status_code == 404
