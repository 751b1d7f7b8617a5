"""The coordinator's gap page against one plain query reading the same figures, with 10,000
needs, 50 warehouses and 100 plans in the store.

    uv run python -m bench.gaps [--needs 10000] [--warehouses 50] [--plans 100] [--repeat 5]

The distribution service runs as a real process (uvicorn) against the store and broker. Its
views are filled through the service's own projections (`GapProjection.need_changed`, the code
its consumer runs, which keeps the gap documents and their cells, ADR 0027) from needs events:
every need submitted (one in ten still waiting for validation), then the needs of `--plans`
plans (50 each) planned, most dispatched, some delivered; the warehouses with their stock and a
few low-stock and near-expiry signals; the plans themselves (in the plans collection, as the
repository stores them). Measured in the same run, as medians:
- the page's API calls over HTTP, as a coordinator (identity check, cells read, units,
  sorting, JSON): `GET /v1/gaps` by item and by sector at admin1 and admin2, `/v1/gaps/trend`,
  `/v1/alerts`; each alone, and the page (all six at once, as the browser asks for them);
- the reference: the same figures (every item, sector and week cell) read with one plain
  `find` of the cells, straight from this process;
- for scale, what the cells save: the per-cercle-and-item figures grouped by the store from
  every need's gap document (ADR 0026, the path the API took before), and summed in Python
  from every need's state (the needs view), as a request would do without any view.
Results are written as JSON to bench/results/. The broker and store come from KITFLOW_TEST_*
variables, else they are started as the tests start them.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import platform
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from kitflow_distribution.adapters import mongo_alerts, mongo_gaps, mongo_plans, mongo_views
from kitflow_distribution.adapters.mongo_alerts import MongoStockAlerts
from kitflow_distribution.adapters.mongo_gaps import MongoItemView, PerNeedGapTotals
from kitflow_distribution.adapters.mongo_plans import MongoPlanRepository
from kitflow_distribution.adapters.mongo_views import (
    MongoNeedsView,
    MongoStockView,
    MongoWarehouseView,
)
from kitflow_distribution.domain.plans import LineReservation, Plan, PlanLine, PlanStatus
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.ports import GapFilter
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view
from kitflow_shared.contracts.catalogue import ITEM_REGISTERED, ItemCategory, ItemState
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_SUBMITTED,
    NeedItemState,
    NeedState,
    NeedStatus,
    need_subject,
)
from kitflow_shared.contracts.stock import (
    BalanceState,
    LowStock,
    NearExpiry,
    WarehouseState,
    WarehouseType,
)
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.outbox import no_notify
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from bench.saving import save
from tests.support.infra import start_infra
from tests.support.saga import validated_need
from tests.support.services import identity, service_process

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
        need.status = NeedStatus.SUBMITTED if n % 10 == 0 else NeedStatus.VALIDATED
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


async def _seed(db: Any, needs_count: int, warehouses: int, plans: int) -> None:
    rng = random.Random(16)
    context = EventContext.new()
    items = MongoItemView(db[mongo_gaps.ITEMS])
    gaps = GapProjection(items, gap_view(db))
    needs_view = MongoNeedsView(db[mongo_views.NEEDS])
    for code, category in ITEMS.items():
        state = ItemState(code=code, name_en=code, name_fr=code, category=category, unit="unit")
        await gaps.item_changed(
            ITEM_REGISTERED.new(state, subject=f"item/{code}", sequence=1, context=context)
        )
    needs = _needs(needs_count, rng)
    planned = rng.sample(range(needs_count), min(needs_count, plans * NEEDS_PER_PLAN))
    await _seed_warehouses(db, warehouses, rng)
    await _seed_plans(db, [needs[n] for n in planned], warehouses, rng)
    planned_set = set(planned)
    for n, need in enumerate(needs):
        events = [
            NEED_SUBMITTED.new(
                need, subject=need_subject(need.need_id), sequence=1, context=context
            )
        ]
        if n in planned_set:
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


def _warehouse_code(w: int) -> str:
    return f"WH-{w:02d}"


async def _seed_warehouses(db: Any, count: int, rng: random.Random) -> None:
    """The warehouses, every item's balance in each, and a few low-stock and near-expiry
    signals (what the alerts list reads)."""
    view = MongoWarehouseView(db[mongo_views.WAREHOUSES])
    stock = MongoStockView(db[mongo_views.STOCK])
    signals = MongoStockAlerts(db[mongo_alerts.STOCK_ALERTS], db[mongo_views.STOCK])
    now = datetime.now(UTC)
    for w in range(count):
        admin1 = f"ML{rng.randint(1, 10):02d}"
        code = _warehouse_code(w)
        state = WarehouseState(
            code=code,
            name=f"Warehouse {w}",
            organisation=PARTNERS[w % len(PARTNERS)],
            type=WarehouseType.MAIN if w < 5 else WarehouseType.PARTNER,
            admin1_pcode=admin1,
            admin2_pcode=f"{admin1}01",
        )
        await view.apply(state, 1)
        for sequence, item in enumerate(sorted(ITEMS), start=1):
            on_hand = rng.randint(0, 5000)
            balance = BalanceState(
                item_code=item, on_hand=on_hand, reserved=0, available=on_hand, in_transit=0
            )
            await stock.apply(code, balance, sequence)
            if on_hand < 500:
                await signals.low(LowStock(warehouse=code, balance=balance, minimum=500), now, 1)
            if rng.random() < 0.05:
                lot = NearExpiry(
                    warehouse=code,
                    item_code=item,
                    lot=f"L{w}-{sequence}",
                    owner="IOM",
                    expiry=(now + timedelta(days=rng.randint(5, 60))).date(),
                    on_hand=on_hand,
                )
                await signals.near_expiry(lot, now, 1)


async def _seed_plans(db: Any, needs: list[NeedState], warehouses: int, rng: random.Random) -> None:
    """The plans as the repository stores them: 50 needs each, one line per need and item;
    most delivered or dispatched, a few holding or waiting on stock (alerts)."""
    repository = MongoPlanRepository(db[mongo_plans.PLANS], no_notify)
    now = datetime.now(UTC)
    statuses = [PlanStatus.DELIVERED] * 5 + [
        PlanStatus.DISPATCHED,
        PlanStatus.DISPATCHED,
        PlanStatus.RESERVED,
        PlanStatus.PARTLY_RESERVED,
        PlanStatus.CLOSED,
    ]
    for p in range(0, len(needs), NEEDS_PER_PLAN):
        lines = [
            PlanLine(
                line_id=f"P-{p:05d}:{n}",
                warehouse=_warehouse_code(rng.randrange(warehouses)),
                need_id=need.need_id,
                item=item.item_code,
                quantity=item.requested,
                reservation=LineReservation.ACTIVE,
                reserved=item.requested,
            )
            for n, (need, item) in enumerate(
                (need, item) for need in needs[p : p + NEEDS_PER_PLAN] for item in need.items
            )
        ]
        plan = Plan(
            id=f"P-{p:05d}",
            title=f"Plan {p // NEEDS_PER_PLAN}",
            created_by="bench",
            created_at=now,
            lines=lines,
            status=rng.choice(statuses),
            approved_by="bench",
            approved_at=now - timedelta(hours=rng.randint(1, 48)),
            reservation_expires_at=now + timedelta(hours=rng.randint(1, 72)),
        )
        await repository.add(plan, [])


async def _reference(db: Any) -> int:
    """The same figures the page shows (every item, sector and week cell), read with one
    plain query."""
    return sum(
        [
            len([d async for d in db[name].find({}, {"seen": 0})])
            for name in mongo_gaps.CELLS.values()
        ]
    )


async def _per_need(db: Any) -> int:
    """The per-cercle-and-item figures grouped by the store from every need's document."""
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


