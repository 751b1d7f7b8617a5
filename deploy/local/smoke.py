#!/usr/bin/env python3
"""Smoke test for the local infrastructure: a real client against the broker and the store.

    python deploy/local/smoke.py [kafka] [store]
        [--kafka-bootstrap 127.0.0.1:19092] [--store-url mongodb://127.0.0.1:27017]

Needs aiokafka and pymongo (the project venv). Start the infrastructure first
(`deploy/local/kitflow-local start`). Everything it creates is uniquely named and removed at the
end (topics kitflow-smoke-*, database kitflow_smoke_*), so it is safe against the `make run`
instance.

CHECK lines are what kitflow relies on; any failure makes the exit status 1. PROBE lines record
how the server behaves for things kitflow must NOT rely on (explicit sessions, TTL, ...); they
never fail the run, and their outcome differs between mongo-java-server and real MongoDB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable

RESULTS: list[tuple[str, str, str, float]] = []  # (kind, name, outcome, ms)


async def run(kind: str, name: str, fn: Callable[[], Awaitable[str | None]]) -> None:
    t0 = time.perf_counter()
    try:
        detail = await fn()
        outcome = "ok" + (f": {detail}" if detail else "")
        status = "PASS" if kind == "CHECK" else "INFO"
    except AssertionError as exc:
        outcome, status = f"assertion failed: {exc}", "FAIL" if kind == "CHECK" else "INFO"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
        status = "FAIL" if kind == "CHECK" else "INFO"
        if kind == "CHECK" and os.environ.get("SMOKE_TRACEBACK"):
            traceback.print_exc()
    ms = (time.perf_counter() - t0) * 1000
    RESULTS.append((kind, name, status, ms))
    print(f"{status:4} {kind:5} {name:58} {ms:8.1f} ms  {outcome}", flush=True)


# --------------------------------------------------------------------------- kafka


async def kafka_checks(bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    suffix = uuid.uuid4().hex[:8]
    topic = f"kitflow-smoke-{suffix}"
    txn_topic = f"kitflow-smoke-txn-{suffix}"
    group = f"kitflow-smoke-group-{suffix}"
    n_messages = 100
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:

        async def create_topic() -> str:
            await admin.create_topics(
                [
                    NewTopic(
                        topic,
                        num_partitions=3,
                        replication_factor=1,
                        topic_configs={"retention.ms": "3600000"},
                    ),
                    NewTopic(txn_topic, num_partitions=1, replication_factor=1),
                ]
            )
            topics = await admin.list_topics()
            assert {topic, txn_topic} <= set(topics), f"created topics not listed: {topics}"
            desc = await admin.describe_topics([topic])
            parts = len(desc[0]["partitions"])
            assert parts == 3, f"expected 3 partitions, got {parts}"
            return f"{topic} with {parts} partitions"

        await run("CHECK", "kafka: admin create_topics + list/describe", create_topic)

        async def idempotent_produce() -> str:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
            await producer.start()
            try:
                futures = [
                    await producer.send(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode())
                    for i in range(n_messages)
                ]
                metas = await asyncio.gather(*futures)
            finally:
                await producer.stop()
            per_partition: dict[int, int] = {}
            for m in metas:
                per_partition[m.partition] = per_partition.get(m.partition, 0) + 1
            spread = dict(sorted(per_partition.items()))
            return f"{len(metas)} acked (acks=all), per partition {spread}"

        await run(
            "CHECK", "kafka: idempotent producer (enable_idempotence=True)", idempotent_produce
        )

        async def consume_commit() -> str:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            seen = []
            try:
                deadline = time.monotonic() + 30
                while len(seen) < n_messages and time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    for records in batch.values():
                        seen.extend(r.value.decode() for r in records)
                assert len(seen) == n_messages, f"consumed {len(seen)}/{n_messages}"
                await consumer.commit()
                tps = [TopicPartition(topic, p) for p in range(3)]
                committed = sum([(await consumer.committed(tp)) or 0 for tp in tps])
                assert committed == n_messages, f"committed offsets sum to {committed}"
            finally:
                await consumer.stop()
            assert sorted(seen) == sorted(f"v{i}" for i in range(n_messages)), "wrong payloads"
            return f"{len(seen)} consumed, committed offsets sum {committed}"

        await run("CHECK", "kafka: consumer group, manual commit", consume_commit)

        async def resume_from_commit() -> str:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
            await producer.start()
            try:
                await producer.send_and_wait(topic, key=b"k-extra", value=b"extra")
            finally:
                await producer.stop()
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            await consumer.start()
            got = []
            try:
                deadline = time.monotonic() + 15
                while not got and time.monotonic() < deadline:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        got.extend(r.value for r in records)
                # give a duplicate a chance to show up
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got.extend(r.value for r in records)
            finally:
                await consumer.stop()
            assert got == [b"extra"], f"a new group member got {got[:5]}... ({len(got)})"
            return "new member resumed after the committed offsets (1 new record only)"

        await run(
            "CHECK", "kafka: a restarted consumer resumes from the commit", resume_from_commit
        )

        async def no_auto_create() -> str:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000)
            await producer.start()
            try:
                await producer.send_and_wait(f"kitflow-smoke-missing-{suffix}", b"x")
            except Exception as exc:
                return f"send to an undeclared topic refused ({type(exc).__name__})"
            finally:
                await producer.stop()
            raise AssertionError("the topic was auto-created")

        await run("CHECK", "kafka: auto.create.topics.enable=false", no_auto_create)

        async def transactions() -> str:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, transactional_id=f"kitflow-smoke-tx-{suffix}"
            )
            await producer.start()
            try:
                async with producer.transaction():
                    await producer.send(txn_topic, b"committed")
                await producer.begin_transaction()
                await producer.send(txn_topic, b"aborted")
                await producer.abort_transaction()
            finally:
                await producer.stop()
            consumer = AIOKafkaConsumer(
                txn_topic,
                bootstrap_servers=bootstrap,
                isolation_level="read_committed",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            await consumer.start()
            got = []
            try:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not got:
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        got.extend(r.value for r in records)
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got.extend(r.value for r in records)
            finally:
                await consumer.stop()
            assert got == [b"committed"], f"read_committed saw {got}"
            return "commit visible, abort invisible to read_committed"

        await run("PROBE", "kafka: transactions + read_committed", transactions)

        async def delete_topics() -> str:
            await admin.delete_topics([topic, txn_topic])
            return None

        await run("CHECK", "kafka: admin delete_topics", delete_topics)
    finally:
        await admin.close()


# --------------------------------------------------------------------------- store


async def store_checks(url: str) -> None:
    from pymongo import ASCENDING, AsyncMongoClient, InsertOne, ReturnDocument, UpdateOne
    from pymongo.errors import BulkWriteError, DuplicateKeyError

    client = AsyncMongoClient(url, serverSelectionTimeoutMS=5000, tz_aware=True)
    db = client[f"kitflow_smoke_{uuid.uuid4().hex[:8]}"]
    try:

        async def handshake() -> str:
            info = await client.server_info()
            hello = await client.admin.command("isMaster")
            return f"version {info['version']}, maxWireVersion {hello.get('maxWireVersion')}"

        await run("CHECK", "store: AsyncMongoClient handshake + ping", handshake)

        async def insert() -> str:
            r = await db.items.insert_one({"_id": "a", "qty": 10, "tags": []})
            assert r.inserted_id == "a"
            doc = await db.items.find_one({"_id": "a"})
            assert doc == {"_id": "a", "qty": 10, "tags": []}, doc
            return None

        await run("CHECK", "store: insert_one + find_one", insert)

        async def unique_index() -> str:
            name = await db.orders.create_index([("order_no", ASCENDING)], unique=True)
            await db.orders.insert_one({"order_no": 1})
            try:
                await db.orders.insert_one({"order_no": 1})
            except DuplicateKeyError as exc:
                return f"index {name}; DuplicateKeyError code {exc.code}"
            raise AssertionError("second insert was accepted")

        await run("CHECK", "store: create_index unique -> DuplicateKeyError", unique_index)

        async def compound_unique() -> str:
            await db.pairs.create_index([("a", 1), ("b", 1)], unique=True)
            await db.pairs.insert_many([{"a": 1, "b": 1}, {"a": 1, "b": 2}])
            try:
                await db.pairs.insert_one({"a": 1, "b": 2})
            except DuplicateKeyError:
                return None
            raise AssertionError("duplicate compound key accepted")

        await run("CHECK", "store: compound unique index", compound_unique)

        async def list_indexes() -> str:
            names = [ix["name"] async for ix in await db.orders.list_indexes()]
            info = await db.orders.index_information()
            assert "order_no_1" in names, names
            assert info["order_no_1"].get("unique"), info
            return f"{names}"

        await run("CHECK", "store: list_indexes / index_information", list_indexes)

        async def fau() -> str:
            doc = await db.items.find_one_and_update(
                {"_id": "a"}, {"$inc": {"qty": -3}}, return_document=ReturnDocument.AFTER
            )
            assert doc["qty"] == 7, doc
            before = await db.items.find_one_and_update(
                {"_id": "a"}, {"$inc": {"qty": 1}}, return_document=ReturnDocument.BEFORE
            )
            assert before["qty"] == 7, before
            up = await db.items.find_one_and_update(
                {"_id": "new"},
                {"$setOnInsert": {"qty": 5}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            assert up == {"_id": "new", "qty": 5}, up
            return None

        await run("CHECK", "store: find_one_and_update (AFTER/BEFORE/upsert)", fau)

        async def conditional_inc_push() -> str:
            ok = await db.items.update_one(
                {"_id": "a", "qty": {"$gte": 5}},
                {"$inc": {"qty": -5}, "$push": {"tags": {"reserved": 5}}},
            )
            assert (ok.matched_count, ok.modified_count) == (1, 1), ok.raw_result
            no = await db.items.update_one(
                {"_id": "a", "qty": {"$gte": 5}},
                {"$inc": {"qty": -5}, "$push": {"tags": {"reserved": 5}}},
            )
            assert (no.matched_count, no.modified_count) == (0, 0), no.raw_result
            doc = await db.items.find_one({"_id": "a"})
            assert (doc["qty"], doc["tags"]) == (3, [{"reserved": 5}]), doc
            return "1st matched (qty 8->3), 2nd not matched (3 < 5)"

        await run("CHECK", "store: update_one {$gte} with $inc + $push", conditional_inc_push)

        async def aggregation() -> str:
            await db.sales.insert_many(
                [
                    {"sku": s, "qty": q, "state": st}
                    for s, q, st in [
                        ("x", 1, "ok"),
                        ("x", 2, "ok"),
                        ("y", 5, "ok"),
                        ("y", 7, "void"),
                        ("z", 1, "ok"),
                    ]
                ]
            )
            rows = [
                r
                async for r in await db.sales.aggregate(
                    [
                        {"$match": {"state": "ok"}},
                        {"$group": {"_id": "$sku", "total": {"$sum": "$qty"}, "n": {"$sum": 1}}},
                        {"$sort": {"_id": 1}},
                    ]
                )
            ]
            assert rows == [
                {"_id": "x", "total": 3, "n": 2},
                {"_id": "y", "total": 5, "n": 1},
                {"_id": "z", "total": 1, "n": 1},
            ], rows
            return f"{rows}"

        await run("CHECK", "store: aggregate $match/$group/$sort", aggregation)

        async def concurrent_decrements() -> str:
            stock, attempts = 37, 100
            await db.stock.insert_one({"_id": "sku-1", "available": stock, "log": []})

            async def take(i: int) -> int:
                r = await db.stock.update_one(
                    {"_id": "sku-1", "available": {"$gte": 1}},
                    {"$inc": {"available": -1}, "$push": {"log": i}},
                )
                return r.modified_count

            results = await asyncio.gather(*(take(i) for i in range(attempts)))
            doc = await db.stock.find_one({"_id": "sku-1"})
            won = sum(results)
            assert won == stock, f"{won} decrements succeeded, expected {stock}"
            assert doc["available"] == 0, doc["available"]
            assert (len(doc["log"]), len(set(doc["log"]))) == (stock, stock), len(doc["log"])
            return f"{attempts} concurrent, {won} succeeded, available 0, {len(doc['log'])} pushes"

        await run("CHECK", "store: 100 concurrent conditional decrements", concurrent_decrements)

        # --- the query shapes kitflow's services use -------------------------------------

        async def shape_a() -> str:
            coll = db.shape_a

            def apply(evid: str):
                return coll.update_one(
                    {"_id": "k", "applied": {"$ne": evid}},
                    {
                        "$set": {"last": evid},
                        "$inc": {"n": 1},
                        "$push": {"applied": {"$each": [evid], "$slice": -100}},
                    },
                    upsert=True,
                )

            r1 = await apply("e1")  # no document: upsert
            assert r1.upserted_id == "k", r1.raw_result
            r2 = await apply("e2")  # exists, not applied: update
            assert (r2.matched_count, r2.modified_count, r2.upserted_id) == (1, 1, None), (
                r2.raw_result
            )
            try:
                await apply("e1")  # exists, already applied: filter misses, upsert collides on _id
                raise AssertionError("re-applying e1 did not raise")
            except DuplicateKeyError as exc:
                dup = f"DuplicateKeyError code {exc.code}"
            doc = await coll.find_one({"_id": "k"})
            assert (doc["applied"], doc["n"], doc["last"]) == (["e1", "e2"], 2, "e2"), doc
            for i in range(3, 106):
                await apply(f"e{i}")
            doc = await coll.find_one({"_id": "k"})
            assert len(doc["applied"]) == 100, len(doc["applied"])
            assert (doc["applied"][0], doc["applied"][-1]) == ("e6", "e105"), doc["applied"][:2]
            return f"upsert, update, then {dup} for a re-applied event; $slice keeps last 100"

        await run("CHECK", "store: (a) upsert {$ne} + $push $each/$slice", shape_a)

        async def shape_b() -> str:
            coll = db.shape_b
            await coll.insert_one(
                {"_id": "k", "outbox": [{"id": i, "p": f"x{i}"} for i in range(5)]}
            )
            r = await coll.update_one(
                {"_id": "k"}, {"$pull": {"outbox": {"id": {"$in": [1, 3, 9]}}}}
            )
            assert r.modified_count == 1, r.raw_result
            doc = await coll.find_one({"_id": "k"})
            assert [e["id"] for e in doc["outbox"]] == [0, 2, 4], doc
            r = await coll.update_one({"_id": "k"}, {"$pull": {"outbox": {"id": 2}}})
            doc = await coll.find_one({"_id": "k"})
            assert [e["id"] for e in doc["outbox"]] == [0, 4], doc
            return "pulled ids 1,3 (9 absent), then id 2"

        await run("CHECK", "store: (b) $pull {outbox: {id: {$in: [...]}}}", shape_b)

        async def shape_c() -> str:
            coll = db.shape_c
            await coll.insert_many(
                [
                    {"_id": "full", "outbox": [{"id": 1}]},
                    {"_id": "empty", "outbox": []},
                    {"_id": "none"},
                ]
            )
            ids = sorted([d["_id"] async for d in coll.find({"outbox.0": {"$exists": True}})])
            assert ids == ["full"], ids
            n = await coll.count_documents({"outbox.0": {"$exists": True}})
            assert n == 1, n
            return "only the document with a non-empty outbox"

        await run("CHECK", "store: (c) find {outbox.0: {$exists: true}}", shape_c)

        async def shape_d() -> str:
            coll = db.shape_d
            await coll.insert_one({"_id": "k", "sequence": 5})
            hit = await coll.update_one(
                {"_id": "k", "sequence": {"$lt": 7}}, {"$set": {"sequence": 7}}
            )
            miss = await coll.update_one(
                {"_id": "k", "sequence": {"$lt": 7}}, {"$set": {"sequence": 7}}
            )
            old = await coll.update_one(
                {"_id": "k", "sequence": {"$lt": 6}}, {"$set": {"sequence": 6}}
            )
            assert (hit.modified_count, miss.matched_count, old.matched_count) == (1, 0, 0)
            assert (await coll.find_one({"_id": "k"}))["sequence"] == 7
            return "5->7 applied; 7 again and stale 6 not matched"

        await run("CHECK", "store: (d) update filter {sequence: {$lt: n}}", shape_d)

        # --- more operations likely to be used ---------------------------------------------

        async def counts() -> str:
            n = await db.sales.count_documents({"state": "ok"})
            est = await db.sales.estimated_document_count()
            assert (n, est) == (4, 5), (n, est)
            return f"count_documents 4, estimated_document_count {est}"

        await run("CHECK", "store: count_documents / estimated_document_count", counts)

        async def query_ops() -> str:
            rows = [
                d
                async for d in db.sales.find(
                    {"sku": {"$in": ["x", "y"]}, "state": {"$ne": "void"}}, {"_id": 0, "qty": 1}
                )
                .sort("qty", -1)
                .skip(1)
                .limit(2)
            ]
            assert rows == [{"qty": 2}, {"qty": 1}], rows
            d = await db.sales.distinct("sku")
            assert sorted(d) == ["x", "y", "z"], d
            return None

        await run("CHECK", "store: find $in/$ne + projection/sort/skip/limit, distinct", query_ops)

        async def update_ops() -> str:
            coll = db.update_ops
            await coll.insert_one({"_id": "k", "s": [1], "m": 3, "gone": 1})
            await coll.update_one(
                {"_id": "k"},
                {
                    "$addToSet": {"s": {"$each": [1, 2]}},
                    "$max": {"m": 9},
                    "$unset": {"gone": ""},
                    "$currentDate": {"at": True},
                },
            )
            doc = await coll.find_one({"_id": "k"})
            assert (doc["s"], doc["m"], "gone" in doc) == ([1, 2], 9, False), doc
            assert isinstance(doc["at"], dt.datetime), doc
            r = await coll.update_one(
                {"_id": "u"}, {"$setOnInsert": {"created": 1}, "$set": {"v": 1}}, upsert=True
            )
            assert r.upserted_id == "u"
            await coll.replace_one({"_id": "u"}, {"v": 2})
            assert await coll.find_one({"_id": "u"}) == {"_id": "u", "v": 2}
            r = await coll.delete_many({"_id": {"$in": ["k", "u"]}})
            assert r.deleted_count == 2
            return (
                "$addToSet $each, $max, $unset, $currentDate, $setOnInsert upsert, "
                "replace, delete_many"
            )

        await run("CHECK", "store: update operators, replace_one, delete_many", update_ops)

        async def bulk() -> str:
            coll = db.bulk
            await coll.create_index("key", unique=True)
            r = await coll.bulk_write(
                [
                    InsertOne({"key": 1, "n": 0}),
                    UpdateOne({"key": 1}, {"$inc": {"n": 1}}),
                    UpdateOne({"key": 2}, {"$inc": {"n": 1}}, upsert=True),
                ],
                ordered=True,
            )
            assert (r.inserted_count, r.modified_count, r.upserted_count) == (1, 1, 1), (
                r.bulk_api_result
            )
            try:
                await coll.insert_many([{"key": 3}, {"key": 1}, {"key": 4}], ordered=False)
                raise AssertionError("duplicate in insert_many accepted")
            except BulkWriteError as exc:
                errs = exc.details["writeErrors"]
                assert [e["code"] for e in errs] == [11000], errs
                inserted = exc.details.get("nInserted")
            assert await coll.count_documents({}) == 4  # keys 1, 2, 3, 4
            note = (
                ""
                if inserted == 2
                else f" (server reports nInserted {inserted}, real MongoDB 2: don't rely on it)"
            )
            return f"collection bulk_write; insert_many unordered: 1 dup error, 2 inserted{note}"

        await run("CHECK", "store: collection bulk_write, insert_many dup", bulk)

        async def more_stages() -> str:
            await db.lines.insert_many(
                [
                    {
                        "_id": 1,
                        "order": "o1",
                        "items": [{"sku": "x", "q": 1}, {"sku": "y", "q": 2}],
                    },
                    {"_id": 2, "order": "o2", "items": [{"sku": "x", "q": 4}]},
                ]
            )
            await db.orders2.insert_many([{"_id": "o1", "who": "ann"}, {"_id": "o2", "who": "bob"}])
            rows = [
                r
                async for r in await db.lines.aggregate(
                    [
                        {"$unwind": "$items"},
                        {"$project": {"order": 1, "sku": "$items.sku", "q": "$items.q"}},
                        {
                            "$group": {
                                "_id": "$sku",
                                "q": {"$sum": "$q"},
                                "orders": {"$addToSet": "$order"},
                            }
                        },
                        {"$sort": {"q": -1}},
                        {"$limit": 5},
                    ]
                )
            ]
            assert [(r["_id"], r["q"]) for r in rows] == [("x", 5), ("y", 2)], rows
            joined = [
                r
                async for r in await db.lines.aggregate(
                    [
                        {
                            "$lookup": {
                                "from": "orders2",
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
            ]
            assert [r["who"] for r in joined] == ["ann", "bob"], joined
            facet = [
                r
                async for r in await db.sales.aggregate(
                    [
                        {
                            "$facet": {
                                "n": [{"$count": "n"}],
                                "max": [{"$sort": {"qty": -1}}, {"$limit": 1}],
                            }
                        },
                    ]
                )
            ]
            assert (facet[0]["n"], facet[0]["max"][0]["qty"]) == ([{"n": 5}], 7), facet
            return (
                "$unwind $project $group($sum,$addToSet) $sort $limit $lookup $addFields "
                "$facet $count"
            )

        await run("CHECK", "store: more aggregation stages", more_stages)

        async def types() -> str:
            from bson.decimal128 import Decimal128

            now = dt.datetime.now(dt.UTC).replace(microsecond=123000)
            u = uuid.uuid4()
            coll = db.get_collection("types")
            from bson.binary import Binary, UuidRepresentation

            await coll.insert_one(
                {
                    "_id": 1,
                    "at": now,
                    "price": Decimal128("12.34"),
                    "u": Binary.from_uuid(u, UuidRepresentation.STANDARD),
                }
            )
            doc = await coll.find_one({"_id": 1, "at": {"$lte": now}})
            assert doc["at"] == now, (doc["at"], now)
            assert doc["price"] == Decimal128("12.34")
            assert doc["u"].as_uuid(UuidRepresentation.STANDARD) == u
            return "datetime (ms, tz-aware), Decimal128, UUID binary"

        await run("CHECK", "store: BSON types round trip", types)

        # --- probes: record behaviour, never fail -------------------------------------------

        async def probe_hello() -> str:
            r = await client.admin.command("hello")
            return f"hello answered: {sorted(r)}"

        await run("PROBE", "store: 'hello' command", probe_hello)

        async def probe_session() -> str:
            async with client.start_session() as s:
                await db.items.find_one({"_id": "a"}, session=s)
            return "explicit session worked"

        await run("PROBE", "store: explicit start_session()", probe_session)

        async def probe_txn() -> str:
            async with client.start_session() as s, await s.start_transaction():
                await db.items.insert_one({"_id": "txn"}, session=s)
            return "transaction worked"

        await run("PROBE", "store: multi-document transaction", probe_txn)

        async def probe_write_concern() -> str:
            from pymongo import WriteConcern
            from pymongo.read_concern import ReadConcern

            c = db.get_collection(
                "wc",
                write_concern=WriteConcern(w="majority", j=True),
                read_concern=ReadConcern("majority"),
            )
            await c.insert_one({"_id": 1})
            assert await c.find_one({"_id": 1}) == {"_id": 1}
            return "w=majority,j=true and readConcern majority accepted"

        await run(
            "PROBE", "store: writeConcern majority / readConcern majority", probe_write_concern
        )

        async def probe_ttl() -> str:
            await db.ttl.create_index("at", expireAfterSeconds=1)
            info = await db.ttl.index_information()
            return f"created, index info {info.get('at_1')} (expiry itself not verified here)"

        await run("PROBE", "store: TTL index", probe_ttl)

        async def probe_partial() -> str:
            await db.partial.create_index(
                "k", unique=True, partialFilterExpression={"k": {"$exists": True}}
            )
            try:
                await db.partial.insert_one({"x": 1})
                await db.partial.insert_one({"x": 2})
            except DuplicateKeyError:
                return "NOT honoured: a 2nd document without k is a duplicate (k: null)"
            return "honoured: two documents without k inserted"

        await run("PROBE", "store: partial unique index", probe_partial)

        async def probe_sparse() -> str:
            await db.sparse.create_index("k", unique=True, sparse=True)
            try:
                await db.sparse.insert_one({"x": 1})
                await db.sparse.insert_one({"x": 2})
            except DuplicateKeyError:
                return "NOT honoured: a 2nd document without k is a duplicate (k: null)"
            return "honoured: two documents without k inserted"

        await run("PROBE", "store: sparse unique index", probe_sparse)

        async def probe_expr() -> str:
            await db.expr.insert_many([{"a": 5, "b": 3}, {"a": 1, "b": 3}])
            n = await db.expr.count_documents({"$expr": {"$gt": ["$a", "$b"]}})
            assert n == 1, n
            return "$expr in a filter works"

        await run("PROBE", "store: $expr filter", probe_expr)

        async def probe_change_stream() -> str:
            async with await db.items.watch(max_await_time_ms=100) as stream:
                await stream.try_next()
            return "change stream opened"

        await run("PROBE", "store: change stream", probe_change_stream)
    finally:
        try:
            await client.drop_database(db.name)
        finally:
            await client.close()


async def main_async(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if "kafka" in args.components:
        await kafka_checks(args.kafka_bootstrap)
    if "store" in args.components:
        await store_checks(args.store_url)
    failed = [r for r in RESULTS if r[2] == "FAIL"]
    passed = [r for r in RESULTS if r[2] == "PASS"]
    probes = [r for r in RESULTS if r[0] == "PROBE"]
    print(
        f"smoke: {len(passed)} passed, {len(failed)} failed, {len(probes)} probes "
        f"in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    return 1 if failed else 0


def main() -> int:
    kafka_port = os.environ.get("KITFLOW_KAFKA_PORT", "19092")
    store_port = os.environ.get("KITFLOW_STORE_PORT", "27017")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("components", nargs="*", metavar="kafka|store", help="default: both")
    p.add_argument("--kafka-bootstrap", default=f"127.0.0.1:{kafka_port}")
    p.add_argument("--store-url", default=f"mongodb://127.0.0.1:{store_port}")
    args = p.parse_args()
    for c in args.components:
        if c not in ("kafka", "store"):
            p.error(f"unknown component {c!r}")
    args.components = args.components or ["kafka", "store"]
    logging.basicConfig(level=logging.CRITICAL)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
