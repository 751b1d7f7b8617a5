"""Importing needs in bulk (an HXL file): every bad row reported, the good ones imported.

The same file imported twice changes nothing: each row's need gets an id derived from the
organisation and the row (its `#meta+id` when the partner gives one, otherwise its values), so a
second import finds every need already there with the same content. A row whose `#meta+id` is
known but whose values changed updates that need.

Work goes in chunks, each need with its own events in its own document (the outbox), exactly
as a single create stores it. Per chunk:
- one bulk insert. A need already there (an earlier import of the same row) fails on its id, so
  only those are read back, to compare their content: a first import pays no read at all;
- other partners' needs in the chunk's cercles (the duplicate candidates) are read once per
  cercle and import, not once per chunk;
- the chunk's insert is in flight while the next chunk is checked and built, so the store and
  the service work at the same time. Only one insert is ever in flight: a failing store stops
  the import after at most one more chunk, and what was stored stays stored (importing the file
  again completes it).

With an Idempotency-Key (`import_once`), the key is claimed before the import runs and keeps
the import's report once it is done: a retry answers with that report (the ids the first one
created) and does not run the file again, so a retried older file never undoes a newer one
imported in between; a copy that comes while the first runs is told to retry shortly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta

from kitflow_shared.bulk import collector_paused
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.ids import name_uuid
from kitflow_shared.request_keys import IdempotencyKeyReused, RequestKey

from kitflow_needs.domain.catalogue import ItemCatalogue
from kitflow_needs.domain.duplicates import CandidateIndex, find_duplicates
from kitflow_needs.domain.errors import (
    FieldProblem,
    InvalidInput,
    NeedsError,
    RequestInProgress,
)
from kitflow_needs.domain.intake import NeedInput, build_details
from kitflow_needs.domain.need import Need, NeedDetails
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.integration import rendered_need_events
from kitflow_needs.handlers.needs import NeedHandlers
from kitflow_needs.handlers.ports import Actor, ImportRecord, NeedsServices, StoredImport

CHUNK_ROWS = 500
# Checking and building rows is CPU work; every this many rows it lets the event loop run, so
# the chunk in flight keeps streaming to the store (a chunk is over a megabyte, more than the
# socket takes at once) and the service's other requests are answered meanwhile.
YIELD_EVERY = 50
NEED_ID_NAMESPACE = uuid.UUID("5a4c3f0e-7d4b-4b8e-9a57-6b1f0c1d2e3f")
# A keyed import that has not answered after this long died with its process (10,000 rows, a
# 1.3 MB file, import in about 6 s on a small machine; the largest file, 20 MB, some 150,000
# rows, in a minute or two): a retry takes its key over and runs the file again, which
# completes what the first stored (the import is idempotent by itself).
IMPORT_LEASE = timedelta(minutes=10)
IN_PROGRESS_RETRY_AFTER_S = 2
# How long an import's key and report are kept for its retries: far longer than any client
# retries (the gateway replays for 24 hours), short enough that reports do not pile up.
IMPORT_KEYS_RETENTION = timedelta(days=7)

log = logging.getLogger(__name__)

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
    # Which of that profile's rules apply (None: all of them).
    rules: tuple[str, ...] | None = None
    # Update only the drafts no person has edited (the DTM's figures); leave the others.
    only_untouched_drafts: bool = False


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
    # Needs a later import would have changed but left alone (only_untouched_drafts).
    kept: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    @property
    def refused(self) -> bool:
        """Every row was bad: nothing was imported (answered as a 422)."""
        return bool(self.rows) and self.rejected == self.rows

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ImportReport:
        raw = json.loads(text)
        raw["errors"] = [RowError(**e) for e in raw["errors"]]
        return cls(**raw)


@dataclass(frozen=True)
class ImportAnswer:
    report: ImportReport
    # A retry of an import already done: its report, and nothing ran now.
    replayed: bool = False


@dataclass(frozen=True)
class _Prepared:
    row: ImportRow
    given: NeedInput
    details: NeedDetails
    need_id: str
    import_key: str
    content_hash: str


def _check_options(options: ImportOptions, profiles: Mapping[str, NormsProfile]) -> None:
    """The import's own profile and rules (its query), refused as a whole when wrong."""
    if options.profile_id is None:
        if options.rules is not None:
            raise InvalidInput.of("rules", "only meaningful with a profile")
        return
    profile = profiles.get(options.profile_id)
    if profile is None:
        raise InvalidInput.of(
            "profile",
            f"unknown norms profile {options.profile_id!r}; known: "
            f"{', '.join(sorted(profiles)) or 'none'}",
        )
    try:
        profile.chosen(options.rules)
    except InvalidInput as exc:
        raise InvalidInput(
            *(FieldProblem(p.field.removeprefix("norms."), p.reason) for p in exc.problems)
        ) from None


