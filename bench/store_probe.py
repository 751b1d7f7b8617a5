"""The needs service's list query (mongo_needs.find for one organisation: the count and the
sorted first page) sent straight to the store, timed, and the number of needs stored; one JSON
line on standard output.

    python -m bench.store_probe STORE_URL DATABASE ORGANISATION

bench.soak runs it once a minute as a process of its own: timed inside the soak's client,
whose event loop is busy sending the load, the same query measured the loop's delays too.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from kitflow_needs.adapters.mongo_needs import HIDDEN
from pymongo import MongoClient

REPEATS = 5
PAGE = 20  # the soak lists needs with limit=20


def measure(store_url: str, database: str, organisation: str) -> dict[str, float | int]:
    client: MongoClient[dict[str, object]] = MongoClient(store_url)
    try:
        needs = client[database]["needs"]
        selector = {"organisation": organisation}
        took = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            needs.count_documents(selector)
            # As the service asks: the page's limit sent to the store (to_list alone would let
            # it sort and send a whole first batch), its hidden fields left out.
            page = needs.find(selector, HIDDEN).sort([("created_at", 1), ("_id", 1)]).limit(PAGE)
            page.to_list()
            took.append(1000 * (time.perf_counter() - started))
        return {
            "list_ms": round(statistics.median(took), 1),
            "needs": needs.count_documents({}),
        }
    finally:
        client.close()


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:4])))
