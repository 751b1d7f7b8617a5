"""HXL import throughput of the needs service against a plain reference, in the same run.

    uv run python -m bench.needs_hxl_import [--rows 10000] [--repeat 3]

- service: the bulk endpoint's code path (libhxl parsing, P-code and population checks, items
  against the catalogue, duplicate candidates, the need aggregates with their events in their
  outbox, bulk insert) into the real store, with the same handler the endpoint calls;
- reference: the same CSV parsed with the standard library's csv module and inserted with
  insert_many as plain dicts, into the same store.

Both run `--repeat` times on fresh databases; the report gives rows/s (median) and the ratio
service / reference, and is written as JSON to bench/results/. The store and broker come from
KITFLOW_TEST_STORE_URL / KITFLOW_TEST_KAFKA_BOOTSTRAP when set, else they are started the way the
tests start them (tests/support/infra.py, with its KITFLOW_TEST_*_PORT variables).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from kitflow_needs.adapters import (
    mongo_catalogue,
    mongo_import_requests,
    mongo_needs,
    mongo_profiles,
)
from kitflow_needs.adapters.bundled import (
    SystemClock,
    builtin_profiles,
    load_catalogue,
    load_gazetteer,
)
from kitflow_needs.adapters.hxl_io import read_needs_file
from kitflow_needs.adapters.mongo_catalogue import MongoCatalogueRepository
from kitflow_needs.adapters.mongo_import_requests import MongoImportRequestRepository
from kitflow_needs.adapters.mongo_needs import MongoNeedRepository
from kitflow_needs.adapters.mongo_profiles import MongoProfileRepository
from kitflow_needs.bootstrap import new_need_id
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.imports import ImportHandlers, ImportOptions
from kitflow_needs.handlers.ports import Actor, NeedsServices
from kitflow_shared.events import EventContext
from kitflow_shared.store import ensure_indexes
from pymongo import AsyncMongoClient

from bench.saving import save
from tests.support.infra import start_infra
from tests.unit.needs.hxl_samples import generate

Document = dict[str, Any]


async def service_run(client: AsyncMongoClient[Document], data: bytes) -> tuple[float, float, int]:
    db = client[f"bench_needs_{uuid.uuid4().hex[:8]}"]
    try:
        await ensure_indexes(db, [*mongo_needs.INDEXES, *mongo_profiles.INDEXES])
        svc = NeedsServices(
            needs=MongoNeedRepository(db[mongo_needs.COLLECTION], lambda _c, _i: None),
            profiles=MongoProfileRepository(db[mongo_profiles.COLLECTION]),
            gazetteer=load_gazetteer(),
            catalogue=LiveCatalogue(
                load_catalogue(), MongoCatalogueRepository(db[mongo_catalogue.COLLECTION])
            ),
            clock=SystemClock(),
            new_id=new_need_id,
            import_requests=MongoImportRequestRepository(db[mongo_import_requests.COLLECTION]),
        )
        await svc.profiles.seed(builtin_profiles())
        started, cpu_started = time.perf_counter(), time.process_time()
        sheet = await asyncio.to_thread(read_needs_file, data, organisation="NRC")
        report = await ImportHandlers(svc).import_needs(
            sheet.rows, ImportOptions(), Actor("bench", "NRC"), EventContext.new()
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stored = await db[mongo_needs.COLLECTION].count_documents({})
        assert stored == report.imported, (stored, report.imported)
        return elapsed, cpu, report.imported
    finally:
        await client.drop_database(db.name)


async def reference_run(
    client: AsyncMongoClient[Document], data: bytes
) -> tuple[float, float, int]:
    db = client[f"bench_ref_{uuid.uuid4().hex[:8]}"]
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        reader = csv.reader(io.StringIO(data.decode()))
        headers = next(reader)
        next(reader)  # the hashtag row
        docs = [dict(zip(headers, row, strict=False)) for row in reader]
        await db["rows"].insert_many(docs, ordered=False)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        return elapsed, cpu, len(docs)
    finally:
        await client.drop_database(db.name)


async def run(store_url: str, rows: int, repeat: int) -> dict[str, Any]:
    sample = generate(rows, bad_every=100)
    data = sample.text.encode()
    client: AsyncMongoClient[Document] = AsyncMongoClient(store_url, tz_aware=True)
    try:
        await service_run(client, data)  # warm-up: imports, caches, JIT of the store
        await reference_run(client, data)
        service, reference = [], []
        # This process's CPU (both threads) per 1,000 rows: the service's own work, which the
        # ratio hides once the store, not Python, bounds the reference.
        service_cpu, reference_cpu = [], []
        for _ in range(repeat):
            elapsed, cpu, imported = await service_run(client, data)
            service.append(imported / elapsed)
            service_cpu.append(1000 * cpu / imported * 1000)
            elapsed, cpu, inserted = await reference_run(client, data)
            reference.append(inserted / elapsed)
            reference_cpu.append(1000 * cpu / inserted * 1000)
    finally:
        await client.close()
    service_rate = statistics.median(service)
    reference_rate = statistics.median(reference)
    return {
        "benchmark": "needs_hxl_import",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "rows": rows,
        "bad_rows": len(sample.bad_rows),
        "repeat": repeat,
        "service_rows_per_s": [round(r) for r in service],
        "reference_rows_per_s": [round(r) for r in reference],
        "service_median_rows_per_s": round(service_rate),
        "reference_median_rows_per_s": round(reference_rate),
        "ratio": round(service_rate / reference_rate, 3),
        "service_cpu_ms_per_1000_rows": round(statistics.median(service_cpu), 1),
        "reference_cpu_ms_per_1000_rows": round(statistics.median(reference_cpu), 1),
        "aim": 0.3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra.store_url, args.rows, args.repeat))
    finally:
        stop()
    out = save("needs_hxl_import", result)
    print(
        f"service {result['service_median_rows_per_s']} rows/s, reference "
        f"{result['reference_median_rows_per_s']} rows/s, ratio {result['ratio']} "
        f"(aim {result['aim']}); CPU per 1,000 rows: service "
        f"{result['service_cpu_ms_per_1000_rows']} ms, reference "
        f"{result['reference_cpu_ms_per_1000_rows']} ms; written to {out}"
    )


if __name__ == "__main__":
    main()
