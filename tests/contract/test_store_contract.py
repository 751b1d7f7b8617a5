"""The store contract: what kitflow needs of any backing store, proven against the real one.

Runs against whatever `tests/support/infra.py` provides: the embedded MongoDB-wire server in CI
and `make test`, real MongoDB through testcontainers where a Docker engine exists. Inventory
correctness rests on the first test: a conditional update is atomic within one document.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from bson.binary import Binary, UuidRepresentation
from bson.decimal128 import Decimal128
from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WarehouseState
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.idempotency import Applied, apply_if_newer, apply_once
from kitflow_shared.messaging.outbox import OUTBOX_FIELD, with_outbox
from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    RequestKey,
    remembered_in,
    replayed_result,
    requests_projection,
    with_remembered,
)
from kitflow_shared.settings import StoreSettings
from kitflow_shared.store import IndexSpec, create_client, ensure_indexes
from pymongo import InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tests.support.infra import Infra

pytestmark = pytest.mark.infra

Db = AsyncDatabase[dict[str, Any]]
CONCURRENT = 100


async def test_concurrent_conditional_decrements_lose_nothing_and_never_cross_the_condition(
    db: Db,
) -> None:
    stock = db["balances"]
    await stock.insert_one({"_id": "BKO/TARP", "available": 60, "reserved": 0, "log": []})

    async def reserve(i: int) -> int:
        result = await stock.update_one(
            {"_id": "BKO/TARP", "available": {"$gte": 1}},
            {"$inc": {"available": -1, "reserved": 1}, "$push": {"log": i}},
        )
        return result.modified_count

    won = sum(await asyncio.gather(*(reserve(i) for i in range(CONCURRENT))))
    doc = await stock.find_one({"_id": "BKO/TARP"})
    assert doc is not None
    assert won == 60
    assert doc["available"] == 0
    assert doc["reserved"] == 60
    assert sorted(doc["log"]) == sorted(set(doc["log"]))
    assert len(doc["log"]) == 60


async def test_concurrent_reservations_of_random_sizes_add_up_exactly(db: Db) -> None:
    stock = db["balances"]
    await stock.insert_one({"_id": "GAO/KIT", "available": 500, "reserved": 0})
    rng = random.Random(7)
    sizes = [rng.randint(1, 20) for _ in range(CONCURRENT)]

    async def reserve(qty: int) -> int:
        result = await stock.update_one(
            {"_id": "GAO/KIT", "available": {"$gte": qty}},
            {"$inc": {"available": -qty, "reserved": qty}},
        )
        return qty if result.modified_count else 0

    granted = sum(await asyncio.gather(*(reserve(q) for q in sizes)))
    doc = await stock.find_one({"_id": "GAO/KIT"})
    assert doc is not None
    assert doc["available"] >= 0
    assert doc["reserved"] == granted
    assert doc["available"] + doc["reserved"] == 500
    assert granted > 500 - 20  # it stopped only when no request could fit any more


async def test_concurrent_increments_all_land(db: Db) -> None:
    counters = db["counters"]
    await counters.insert_one({"_id": "c", "n": 0})
    await asyncio.gather(
        *(counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}) for _ in range(CONCURRENT))
    )
    assert (await counters.find_one({"_id": "c"}) or {})["n"] == CONCURRENT


async def test_unique_indexes_report_violations(db: Db) -> None:
    await ensure_indexes(
        db,
        [
            IndexSpec("receipts", [("waybill", 1)], name="waybill_unique", unique=True),
            IndexSpec("lines", [("plan", 1), ("line", 1)], name="plan_line_unique", unique=True),
        ],
    )
    # Declaring the same indexes again is harmless (every service does it at start-up).
    await ensure_indexes(
        db, [IndexSpec("receipts", [("waybill", 1)], name="waybill_unique", unique=True)]
    )
    await db["receipts"].insert_one({"waybill": "WB-001"})
    with pytest.raises(DuplicateKeyError):
        await db["receipts"].insert_one({"waybill": "WB-001"})
    await db["lines"].insert_one({"plan": "P1", "line": 1})
    await db["lines"].insert_one({"plan": "P1", "line": 2})
    with pytest.raises(DuplicateKeyError):
        await db["lines"].insert_one({"plan": "P1", "line": 1})
    with pytest.raises(DuplicateKeyError):
        await db["receipts"].insert_one({"_id": (await db["receipts"].find_one())["_id"]})  # type: ignore[index]
    assert await db["receipts"].count_documents({}) == 1


def _event(code: str, sequence: int) -> CloudEvent:
    state = WarehouseState(
        code=f"WH-{code}",
        name=code,
        organisation="IOM",
        type="main",
        admin1_pcode="ML09",
        admin2_pcode="ML0901",
    )
    return WAREHOUSE_REGISTERED.new(
        state, subject=f"warehouse/{code}", sequence=sequence, context=EventContext.new()
    )


async def test_a_change_and_its_outbox_events_are_one_conditional_update(db: Db) -> None:
    docs = db["aggregates"]
    await docs.insert_one({"_id": "A", "sequence": 1, "name": "old", OUTBOX_FIELD: []})
    e2, e3 = _event("A", 2), _event("A", 3)
    ok = await docs.update_one(
        {"_id": "A", "sequence": 1},
        with_outbox({"$set": {"name": "new", "sequence": 2}}, [e2, e3]),
    )
    stale = await docs.update_one(
        {"_id": "A", "sequence": 1},
        with_outbox({"$set": {"name": "lost", "sequence": 2}}, [_event("A", 2)]),
    )
    assert (ok.modified_count, stale.modified_count) == (1, 0)
    doc = await docs.find_one({"_id": "A"})
    assert doc is not None
    assert doc["name"] == "new"
    assert [CloudEvent.from_document(e) for e in doc[OUTBOX_FIELD]] == [e2, e3]


async def test_outbox_entries_are_found_and_pruned_by_id(db: Db) -> None:
    docs = db["aggregates"]
    e1, e2, e3 = _event("A", 1), _event("A", 2), _event("B", 1)
    await docs.insert_many(
        [
            {"_id": "A", OUTBOX_FIELD: [e1.to_document(), e2.to_document()]},
            {"_id": "B", OUTBOX_FIELD: [e3.to_document()]},
            {"_id": "C", OUTBOX_FIELD: []},
            {"_id": "D"},
        ]
    )
    pending = [d["_id"] async for d in docs.find({f"{OUTBOX_FIELD}.0": {"$exists": True}})]
    assert sorted(pending) == ["A", "B"]
    await docs.update_one({"_id": "A"}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": [e1.id]}}}})
    doc = await docs.find_one({"_id": "A"})
    assert doc is not None
    assert [e["id"] for e in doc[OUTBOX_FIELD]] == [e2.id]
    found = await docs.find(
        {"_id": {"$in": ["A", "B", "C"]}, f"{OUTBOX_FIELD}.0": {"$exists": True}},
        {OUTBOX_FIELD: 1},
    ).to_list(10)
    assert sorted(d["_id"] for d in found) == ["A", "B"]


async def test_apply_if_newer_creates_updates_and_ignores_stale_or_repeated(db: Db) -> None:
    view = db["view"]
    assert (
        await apply_if_newer(view, "W", 1, {"$set": {"v": 1}, "$inc": {"n": 1}}) is Applied.APPLIED
    )
    assert (
        await apply_if_newer(view, "W", 3, {"$set": {"v": 3}, "$inc": {"n": 1}}) is Applied.APPLIED
    )
    assert (
        await apply_if_newer(view, "W", 3, {"$set": {"v": 3}, "$inc": {"n": 1}})
        is Applied.DUPLICATE
    )
    assert (
        await apply_if_newer(view, "W", 2, {"$set": {"v": 2}, "$inc": {"n": 1}})
        is Applied.DUPLICATE
    )
    assert await apply_if_newer(view, "X", 5, {"$set": {"v": 5}}, upsert=False) is Applied.DUPLICATE
    doc = await view.find_one({"_id": "W"})
    assert doc == {"_id": "W", "v": 3, "n": 2, "sequence": 3}
    assert await view.count_documents({}) == 1


async def test_apply_once_applies_each_event_id_once_and_remembers_a_bounded_list(db: Db) -> None:
    view = db["view"]
    assert await apply_once(view, "N", "e1", {"$inc": {"qty": 5}}, remember=3) is Applied.APPLIED
    assert await apply_once(view, "N", "e1", {"$inc": {"qty": 5}}, remember=3) is Applied.DUPLICATE
    for i in range(2, 6):
        await apply_once(view, "N", f"e{i}", {"$inc": {"qty": 1}}, remember=3)
    doc = await view.find_one({"_id": "N"})
    assert doc is not None
    assert doc["qty"] == 9
    assert doc["applied_event_ids"] == ["e3", "e4", "e5"]


async def test_concurrent_redeliveries_of_one_event_apply_once(db: Db) -> None:
    view = db["view"]
    results = await asyncio.gather(
        *(apply_once(view, "N", "same", {"$inc": {"qty": 1}}) for _ in range(20)),
        *(apply_if_newer(view, "S", 7, {"$inc": {"qty": 1}}) for _ in range(20)),
    )
    assert results.count(Applied.APPLIED) == 2
    assert (await view.find_one({"_id": "N"}) or {})["qty"] == 1
    assert (await view.find_one({"_id": "S"}) or {})["qty"] == 1


async def test_the_query_shapes_the_services_use(db: Db) -> None:
    items = db["items"]
    await items.insert_many(
        [
            {
                "_id": f"W{i:02d}",
                "organisation": "IOM" if i % 2 else "NRC",
                "admin1": f"ML0{i % 3 + 5}",
                "qty": i,
            }
            for i in range(10)
        ]
    )
    page = (
        await items.find({"organisation": "IOM"}, {"qty": 0})
        .sort("_id", 1)
        .skip(1)
        .limit(2)
        .to_list(None)
    )
    assert [d["_id"] for d in page] == ["W03", "W05"]
    assert "qty" not in page[0]
    assert await items.count_documents({"organisation": "NRC"}) == 5
    updated = await items.find_one_and_update(
        {"_id": "W01", "qty": {"$gte": 1}},
        {"$inc": {"qty": -1}},
        return_document=ReturnDocument.AFTER,
    )
    assert updated is not None
    assert updated["qty"] == 0
    totals = await (
        await items.aggregate(
            [
                {"$match": {"qty": {"$gt": 0}}},
                {"$group": {"_id": "$organisation", "total": {"$sum": "$qty"}, "n": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    ).to_list(None)
    assert totals == [{"_id": "IOM", "total": 24, "n": 4}, {"_id": "NRC", "total": 20, "n": 4}]
    assert await items.count_documents({"_id": {"$in": ["W01", "W02", "ZZ"]}}) == 2
    await items.delete_many({"organisation": "NRC"})
    assert await items.count_documents({}) == 5


async def test_sparse_unique_indexes_ignore_documents_without_the_field(db: Db) -> None:
    await ensure_indexes(
        db, [IndexSpec("receipts", [("grn", 1)], name="grn_unique", unique=True, sparse=True)]
    )
    await db["receipts"].insert_many([{"n": 1}, {"n": 2}, {"grn": "GRN-1"}])
    with pytest.raises(DuplicateKeyError):
        await db["receipts"].insert_one({"grn": "GRN-1"})


async def test_a_remembered_request_key_is_applied_once_under_concurrent_retries(db: Db) -> None:
    """Idempotency-Key at the service: 20 concurrent copies of one request, each doing what a
    handler does (load the aggregate with the key's entry, replay if found, else one conditional
    update of the change, the sequence and the remembered key), change the document once."""
    orders = db["orders"]
    await orders.insert_one({"_id": "MOP", "sequence": 1, "on_hand": 0})
    key = RequestKey("NRC", "retry-me-0001", "print")
    results: list[str] = []

    async def attempt(i: int) -> None:
        while True:
            doc = await orders.find_one({"_id": "MOP"}, {"sequence": 1, **requests_projection(key)})
            assert doc is not None
            replay = replayed_result(remembered_in(doc, key), key)
            if replay is not None:
                results.append(replay)
                return
            update = with_remembered(
                {"$inc": {"on_hand": 20}, "$set": {"sequence": doc["sequence"] + 1}},
                [RememberedRequest.of(key, f"movement-{i}", datetime.now(UTC))],
                keep=3,
            )
            won = await orders.update_one({"_id": "MOP", "sequence": doc["sequence"]}, update)
            if won.modified_count:
                results.append(f"movement-{i}")
                return

    await asyncio.gather(*(attempt(i) for i in range(20)))
    doc = await orders.find_one({"_id": "MOP"})
    assert doc is not None
    assert doc["on_hand"] == 20
    assert doc["sequence"] == 2
    assert len(set(results)) == 1
    assert len(results) == 20
    # The array stays bounded as other keys come in, newest kept.
    for n in range(5):
        other = RequestKey("NRC", f"another-key-{n}", "print")
        await orders.update_one(
            {"_id": "MOP"},
            with_remembered({}, [RememberedRequest.of(other, "x", datetime.now(UTC))], keep=3),
        )
    doc = await orders.find_one({"_id": "MOP"})
    assert doc is not None
    assert [e["token"] for e in doc[REQUESTS_FIELD]] == [f"NRC:another-key-{n}" for n in (2, 3, 4)]


async def test_every_write_shape_works_with_the_services_write_concern(infra: Infra) -> None:
    """The services' client asks for `w: majority, j: true` (StoreSettings): the store must
    accept it on every kind of write they make, and still report a violated unique index."""
    client = create_client(StoreSettings(url=infra.store_url), "kitflow-contract")
    name = f"test_wc_{uuid.uuid4().hex[:12]}"
    try:
        assert client.write_concern.document == {"w": "majority", "j": True, "wtimeout": 10_000}
        db = client[name]
        await ensure_indexes(db, [IndexSpec("docs", [("code", 1)], "code_unique", unique=True)])
        docs = db["docs"]
        await docs.insert_one({"_id": "a", "code": "A", "n": 0, OUTBOX_FIELD: []})
        await docs.insert_many([{"_id": "b", "code": "B", "n": 0}, {"_id": "c", "code": "C"}])
        updated = await docs.update_one(
            {"_id": "a", "n": {"$gte": 0}}, {"$inc": {"n": 5}, "$push": {OUTBOX_FIELD: "e1"}}
        )
        assert updated.modified_count == 1
        upserted = await docs.find_one_and_update(
            {"_id": "d"},
            {"$setOnInsert": {"code": "D", "n": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert upserted == {"_id": "d", "code": "D", "n": 1}
        bulk = await docs.bulk_write([UpdateOne({"_id": "b"}, {"$inc": {"n": 2}})])
        assert bulk.modified_count == 1
        assert (await docs.delete_one({"_id": "c"})).deleted_count == 1
        with pytest.raises(DuplicateKeyError):
            await docs.insert_one({"_id": "e", "code": "A"})
        stored = {d["_id"]: d.get("n") async for d in docs.find({})}
        assert stored == {"a": 5, "b": 2, "d": 1}
    finally:
        await client.drop_database(name)
        await client.close()


async def test_indexes_are_listed_with_their_options(db: Db) -> None:
    await ensure_indexes(
        db, [IndexSpec("orders", [("order_no", 1)], name="order_no_unique", unique=True)]
    )
    names = [index["name"] async for index in await db["orders"].list_indexes()]
    assert "order_no_unique" in names
    assert (await db["orders"].index_information())["order_no_unique"].get("unique")


async def test_find_one_and_update_returns_the_document_before_or_after(db: Db) -> None:
    items = db["items"]
    await items.insert_one({"_id": "a", "qty": 10})
    before = await items.find_one_and_update(
        {"_id": "a"}, {"$inc": {"qty": -3}}, return_document=ReturnDocument.BEFORE
    )
    after = await items.find_one_and_update(
        {"_id": "a"}, {"$inc": {"qty": 1}}, return_document=ReturnDocument.AFTER
    )
    assert (before, after) == ({"_id": "a", "qty": 10}, {"_id": "a", "qty": 8})


async def test_queries_filter_sort_project_count_and_list_distinct_values(db: Db) -> None:
    sales = db["sales"]
    await sales.insert_many(
        [
            {"sku": sku, "qty": qty, "state": state}
            for sku, qty, state in [
                ("x", 1, "ok"),
                ("x", 2, "ok"),
                ("y", 5, "ok"),
                ("y", 7, "void"),
                ("z", 1, "ok"),
            ]
        ]
    )
    rows = (
        await sales.find(
            {"sku": {"$in": ["x", "y"]}, "state": {"$ne": "void"}}, {"_id": 0, "qty": 1}
        )
        .sort("qty", -1)
        .skip(1)
        .limit(2)
        .to_list(None)
    )
    assert rows == [{"qty": 2}, {"qty": 1}]
    assert sorted(await sales.distinct("sku")) == ["x", "y", "z"]
    assert await sales.count_documents({"state": "ok"}) == 4
    assert await sales.count_documents({"$expr": {"$gt": ["$qty", 4]}}) == 2
    assert await sales.estimated_document_count() == 5


async def test_update_operators_replace_and_delete(db: Db) -> None:
    docs = db["docs"]
    await docs.insert_one({"_id": "k", "s": [1], "m": 3, "gone": 1})
    await docs.update_one(
        {"_id": "k"},
        {
            "$addToSet": {"s": {"$each": [1, 2]}},
            "$max": {"m": 9},
            "$unset": {"gone": ""},
            "$currentDate": {"at": True},
        },
    )
    doc = await docs.find_one({"_id": "k"})
    assert doc is not None
    assert (doc["s"], doc["m"], "gone" in doc) == ([1, 2], 9, False)
    assert isinstance(doc["at"], datetime)
    upsert = await docs.update_one(
        {"_id": "u"}, {"$setOnInsert": {"created": 1}, "$set": {"v": 1}}, upsert=True
    )
    assert upsert.upserted_id == "u"
    await docs.replace_one({"_id": "u"}, {"v": 2})
    assert await docs.find_one({"_id": "u"}) == {"_id": "u", "v": 2}
    assert (await docs.delete_many({"_id": {"$in": ["k", "u"]}})).deleted_count == 2


async def test_bulk_writes_apply_in_order_and_an_unordered_insert_reports_its_duplicate(
    db: Db,
) -> None:
    docs = db["bulk"]
    await ensure_indexes(db, [IndexSpec("bulk", [("key", 1)], name="key_unique", unique=True)])
    result = await docs.bulk_write(
        [
            InsertOne({"key": 1, "n": 0}),
            UpdateOne({"key": 1}, {"$inc": {"n": 1}}),
            UpdateOne({"key": 2}, {"$inc": {"n": 1}}, upsert=True),
        ],
        ordered=True,
    )
    assert (result.inserted_count, result.modified_count, result.upserted_count) == (1, 1, 1)
    with pytest.raises(BulkWriteError) as duplicate:
        await docs.insert_many([{"key": 3}, {"key": 1}, {"key": 4}], ordered=False)
    assert [e["code"] for e in duplicate.value.details["writeErrors"]] == [11000]
    # The documents are right; the reported nInserted is not on mongo-java-server: never read it.
    assert sorted([d["key"] async for d in docs.find({})]) == [1, 2, 3, 4]


async def test_the_aggregation_stages_reports_use(db: Db) -> None:
    await db["lines"].insert_many(
        [
            {"_id": 1, "order": "o1", "items": [{"sku": "x", "q": 1}, {"sku": "y", "q": 2}]},
            {"_id": 2, "order": "o2", "items": [{"sku": "x", "q": 4}]},
        ]
    )
    await db["orders"].insert_many([{"_id": "o1", "who": "ann"}, {"_id": "o2", "who": "bob"}])
    per_sku = await (
        await db["lines"].aggregate(
            [
                {"$unwind": "$items"},
                {"$project": {"order": 1, "sku": "$items.sku", "q": "$items.q"}},
                {"$group": {"_id": "$sku", "q": {"$sum": "$q"}, "orders": {"$addToSet": "$order"}}},
                {"$sort": {"q": -1}},
                {"$limit": 5},
            ]
        )
    ).to_list(None)
    assert [(r["_id"], r["q"], sorted(r["orders"])) for r in per_sku] == [
        ("x", 5, ["o1", "o2"]),
        ("y", 2, ["o1"]),
    ]
    joined = await (
        await db["lines"].aggregate(
            [
                {
                    "$lookup": {
                        "from": "orders",
                        "localField": "order",
                        "foreignField": "_id",
                        "as": "o",
                    }
                },
                {"$addFields": {"who": {"$arrayElemAt": ["$o.who", 0]}}},
                {"$project": {"o": 0, "items": 0}},
                {"$sort": {"_id": 1}},
            ]
        )
    ).to_list(None)
    assert [r["who"] for r in joined] == ["ann", "bob"]
    [facet] = await (
        await db["lines"].aggregate(
            [{"$facet": {"n": [{"$count": "n"}], "first": [{"$sort": {"_id": 1}}, {"$limit": 1}]}}]
        )
    ).to_list(None)
    assert (facet["n"], facet["first"][0]["order"]) == ([{"n": 2}], "o1")


async def test_dates_decimals_and_uuids_round_trip(db: Db) -> None:
    # BSON dates hold milliseconds: a time with microseconds would not compare equal.
    now = datetime.now(UTC).replace(microsecond=123000)
    key = uuid.uuid4()
    await db["types"].insert_one(
        {
            "_id": 1,
            "at": now,
            "price": Decimal128("12.34"),
            "u": Binary.from_uuid(key, UuidRepresentation.STANDARD),
        }
    )
    doc = await db["types"].find_one({"_id": 1, "at": {"$lte": now}})
    assert doc is not None
    assert (doc["at"], doc["price"]) == (now, Decimal128("12.34"))
    assert doc["u"].as_uuid(UuidRepresentation.STANDARD) == key
