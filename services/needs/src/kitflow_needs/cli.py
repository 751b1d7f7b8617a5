"""kitflow-needs command line: import an HXL file of needs, export needs as HXL.

    python -m kitflow_needs.cli import needs.csv --org NRC
    python -m kitflow_needs.cli export --out needs.csv

It works on the needs service's store directly (configured by the same KITFLOW_* variables as the
service) through the same handler as the bulk endpoint, so a row imported here is stored exactly
as one imported over HTTP: with its events in its outbox. The running service's relay publishes
them; `--publish` (the default) also publishes them from here right away.

Exit codes: 0 every row imported (or already there); 2 some rows rejected (listed); 1 the file
could not be imported at all.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.messaging.outbox import OutboxRelay
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.settings import CommonSettings, KafkaSettings, StoreSettings
from kitflow_shared.spreadsheet import csv_row
from kitflow_shared.store import create_client, ensure_indexes
from kitflow_shared.topics import NEEDS_EVENTS
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kitflow_needs import SERVICE
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
from kitflow_needs.adapters.hxl_io import export_header, export_rows, read_needs_file
from kitflow_needs.adapters.mongo_catalogue import MongoCatalogueRepository
from kitflow_needs.adapters.mongo_import_requests import MongoImportRequestRepository
from kitflow_needs.adapters.mongo_needs import MongoNeedRepository
from kitflow_needs.adapters.mongo_profiles import MongoProfileRepository
from kitflow_needs.bootstrap import new_need_id
from kitflow_needs.config import NeedsSettings
from kitflow_needs.domain.errors import InvalidInput, NeedsError, UnreadableFile
from kitflow_needs.handlers.catalogue import LiveCatalogue
from kitflow_needs.handlers.imports import ImportHandlers, ImportOptions, ImportReport
from kitflow_needs.handlers.needs import NeedHandlers
from kitflow_needs.handlers.ports import Actor, NeedQuery, NeedsServices

app = typer.Typer(help="kitflow needs: HXL import and export", add_completion=False)
console = Console(stderr=True)
SHOWN_ERRORS = 30


def _services(db: object) -> NeedsServices:
    from pymongo.asynchronous.database import AsyncDatabase

    assert isinstance(db, AsyncDatabase)
    return NeedsServices(
        needs=MongoNeedRepository(db[mongo_needs.COLLECTION], lambda _c, _i: None),
        profiles=MongoProfileRepository(db[mongo_profiles.COLLECTION]),
        gazetteer=load_gazetteer(NeedsSettings().reporting_vintage),
        catalogue=LiveCatalogue(
            load_catalogue(), MongoCatalogueRepository(db[mongo_catalogue.COLLECTION])
        ),
        clock=SystemClock(),
        new_id=new_need_id,
        import_requests=MongoImportRequestRepository(db[mongo_import_requests.COLLECTION]),
    )


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="HXL CSV or XLSX")],
    org: Annotated[str, typer.Option("--org", help="The partner organisation importing")],
    user: Annotated[str, typer.Option(help="Recorded as the needs' creator")] = "cli",
    draft: Annotated[bool, typer.Option(help="Import as drafts instead of submitting")] = False,
    profile: Annotated[
        str | None, typer.Option(help="Norms profile for rows that give no items")
    ] = None,
    duration_days: Annotated[int | None, typer.Option(help="Duration for the profile")] = None,
    rules: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Apply only this rule of the profile (repeat it); all if none"),
    ] = None,
    publish: Annotated[bool, typer.Option(help="Publish the events right away")] = True,
    errors_csv: Annotated[
        Path | None, typer.Option(help="Write every rejected row (row, column, reason) here")
    ] = None,
) -> None:
    """Import needs from an HXL-tagged file, with a progress bar and a report of bad rows."""
    options = ImportOptions(
        not draft,
        profile,
        duration_days,
        tuple(r.strip().upper() for r in rules) if rules else None,
    )
    code = asyncio.run(_import(file, org, user, options, publish, errors_csv))
    raise typer.Exit(code)


async def _import(
    file: Path,
    org: str,
    user: str,
    options: ImportOptions,
    publish: bool,
    errors_csv: Path | None,
) -> int:
    common = CommonSettings()
    client = create_client(StoreSettings(), "kitflow-needs-cli")
    try:
        db = client[common.database_name(SERVICE)]
        await ensure_indexes(db, [*mongo_needs.INDEXES, *mongo_profiles.INDEXES])
        svc = _services(db)
        await svc.profiles.seed(builtin_profiles())
        with console.status(f"reading {file.name}"):
            try:
                data = await asyncio.to_thread(file.read_bytes)
                sheet = await asyncio.to_thread(read_needs_file, data, organisation=org)
            except UnreadableFile as exc:
                console.print(f"[red]{file.name}: {exc.reason}; nothing was imported[/red]")
                return 1
        actor = Actor(user=user, organisation=org)
        with Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("rows", total=len(sheet.rows))
            try:
                report = await ImportHandlers(svc).import_needs(
                    sheet.rows,
                    options,
                    actor,
                    EventContext.new(),
                    progress=lambda done: bar.update(task, completed=done),
                )
            except (InvalidInput, NeedsError) as exc:
                console.print(f"[red]{exc}; nothing was imported[/red]")
                return 1
        _print_report(report, errors_csv)
        if publish:
            await _publish(db, common)
        return 2 if report.errors else 0
    finally:
        await client.close()


def _print_report(report: ImportReport, errors_csv: Path | None) -> None:
    summary = Table("rows", "imported", "updated", "unchanged", "rejected")
    summary.add_row(
        str(report.rows),
        str(report.imported),
        str(report.updated),
        str(report.unchanged),
        str(report.rejected),
    )
    console.print(summary)
    if report.errors:
        errors = Table("row", "column", "reason", title="rejected rows")
        for error in report.errors[:SHOWN_ERRORS]:
            errors.add_row(str(error.row), error.column, error.reason)
        console.print(errors)
        if len(report.errors) > SHOWN_ERRORS:
            console.print(f"... and {len(report.errors) - SHOWN_ERRORS} more")
    if errors_csv is not None:
        with errors_csv.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["row", "column", "reason"])
            # A reason quotes the cell it refuses, which may be a formula (`=HYPERLINK(...) is
            # listed twice`): every cell stays text in a spreadsheet.
            writer.writerows(csv_row([e.row, e.column, e.reason]) for e in report.errors)
        console.print(f"every rejected row is listed in {errors_csv}")


async def _publish(db: object, common: CommonSettings) -> None:
    from pymongo.asynchronous.database import AsyncDatabase

    assert isinstance(db, AsyncDatabase)
    producer = EventProducer(KafkaSettings(), client_id="kitflow-needs-cli")
    try:
        await asyncio.wait_for(producer.start(), timeout=15)
        relay = OutboxRelay(
            service=SERVICE,
            publisher=producer,
            topic=NEEDS_EVENTS.qualified(common.namespace),
            collections=[db[mongo_needs.COLLECTION]],
            batch_size=500,
        )
        published = await relay.sweep_once()
        console.print(f"published {published} events")
    except Exception as exc:
        console.print(
            f"[yellow]the broker did not answer ({type(exc).__name__}); the events stay in the "
            "outbox and the needs service's relay publishes them[/yellow]"
        )
    finally:
        await producer.stop()


@app.command("export")
def export_command(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output")] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation's needs")] = None,
) -> None:
    """Export needs and their coverage as HXL-tagged CSV."""
    asyncio.run(_export(out, org))


async def _export(out: Path | None, org: str | None) -> None:
    common = CommonSettings()
    client = create_client(StoreSettings(), "kitflow-needs-cli")
    try:
        svc = _services(client[common.database_name(SERVICE)])
        actor = Actor(user="cli", organisation=org or "", coordinator=org is None)
        stream = out.open("w", newline="") if out else sys.stdout
        try:
            stream.write(export_header())
            catalogue = await svc.catalogue.refresh()
            offset = 0
            while True:
                page = await NeedHandlers(svc).list_needs(
                    NeedQuery(limit=500, offset=offset), actor
                )
                if not page.items:
                    break
                stream.write(export_rows(page.items, catalogue))
                offset += len(page.items)
        finally:
            if out:
                stream.close()
    finally:
        await client.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
