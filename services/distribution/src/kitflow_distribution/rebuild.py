"""Rebuild distribution's read models (warehouses, stock, needs, items, gaps, stock signals)
by replaying the topics.

    python -m kitflow_distribution.rebuild [--keep]
    python -m kitflow_distribution.rebuild --gap-cells-only

Drops the views (unless --keep) and reads the stock and needs topics from their beginning up to
where they end now, through the same sequence-guarded projections the consumer uses. Because
every view update is "apply if newer", the replay is safe while the service keeps running: the
live consumer and the replay can only move a document forward. The gap cells (ADR 0027) are
the exception when dropped: a need the live consumer changes between the drop of the gap
documents and of the cells would be counted twice or not at all, so drop them (the default)
with the consumer stopped; `--keep` is safe while it runs. Event topics keep their events
forever, so the views can always be rebuilt. Each poll's consecutive needs events are replayed
in one batch, as the consumer applies them (ADR 0034).

`--gap-cells-only` rebuilds only the gap cells (ADR 0027) from the gap documents, the source of
truth they are summed from (after an upgrade from a version without cells, for one): run it
with the service's consumer stopped, since a need changed during the rebuild could be counted
in a cell before the cell is rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from kitflow_shared.contracts.stock import (
    LOW_STOCK,
    NEAR_EXPIRY,
    WAREHOUSE_REGISTERED,
    WAREHOUSE_UPDATED,
)
from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.events.registry import UnreadablePayload
from kitflow_shared.logging import configure_logging
from kitflow_shared.messaging.consumer import Handler
from kitflow_shared.messaging.idempotency import Applied
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.store import create_client
from kitflow_shared.topics import NEEDS_EVENTS, STOCK_EVENTS
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from kitflow_distribution import SERVICE
from kitflow_distribution.adapters import mongo_alerts, mongo_gaps, mongo_views
from kitflow_distribution.adapters.mongo_alerts import MongoStockAlerts
from kitflow_distribution.adapters.mongo_gap_cells import MongoGapView
from kitflow_distribution.adapters.mongo_gaps import MongoItemView
from kitflow_distribution.adapters.mongo_views import (
    MongoNeedsView,
    MongoStockView,
    MongoWarehouseView,
)
from kitflow_distribution.handlers import projections
from kitflow_distribution.handlers.projections import GapProjection

log = logging.getLogger(__name__)
NEED_TYPES = frozenset(spec.type for spec in projections.NEED_EVENTS)
# The issue 16 views, built from the same topics.
REBUILT_TOO = (
    mongo_gaps.ITEMS,
    mongo_gaps.GAPS,
    *mongo_gaps.CELLS.values(),
    mongo_alerts.STOCK_ALERTS,
)
Document = dict[str, object]


@dataclass
class RebuildReport:
    records: int = 0
    applied: int = 0
    skipped: int = 0


async def rebuild_views(
    db: AsyncDatabase[Document], bootstrap_servers: str, namespace: str, keep: bool = False
) -> RebuildReport:
    if not keep:
        for name in (*mongo_views.VIEWS, *REBUILT_TOO):
            await db.drop_collection(name)
    warehouses = MongoWarehouseView(db[mongo_views.WAREHOUSES])
    stock = MongoStockView(db[mongo_views.STOCK])
    needs = MongoNeedsView(db[mongo_views.NEEDS])
    gaps = GapProjection(MongoItemView(db[mongo_gaps.ITEMS]), gap_view(db))
    signals = MongoStockAlerts(db[mongo_alerts.STOCK_ALERTS], db[mongo_views.STOCK])
    handlers: dict[str, Handler] = {
        WAREHOUSE_REGISTERED.type: lambda e: projections.warehouse_changed(e, warehouses),
        WAREHOUSE_UPDATED.type: lambda e: projections.warehouse_changed(e, warehouses),
        **{
            s.type: (lambda e: projections.balances_changed(e, stock))
            for s in projections.BALANCE_EVENTS
        },
        **{s.type: (lambda e: _need(e, needs, gaps)) for s in projections.NEED_EVENTS},
        **{s.type: gaps.item_changed for s in projections.ITEM_EVENTS},
        LOW_STOCK.type: lambda e: _low_stock(e, stock, signals),
        NEAR_EXPIRY.type: lambda e: projections.stock_signal(e, signals),
    }
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    report = RebuildReport()
    try:
        names = [STOCK_EVENTS.qualified(namespace), NEEDS_EVENTS.qualified(namespace)]
        partitions = [
            TopicPartition(topic, p)
            for topic, count in (await _partition_counts(bootstrap_servers, names)).items()
            for p in range(count)
        ]
        if not partitions:
            return report
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                await _replay(records, handlers, lambda e: _needs(e, needs, gaps), report)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return report


def gap_view(db: AsyncDatabase[Document]) -> MongoGapView:
    return MongoGapView(
        db[mongo_gaps.GAPS], {kind: db[name] for kind, name in mongo_gaps.CELLS.items()}
    )


async def _replay(
    records: list[Any],
    handlers: dict[str, Handler],
    needs_batch: Callable[[list[CloudEvent]], Awaitable[list[Applied]]],
    report: RebuildReport,
) -> None:
    """One poll's records of a partition: the consecutive needs events in one batch (ADR
    0034), as the consumer does; a batch that fails (an unreadable payload in it) is replayed
    one by one, skipping what cannot be read."""
    run: list[CloudEvent] = []

    async def flush() -> None:
        if not run:
            return
        try:
            outcomes = await needs_batch(run)
        except UnreadablePayload:
            for event in run:
                await _one(event, handlers, report)
        else:
            report.applied += sum(o is Applied.APPLIED for o in outcomes)
        run.clear()

    for record in records:
        report.records += 1
        try:
            event = CloudEvent.from_bytes(record.value)
        except (ValidationError, ValueError):
            report.skipped += 1  # the live consumer parked it already
            continue
        if event.type in NEED_TYPES:
            run.append(event)
            continue
        await flush()
        await _one(event, handlers, report)
    await flush()


async def _one(event: CloudEvent, handlers: dict[str, Handler], report: RebuildReport) -> None:
    handler = handlers.get(event.type)
    if handler is None:
        return
    try:
        outcome = await handler(event)
    except UnreadablePayload:
        report.skipped += 1
        return
    report.applied += outcome is Applied.APPLIED


async def _needs(
    events: list[CloudEvent], needs: MongoNeedsView, gaps: GapProjection
) -> list[Applied]:
    outcomes = await projections.needs_changed(events, needs)
    gap_outcomes = await gaps.needs_changed(events)
    return [
        Applied.APPLIED if Applied.APPLIED in pair else Applied.DUPLICATE
        for pair in zip(outcomes, gap_outcomes, strict=True)
    ]


async def _need(event: CloudEvent, needs: MongoNeedsView, gaps: GapProjection) -> Applied:
    outcome = await projections.need_changed(event, needs)
    gap = await gaps.need_changed(event)
    return Applied.APPLIED if Applied.APPLIED in (outcome, gap) else Applied.DUPLICATE


async def _low_stock(
    event: CloudEvent, stock: MongoStockView, signals: MongoStockAlerts
) -> Applied:
    outcome = await projections.balances_changed(event, stock)
    await projections.stock_signal(event, signals)
    return outcome


async def _partition_counts(bootstrap_servers: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if not t.get("error_code")}


async def _cells(common: CommonSettings) -> int:
    client = create_client(StoreSettings(), "kitflow-distribution-rebuild")
    try:
        return await gap_view(client[common.database_name(SERVICE)]).rebuild_cells()
    finally:
        await client.close()


def main() -> None:
    import typer

    def run(
        keep: bool = typer.Option(
            False, help="Replay over the views instead of dropping them first"
        ),
        gap_cells_only: bool = typer.Option(
            False, help="Only the gap cells, from the gap documents (consumer stopped)"
        ),
    ) -> None:
        """Rebuild distribution's read models from the stock and needs topics."""
        common = CommonSettings()
        configure_logging(SERVICE, common.log_level, as_json=False)
        if gap_cells_only:
            typer.echo(f"gap cells rebuilt from {asyncio.run(_cells(common))} needs")
            return

        async def go() -> RebuildReport:
            client = create_client(StoreSettings(), "kitflow-distribution-rebuild")
            try:
                return await rebuild_views(
                    client[common.database_name(SERVICE)],
                    KafkaSettings().bootstrap_servers,
                    common.namespace,
                    keep,
                )
            finally:
                await client.close()

        report = asyncio.run(go())
        typer.echo(
            f"replayed {report.records} records: {report.applied} applied, "
            f"{report.skipped} unreadable skipped"
        )

    typer.run(run)


if __name__ == "__main__":
    main()
