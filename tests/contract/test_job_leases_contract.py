"""The job leases against the real store (ADR 0028): of many contenders racing for a free lease
exactly one wins; the lease holds until it expires; a takeover raises the fencing token; a stale
owner can neither renew nor write under its old token."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kitflow_shared.leases import LEASES, MongoLeases, fence_update, fenced_filter
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra

Db = AsyncDatabase[dict[str, Any]]
LEASE = timedelta(seconds=15)
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def test_of_racing_contenders_exactly_one_takes_a_free_lease(db: Db) -> None:
    leases = MongoLeases(db[LEASES])
    tokens = await asyncio.gather(
        *(leases.take("sweep", f"replica-{i}", T0, T0 + LEASE) for i in range(20))
    )
    assert [t for t in tokens if t is not None] == [1]
    doc = await db[LEASES].find_one({"_id": "sweep"})
    assert doc is not None
    assert doc["owner"] == f"replica-{tokens.index(1)}"


async def test_a_held_lease_is_refused_until_it_expires_then_taken_with_a_higher_token(
    db: Db,
) -> None:
    leases = MongoLeases(db[LEASES])
    assert await leases.take("sweep", "a", T0, T0 + LEASE) == 1
    assert await leases.take("sweep", "b", T0 + LEASE / 2, T0 + LEASE * 2) is None
    assert await leases.renew("sweep", "a", 1, T0 + LEASE * 2)
    # Renewed: still held past the first expiry.
    assert await leases.take("sweep", "b", T0 + LEASE, T0 + LEASE * 2) is None
    # Not renewed again: once it expires, b takes it over, token 2.
    assert await leases.take("sweep", "b", T0 + LEASE * 2, T0 + LEASE * 3) == 2
    # The stale owner's renewal names token 1: refused.
    assert not await leases.renew("sweep", "a", 1, T0 + LEASE * 3)
    assert await leases.renew("sweep", "b", 2, T0 + LEASE * 3)


async def test_a_released_lease_is_free_at_once_and_only_its_owner_may_release_it(
    db: Db,
) -> None:
    leases = MongoLeases(db[LEASES])
    await leases.take("sweep", "a", T0, T0 + LEASE)
    await leases.release("sweep", "b", 1, T0)
    assert await leases.take("sweep", "b", T0, T0 + LEASE) is None
    await leases.release("sweep", "a", 1, T0)
    assert await leases.take("sweep", "b", T0, T0 + LEASE) == 2


async def test_a_fenced_write_from_a_stale_owner_is_refused(db: Db) -> None:
    docs = db["fenced"]
    await docs.insert_one({"_id": "x", "value": 0})

    async def write(token: int, value: int) -> bool:
        update = {"$set": {"value": value, **fence_update("sweep", token)["$set"]}}
        result = await docs.update_one({"_id": "x", **fenced_filter("sweep", token)}, update)
        return result.modified_count == 1

    assert await write(1, 10)
    assert await write(2, 20), "the new owner writes"
    assert not await write(1, 11), "the stale owner's late write is refused"
    doc = await docs.find_one({"_id": "x"})
    assert doc is not None
    assert (doc["value"], doc["fence"]["sweep"]) == (20, 2)
