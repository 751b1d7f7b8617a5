"""The gap cells (ADR 0027) against the real store: every need's change reaches each cell
exactly once, whatever comes again, late, or after a crash between two cells; and the cells add
up to what the per-need path groups from the gap documents (ADR 0026)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from kitflow_distribution.adapters import mongo_gaps
from kitflow_distribution.adapters.mongo_gaps import MongoItemView, PerNeedGapTotals
from kitflow_distribution.handlers.ports import GapFilter
from kitflow_distribution.handlers.projections import GapProjection
from kitflow_distribution.rebuild import gap_view
from kitflow_shared.contracts.catalogue import ITEM_UPDATED, ItemCategory, ItemState, item_subject
from kitflow_shared.contracts.needs import (
    NEED_COVERAGE_CHANGED,
    NEED_SUBMITTED,
    NeedItemState,
    NeedState,
    NeedStatus,
    need_subject,
)
from kitflow_shared.events import EventContext
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.idempotency import Applied
from pymongo.asynchronous.database import AsyncDatabase

from tests.support.saga import validated_need

pytestmark = pytest.mark.infra
Document = dict[str, Any]
MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)
FILTERS = [
    GapFilter(),
    GapFilter(organisation="NRC"),
    GapFilter(admin1_pcode="ML06"),
    GapFilter(admin2_pcode="ML0501"),
    GapFilter(item_code="TARP"),
    GapFilter(sector="shelter"),
    GapFilter(sector="nfi", item_code="KIT-NFI"),
    GapFilter(sector="nfi", item_code="TARP"),
    GapFilter(organisation="DRC", admin1_pcode="ML05", sector="water"),
]


class Crash(Exception):
    pass


class CrashingCollection:
    """The collection, except that its next write stops after `keep` of its updates (a crash
    between two cells' updates, or between a document and its cells)."""

    def __init__(self, inner: Any, keep: int) -> None:
        self._inner, self._keep = inner, keep

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def bulk_write(self, requests: list[Any], **kwargs: Any) -> Any:
        if self._keep > 0:
            await self._inner.bulk_write(requests[: self._keep], **kwargs)
        raise Crash

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        self._keep -= 1
        if self._keep < 0:
            raise Crash
        return await self._inner.update_one(*args, **kwargs)


def _projection(db: AsyncDatabase[Document], crash_cells_after: int | None = None) -> GapProjection:
    view = gap_view(db)
    if crash_cells_after is not None:
        # Each kind of cell stops after `crash_cells_after` of its updates.
        view._cells = {
            kind: CrashingCollection(db[name], crash_cells_after)  # type: ignore[misc]
            for kind, name in mongo_gaps.CELLS.items()
        }
    return GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), view)


def _item(code: str, category: ItemCategory, sequence: int) -> CloudEvent:
    state = ItemState(code=code, name_en=code, name_fr=code, category=category, unit="kit")
    return ITEM_UPDATED.new(
        state, subject=item_subject(code), sequence=sequence, context=EventContext.new()
    )


def _state(
    need_id: str,
    households: int,
    items: dict[str, tuple[int, int, int, int]],
    *,
    cercle: str = "ML0501",
    partner: str = "NRC",
    status: NeedStatus = NeedStatus.VALIDATED,
) -> NeedState:
    need = validated_need(need_id, cercle[:4], cercle, {}, partner=partner)
    need.population.households = households
    need.status = status
    need.items = [
        NeedItemState(
            item_code=code,
            requested=r,
            planned=p,
            reserved=0,
            dispatched=d,
            delivered=v,
            remaining=max(0, r - max(p, v)),
        )
        for code, (r, p, d, v) in items.items()
    ]
    return need


def _event(need: NeedState, sequence: int, at: datetime = MONDAY) -> CloudEvent:
    spec = NEED_SUBMITTED if sequence == 1 else NEED_COVERAGE_CHANGED
    event = spec.new(
        need, subject=need_subject(need.need_id), sequence=sequence, context=EventContext.new()
    )
    return event.model_copy(update={"time": at})


