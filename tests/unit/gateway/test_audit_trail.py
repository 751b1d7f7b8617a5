"""The audit trail's batched writer, on a fake store: every entry is written exactly once,
through failures, a full queue and shutdown; a reader sees what was answered before it asked."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

import pytest
from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import NotPermitted
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.audit import AuditTrail
from kitflow_shared.web.identity import Role

from tests.unit.gateway.fakes import FakeAuditStore

ADMIN = Principal("USR-A", "admin@iom.int", "IOM", frozenset({Role.ADMIN}), frozenset(), "token")
PARTNER = Principal("USR-P", "p@nrc.no", "NRC", frozenset({Role.PARTNER}), frozenset(), "key:k")


def entry(n: int = 0) -> AuditEntry:
    return AuditEntry(
        entry_id=str(uuid.uuid4()),
        at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        method="POST",
        path=f"/v1/needs/{n}",
        status=201,
        correlation_id=None,
        duration_ms=1.0,
        user_id="USR-P",
        username="p@nrc.no",
        organisation="NRC",
        key_id="k",
        client="127.0.0.1",
    )


async def test_concurrent_requests_are_written_once_each_in_fewer_inserts() -> None:
    store = FakeAuditStore()
    trail = AuditTrail(store)
    entries = [entry(n) for n in range(300)]
    await asyncio.gather(*(trail.record(e) for e in entries))
    await trail.flush()
    assert set(store.entries) == {e.entry_id for e in entries}
    assert sum(store.batches) == 300
    assert len(store.batches) < 300
    await trail.close()


async def test_a_reader_sees_every_entry_recorded_before_it_asked() -> None:
    store = FakeAuditStore()
    trail = AuditTrail(store)
    recorded = entry()
    await trail.record(recorded)
    page = await trail.find(AuditQuery(organisation="NRC"), ADMIN)
    assert [e.entry_id for e in page.items] == [recorded.entry_id]
    await trail.close()


async def test_only_administrators_read_the_trail() -> None:
    trail = AuditTrail(FakeAuditStore())
    with pytest.raises(NotPermitted):
        await trail.find(AuditQuery(), PARTNER)


async def test_a_failed_insert_is_retried_with_the_same_entries() -> None:
    store = FakeAuditStore()
    store.failures_left = 2
    trail = AuditTrail(store, retry_first_s=0.001)
    entries = [entry(n) for n in range(10)]
    for e in entries:
        await trail.record(e)
    await trail.flush()
    assert set(store.entries) == {e.entry_id for e in entries}
    assert store.failures_left == 0
    await trail.close()


async def test_a_full_queue_makes_requests_wait_instead_of_dropping_entries() -> None:
    store = FakeAuditStore()
    store.gate = asyncio.Event()
    trail = AuditTrail(store, max_queued=2)
    entries = [entry(n) for n in range(5)]
    first_two = [asyncio.create_task(trail.record(e)) for e in entries[:2]]
    await asyncio.gather(*first_two)
    await store.inside.wait()  # the writer holds the first two in an insert that hangs
    waiting = [asyncio.create_task(trail.record(e)) for e in entries[2:]]
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)
    store.gate.set()
    await asyncio.gather(*waiting)
    await trail.flush()
    assert set(store.entries) == {e.entry_id for e in entries}
    await trail.close()


async def test_shutdown_writes_everything_still_queued() -> None:
    store = FakeAuditStore()
    store.gate = asyncio.Event()
    trail = AuditTrail(store)
    entries = [entry(n) for n in range(50)]
    for e in entries[:25]:
        await trail.record(e)
    await store.inside.wait()  # an insert is in flight; the next 25 queue up behind it
    for e in entries[25:]:
        await trail.record(e)
    store.gate.set()
    await trail.close()
    assert set(store.entries) == {e.entry_id for e in entries}


async def test_an_entry_recorded_after_shutdown_is_still_written() -> None:
    store = FakeAuditStore()
    trail = AuditTrail(store)
    await trail.close()
    late = entry()
    await trail.record(late)
    assert list(store.entries) == [late.entry_id]


async def test_entries_the_store_refuses_at_shutdown_go_whole_to_the_error_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeAuditStore()
    store.failures_left = 1_000_000
    trail = AuditTrail(store, shutdown_timeout_s=0.05, retry_first_s=0.001)
    entries = [entry(n) for n in range(3)]
    for e in entries:
        await trail.record(e)
    with caplog.at_level(logging.ERROR, logger="kitflow_gateway.handlers.audit"):
        await trail.close()
    assert store.entries == {}
    logged = [r.getMessage() for r in caplog.records if "not written at shutdown" in r.message]
    assert len(logged) == 3
    assert all(any(e.entry_id in line for line in logged) for e in entries)