def need_id_for(import_key: str) -> str:
    return name_uuid(NEED_ID_NAMESPACE, import_key)


class _Candidates:
    """Other partners' active needs in the import's cercles: the duplicate candidates, each
    cercle read once per import and indexed by place (CandidateIndex), so that each new need is
    compared only with the ones the duplicate rule could match."""

    def __init__(self, svc: NeedsServices, organisation: str) -> None:
        self._svc = svc
        self._organisation = organisation
        self._loaded: set[str] = set()
        self._index = CandidateIndex()

    async def load(self, cercles: Collection[str]) -> None:
        missing = set(cercles) - self._loaded
        if not missing:
            return
        found = await self._svc.needs.active_in(missing, excluding_organisation=self._organisation)
        self._index.add(found)
        self._loaded |= missing

    def near(self, details: NeedDetails) -> list[Need]:
        return self._index.near(details)


@dataclass(frozen=True)
class _Stored:
    prepared: list[_Prepared]
    records: list[ImportRecord]
    inserted: set[str]
    # The needs already there (an earlier import of the same rows), as the store holds them.
    held: dict[str, StoredImport]


def _error(row: ImportRow, problem: FieldProblem) -> RowError:
    return RowError(row.row, row.column_of(problem.field), problem.reason)


@dataclass
class ImportHandlers:
    """Bulk imports of needs, answered once per Idempotency-Key."""

    svc: NeedsServices

    @property
    def _needs(self) -> NeedHandlers:
        return NeedHandlers(self.svc)

    async def import_once(
        self,
        key: RequestKey | None,
        run: Callable[[], Awaitable[ImportReport]],
    ) -> ImportAnswer:
        """`run` the import, once per Idempotency-Key: a retry of a finished import answers with
        its report; a copy of one still running gets RequestInProgress; the same key with another
        file or query, IdempotencyKeyReused. A failed import, or one that imported nothing because
        every row was bad, forgets its key: its retry runs again."""
        if key is None:
            return ImportAnswer(await run())
        replay = await self._claim(key)
        if replay is not None:
            return replay
        try:
            report = await run()
        except BaseException:
            await self.svc.import_requests.release(key)
            raise
        if report.refused:
            await self.svc.import_requests.release(key)
        elif not await self.svc.import_requests.complete(key, report.to_json()):
            log.warning(
                "the report of import %s is too large to keep; its retry runs again", key.key
            )
            await self.svc.import_requests.release(key)
        return ImportAnswer(report)

    async def forget_old_import_keys(self) -> int:
        """Forget the keys of imports begun more than IMPORT_KEYS_RETENTION ago; how many."""
        return await self.svc.import_requests.forget_before(
            self.svc.clock.now() - IMPORT_KEYS_RETENTION
        )

    async def _claim(self, key: RequestKey) -> ImportAnswer | None:
        """None once the key is ours; the first answer when the import was done before."""
        now = self.svc.clock.now()
        held = await self.svc.import_requests.claim(key, now)
        if held is None:
            return None
        if held.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(key.key)
        if held.answer is not None:
            return ImportAnswer(ImportReport.from_json(held.answer), replayed=True)
        if now - held.since < IMPORT_LEASE or not await self.svc.import_requests.take_over(
            key, held.since, now
        ):
            raise RequestInProgress(key.key, IN_PROGRESS_RETRY_AFTER_S)
        log.warning("import %s begun at %s never answered; running it again", key.key, held.since)
        return None

    async def import_needs(
        self,
        rows: Sequence[ImportRow],
        options: ImportOptions,
        actor: Actor,
        context: EventContext,
        progress: Progress | None = None,
    ) -> ImportReport:
        profiles = {p.profile_id: p for p in await self.svc.profiles.all()}
        _check_options(options, profiles)
        # Read once for the whole import: each row's codes are then dict lookups.
        catalogue = await self.svc.catalogue.refresh()
        with collector_paused():
            return await self._import(rows, options, actor, context, profiles, catalogue, progress)

    async def _import(
        self,
        rows: Sequence[ImportRow],
        options: ImportOptions,
        actor: Actor,
        context: EventContext,
        profiles: Mapping[str, NormsProfile],
        catalogue: ItemCatalogue,
        progress: Progress | None,
    ) -> ImportReport:
        report = ImportReport(rows=len(rows))
        first_row_of: dict[str, int] = {}
        candidates = _Candidates(self.svc, actor.organisation)
        storing: asyncio.Task[_Stored] | None = None
        done = 0
        try:
            for start in range(0, len(rows), CHUNK_ROWS):
                chunk = rows[start : start + CHUNK_ROWS]
                prepared = []
                for n, row in enumerate(chunk, 1):
                    p = self._prepare(
                        row, options, actor, profiles, catalogue, first_row_of, report
                    )
                    if p is not None:
                        prepared.append(p)
                    if n % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                records = await self._new_needs(prepared, options, actor, context, candidates)
                if storing is not None:
                    await self._settle(await storing, options, actor, context, report)
                    if progress is not None:
                        progress(done)
                storing = asyncio.create_task(self._insert(prepared, records))
                done += len(chunk)
            if storing is not None:
                await self._settle(await storing, options, actor, context, report)
                if progress is not None:
                    progress(done)
        except BaseException:
            if storing is not None and not storing.done():
                # Never leave a write running unobserved: it finishes (or fails) before we report.
                await asyncio.wait([storing])
            raise
        report.errors.sort(key=lambda e: (e.row, e.column))
        return report

    def _prepare(
        self,
        row: ImportRow,
        options: ImportOptions,
        actor: Actor,
        profiles: Mapping[str, NormsProfile],
        catalogue: ItemCatalogue,
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
            given = replace(
                given,
                profile_id=options.profile_id,
                duration_days=options.duration_days,
                norm_rules=options.rules,
            )
        content = "\x1f".join(
            [
                actor.organisation,
                row.fingerprint,
                given.profile_id or "",
                str(given.duration_days or ""),
                "submit" if options.submit else "draft",
                *(() if given.norm_rules is None else ("rules", *given.norm_rules)),
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
                gazetteer=self.svc.gazetteer,
                catalogue=catalogue,
                profiles=profiles,
            )
        except InvalidInput as exc:
            report.errors += [_error(row, p) for p in exc.problems]
            return None
        return _Prepared(row, given, details, need_id_for(import_key), import_key, content_hash)

    async def _new_needs(
        self,
        prepared: list[_Prepared],
        options: ImportOptions,
        actor: Actor,
        context: EventContext,
        candidates: _Candidates,
    ) -> list[ImportRecord]:
        """Each prepared row as a new need with its events, its duplicates found."""
        if options.submit:
            await candidates.load({p.details.location.admin2_pcode for p in prepared})
        now = self.svc.clock.now()
        records = []
        for n, p in enumerate(prepared, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            links = (
                find_duplicates(
                    p.need_id, actor.organisation, p.details, candidates.near(p.details)
                )
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
                ImportRecord(
                    need, rendered_need_events(need.events, context), p.import_key, p.content_hash
                )
            )
        return records

    async def _insert(self, prepared: list[_Prepared], records: list[ImportRecord]) -> _Stored:
        inserted = await self.svc.needs.add_imported(records) if records else set()
        known = [r.need.need_id for r in records if r.need.need_id not in inserted]
        held = await self.svc.needs.imported(known) if known else {}
        return _Stored(prepared, records, inserted, held)

    async def _settle(
        self,
        stored: _Stored,
        options: ImportOptions,
        actor: Actor,
        context: EventContext,
        report: ImportReport,
    ) -> None:
        """Count what a chunk's insert did; link new duplicates back; update changed needs."""
        linked = []
        for record in stored.records:
            if record.need.need_id in stored.inserted:
                report.imported += 1
                report.created.append(record.need.need_id)
                if record.need.duplicates:
                    linked.append(record.need)
        await self._needs.link_back_all(linked, context)
        for p in stored.prepared:
            if p.need_id in stored.inserted:
                continue
            held = stored.held.get(p.need_id)
            if held is None or held.content_hash == p.content_hash:
                # The same row imported before (or by a concurrent import of the same file).
                report.unchanged += 1
                continue
            if options.only_untouched_drafts and (held.edited or not held.draft):
                report.kept += 1
                continue
            try:
                await self._needs.revise_need(
                    p.need_id, p.given, actor, context, content_hash=p.content_hash
                )
            except InvalidInput as exc:
                report.errors += [_error(p.row, problem) for problem in exc.problems]
            except NeedsError as exc:
                report.errors.append(RowError(p.row.row, p.row.column_of("external_ref"), str(exc)))
            else:
                report.updated += 1