PAGE: list[tuple[str, str, dict[str, str]]] = [
    ("gaps_item_admin1", "/v1/gaps", {"by": "item", "level": "admin1"}),
    ("gaps_item_admin2", "/v1/gaps", {"by": "item", "level": "admin2"}),
    ("gaps_sector_admin1", "/v1/gaps", {"by": "sector", "level": "admin1"}),
    ("gaps_sector_admin2", "/v1/gaps", {"by": "sector", "level": "admin2"}),
    ("trend", "/v1/gaps/trend", {}),
    ("alerts", "/v1/alerts", {}),
]


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


async def run(infra: Any, needs: int, warehouses: int, plans: int, repeat: int) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(infra.store_url, tz_aware=True)
    service = service_process("distribution", infra, namespace)
    db = client[f"{namespace}_kitflow_distribution"]
    calls: dict[str, float] = {}
    try:
        started = time.perf_counter()
        await _seed(db, needs, warehouses, plans)
        seeding_s = time.perf_counter() - started
        service.start()
        await service.wait_ready()
        async with httpx.AsyncClient(base_url=service.url, timeout=60) as http:

            async def api(path: str, params: dict[str, str]) -> Any:
                response = await http.get(path, params=params, headers=COORDINATOR)
                response.raise_for_status()
                return response.json()

            for name, path, params in PAGE:
                calls[name], _ = await _timed(functools.partial(api, path, params), repeat)
            page, _ = await _timed(
                lambda: asyncio.gather(*(api(path, params) for _, path, params in PAGE)),
                repeat,
            )
            item_rows = len(await api("/v1/gaps", {"by": "item", "level": "admin2"}))
        reference, cells = await _timed(lambda: _reference(db), repeat)
        per_need, per_need_rows = await _timed(lambda: _per_need(db), repeat)
        naive, _ = await _timed(lambda: _from_every_need(db), repeat)
        same = await _same_figures(db)
    finally:
        service.stop()
        await client.drop_database(db.name)
        await client.close()
    assert item_rows == per_need_rows, (item_rows, per_need_rows)
    assert same, "the cells and the per-need grouping differ"
    slowest = max(calls.values())
    return {
        "benchmark": "gaps",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "needs": needs,
        "warehouses": warehouses,
        "plans": plans,
        "repeat": repeat,
        "seeding_s": round(seeding_s, 1),
        "rows_per_cercle_and_item": item_rows,
        "cells": cells,
        **{f"api_{name}_ms": round(ms, 1) for name, ms in calls.items()},
        "page_all_calls_at_once_ms": round(page, 1),
        "reference_one_query_ms": round(reference, 1),
        "ratio_page_to_reference": round(page / reference, 2),
        "ratio_slowest_call_to_reference": round(slowest / reference, 2),
        "per_need_grouping_ms": round(per_need, 1),
        "from_every_need_ms": round(naive, 1),
        "aim_ms": 1000,
    }


async def _same_figures(db: Any) -> bool:
    """The cells add up to what the per-need path groups (every table the page reads)."""
    cells = gap_view(db)
    per_need = PerNeedGapTotals(db[mongo_gaps.GAPS])
    for level in ("admin1", "admin2"):
        for name in ("by_item", "by_sector"):
            got = sorted(await getattr(cells, name)(GapFilter(), level), key=repr)
            if got != sorted(await getattr(per_need, name)(GapFilter(), level), key=repr):
                return False
    return bool(await cells.trend(GapFilter()) == await per_need.trend(GapFilter()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--plans", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra, args.needs, args.warehouses, args.plans, args.repeat))
    finally:
        stop()
    out = save("gaps", result)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
