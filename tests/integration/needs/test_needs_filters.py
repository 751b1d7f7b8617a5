"""GET /v1/needs filtered on the server, through the real store: the coordinator's need picker
chooses by place, severity, partner, status, item and age, and pages through thousands of needs
instead of downloading them all."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import Infra
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
COORDINATOR = identity("OCHA", Role.COORDINATOR)


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


def _need(site: str, severity: int, items: list[tuple[str, int]]) -> dict[str, Any]:
    body = copy.deepcopy(CREATE_BODY)
    body["location"]["site_name"] = site
    body["severity"] = severity
    body["items"] = [{"item_code": code, "quantity": qty} for code, qty in items]
    return body


async def _report(needs: NeedsApp, who: Mapping[str, str], body: dict[str, Any]) -> dict[str, Any]:
    created = await needs.client.post("/v1/needs", json=body, headers=who)
    assert created.status_code == 201, created.text
    need: dict[str, Any] = created.json()
    return need


async def _sites(needs: NeedsApp, query: str, who: Mapping[str, str] = COORDINATOR) -> list[str]:
    listed = await needs.client.get(f"/v1/needs?{query}", headers=who)
    assert listed.status_code == 200, listed.text
    return sorted(n["location"]["site_name"] for n in listed.json()["items"])


async def test_needs_are_filtered_by_partner_item_severity_and_age(needs: NeedsApp) -> None:
    old = await _report(needs, NRC, _need("Old NRC", 4, [("KIT-NFI", 10)]))
    await _report(needs, NRC, _need("Shelter NRC", 2, [("KIT-SHELTER-EMERGENCY", 5)]))
    await _report(needs, DRC, _need("DRC both", 5, [("KIT-NFI", 3), ("KIT-SHELTER-EMERGENCY", 3)]))

    assert await _sites(needs, "partner=DRC") == ["DRC both"]
    assert await _sites(needs, "partner=DRC&partner=NRC") == ["DRC both", "Old NRC", "Shelter NRC"]
    assert await _sites(needs, "item_code=KIT-SHELTER-EMERGENCY") == ["DRC both", "Shelter NRC"]
    assert await _sites(needs, "severity=2&severity=5") == ["DRC both", "Shelter NRC"]
    created = old["created_at"]
    assert await _sites(needs, f"created_before={created.replace('+', '%2B')}") == []
    newer = await _sites(needs, f"created_after={created.replace('+', '%2B')}")
    assert newer == ["DRC both", "Shelter NRC"]
    # A partner's filter on another organisation never shows that organisation's needs.
    assert await _sites(needs, "partner=DRC", who=NRC) == []


async def test_a_bad_filter_is_a_422_naming_the_field(needs: NeedsApp) -> None:
    refused = await needs.client.get("/v1/needs?severity=9", headers=COORDINATOR)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["query.severity.0"]
    refused = await needs.client.get("/v1/needs?partner=%00", headers=COORDINATOR)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["query.partner.0"]
    for bad in ("yesterday", "0001-01-01T00:00:00%2B01:00"):  # the second: before year 1 in UTC
        refused = await needs.client.get(f"/v1/needs?created_after={bad}", headers=COORDINATOR)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["query.created_after"]
