"""The store client factory and index bootstrap.

Only what real MongoDB (standalone, replica set, sharded) and the embedded MongoDB-wire server
both support is used here and in the services: single-document atomic updates, unique indexes,
plain queries and simple aggregations. No multi-document transactions, no change streams, no TTL
indexes, no explicit sessions (see docs/adr/0002-store.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kitflow_shared.settings import StoreSettings

Document = dict[str, Any]


def create_client(settings: StoreSettings, app_name: str) -> AsyncMongoClient[Document]:
    """A client that fails fast when the store is unreachable, so /readyz tells the truth, and
    whose writes are acknowledged only once durable as the settings ask (keyword options take
    precedence over the same options in the URL)."""
    return AsyncMongoClient(
        settings.url,
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
        w=settings.write_concern,
        journal=settings.write_journal,
        wTimeoutMS=settings.write_timeout_ms,
    )


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    name: str
    unique: bool = False
    # For unique indexes on optional fields: documents without the field are not indexed.
    # (Not partialFilterExpression: the embedded store ignores it and would enforce uniqueness
    # on every document.)
    sparse: bool = False


async def ensure_indexes(db: AsyncDatabase[Document], specs: Sequence[IndexSpec]) -> None:
    """Create the declared indexes; creating an existing identical index is a no-op."""
    for spec in specs:
        options: dict[str, Any] = {"name": spec.name, "unique": spec.unique}
        if spec.sparse:
            options["sparse"] = True
        await db[spec.collection].create_index(list(spec.keys), **options)


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")