async def _catalogue(projection: GapProjection) -> None:
    for code, category in (
        ("KIT-SHELTER", ItemCategory.SHELTER),
        ("TARP", ItemCategory.SHELTER),
        ("KIT-NFI", ItemCategory.NFI),
        ("WATER", ItemCategory.WATER),
    ):
        await projection.item_changed(_item(code, category, 1))


async def _both_paths(db: AsyncDatabase[Document]) -> list[Any]:
    """Every table and trend the API offers, read from the cells and from the per-need path:
    both must be equal (and the list of them is returned for comparisons over time)."""
    cells, per_need = gap_view(db), PerNeedGapTotals(db[mongo_gaps.GAPS])
    seen = []
    for where in FILTERS:
        for level in ("admin1", "admin2"):
            for name in ("by_item", "by_sector"):
                got = sorted(await getattr(cells, name)(where, level), key=repr)
                want = sorted(await getattr(per_need, name)(where, level), key=repr)
                assert got == want, (name, where, level)
                seen.append(got)
        got_trend, want_trend = await cells.trend(where), await per_need.trend(where)
        assert got_trend == want_trend, ("trend", where)
        seen.append(got_trend)
    return seen


async def test_a_redelivered_event_changes_no_cell(db: AsyncDatabase[Document]) -> None:
    projection = _projection(db)
    await _catalogue(projection)
    first = _event(_state("N1", 30, {"TARP": (60, 0, 0, 0), "KIT-NFI": (30, 0, 0, 0)}), 1)
    second = _event(_state("N1", 30, {"TARP": (60, 60, 60, 60), "KIT-NFI": (30, 30, 0, 0)}), 2)
    await projection.need_changed(first)
    await projection.need_changed(second)
    before = await _both_paths(db)
    await projection.need_changed(second)
    await projection.need_changed(first)
    assert await _both_paths(db) == before
    rows = await gap_view(db).by_item(GapFilter(item_code="TARP"), "admin2")
    assert [(r.requested, r.delivered, r.households_delivered) for r in rows] == [(60, 60, 30)]


async def test_an_event_out_of_order_changes_no_cell(db: AsyncDatabase[Document]) -> None:
    projection = _projection(db)
    await _catalogue(projection)
    newer = _event(_state("N1", 20, {"KIT-SHELTER": (20, 20, 0, 0)}, cercle="ML0601"), 3)
    older = _event(_state("N1", 20, {"KIT-SHELTER": (20, 0, 0, 0)}), 2)
    await projection.need_changed(newer)
    await projection.need_changed(older)
    await _both_paths(db)
    rows = await gap_view(db).by_sector(GapFilter(), "admin2")
    assert [(r.admin2_pcode, r.sector, r.households_planned) for r in rows] == [
        ("ML0601", "shelter", 20)
    ]


@pytest.mark.parametrize("cells_done", [0, 1, 3])
async def test_a_crash_between_two_cells_is_completed_by_the_redelivery(
    db: AsyncDatabase[Document], cells_done: int
) -> None:
    await _catalogue(_projection(db))
    submitted = _event(_state("N1", 40, {"TARP": (80, 0, 0, 0), "KIT-NFI": (40, 0, 0, 0)}), 1)
    await _projection(db).need_changed(submitted)
    # Moved to another cercle and partly delivered: every cell of the need changes.
    moved = _state("N1", 40, {"TARP": (80, 80, 80, 80), "KIT-NFI": (40, 40, 0, 0)}, cercle="ML0502")
    changed = _event(moved, 2, MONDAY + timedelta(days=7))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=cells_done).need_changed(changed)
    await _projection(db).need_changed(changed)  # delivered again after the restart
    await _projection(db).need_changed(changed)
    await _both_paths(db)
    rows = await gap_view(db).by_item(GapFilter(), "admin2")
    assert {(r.admin2_pcode, r.item_code, r.requested) for r in rows} == {
        ("ML0502", "TARP", 80),
        ("ML0502", "KIT-NFI", 40),
    }


