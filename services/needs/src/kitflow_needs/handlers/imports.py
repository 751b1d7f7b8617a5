"""Importing needs in bulk (an HXL file): every bad row reported, the good ones imported.

The same file imported twice changes nothing: each row's need gets an id derived from the
organisation and the row (its `#meta+id` when the partner gives one, otherwise its values), so a
second import finds every need already there with the same content. A row whose `#meta+id` is
known but whose values changed updates that need.

Work goes in chunks: per chunk one read of the ids already imported, one query for other
partners' needs in the same cercles (the duplicate candidates) and one bulk insert, each need
with its own events in its own document (the outbox), exactly as a single create stores it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from kitflow_shared.events.envelope import EventContext

from kitflow_needs.domain.duplicates import find_duplicates
from kitflow_needs.domain.errors import FieldProblem, InvalidInput, NeedsError
from kitflow_needs.domain.intake import NeedInput, build_details
from kitflow_needs.domain.need import Need, NeedDetails
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.integration import need_events
from kitflow_needs.handlers.needs import link_back, revise_need
from kitflow_needs.handlers.ports import Actor, ImportRecord, NeedsServices

CHUNK_ROWS = 500
NEED_ID_NAMESPACE = uuid.UUID("5a4c3f0e-7d4b-4b8e-9a57-6b1f0c1d2e3f")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportRow:
    """One row of the file, read into a need's input (or not, when unreadable)."""

    row: int  # as a spreadsheet numbers it: 1 is the first line of the file
    given: NeedInput | None
    # The row's values, normalised: two rows with the same fingerprint are the same need.
    fingerprint: str
    # Field path (`location.admin2_pcode`, `items.0.quantity`) → the column it came from.
    columns: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[FieldProblem, ...] = ()

    def column_of(self, field_path: str) -> str:
        parts = field_path.split(".")
        while parts:
            found = self.columns.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return field_path


@dataclass(frozen=True)
class ImportOptions:
    submit: bool = True
    # Applied to rows that give neither items nor a profile of their own.
    profile_id: str | None = None
    duration_days: int | None = None


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})


@dataclass(frozen=True)
class _Prepared:
    row: ImportRow
    given: NeedInput
    details: NeedDetails
    need_id: str
    import_key: str
    content_hash: str


async def import_needs(
    rows: Sequence[ImportRow],
    options: ImportOptions,
    actor: Actor,
    svc: NeedsServices,
    context: EventContext,
    progress: Progress | None = None,
) -> ImportReport:
    profiles = {p.profile_id: p for p in await svc.profiles.all()}
    if options.profile_id is not None and options.profile_id not in profiles:
        raise InvalidInput.of(
            "profile",
            f"unknown norms profile {options.profile_id!r}; known: "
            f"{', '.join(sorted(profiles)) or 'none'}",
        )
    report = ImportReport(rows=len(rows))
    first_row_of: dict[str, int] = {}
    done = 0
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        prepared = [
            p
            for row in chunk
            if (p := _prepare(row, options, actor, svc, profiles, first_row_of, report))
        ]
        await _store(prepared, options, actor, svc, context, report)
        done += len(chunk)
        if progress is not None:
            progress(done)
    report.errors.sort(key=lambda e: (e.row, e.column))
    return report


def need_id_for(import_key: str) -> str:
    return str(uuid.uuid5(NEED_ID_NAMESPACE, import_key))


def _prepare(
    row: ImportRow,
    options: ImportOptions,
    actor: Actor,
    svc: NeedsServices,
    profiles: Mapping[str, NormsProfile],
    first_row_of: dict[str, int],
    report: ImportReport,
) -> _Prepared | None:
    if row.given is None:
        report.errors += [_error(row, p) for p in row.problems] or [
            RowError(row.row, "", "the row could not be read")
        ]
        return None
    given = row.given
    if given.profile_id is None and not given.items and options.profile_id is not None:
        given = replace(given, profile_id=options.profile_id, duration_days=options.duration_days)
    content = "\x1f".join(
        [
            actor.organisation,
            row.fingerprint,
            given.profile_id or "",
            str(given.duration_days or ""),
            "submit" if options.submit else "draft",
        ]
    )
    content_hash = hashlib.sha256(content.encode()).hexdigest()
    ref = given.external_ref
    import_key = (
        f"{actor.organisation}\x1fref\x1f{ref}"
        if ref
        else f"{actor.organisation}\x1f{content_hash}"
    )
    earlier = first_row_of.get(import_key)
    if earlier is not None:
        column = row.column_of("external_ref") if ref else ""
        what = (
            f"the #meta+id {ref!r} is used by row {earlier} too"
            if ref
            else (f"the same need as row {earlier} (identical values)")
        )
        report.errors.append(RowError(row.row, column, what))
        return None
    first_row_of[import_key] = row.row
    try:
        details = build_details(
            given,
            gazetteer=svc.gazetteer,
            catalogue=svc.catalogue,
            profiles=profiles,
        )
    except InvalidInput as exc:
        report.errors += [_error(row, p) for p in exc.problems]
        return None
    return _Prepared(row, given, details, need_id_for(import_key), import_key, content_hash)


async def _store(
    prepared: list[_Prepared],
    options: ImportOptions,
    actor: Actor,
    svc: NeedsServices,
    context: EventContext,
    report: ImportReport,
) -> None:
    if not prepared:
        return
    stored = await svc.needs.imported([p.need_id for p in prepared])
    fresh = [p for p in prepared if p.need_id not in stored]
    candidates: list[Need] = []
    if fresh and options.submit:
        candidates = await svc.needs.active_in(
            {p.details.location.admin2_pcode for p in fresh},
            excluding_organisation=actor.organisation,
        )
    now = svc.clock.now()
    records = []
    for p in fresh:
        links = (
            find_duplicates(p.need_id, actor.organisation, p.details, candidates)
            if options.submit
            else ()
        )
        need = Need.create(
            p.need_id,
            actor.organisation,
            p.details,
            by=actor.user,
            now=now,
            submit=options.submit,
            duplicates=links,
        )
        records.append(
            ImportRecord(need, need_events(need.events, context), p.import_key, p.content_hash)
        )
    inserted = await svc.needs.add_imported(records) if records else set()
    for record in records:
        if record.need.need_id in inserted:
            report.imported += 1
            report.created.append(record.need.need_id)
            if record.need.duplicates:
                await link_back(record.need, svc, context)
        else:
            report.unchanged += 1  # a concurrent import of the same row got there first

    for p in prepared:
        held = stored.get(p.need_id)
        if held is None:
            continue
        if held.content_hash == p.content_hash:
            report.unchanged += 1
            continue
        try:
            await revise_need(p.need_id, p.given, actor, svc, context, content_hash=p.content_hash)
        except InvalidInput as exc:
            report.errors += [_error(p.row, problem) for problem in exc.problems]
        except NeedsError as exc:
            report.errors.append(RowError(p.row.row, p.row.column_of("external_ref"), str(exc)))
        else:
            report.updated += 1


def _error(row: ImportRow, problem: FieldProblem) -> RowError:
    return RowError(row.row, row.column_of(problem.field), problem.reason)
