"""bench.soak's StoreProbe (bench.store_probe, run as a process) against the real store: it
times the needs list of the partner's organisation and counts every need stored, whichever
organisation holds it. No figure of time
is asserted (no timed assertion), only that one was taken."""

from __future__ import annotations

import uuid

from pymongo import AsyncMongoClient

from bench.soak import PARTNER_ORGANISATION, Minute, StoreProbe
from tests.support.infra import Infra

Document = dict[str, object]


async def test_the_probe_times_the_partners_list_and_counts_every_need(
    infra: Infra, store_client: AsyncMongoClient[Document]
) -> None:
    database = f"test_{uuid.uuid4().hex[:12]}"
    needs = store_client[database]["needs"]
    await needs.insert_many(
        [
            {"_id": f"N{n}", "organisation": organisation, "created_at": n}
            for n, organisation in enumerate([PARTNER_ORGANISATION] * 3 + ["DRC"] * 2)
        ]
    )
    minute = Minute()
    try:
        await StoreProbe(infra.store_url, database).measure(minute)
    finally:
        await store_client.drop_database(database)

    assert minute.store_needs == 5
    assert minute.store_list_ms is not None
    assert minute.store_list_ms > 0