async def test_the_need_s_next_event_completes_a_crash_first(db: AsyncDatabase[Document]) -> None:
    """The crashed event never comes again (parked): the need's next one completes it."""
    await _catalogue(_projection(db))
    await _projection(db).need_changed(_event(_state("N1", 10, {"TARP": (10, 0, 0, 0)}), 1))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=1).need_changed(
            _event(_state("N1", 10, {"TARP": (10, 10, 0, 0), "WATER": (900, 0, 0, 0)}), 2)
        )
    await _projection(db).need_changed(
        _event(_state("N1", 10, {"TARP": (10, 10, 10, 10), "WATER": (900, 0, 0, 0)}), 3)
    )
    await _both_paths(db)
    rows = await gap_view(db).by_item(GapFilter(), "admin1")
    assert {(r.item_code, r.planned, r.delivered) for r in rows} == {
        ("TARP", 10, 10),
        ("WATER", 0, 0),
    }


async def test_a_crash_whose_event_is_parked_is_completed_by_the_periodic_job(
    db: AsyncDatabase[Document],
) -> None:
    await _catalogue(_projection(db))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=0).need_changed(
            _event(_state("N1", 10, {"TARP": (10, 0, 0, 0)}), 1)
        )
    assert await gap_view(db).by_item(GapFilter(), "admin1") == []
    await gap_view(db).settle_pending()
    await _both_paths(db)
    rows = await gap_view(db).by_item(GapFilter(), "admin1")
    assert [(r.item_code, r.requested, r.households) for r in rows] == [("TARP", 10, 10)]


async def test_an_item_changing_sector_is_refiled_even_after_a_crash_mid_way(
    db: AsyncDatabase[Document],
) -> None:
    projection = _projection(db)
    await projection.item_changed(_item("TARP", ItemCategory.NFI, 1))
    for n in range(3):
        await projection.need_changed(_event(_state(f"N{n}", 10, {"TARP": (10, 0, 0, 0)}), 1))
    crashing = gap_view(db)
    crashing._gaps = CrashingCollection(db[mongo_gaps.GAPS], 1)  # type: ignore[assignment]
    moved = _item("TARP", ItemCategory.SHELTER, 2)
    with pytest.raises(Crash):
        await GapProjection(projection.items, crashing).item_changed(moved)
    await projection.item_changed(moved)  # redelivered after the crash
    rows = await projection.gaps.by_sector(GapFilter(), "admin1")
    assert {(r.sector, r.needs) for r in rows} == {("shelter", 3)}
    await _both_paths(db)


async def test_the_cells_rebuilt_from_the_gap_documents_are_the_same(
    db: AsyncDatabase[Document],
) -> None:
    projection = _projection(db)
    await _catalogue(projection)
    for n, cercle in enumerate(("ML0501", "ML0502", "ML0601")):
        need = _state(f"N{n}", 10 + n, {"TARP": (10, n, 0, 0), "WATER": (500, 500, 0, 0)})
        need.admin1_pcode, need.admin2_pcode = cercle[:4], cercle
        await projection.need_changed(_event(need, 1))
    before = await _both_paths(db)
    assert await gap_view(db).rebuild_cells() == 3
    assert await _both_paths(db) == before


