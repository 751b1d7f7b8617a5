"""One report of every benchmark's last run: bench/results/report.md.

    uv run python -m bench.report [--results bench/results]

Reads the result files the benches write (`<name>.json`, or the newest `<name>-<time>.json`)
and the machine records of `python -m bench.run` (`<name>.machine.json`), and writes, per
bench: what it measures (its docstring's first line), the reference it is compared with, the
figures, the ratio and the aim where one exists (marked met or MISSED), the machine (cores,
load average at the start and the end) and the date; and the plots (`bench.plots`, SVG files
in `bench/results/plots/`): every aim on one axis, each bench's figures side by side, the
soak's minutes.
"""

from __future__ import annotations

import argparse
import ast
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import plots

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
REPORT = "report.md"

Result = dict[str, Any]


@dataclass(frozen=True)
class Aim:
    """`ratio >= 0.5`, or `page ms <= 1000`: what is compared, how, and with what."""

    label: str
    at_least: bool
    target: float
    value: float | None

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        compare = operator.ge if self.at_least else operator.le
        return bool(compare(self.value, self.target))

    def __str__(self) -> str:
        sign = ">=" if self.at_least else "<="
        verdict = {True: "met", False: "**MISSED**", None: "not measured"}[self.met]
        return f"{self.label} {sign} {self.target:g}: {verdict}"


@dataclass(frozen=True)
class Summary:
    reference: str
    figures: list[tuple[str, Any]]
    ratio: tuple[str, float | None] | None = None
    aims: list[Aim] = field(default_factory=list)


