"""The gap API against one plain query on the same view, with 10,000 needs and 100 plans.

    uv run python -m bench.gaps [--needs 10000] [--plans 100] [--repeat 5]

The distribution service runs as a real process (uvicorn) against the store and broker. Its gap
view is filled through the service's own projection (`GapProjection.need_changed`, the code
its consumer runs) from needs events: every need submitted, then the needs of `--plans` plans
(50 each) planned, most dispatched, some delivered. Measured in the same run, as medians:
- the API: `GET /v1/gaps?by=item&level=admin2`, `by=sector&level=admin2` and `/v1/gaps/trend`
  over HTTP, as a coordinator (identity check, grouping in the store, units, sorting, JSON);
- the reference: the same per-cercle-and-item figures read with one plain aggregation on the
  view, straight from this process;
- for scale, what the view saves: the same figures summed in Python from every need's state
  (the needs view), as a request would do without the view.
Results are written as JSON to bench/results/. The broker and store come from KITFLOW_TEST_*
variables, else they are started as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kitflow_distribution.adapters import mongo_gaps, mongo_views
from kitflow_distribution.adapters.mongo_gaps import MongoGapView, MongoItemView
from kitflow_distribution.adapters.mongo_views import MongoNeedsView
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ItemCategory, ItemState
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_SUBMITTED,
    NeedItemState,
    NeedState,
    NeedStatus,
    need_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import start_infra
from tests.support.saga import validated_need
from tests.support.services import identity, service_process

RESULTS = Path(__file__).resolve().parent / "results"
COORDINATOR = identity("IOM", Role.COORDINATOR)
ITEMS = {
    "KIT-SHELTER": ItemCategory.SHELTER,
    "TARPAULIN": ItemCategory.SHELTER,
    "KIT-NFI": ItemCategory.NFI,
    "BLANKET": ItemCategory.NFI,
    "JERRYCAN": ItemCategory.WATER,
    "WATER-L": ItemCategory.WATER,
    "KIT-HYGIENE": ItemCategory.WASH_HYGIENE,
    "SOAP": ItemCategory.WASH_HYGIENE,
}
PARTNERS = ("NRC", "DRC", "ACTED", "IRC")
NEEDS_PER_PLAN = 50
Document = dict[str, Any]


def _needs(count: int, rng: random.Random) -> list[NeedState]:
    needs = []
    for n in range(count):
        admin1 = f"ML{rng.randint(1, 10):02d}"
        admin2 = f"{admin1}{rng.randint(1, 6):02d}"
        households = rng.randint(10, 400)
        items = rng.sample(sorted(ITEMS), rng.randint(1, 4))
        need = validated_need(
            f"BN-{n:05d}",
            admin1,
            admin2,
            {i: households * rng.randint(1, 3) for i in items},
            partner=PARTNERS[n % len(PARTNERS)],
        )
        need.population.households = households
        need.status = NeedStatus.SUBMITTED
        needs.append(need)
    return needs


def _covered(need: NeedState, rng: random.Random) -> NeedState:
    """The need after a plan: planned whole, mostly dispatched, sometimes delivered."""
    after = need.model_copy(deep=True)
    after.status = NeedStatus.PARTIALLY_COVERED
    stage = rng.random()
    after.items = [
        NeedItemState(
            item_code=i.item_code,
            requested=i.requested,
            planned=i.requested,
            reserved=0,
            dispatched=i.requested if stage > 0.3 else 0,
            delivered=i.requested if stage > 0.6 else 0,
            remaining=0,
        )
        for i in need.items
    ]
    return after


async def _seed(db: Any, needs_count: int, plans: int) -> None:
    rng = random.Random(16)
    context = EventContext.new()
    items = MongoItemView(db[mongo_gaps.ITEMS])
    gaps = GapProjection(items, MongoGapView(db[mongo_gaps.GAPS]))
    needs_view = MongoNeedsView(db[mongo_views.NEEDS])
    for code, category in ITEMS.items():
        state = ItemState(code=code, name_en=code, name_fr=code, category=category, unit="unit")
        await gaps.item_changed(
            ITEM_REGISTERED.new(state, subject=f"item/{code}", sequence=1, context=context)
        )
    needs = _needs(needs_count, rng)
    planned = set(rng.sample(range(needs_count), min(needs_count, plans * NEEDS_PER_PLAN)))
    for n, need in enumerate(needs):
        events = [
            NEED_SUBMITTED.new(
                need, subject=need_subject(need.need_id), sequence=1, context=context
            )
        ]
        if n in planned:
            events.append(
                NEED_COVERAGE_CHANGED.new(
                    _covered(need, rng),
                    subject=need_subject(need.need_id),
                    sequence=2,
                    context=context,
                )
            )
        for event in events:
            await projections.need_changed(event, needs_view)
            await gaps.need_changed(event)


async def _reference(db: Any) -> int:
    """The per-cercle-and-item figures with one plain aggregation on the view."""
    pipeline: list[Document] = [
        {"$unwind": "$items"},
        {
            "$group": {
                "_id": {"a2": "$admin2_pcode", "item": "$items.item_code"},
                **{
                    f: {"$sum": f"$items.{f}"}
                    for f in (
                        "requested",
                        "planned",
                        "dispatched",
                        "delivered",
                        "households",
                        "households_delivered",
                    )
                },
            }
        },
    ]
    return len([d async for d in await db[mongo_gaps.GAPS].aggregate(pipeline)])


async def _from_every_need(db: Any) -> int:
    """The same figures summed from every need's state, as a request would without the view."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    async for doc in db[mongo_views.NEEDS].find({}, {"state": 1}):
        need = NeedState.model_validate(doc["state"])
        for item in need.items:
            row = totals[(need.admin2_pcode, item.item_code)]
            row[0] += item.requested
            row[1] += item.planned
            row[2] += item.dispatched
            row[3] += item.delivered
    return len(totals)


