"""bench.report: one Markdown report from the benches' result files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.report import render, write


def _put(results: Path, name: str, content: dict[str, object], mtime: float = 1.0e9) -> None:
    path = results / name
    path.write_text(json.dumps(content))
    os.utime(path, (mtime, mtime))


def _section(report: str, name: str) -> str:
    return report.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]


def _results(tmp_path: Path) -> Path:
    _put(
        tmp_path,
        "gateway_intake.json",
        {
            "date": "2026-12-06T17:00:00+00:00",
            "gateway_median_per_s": 210.0,
            "bare_median_per_s": 600.0,
            "ratio_median": 0.35,
            "aim": 0.5,
        },
    )
    _put(
        tmp_path,
        "gateway_needs.json",
        {"gateway_median_per_s": 180.0, "direct_median_per_s": 240.0, "ratio_median": 0.75},
    )
    # An older and a newer run of one bench: the report takes the newer.
    old = {
        "consumer_events_per_s": 1.0,
        "reference_events_per_s": 2.0,
        "ratio_consumer_to_reference": 0.5,
    }
    _put(tmp_path, "catch_up-20261201T100000.json", old, mtime=1.0e9)
    new = {
        "consumer_events_per_s": 3.0,
        "reference_events_per_s": 1.2,
        "ratio_consumer_to_reference": 2.5,
    }
    _put(tmp_path, "catch_up-20261206T100000.json", new, mtime=1.0e9 + 60)
    _put(
        tmp_path,
        "gateway_intake.machine.json",
        {"cpus": 2, "load_average_start": [1.5, 1.2, 1.0], "load_average_end": [2.25, 1.5, 1.1]},
    )
    return tmp_path


def test_each_bench_has_its_ratio_and_aim_and_a_missed_aim_is_marked(tmp_path: Path) -> None:
    report = render(_results(tmp_path))

    intake = _section(report, "gateway_intake")
    assert "gateway / bare): 0.35" in intake
    assert "ratio >= 0.5: **MISSED**" in intake
    assert "| gateway needs/s | 210.0 |" in intake
    assert "| bare needs/s | 600.0 |" in intake
    assert (
        "2 cores; load average (1, 5, 15 min) at start 1.50 1.20 1.00, at end 2.25 1.50 1.10"
        in intake
    )
    assert "2026-12-06T17:00:00+00:00" in intake
    assert "bare FastAPI endpoint" in intake  # what it measures and its reference

    needs = _section(report, "gateway_needs")
    assert "gateway / direct): 0.75" in needs
    assert "ratio >= 0.6: met" in needs

    catch_up = _section(report, "catch_up")
    assert "consumer / reference): 2.5" in catch_up
    assert "ratio >= 2: met" in catch_up
    assert "aims missed: 1." in report
    assert "No result yet from: " in report
    assert "gaps, kobo_burst," in report


def test_an_unknown_bench_still_shows_its_numbers(tmp_path: Path) -> None:
    _put(tmp_path, "new_thing.json", {"per_s": {"one": 12.5}, "label": "x"})
    _put(tmp_path, "new_thing.machine.json", {"cpus": 2})

    section = _section(render(tmp_path), "new_thing")

    assert "| per_s / one | 12.5 |" in section
    assert "2 cores" in section


def test_write_puts_the_report_beside_the_results(tmp_path: Path) -> None:
    out = write(_results(tmp_path))

    assert out == tmp_path / "report.md"
    assert out.read_text().startswith("# Benchmark report")


def test_write_draws_the_plots_and_links_them(tmp_path: Path) -> None:
    results = _results(tmp_path)
    stale = results / "plots" / "gone_bench.svg"
    stale.parent.mkdir()
    stale.write_text("<svg/>")

    report = write(results).read_text()

    assert "![every aim, measured](plots/aims.svg)" in report
    assert "![gateway_intake: its figures side by side](plots/gateway_intake.svg)" in report
    for linked in ("aims.svg", "gateway_intake.svg", "catch_up.svg"):
        assert (results / "plots" / linked).read_text().startswith("<?xml")
    assert not stale.exists()


def test_render_alone_draws_nothing(tmp_path: Path) -> None:
    report = render(_results(tmp_path))

    assert "plots/" not in report
    assert not (tmp_path / "plots").exists()
