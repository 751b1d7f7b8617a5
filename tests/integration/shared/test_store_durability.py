"""An acknowledged write to the on-disk store (`make run`'s) survives the store being SIGKILLed
right after the acknowledgement: the store puts it in its file before it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kitflow_shared.web.identity import Role
from kitflow_stock.bootstrap import create_app as create_stock_app
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from tests.support.app import running_app
from tests.support.infra import Infra
from tests.support.needs_app import running_needs
from tests.support.services import identity
from tests.support.store_process import OnDiskStore
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

Document = dict[str, Any]
ROUNDS = 3


@pytest.fixture
def on_disk_store(tmp_path: Path) -> Iterator[OnDiskStore]:
    store = OnDiskStore(tmp_path).start()
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
async def client(on_disk_store: OnDiskStore) -> AsyncIterator[AsyncMongoClient[Document]]:
    # A short selection timeout: after the kill the client must find the restarted store soon.
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(
        on_disk_store.url, serverSelectionTimeoutMS=10_000, tz_aware=True
    )
    yield mongo
    await mongo.close()


async def _write_as_the_services_do(client: AsyncMongoClient[Document], round_: int) -> None:
    """One of each kind of write the services make, each awaited (acknowledged) in turn."""
    db = client["durability"]
    await db["aggregates"].create_index([("code", 1)], unique=True, name="code_unique")
    await db["aggregates"].insert_one(
        {"_id": f"a{round_}", "code": f"C{round_}", "on_hand": 10, "sequence": 1, "outbox": []}
    )
    # The optimistic, conditional single-document update with its outbox entry.
    result = await db["aggregates"].update_one(
        {"_id": f"a{round_}", "sequence": 1, "on_hand": {"$gte": 0}},
        {
            "$inc": {"on_hand": 10, "sequence": 1},
            "$push": {"outbox": {"event": f"received-{round_}", "on_hand": 20}},
        },
    )
    assert result.modified_count == 1
    await db["idempotency"].find_one_and_update(
        {"_id": f"key-{round_}"},
        {"$setOnInsert": {"result": round_}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    await db["views"].insert_many([{"_id": f"v{round_}-{n}", "n": n} for n in range(3)])
    await db["views"].delete_one({"_id": f"v{round_}-0"})
    await db["aggregates"].update_one(
        {"_id": f"a{round_}"}, {"$pull": {"outbox": {"event": f"received-{round_}"}}}
    )
    # The last one: acknowledged a moment before the kill.
    await db["aggregates"].update_one({"_id": f"a{round_}"}, {"$inc": {"on_hand": 1}})


async def _assert_every_write_is_there(client: AsyncMongoClient[Document], round_: int) -> None:
    db = client["durability"]
    aggregate = await db["aggregates"].find_one({"_id": f"a{round_}"})
    assert aggregate is not None, f"round {round_}: the acknowledged insert is gone"
    assert (aggregate["on_hand"], aggregate["sequence"], aggregate["outbox"]) == (21, 2, [])
    assert await db["idempotency"].find_one({"_id": f"key-{round_}"}) == {
        "_id": f"key-{round_}",
        "result": round_,
    }
    views = await db["views"].find({"_id": {"$regex": f"^v{round_}-"}}).to_list(None)
    assert sorted(v["n"] for v in views) == [1, 2]
    with pytest.raises(DuplicateKeyError):
        await db["aggregates"].insert_one({"_id": f"dup{round_}", "code": f"C{round_}"})


async def test_every_acknowledged_write_survives_a_sigkill_right_after_it(
    on_disk_store: OnDiskStore, client: AsyncMongoClient[Document]
) -> None:
    # Several rounds: each kill lands a few milliseconds after the last acknowledgement.
    for round_ in range(ROUNDS):
        await _write_as_the_services_do(client, round_)
        on_disk_store.kill()
        on_disk_store.start()
        for earlier in range(round_ + 1):
            await _assert_every_write_is_there(client, earlier)


# ------------------------------------------------------------------ through the services

ADMIN = identity("IOM", Role.ADMIN)
STAFF = identity("IOM", Role.WAREHOUSE, warehouses=frozenset({"BKO-MAIN"}))
NRC = identity("NRC", Role.PARTNER)
WAREHOUSE = {
    "code": "BKO-MAIN",
    "name": "Bamako",
    "organisation": "IOM",
    "type": "main",
    "admin1_pcode": "ML09",
    "admin2_pcode": "ML0901",
}
TARP = {
    "code": "TARP",
    "name_en": "Tarpaulin",
    "name_fr": "Bâche",
    "category": "shelter",
    "unit": "piece",
}


def _receipt(number: int) -> Document:
    return {
        "grn_number": f"GRN-{number}",
        "source": "ECHO",
        "lines": [{"item_code": "TARP", "quantity": 10}],
    }


async def _on_hand(stock: httpx.AsyncClient) -> int:
    response = await stock.get("/v1/warehouses/BKO-MAIN/stock", headers=ADMIN)
    assert response.status_code == 200, response.text
    [line] = response.json()["items"]
    on_hand: int = line["on_hand"]
    return on_hand


async def test_a_receipt_acknowledged_just_before_the_store_is_killed_is_still_there(
    infra: Infra,
    topics: str,
    on_disk_store: OnDiskStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_disk = Infra(infra.kafka_bootstrap, on_disk_store.url, "on-disk store")
    async with running_app(create_stock_app, on_disk, topics, monkeypatch) as (_, stock):
        assert (
            await stock.post("/v1/warehouses", json=WAREHOUSE, headers=ADMIN)
        ).status_code == 201
        assert (await stock.post("/v1/items", json=TARP, headers=ADMIN)).status_code == 201
        first = await stock.post(
            "/v1/warehouses/BKO-MAIN/receipts", json=_receipt(1), headers=STAFF
        )
        assert first.status_code == 201, first.text
        second = await stock.post(
            "/v1/warehouses/BKO-MAIN/receipts", json=_receipt(2), headers=STAFF
        )
        assert second.status_code == 201, second.text
        assert second.json()["lines"][0]["on_hand_after"] == 20
        on_disk_store.kill()
        on_disk_store.start()

        assert await _on_hand(stock) == 20
        third = await stock.post(
            "/v1/warehouses/BKO-MAIN/receipts", json=_receipt(3), headers=STAFF
        )
        assert third.status_code == 201, third.text
        assert third.json()["lines"][0]["on_hand_after"] == 30


async def test_a_need_acknowledged_just_before_the_store_is_killed_is_still_there(
    infra: Infra,
    topics: str,
    on_disk_store: OnDiskStore,
    monkeypatch: pytest.MonkeyPatch,
    client: AsyncMongoClient[Document],
) -> None:
    on_disk = Infra(infra.kafka_bootstrap, on_disk_store.url, "on-disk store")
    key = {**NRC, "Idempotency-Key": "sevare-2025-03"}
    async with running_needs(on_disk, topics, monkeypatch, client) as needs:
        created = await needs.client.post("/v1/needs", json=CREATE_BODY, headers=key)
        assert created.status_code == 201, created.text
        on_disk_store.kill()
        on_disk_store.start()

        need_id = created.json()["id"]
        found = await needs.client.get(f"/v1/needs/{need_id}", headers=NRC)
        assert found.status_code == 200, found.text
        retried = await needs.client.post("/v1/needs", json=CREATE_BODY, headers=key)
        assert retried.json()["id"] == need_id
        assert (await needs.client.get("/v1/needs", headers=NRC)).json()["total"] == 1
