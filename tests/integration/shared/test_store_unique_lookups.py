"""Queries that name a unique index's keys among other conditions, on the real store.

kitflow-store answers them from the index (deploy/local/store, NarrowingUniqueIndex) instead of
scanning the collection; the other conditions must still decide, exactly as MongoDB decides.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]


async def test_the_other_conditions_still_decide(db: Db) -> None:
    c = db["lookups"]
    await c.insert_many([{"_id": f"n{i}", "sequence": i % 3, "tag": "a"} for i in range(30)])

    assert await c.find_one({"_id": "n4", "sequence": 1}) == {
        "_id": "n4",
        "sequence": 1,
        "tag": "a",
    }
    assert await c.find_one({"_id": "n4", "sequence": 2}) is None
    assert await c.count_documents({"_id": "n4", "sequence": {"$gte": 1}, "tag": "a"}) == 1
    assert await c.count_documents({"_id": "n4", "sequence": {"$gte": 2}}) == 0
    assert await c.count_documents({"_id": "missing", "sequence": 1}) == 0

    # The optimistic-concurrency update: only the expected version changes.
    stale = await c.update_one({"_id": "n7", "sequence": 0}, {"$set": {"tag": "b"}})
    fresh = await c.update_one({"_id": "n7", "sequence": 1}, {"$set": {"tag": "b"}})
    assert (stale.matched_count, fresh.matched_count) == (0, 1)
    assert await c.count_documents({"tag": "b"}) == 1


async def test_compound_and_sparse_unique_indexes_with_other_conditions(db: Db) -> None:
    c = db["claims"]
    await c.create_index([("org", ASCENDING), ("key", ASCENDING)], unique=True)
    await c.create_index([("ref", ASCENDING)], unique=True, sparse=True)
    await c.insert_many(
        [
            {"org": "NRC", "key": "k1", "state": "done", "ref": "r1"},
            {"org": "DRC", "key": "k1", "state": "pending"},
            {"org": "NRC", "key": "k2", "state": "pending"},
        ]
    )

    assert await c.count_documents({"org": "NRC", "key": "k1", "state": "done"}) == 1
    assert await c.count_documents({"org": "NRC", "key": "k1", "state": "pending"}) == 0
    assert await c.count_documents({"org": {"$in": ["NRC", "DRC"]}, "key": "k1"}) == 2
    # A null or missing sparse key: documents without the field answer, as on MongoDB.
    assert await c.count_documents({"ref": None, "state": "pending"}) == 2
    assert await c.count_documents({"ref": "r1", "state": "done"}) == 1
