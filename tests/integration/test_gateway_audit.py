"""The audit trail against the real store: batches are inserted once each, a retried batch does
not duplicate what the failed attempt stored, and shutting the gateway down loses no entry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from kitflow_gateway.adapters.mongo import AUDIT, MongoAuditLog
from kitflow_gateway.bootstrap import create_app
from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.app import running_app
from tests.support.infra import Infra

pytestmark = pytest.mark.infra

Document = dict[str, object]


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        entry_id=str(uuid.uuid4()),
        at=datetime.now(UTC),
        method="POST",
        path=f"/v1/needs/{n}",
        status=201,
        correlation_id=f"c-{n}",
        duration_ms=1.5,
        user_id="USR-1",
        username="p@nrc.no",
        organisation="NRC",
        key_id="k1",
        client="127.0.0.1",
    )


async def test_a_retried_batch_stores_each_entry_once(db: AsyncDatabase[Document]) -> None:
    log = MongoAuditLog(db[AUDIT])
    entries = [_entry(n) for n in range(10)]
    await log.record_many(entries[:4])
    # As after an insert that stored its first entries but whose answer was lost.
    await log.record_many(entries)
    page = await log.find(AuditQuery(organisation="NRC", limit=50))
    assert page.total == 10
    assert sorted(e.entry_id for e in page.items) == sorted(e.entry_id for e in entries)


async def test_shutting_the_gateway_down_writes_every_entry_it_answered(
    infra: Infra,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[Document],
) -> None:
    count = 60
    async with running_app(create_app, infra, namespace, monkeypatch) as (_, client):
        # Refused credentials are audited too, and need no service behind the gateway.
        answers = await asyncio.gather(
            *(
                client.post(f"/v1/needs/N-{n}/submit", headers={"X-API-Key": "kf_wrong"})
                for n in range(count)
            )
        )
        assert {a.status_code for a in answers} == {401}
    stored = store_client[f"{namespace}_kitflow_gateway"][AUDIT]
    paths = [doc["path"] async for doc in stored.find({"status": 401})]
    assert sorted(paths) == sorted(f"/v1/needs/N-{n}/submit" for n in range(count))
    await store_client.drop_database(f"{namespace}_kitflow_gateway")