async def test_the_cells_equal_the_per_need_grouping_on_a_random_scenario(
    db: AsyncDatabase[Document],
) -> None:
    """Property-style, seeded: needs change place, partner, status and quantities over weeks;
    events come again and out of order; items change sector; some writes crash mid-way and are
    delivered again. The cells always add up to what the gap documents say."""
    rng = random.Random(27)
    projection = _projection(db)
    await _catalogue(projection)
    codes = ["KIT-SHELTER", "TARP", "KIT-NFI", "WATER"]
    statuses = [
        NeedStatus.SUBMITTED,
        NeedStatus.VALIDATED,
        NeedStatus.PARTIALLY_COVERED,
        NeedStatus.COVERED,
        NeedStatus.CANCELLED,
    ]
    events: list[CloudEvent] = []
    for n in range(30):
        for sequence in range(1, rng.randint(2, 5)):
            items = {}
            for code in rng.sample(codes, rng.randint(1, 3)):
                r = rng.randint(1, 50)
                p = rng.choice([0, r // 2, r])
                d = min(p, rng.choice([0, p]))
                items[code] = (r, p, d, rng.choice([0, d, d // 2]))
            need = _state(
                f"R{n}",
                rng.randint(1, 30),
                items,
                cercle=rng.choice(["ML0501", "ML0502", "ML0601"]),
                partner=rng.choice(["NRC", "DRC"]),
                status=rng.choice(statuses),
            )
            at = MONDAY + timedelta(days=rng.randint(0, 20))
            events.append(_event(need, sequence, at))
    rng.shuffle(events)  # out of order across and within needs
    sector_moves = 1
    for step, event in enumerate(events):
        if rng.random() < 0.15:
            # Crashes unless the event is a duplicate by now, or moves no cell.
            with contextlib.suppress(Crash):
                await _projection(db, rng.randint(0, 2)).need_changed(event)
        await projection.need_changed(event)
        if rng.random() < 0.2:
            await projection.need_changed(rng.choice(events[: step + 1]))  # again, late
        if step % 20 == 10:
            sector_moves += 1
            category = rng.choice([ItemCategory.SHELTER, ItemCategory.NFI, ItemCategory.WATER])
            await projection.item_changed(_item("TARP", category, sector_moves))
    await _both_paths(db)


# -- a poll's events in one batch (ADR 0034) -------------------------------------------------


def _poll(rng: random.Random, needs: int = 12) -> list[CloudEvent]:
    """A poll of needs events: each need's in order, the needs interleaved, some events twice,
    with needs moving cercle, partner, status and quantities over the weeks."""
    queues = []
    for n in range(needs):
        queue = []
        for sequence in range(1, rng.randint(2, 5)):
            items = {}
            for code in rng.sample(["KIT-SHELTER", "TARP", "KIT-NFI", "WATER"], rng.randint(1, 3)):
                r = rng.randint(1, 50)
                p = rng.choice([0, r // 2, r])
                d = min(p, rng.choice([0, p]))
                items[code] = (r, p, d, rng.choice([0, d, d // 2]))
            need = _state(
                f"B{n}",
                rng.randint(1, 30),
                items,
                cercle=rng.choice(["ML0501", "ML0502", "ML0601"]),
                partner=rng.choice(["NRC", "DRC"]),
                status=rng.choice([NeedStatus.SUBMITTED, NeedStatus.COVERED, NeedStatus.CANCELLED]),
            )
            queue.append(_event(need, sequence, MONDAY + timedelta(days=7 * sequence)))
        queues.append(queue)
    events: list[CloudEvent] = []
    while any(queues):
        events.append(rng.choice([q for q in queues if q]).pop(0))
        if rng.random() < 0.15:
            events.append(rng.choice(events))
    return events


@pytest.fixture
async def reference_db(store_client: Any) -> Any:
    """A second database: the same events one by one, to compare a batch with."""
    name = f"test_ref_{random.randrange(16**12):012x}"
    yield store_client[name]
    await store_client.drop_database(name)


async def _one_by_one(db: AsyncDatabase[Document], events: list[CloudEvent]) -> list[Any]:
    projection = _projection(db)
    await _catalogue(projection)
    for event in events:
        await projection.need_changed(event)
    return await _both_paths(db)


async def test_a_poll_in_one_batch_leaves_the_cells_one_by_one_leaves(
    db: AsyncDatabase[Document], reference_db: AsyncDatabase[Document]
) -> None:
    rng = random.Random(34)
    polls = [_poll(rng), _poll(rng)]
    projection = _projection(db)
    await _catalogue(projection)
    for poll in polls:
        await projection.needs_changed(poll)
    assert await _both_paths(db) == await _one_by_one(reference_db, polls[0] + polls[1])
    assert await db[mongo_gaps.GAPS].count_documents({"pending": {"$exists": True}}) == 0


async def test_a_redelivered_poll_changes_no_cell(db: AsyncDatabase[Document]) -> None:
    projection = _projection(db)
    await _catalogue(projection)
    poll = _poll(random.Random(8))
    await projection.needs_changed(poll)
    before = await _both_paths(db)
    documents = [doc async for doc in db[mongo_gaps.GAPS].find({}).sort("_id", 1)]

    assert set(await projection.needs_changed(poll)) == {Applied.DUPLICATE}
    assert await _both_paths(db) == before
    assert [doc async for doc in db[mongo_gaps.GAPS].find({}).sort("_id", 1)] == documents


@pytest.mark.parametrize("cells_done", [0, 1, 4])
async def test_a_crash_between_a_poll_s_documents_and_its_cells_is_completed_by_the_redelivery(
    db: AsyncDatabase[Document], reference_db: AsyncDatabase[Document], cells_done: int
) -> None:
    """The documents are written (each with its pending change), then the process dies after
    `cells_done` cell updates of each kind: the poll delivered again completes every cell once."""
    rng = random.Random(55)
    first, second = _poll(rng), _poll(rng)
    await _catalogue(_projection(db))
    await _projection(db).needs_changed(first)
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=cells_done).needs_changed(second)
    assert await db[mongo_gaps.GAPS].count_documents({"pending": {"$exists": True}}) > 0

    await _projection(db).needs_changed(second)  # delivered again after the restart
    await _projection(db).needs_changed(second)
    assert await _both_paths(db) == await _one_by_one(reference_db, first + second)
    assert await db[mongo_gaps.GAPS].count_documents({"pending": {"$exists": True}}) == 0


async def test_a_crashed_poll_parked_for_good_is_completed_by_the_periodic_job(
    db: AsyncDatabase[Document], reference_db: AsyncDatabase[Document]
) -> None:
    poll = _poll(random.Random(89))
    await _catalogue(_projection(db))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=2).needs_changed(poll)
    await gap_view(db).settle_pending()
    assert await _both_paths(db) == await _one_by_one(reference_db, poll)


# -- a cell's guard bounded by what is in flight (ADR 0037) ----------------------------------


async def _largest_cell(db: AsyncDatabase[Document]) -> tuple[int, int]:
    """The most guard entries (`seen`) any cell holds, and the largest cell's size in bytes."""
    entries, size = 0, 0
    for name in mongo_gaps.CELLS.values():
        async for doc in db[name].find({}):
            entries = max(entries, len(doc.get("seen", {})))
            size = max(size, len(bson.encode(doc)))
    return entries, size


async def test_a_cell_does_not_grow_with_the_needs_that_touched_it(
    db: AsyncDatabase[Document],
) -> None:
    """Every need on the same cercle, partner and item: one cell (and its roll-ups) moved by
    all of them, one by one and in polls. Once their changes are in, the cell keeps no trace
    of each need: its size is the same after 10 needs as after 200."""
    projection = _projection(db)
    await _catalogue(projection)

    def need(n: int) -> CloudEvent:
        return _event(_state(f"G{n:03}", 5, {"TARP": (10, 5, 0, 0)}), 1)

    for n in range(10):
        await projection.need_changed(need(n))
    after_ten = await _largest_cell(db)
    for first in range(10, 200, 38):
        await projection.needs_changed([need(n) for n in range(first, min(first + 38, 200))])
    after_two_hundred = await _largest_cell(db)

    assert after_ten[0] == after_two_hundred[0] == 0
    assert after_two_hundred[1] == after_ten[1]
    rows = await gap_view(db).by_item(GapFilter(), "admin2")
    assert [(r.needs, r.requested, r.planned) for r in rows] == [(200, 2000, 1000)]


class Gate:
    """Runs `first` (another writer's whole step) before any of the guarded writes goes on."""

    def __init__(self, first: Callable[[], Awaitable[Any]]) -> None:
        self._first = first
        self._task: asyncio.Future[Any] | None = None

    async def open(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._first())
        await self._task


class GatedCollection:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self._inner, self._gate = inner, gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def bulk_write(self, requests: list[Any], **kwargs: Any) -> Any:
        await self._gate.open()
        return await self._inner.bulk_write(requests, **kwargs)


async def test_a_settler_overtaken_by_another_changes_no_cell(
    db: AsyncDatabase[Document],
) -> None:
    """The periodic job reads a crash's pending change; before its cell updates land, the
    redelivered event completes the change and the cells forget the need. The job's updates,
    read from a pending change that is gone, must not add it a second time."""
    await _catalogue(_projection(db))
    first = _event(_state("N1", 10, {"TARP": (10, 0, 0, 0), "KIT-NFI": (10, 0, 0, 0)}), 1)
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=0).need_changed(first)

    gate = Gate(lambda: _projection(db).need_changed(first))
    job = gap_view(db)
    job._cells = {
        kind: GatedCollection(db[name], gate)  # type: ignore[misc]
        for kind, name in mongo_gaps.CELLS.items()
    }
    await job.settle_pending()

    await _both_paths(db)
    rows = await gap_view(db).by_item(GapFilter(), "admin1")
    assert {(r.item_code, r.needs, r.requested) for r in rows} == {
        ("TARP", 1, 10),
        ("KIT-NFI", 1, 10),
    }
    assert (await _largest_cell(db))[0] == 0


async def test_a_settler_refused_for_another_need_s_change_applies_its_own_after(
    db: AsyncDatabase[Document],
) -> None:
    """Another need moves the same cells (and they forget it) between the job's read of them
    and its updates: refused for the epoch, the job reads again and adds its change once."""
    await _catalogue(_projection(db))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=0).need_changed(
            _event(_state("N1", 10, {"TARP": (10, 0, 0, 0)}), 1)
        )
    other = _event(_state("N2", 20, {"TARP": (20, 0, 0, 0)}), 1)
    gate = Gate(lambda: _projection(db).need_changed(other))
    job = gap_view(db)
    job._cells = {
        kind: GatedCollection(db[name], gate)  # type: ignore[misc]
        for kind, name in mongo_gaps.CELLS.items()
    }
    await job.settle_pending()

    await _both_paths(db)
    rows = await gap_view(db).by_item(GapFilter(), "admin2")
    assert [(r.needs, r.requested, r.households) for r in rows] == [(2, 30, 30)]
    assert (await _largest_cell(db))[0] == 0


async def test_a_crash_then_the_redelivery_then_a_later_change_of_the_need(
    db: AsyncDatabase[Document], reference_db: AsyncDatabase[Document]
) -> None:
    """A crash between the gap documents and the cells, the poll delivered again (the cells
    forget the needs once their changes are in), then later events of the same needs: each
    later change reaches every cell once, as one by one."""
    rng = random.Random(37)
    first = _poll(rng)
    later = [
        _event(_state(f"B{n}", 7, {"TARP": (70, 70, 70, 35)}, cercle="ML0601"), 9)
        for n in range(12)
    ]
    await _catalogue(_projection(db))
    with pytest.raises(Crash):
        await _projection(db, crash_cells_after=1).needs_changed(first)
    await _projection(db).needs_changed(first)  # delivered again after the restart
    await _projection(db).needs_changed(later[:6])
    for event in later[6:]:
        await _projection(db).need_changed(event)
    await _projection(db).needs_changed(first + later)  # everything once more

    assert await _both_paths(db) == await _one_by_one(reference_db, first + later)
    assert await db[mongo_gaps.GAPS].count_documents({"pending": {"$exists": True}}) == 0
    assert (await _largest_cell(db))[0] == 0
