"""The store reports a collection's data size (collStats `size`) as the sum of its documents'
BSON sizes, through inserts, updates and deletes.

kitflow-store keeps that sum without encoding each document it writes (deploy/local/store,
BsonSize.java); this holds it to what the BSON encoder of the driver makes of the same
documents, for every type the store knows.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import bson
import pytest
from bson import Binary, Code, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp
from pymongo.asynchronous.database import AsyncDatabase

pytestmark = pytest.mark.infra
Db = AsyncDatabase[dict[str, Any]]


def _every_type(n: int) -> dict[str, Any]:
    return {
        "_id": f"doc-{n}",
        "double": 3.5 + n,
        "string": "Tombouctou — ⵜⵉⵏⴱⵓⴽⵜⵓ 🏕️" * (n + 1),
        "document": {"nested": {"deeper": [1, "two", {"three": None}]}},
        "array": list(range(n * 7)),
        "binary": Binary(b"\x00\x01kit" * n, 0),
        "uuid": Binary(uuid.UUID(int=n).bytes, 4),
        "object_id": ObjectId(),
        "true": True,
        "false": False,
        "datetime": datetime(2025, 4, 2, 8, 30, n, tzinfo=UTC),
        "null": None,
        "regex": Regex("^ML0[0-9]+$", "i"),
        "int32": 2**31 - 1,
        "timestamp": Timestamp(1_700_000_000, n),
        "int64": 2**40 + n,
        "decimal128": Decimal128(Decimal("1234.5678")),
        "min_key": MinKey(),
        "max_key": MaxKey(),
        "code": Code("function () { return 1; }"),
        "clé accentuée": "é",
    }


async def _size(db: Db) -> int:
    stats = await db.command("collStats", "sizes")
    return int(stats["size"])


def _bson_size(docs: list[dict[str, Any]]) -> int:
    return sum(len(bson.encode(d)) for d in docs)


async def test_the_data_size_is_the_bson_size_of_what_the_collection_holds(db: Db) -> None:
    docs = [_every_type(n) for n in range(12)]
    await db["sizes"].insert_many(docs)
    assert await _size(db) == _bson_size(docs)

    await db["sizes"].update_one(
        {"_id": "doc-3"}, {"$set": {"string": "x" * 1_000}, "$push": {"array": {"a": 1}}}
    )
    await db["sizes"].delete_one({"_id": "doc-5"})
    held = [d async for d in db["sizes"].find()]
    assert len(held) == 11
    assert await _size(db) == _bson_size(held)

    await db["sizes"].delete_many({})
    assert await _size(db) == 0
