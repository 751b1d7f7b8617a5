"""The stock app in this process with a few warehouses and catalogue items, and its callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.services import identity

ADMIN = identity("IOM", Role.ADMIN)
BKO_STAFF = identity("IOM", Role.WAREHOUSE, warehouses=frozenset({"BKO-MAIN"}))
MOP_STAFF = identity("IOM", Role.WAREHOUSE, warehouses=frozenset({"MOP-SUB"}))
COORDINATOR = identity("IOM", Role.COORDINATOR)
PARTNER = identity("NRC", Role.PARTNER)

WAREHOUSES = [
    {
        "code": "BKO-MAIN",
        "name": "Bamako",
        "organisation": "IOM",
        "type": "main",
        "admin1_pcode": "ML09",
        "admin2_pcode": "ML0901",
    },
    {
        "code": "MOP-SUB",
        "name": "Mopti",
        "organisation": "IOM",
        "type": "sub-office",
        "admin1_pcode": "ML05",
        "admin2_pcode": "ML0501",
    },
]
ITEMS = [
    {
        "code": "TARP",
        "name_en": "Tarpaulin",
        "name_fr": "Bâche",
        "category": "shelter",
        "unit": "piece",
    },
    {
        "code": "ROPE",
        "name_en": "Rope 30 m",
        "name_fr": "Corde 30 m",
        "category": "shelter",
        "unit": "roll",
    },
    {
        "code": "SOAP",
        "name_en": "Soap",
        "name_fr": "Savon",
        "category": "wash-hygiene",
        "unit": "bar",
    },
    {
        "code": "KIT-SHELTER",
        "name_en": "Shelter kit",
        "name_fr": "Kit abri",
        "category": "shelter",
        "unit": "kit",
        "components": [{"item_code": "TARP", "quantity": 2}, {"item_code": "ROPE", "quantity": 1}],
    },
]
RECEIPT = {
    "grn_number": "GRN-0001",
    "source": "ECHO",
    "lines": [
        {"item_code": "TARP", "quantity": 100, "lot": "T-1"},
        {"item_code": "SOAP", "quantity": 50, "lot": "S-1", "expiry": "2027-01-31"},
        {"item_code": "ROPE", "quantity": 30},
    ],
}


@asynccontextmanager
async def seeded_stock_app(
    infra: Infra, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The stock service with WAREHOUSES and ITEMS registered. An unexpected error answers 500,
    as it would over the network, instead of being raised into the test."""
    async with (
        running_app(create_app, infra, namespace, monkeypatch) as (app, _),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://stock",
        ) as client,
    ):
        for body in WAREHOUSES:
            response = await client.post("/v1/warehouses", json=body, headers=ADMIN)
            assert response.status_code == 201, response.text
        for body in ITEMS:
            response = await client.post("/v1/items", json=body, headers=ADMIN)
            assert response.status_code == 201, response.text
        yield app, client


@asynccontextmanager
async def seeded_stock(
    infra: Infra, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    async with seeded_stock_app(infra, namespace, monkeypatch) as (_, client):
        yield client


async def balances(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.get(f"/v1/warehouses/{code}/stock", headers=ADMIN)
    assert response.status_code == 200, response.text
    return {item["item_code"]: item for item in response.json()["items"]}
