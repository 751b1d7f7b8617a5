"""The gateway's batched store calls against the real store: audit batches are inserted once
each, a retried batch does not duplicate what the failed attempt stored, and shutting the
gateway down loses no entry; concurrent rate counts, idempotency claims and key reads that share
one command still behave as if each had been sent alone."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from kitflow_gateway.adapters.mongo import (
    AUDIT,
    MongoApiKeys,
    MongoAuditLog,
    MongoIdempotency,
    MongoRateCounters,
)
from kitflow_gateway.bootstrap import create_app
from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.idempotency import Claim, ClaimState, StoredResponse
from kitflow_gateway.domain.identity import ApiKey
from kitflow_shared.web.identity import Role
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


# ---- the other batched store calls of a request (adapters/batching.py) ------------------------


async def test_concurrent_increments_count_one_each_per_counter(
    db: AsyncDatabase[Document],
) -> None:
    counters = MongoRateCounters(db["rate_counters"])
    start = datetime.now(UTC)
    calls = [counters.increment("A:1" if n % 3 else "B:1", start) for n in range(60)]
    counts = await asyncio.gather(*calls)
    a = [c for n, c in enumerate(counts) if n % 3]
    b = [c for n, c in enumerate(counts) if not n % 3]
    assert sorted(a) == list(range(1, 41))
    assert sorted(b) == list(range(1, 21))
    assert await counters.increment("A:1", start) == 41


async def test_of_concurrent_claims_of_one_key_exactly_one_wins(
    db: AsyncDatabase[Document],
) -> None:
    store = MongoIdempotency(db["idempotency_keys"])
    now = datetime.now(UTC)
    same = [Claim("NRC", "retry-key-1", "f", ClaimState.IN_PROGRESS, now) for _ in range(20)]
    others = [Claim("NRC", f"other-{n}", "f", ClaimState.IN_PROGRESS, now) for n in range(5)]
    outcomes = await asyncio.gather(*(store.claim(c) for c in [*same, *others]))
    assert outcomes[:20].count(True) == 1
    assert outcomes[20:] == [True] * 5
    answer = StoredResponse(201, b"{}", "application/json", None)
    await asyncio.gather(*(store.complete("NRC", c.key, answer) for c in [same[0], *others]))
    for claim in [same[0], *others]:
        stored = await store.get("NRC", claim.key)
        assert stored is not None
        assert (stored.state, stored.response) == (ClaimState.COMPLETED, answer)


async def test_a_key_read_after_its_revocation_sees_it_revoked_even_amid_other_reads(
    db: AsyncDatabase[Document],
) -> None:
    keys = MongoApiKeys(db["api_keys"])
    now = datetime.now(UTC)
    key = ApiKey(
        key_id="0123456789abcdef",
        name="k",
        user_id="USR-1",
        username="p@nrc.no",
        organisation="NRC",
        roles=frozenset({Role.PARTNER}),
        warehouses=frozenset(),
        secret_hash="h",
        created_at=now,
        created_by="USR-1",
    )
    await keys.add(key)
    before = [asyncio.create_task(keys.get(key.key_id)) for _ in range(10)]
    await keys.revoke(key.key_id, now)
    after = await asyncio.gather(*(keys.get(key.key_id) for _ in range(10)), keys.get("nope"))
    await asyncio.gather(*before)
    assert [k is not None and k.revoked_at is not None for k in after[:10]] == [True] * 10
    assert after[10] is None