async def _timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    await call()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await call()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times), result


async def run(infra: Any, needs: int, plans: int, repeat: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    service = service_process("distribution", infra, namespace)
    db = client[f"{namespace}_kitflow_distribution"]
    try:
        started = time.perf_counter()
        await _seed(db, needs, plans)
        seeding_s = time.perf_counter() - started
        service.start()
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:

            async def api(path: str, **params: str) -> int:
                response = await http.get(path, params=params, headers=COORDINATOR)
                response.raise_for_status()
                return len(response.json())

            api_item, item_rows = await _timed(
                lambda: api("/v1/gaps", by="item", level="admin2"), repeat
            )
            api_sector, _ = await _timed(
                lambda: api("/v1/gaps", by="sector", level="admin2"), repeat
            )
            api_trend, _ = await _timed(lambda: api("/v1/gaps/trend"), repeat)
        reference, reference_rows = await _timed(lambda: _reference(db), repeat)
        naive, _ = await _timed(lambda: _from_every_need(db), repeat)
    finally:
        service.stop()
        await client.drop_database(db.name)
        await client.close()
    assert item_rows == reference_rows, (item_rows, reference_rows)
    return {
        "benchmark": "gaps",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "needs": needs,
        "plans": plans,
        "repeat": repeat,
        "seeding_s": round(seeding_s, 1),
        "rows_per_cercle_and_item": item_rows,
        "api_by_item_ms": round(api_item, 1),
        "api_by_sector_ms": round(api_sector, 1),
        "api_trend_ms": round(api_trend, 1),
        "reference_one_query_ms": round(reference, 1),
        "ratio_api_to_reference": round(api_item / reference, 2),
        "from_every_need_ms": round(naive, 1),
        "aim_ms": 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra, args.needs, args.plans, args.repeat))
    finally:
        stop()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"gaps-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
