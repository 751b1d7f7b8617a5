"""A poll's needs events folded into one gap write per need (ADR 0034): the same documents and
cells as the events one by one, and a redelivered poll changes nothing."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from kitflow_distribution.handlers.projections import GapProjection
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

from tests.support.saga import validated_need
from tests.unit.distribution.fakes import FakeGapView, FakeItemView

SECTORS = {"KIT-SHELTER": "shelter", "TARP": "shelter", "KIT-NFI": "nfi", "WATER": "water"}
MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)
STATUSES = [
    NeedStatus.SUBMITTED,
    NeedStatus.VALIDATED,
    NeedStatus.PARTIALLY_COVERED,
    NeedStatus.COVERED,
    NeedStatus.CANCELLED,
]


def _projection() -> GapProjection:
    return GapProjection(FakeItemView(SECTORS), FakeGapView())  # type: ignore[arg-type]


def _need(rng: random.Random, need_id: str) -> NeedState:
    cercle = rng.choice(["ML0501", "ML0502", "ML0601"])
    need = validated_need(need_id, cercle[:4], cercle, {}, partner=rng.choice(["NRC", "DRC"]))
    need.population.households = rng.randint(1, 60)
    need.status = rng.choice(STATUSES)
    items = []
    for code in rng.sample(sorted(SECTORS), rng.randint(1, 3)):
        r = rng.randint(1, 50)
        p = rng.choice([0, r // 2, r])
        d = min(p, rng.choice([0, p]))
        v = rng.choice([0, d, d // 2])
        items.append(
            NeedItemState(
                item_code=code,
                requested=r,
                planned=p,
                reserved=0,
                dispatched=d,
                delivered=v,
                remaining=max(0, r - max(p, v)),
            )
        )
    need.items = items
    return need


def _event(need: NeedState, sequence: int, at: datetime) -> CloudEvent:
    spec = NEED_SUBMITTED if sequence == 1 else NEED_COVERAGE_CHANGED
    event = spec.new(
        need, subject=need_subject(need.need_id), sequence=sequence, context=EventContext.new()
    )
    return event.model_copy(update={"time": at})


def _backlog(rng: random.Random) -> list[CloudEvent]:
    """Each need's events in order, the needs interleaved (as on a partition), with some events
    delivered again later and some older ones arriving late."""
    queues = []
    for n in range(8):
        count = rng.randint(1, 6)
        weeks = sorted(rng.randint(0, 3) for _ in range(count))
        queues.append(
            [
                _event(_need(rng, f"R{n}"), seq, MONDAY + timedelta(weeks=weeks[seq - 1]))
                for seq in range(1, count + 1)
            ]
        )
    events: list[CloudEvent] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        events.append(queue.pop(0))
        if rng.random() < 0.2:
            events.append(rng.choice(events))  # a redelivery, or an older event late
    return events


def _in_polls(rng: random.Random, events: list[CloudEvent]) -> list[list[CloudEvent]]:
    polls, start = [], 0
    while start < len(events):
        end = start + rng.randint(1, 12)
        polls.append(events[start:end])
        start = end
    return polls


def _view(projection: GapProjection) -> FakeGapView:
    view = projection.gaps
    assert isinstance(view, FakeGapView)
    return view


@pytest.mark.parametrize("seed", range(40))
async def test_a_batch_leaves_the_cells_the_events_one_by_one_leave(seed: int) -> None:
    rng = random.Random(seed)
    events = _backlog(rng)
    one_by_one, batched = _projection(), _projection()
    expected = [await one_by_one.need_changed(e) for e in events]

    outcomes = []
    for poll in _in_polls(rng, events):
        outcomes += await batched.needs_changed(poll)

    assert outcomes == expected
    assert _view(batched).totals() == _view(one_by_one).totals()
    # The documents too, but for their version: one a write, and a batch writes a need once.
    assert {n: replace(d, version=0) for n, d in _view(batched).docs.items()} == {
        n: replace(d, version=0) for n, d in _view(one_by_one).docs.items()
    }


async def test_a_redelivered_poll_changes_nothing() -> None:
    rng = random.Random(17)
    events = _backlog(rng)
    projection = _projection()
    await projection.needs_changed(events)
    view = _view(projection)
    docs, cells = dict(view.docs), view.totals()

    assert await projection.needs_changed(events) == [Applied.DUPLICATE] * len(events)
    assert (view.docs, view.totals()) == (docs, cells)


async def test_a_poll_reads_the_sectors_once_and_writes_each_need_once() -> None:
    rng = random.Random(5)
    events = [_event(_need(rng, f"N{n % 3}"), n // 3 + 1, MONDAY) for n in range(12)]
    projection = _projection()
    items = projection.items
    assert isinstance(items, FakeItemView)

    await projection.needs_changed(events)

    assert items.reads == 1
    assert _view(projection).batches == 1
    assert {d.version for d in _view(projection).docs.values()} == {1}
    assert {d.sequence for d in _view(projection).docs.values()} == {4}