def _get(result: Result, *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _rates(result: Result, pairs: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    return [(label, _get(result, key)) for label, key in pairs]


def _ratio_aim(result: Result, key: str, at_least: bool, target: float | None) -> list[Aim]:
    target = result.get("aim", target)
    return [] if target is None else [Aim("ratio", at_least, float(target), _get(result, key))]


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every number in a nested result, with its path: the fallback for an unknown bench."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flat(v, f"{prefix}{k} / ")]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [(prefix.removesuffix(" / "), value)]
    return []


def _stock_reservations(r: Result) -> Summary:
    return Summary(
        "a bare conditional `update_one` behind a minimal uvicorn endpoint, same store",
        _rates(r, [("service reservations/s", "service_median_per_s")])
        + _rates(r, [("reference reservations/s", "reference_median_per_s")]),
        ("service / reference", _get(r, "ratio_median")),
    )


def _needs_hxl_import(r: Result) -> Summary:
    return Summary(
        "the same CSV read with `csv` and stored with `insert_many` as plain dicts",
        _rates(
            r,
            [
                ("service rows/s", "service_median_rows_per_s"),
                ("reference rows/s", "reference_median_rows_per_s"),
                ("service CPU ms / 1,000 rows", "service_cpu_ms_per_1000_rows"),
                ("reference CPU ms / 1,000 rows", "reference_cpu_ms_per_1000_rows"),
            ],
        ),
        ("service / reference", _get(r, "ratio")),
        _ratio_aim(r, "ratio", True, 0.3),
    )


def _needs_import_levers(r: Result) -> Summary:
    setups = r.get("setups") or {}
    return Summary(
        "bench.needs_hxl_import's reference (`csv` + `insert_many`)",
        [("reference rows/s", r.get("reference_median_rows_per_s"))]
        + [(f"{name} rows/s", s.get("median_rows_per_s")) for name, s in setups.items()]
        + [(f"{name}: ratio", s.get("ratio")) for name, s in setups.items()],
    )


def _kobo_burst(r: Result) -> Summary:
    return Summary(
        "the same needs posted as JSON to POST /v1/needs",
        _rates(
            r,
            [
                ("Kobo needs/s", "kobo_needs_per_s"),
                ("POST /v1/needs needs/s", "api_needs_per_s"),
                ("Kobo retries/s", "kobo_retries_per_s"),
            ],
        ),
        ("Kobo / API", _get(r, "ratio")),
    )


def _planner(r: Result) -> Summary:
    sizes = r.get("sizes") or []
    figures: list[tuple[str, Any]] = []
    for size in sizes:
        n = size.get("needs")
        figures += [
            (f"{n} needs: planner s", _get(size, "planner", "total_seconds")),
            (f"{n} needs: greedy s", _get(size, "greedy", "seconds")),
            (f"{n} needs: reference solve s", _get(size, "reference", "solve_seconds")),
        ]
    measured = [s for s in sizes if s.get("time_ratio_planner_over_bare_solve") is not None]
    ratio = measured[-1]["time_ratio_planner_over_bare_solve"] if measured else None
    return Summary(
        "the same three-stage model solved by scipy's HiGHS (time) and a greedy baseline",
        figures,
        ("planner time / bare solve time (largest size)", ratio),
    )


def _gateway_needs(r: Result) -> Summary:
    return Summary(
        "POST /v1/needs directly on the needs service (internal identity)",
        _rates(
            r,
            [
                ("gateway needs/s", "gateway_median_per_s"),
                ("direct needs/s", "direct_median_per_s"),
            ],
        ),
        ("gateway / direct", _get(r, "ratio_median")),
        _ratio_aim(r, "ratio_median", True, 0.6),
    )


def _gateway_intake(r: Result) -> Summary:
    return Summary(
        "a bare FastAPI endpoint validating the same body and inserting one document",
        _rates(
            r,
            [
                ("gateway needs/s", "gateway_median_per_s"),
                ("bare needs/s", "bare_median_per_s"),
                ("needs per round and path", "needs_per_round"),
                ("rounds", "rounds"),
                ("concurrency", "concurrency"),
            ],
        ),
        ("gateway / bare", _get(r, "ratio_median")),
        _ratio_aim(r, "ratio_median", True, 0.5),
    )


def _store_durability(r: Result) -> Summary:
    return Summary(
        "the store's deferred commit (the library's own behaviour)",
        _flat(r.get("median_writes_per_s"), "writes/s: ")
        + _flat(r.get("median_ratio_to_deferred"), "ratio to deferred: "),
    )


def _warehouse_2g(r: Result) -> Summary:
    app, bare = (
        _get(r, "receipt_in_app", "seconds_median"),
        _get(r, "receipt_bare_api", "seconds_median"),
    )
    return Summary(
        "the same receipt as a bare `fetch` over the same emulated 2G link",
        [
            ("receipt in the app s", app),
            ("bare API call s", bare),
            ("receipt in the app bytes", _get(r, "receipt_in_app", "bytes_median")),
            ("bare API call bytes", _get(r, "receipt_bare_api", "bytes_median")),
        ],
        ("app time / bare time", round(app / bare, 2) if app and bare else None),
    )


def _gaps(r: Result) -> Summary:
    page, aim = r.get("page_all_calls_at_once_ms"), r.get("aim_ms")
    return Summary(
        "one plain `find` of the same cells from the bench's process",
        _rates(
            r,
            [
                ("page (all calls) ms", "page_all_calls_at_once_ms"),
                ("reference query ms", "reference_one_query_ms"),
                ("per-need grouping ms", "per_need_grouping_ms"),
                ("from every need ms", "from_every_need_ms"),
            ],
        ),
        ("page / reference (time)", r.get("ratio_page_to_reference")),
        [] if aim is None else [Aim("page ms", False, float(aim), page)],
    )


def _catch_up(r: Result) -> Summary:
    return Summary(
        "a bare loop consuming the same topics and upserting one document per event, same store",
        _rates(
            r,
            [
                ("distribution's consumer events/s", "consumer_events_per_s"),
                ("the same one by one events/s", "consumer_one_by_one_events_per_s"),
                ("reference events/s", "reference_events_per_s"),
                ("raw consume events/s", "raw_events_per_s"),
                ("batched / one by one", "ratio_consumer_to_one_by_one"),
            ],
        ),
        ("consumer / reference", r.get("ratio_consumer_to_reference")),
        # Issue 17's aim: the views catch up at least twice as fast as the per-event loop.
        _ratio_aim(r, "ratio_consumer_to_reference", True, 2.0),
    )


def _catch_up_cluster(r: Result) -> Summary:
    return Summary(
        "the same bare loop (one process) on the same three brokers, same store",
        _rates(
            r,
            [
                ("two consumers (two processes) events/s", "two_consumers_events_per_s"),
                ("the same, both running events/s", "two_consumers_both_running_events_per_s"),
                ("one consumer (one process) events/s", "one_consumer_events_per_s"),
                ("reference events/s", "reference_events_per_s"),
                ("raw consume events/s", "raw_events_per_s"),
                ("share of each consumer", "two_consumers_share"),
                ("two consumers / one", "ratio_two_consumers_to_one"),
                ("one consumer / reference", "ratio_one_consumer_to_reference"),
            ],
        ),
        ("two consumers / reference", r.get("ratio_two_consumers_to_reference")),
        # Issue 17's aim: the views catch up at least twice as fast as the per-event loop.
        _ratio_aim(r, "ratio_two_consumers_to_reference", True, 2.0),
    )


def _rebuild(r: Result) -> Summary:
    return Summary(
        "the raw consume of the same events (aiokafka, no store)",
        _rates(
            r,
            [
                ("events", "events"),
                ("rebuild s", "rebuild_s"),
                ("rebuild events/s", "rebuild_events_per_s"),
                ("raw consume s", "raw_consume_s"),
            ],
        ),
        ("rebuild time / raw consume time", r.get("ratio_rebuild_to_raw_time")),
    )


def _propagation(r: Result) -> Summary:
    return Summary(
        "a raw produce-consume round trip (aiokafka, acks=all) on the same broker, same size",
        _rates(
            r,
            [
                ("propagation p50 ms", "propagation_p50_ms"),
                ("propagation p99 ms", "propagation_p99_ms"),
                ("round trip p50 ms", "raw_p50_ms"),
                ("round trip p99 ms", "raw_p99_ms"),
                ("gateway answered p50 ms", "answered_p50_ms"),
                ("gateway answered p99 ms", "answered_p99_ms"),
                ("receipts", "receipts"),
                ("message bytes", "message_bytes"),
            ],
        ),
        ("propagation / round trip (p50)", r.get("ratio_p50")),
        # Issue 17's aims: p50 at most 2.5 times the round trip's, p99 at most 5 times.
        [
            Aim("p50 ratio", False, 2.5, r.get("ratio_p50")),
            Aim("p99 ratio", False, 5.0, r.get("ratio_p99")),
        ],
    )


def _stack_memory(r: Result) -> Summary:
    figures: list[tuple[str, Any]] = [
        ("needs imported and validated", r.get("imported")),
        ("plan lines", r.get("plan_lines")),
    ]
    for moment in ("at_rest", "after_import_and_plan", "peak"):
        label = moment.replace("_", " ")
        figures.append((f"{label}: services MiB", _get(r, moment, "services_total_mib")))
        for group in ("services_mib", "infrastructure_mib"):
            per_process = _get(r, moment, group) or {}
            figures += [(f"{label}: {name} MiB", v) for name, v in per_process.items()]
    return Summary(
        "issue 17's budget: 1 GiB for the four services of the one-process stack together",
        figures,
        ("services after / 1 GiB", r.get("ratio_services_after_to_aim")),
        # Issue 17's aim is for the one-process stack; the cluster's figures are for reading.
        [Aim("services after, MiB", False, 1024, r.get("services_after_mib"))]
        if r.get("mode", "one-process") == "one-process"
        else [],
    )


def _cluster_intake(r: Result) -> Summary:
    return Summary(
        "the one-process stack's gateway (`make run`), same load, same run",
        _rates(
            r,
            [
                ("cluster needs/s", "cluster_median_per_s"),
                ("one-process needs/s", "one_process_median_per_s"),
                ("cores", "cpus"),
                ("needs per round and stack", "needs_per_round"),
                ("concurrency", "concurrency"),
            ],
        ),
        ("cluster / one-process", r.get("ratio_median")),
        # Issue 17's aim holds on a machine with the cores for two of everything.
        _ratio_aim(r, "ratio_median", True, 1.6),
    )


def _magnitude(value: Any) -> float | None:
    return abs(value) if isinstance(value, int | float) else None


def _soak(r: Result) -> Summary:
    return Summary(
        "the first minutes of the same run; per minute in [soak.md](soak.md)",
        _rates(
            r,
            [
                ("minutes", "minutes"),
                ("ops/s sent", "rate_ops_per_s"),
                ("max ops/s (ramp)", "max_ops_per_s"),
                ("operations", "operations"),
                ("errors", "errors"),
                ("p99 first minutes ms", "p99_first_ms"),
                ("p99 last minutes ms", "p99_last_ms"),
                ("services first minutes MiB", "services_first_mib"),
                ("services last minutes MiB", "services_last_mib"),
                ("p99 drift", "drift_p99"),
                ("memory drift", "drift_memory"),
            ],
        ),
        ("p99 drift", r.get("drift_p99")),
        [
            Aim("errors", False, 0, r.get("errors")),
            # Flat both ways: a drift of more than 10 % up or down.
            Aim("p99 drift, either way", False, 0.1, _magnitude(r.get("drift_p99"))),
            Aim("memory drift, either way", False, 0.1, _magnitude(r.get("drift_memory"))),
        ],
    )


def _stock_replicas(r: Result) -> Summary:
    per_s = r.get("median_per_s") or {}
    lost = r.get("writes_lost_to_another_replica_and_retried") or {}
    refused = {n: (s or {}).get("409", 0) for n, s in (r.get("statuses") or {}).items()}
    return Summary(
        "one stock replica, same requests on the same warehouse, same run",
        [(f"{n} replica(s) requests/s", v) for n, v in per_s.items()]
        + [(f"{n} replica(s): lost writes retried", v) for n, v in lost.items()]
        + [(f"{n} replica(s): answered 409", v) for n, v in refused.items()],
        ("two replicas / one", _get(r, "ratio_to_one", "2")),
    )


def _unknown(r: Result) -> Summary:
    return Summary("(not described by bench.report)", _flat(r))


SUMMARIES: dict[str, Callable[[Result], Summary]] = {
    "stock_reservations": _stock_reservations,
    "needs_hxl_import": _needs_hxl_import,
    "needs_import_levers": _needs_import_levers,
    "kobo_burst": _kobo_burst,
    "planner": _planner,
    "gateway_needs": _gateway_needs,
    "gateway_intake": _gateway_intake,
    "store_durability": _store_durability,
    "warehouse_2g": _warehouse_2g,
    "gaps": _gaps,
    "catch_up": _catch_up,
    "rebuild": _rebuild,
    "catch_up_cluster": _catch_up_cluster,
    "rebuild_cluster": _rebuild,
    "propagation": _propagation,
    "propagation_cluster": _propagation,
    "stack_memory": _stack_memory,
    "stack_memory_cluster": _stack_memory,
    "cluster_intake": _cluster_intake,
    "soak": _soak,
    "stock_replicas": _stock_replicas,
}


def latest_results(results: Path) -> dict[str, Path]:
    """Each bench's newest result file, by name (`x.json` or `x-20261206T1700.json`)."""
    found: dict[str, Path] = {}
    for path in sorted(results.glob("*.json"), key=lambda p: p.stat().st_mtime):
        if path.name.endswith(".machine.json"):
            continue
        found[path.stem.split("-")[0]] = path
    return found


def measures(name: str) -> str:
    """The first line of the bench module's docstring (read, not imported: no heavy imports)."""
    source = BENCH / f"{name}.py"
    if not source.exists():
        return "(no bench module of this name)"
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "n/a" if value is None else str(value)


def machine_line(result: Result, machine: Result | None) -> str:
    record = machine or (result["machine"] if isinstance(result.get("machine"), dict) else {})
    cpus = record.get("cpus", "?")
    start = record.get("load_average_start") or record.get("load_average")
    end = record.get("load_average_end")

    def load(value: Any) -> str:
        return "n/a" if not value else " ".join(f"{x:.2f}" for x in value)

    return f"{cpus} cores; load average (1, 5, 15 min) at start {load(start)}, at end {load(end)}"


def _plots(name: str, result: Result, summary: Summary, plot_dir: Path | None) -> list[str]:
    if plot_dir is None:
        return []
    lines = plots.markdown_image(
        plot_dir.parent,
        plots.figures_plot(name, summary.figures, plot_dir / f"{name}.svg"),
        f"{name}: its figures side by side",
    )
    if name == "soak":
        minutes = plots.soak_plot(result.get("per_minute") or [], plot_dir / "soak-minutes.svg")
        alt = "soak: latency and memory per minute"
        lines += plots.markdown_image(plot_dir.parent, minutes, alt)
    return lines


def section(name: str, result: Result, machine: Result | None, plot_dir: Path | None = None) -> str:
    summary = SUMMARIES.get(name, _unknown)(result)
    date = result.get("date") or result.get("when") or (machine or {}).get("ended", "n/a")
    lines = [
        f"## {name}",
        "",
        f"- **Measures:** {measures(name)}",
        f"- **Reference:** {summary.reference}",
    ]
    if summary.ratio:
        lines.append(f"- **Ratio** ({summary.ratio[0]}): {_number(summary.ratio[1])}")
    lines += [f"- **Aim:** {aim}" for aim in summary.aims]
    lines += [f"- **Machine:** {machine_line(result, machine)}", f"- **Date:** {date}", ""]
    lines += _plots(name, result, summary, plot_dir)
    lines += ["| figure | value |", "|---|---:|"]
    lines += [f"| {label} | {_number(value)} |" for label, value in summary.figures]
    return "\n".join(lines) + "\n"


def overview(rows: list[tuple[str, Summary]]) -> str:
    lines = ["| bench | ratio | aim |", "|---|---:|---|"]
    for name, summary in rows:
        ratio = _number(summary.ratio[1]) if summary.ratio else "n/a"
        aims = "; ".join(str(a) for a in summary.aims) or "none"
        lines.append(f"| [{name}](#{name}) | {ratio} | {aims} |")
    return "\n".join(lines) + "\n"


def render(results: Path, plot: bool = False) -> str:
    """The report; with `plot`, its SVG plots are written to `results/plots/` and linked."""
    plot_dir = results / plots.PLOTS if plot else None
    if plot_dir is not None:
        plots.clear(plot_dir)  # a bench without results any more leaves no stale plot
    found = latest_results(results)
    sections, rows = [], []
    for name, path in sorted(found.items()):
        result = json.loads(path.read_text())
        machine_path = results / f"{name}.machine.json"
        machine = json.loads(machine_path.read_text()) if machine_path.exists() else None
        rows.append((name, SUMMARIES.get(name, _unknown)(result)))
        sections.append(section(name, result, machine, plot_dir))
    missed = sum(1 for _, s in rows for a in s.aims if a.met is False)
    head = [
        "# Benchmark report",
        "",
        "Written by `python -m bench.report` from the newest result file of each bench in "
        "`bench/results/`. Every ratio compares the path with a reference measured in the same "
        "run on the same machine; read it with the load average beside it.",
        "",
        f"{len(rows)} benches; aims missed: {missed}. {_not_run(found)}",
        "",
    ]
    if plot_dir is not None:
        aims = [plots.AimRow(name, aim) for name, summary in rows for aim in summary.aims]
        head += plots.markdown_image(
            results, plots.overview_plot(aims, plot_dir / "aims.svg"), "every aim, measured"
        )
    return "\n".join(head) + "\n" + overview(rows) + "\n" + "\n".join(sections)


def _not_run(found: dict[str, Path]) -> str:
    missing = sorted(set(SUMMARIES) - set(found))
    return f"No result yet from: {', '.join(missing)}." if missing else "Every bench has a result."


def write(results: Path = RESULTS) -> Path:
    out = results / REPORT
    out.write_text(render(results, plot=True))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    print(f"written to {write(parser.parse_args().results)}")
