"""bench.plots: the report's SVG plots, checked through the files they write."""

from __future__ import annotations

from pathlib import Path

from bench import plots
from bench.report import Aim


def test_a_figure_unit_is_the_last_word_of_its_label() -> None:
    assert plots.unit_of("reference events/s") == "events/s"
    assert plots.unit_of("propagation p50 ms") == "ms"
    assert plots.unit_of("at rest: store MiB") == "MiB"
    assert plots.unit_of("rebuild s") == "s"
    assert plots.unit_of("receipts") is None  # a plural is not seconds
    assert plots.unit_of("message bytes") is None


def test_only_units_with_two_figures_or_more_are_compared() -> None:
    groups = plots.by_unit(
        [
            ("cluster needs/s", 15.5),
            ("one-process needs/s", 16.4),
            ("rebuild s", 350.5),  # alone in its unit: nothing to set it beside
            ("cores", 2),
            ("verdict ms", "n/a"),
        ]
    )

    assert groups == {"needs/s": [("cluster", 15.5), ("one-process", 16.4)]}


def test_an_aim_is_scored_so_that_one_is_the_aim_and_more_is_better_both_ways() -> None:
    assert plots.AimRow("x", Aim("ratio", True, 2.0, 0.5)).score == 0.25
    assert plots.AimRow("x", Aim("p50 ratio", False, 2.5, 12.5)).score == 0.2
    assert plots.AimRow("x", Aim("errors", False, 0.0, 0.0)).score is None
    assert plots.AimRow("x", Aim("ratio", True, 2.0, None)).score is None
    assert plots.AimRow("b", Aim("p50 ratio", False, 2.5, 12.4)).verdict == (
        "12.4, aim <= 2.5: missed"
    )


def test_a_bench_plot_names_each_figure_and_its_value_in_text(tmp_path: Path) -> None:
    out = plots.figures_plot(
        "catch_up",
        [("distribution's consumer events/s", 462.0), ("reference events/s", 999.0)],
        tmp_path / "catch_up.svg",
    )

    assert out == tmp_path / "catch_up.svg"
    svg = out.read_text()
    assert svg.startswith("<?xml")
    for text in ("distribution", "reference", "462", "999", "events/s", "catch_up"):
        assert text in svg


def test_a_bench_with_nothing_to_compare_has_no_plot(tmp_path: Path) -> None:
    assert plots.figures_plot("x", [("cores", 2), ("rebuild s", 1.0)], tmp_path / "x.svg") is None
    assert not (tmp_path / "x.svg").exists()


def test_the_overview_says_met_and_missed_in_words(tmp_path: Path) -> None:
    rows = [
        plots.AimRow("catch_up", Aim("ratio", True, 2.0, 0.46)),
        plots.AimRow("propagation", Aim("p99 ratio", False, 5.0, 4.96)),
        plots.AimRow("soak", Aim("errors", False, 0.0, 0.0)),  # no ratio: left to the table
    ]

    svg = (plots.overview_plot(rows, tmp_path / "aims.svg") or tmp_path).read_text()

    assert "0.46, aim &gt;= 2: missed" in svg
    assert "4.96, aim &lt;= 5: met" in svg
    assert "errors" not in svg


def test_the_soak_plot_draws_each_minute_and_the_same_input_gives_the_same_file(
    tmp_path: Path,
) -> None:
    minutes = [
        {"minute": m, "p50_ms": 40.0 + m, "p99_ms": 150.0 + m, "services_mib": 741.0 + m}
        for m in range(1, 31)
    ]

    first = (plots.soak_plot(minutes, tmp_path / "a.svg") or tmp_path).read_bytes()
    second = (plots.soak_plot(minutes, tmp_path / "b.svg") or tmp_path).read_bytes()

    assert first == second  # no date or random id: a rewritten report does not churn in git
    assert b"p99" in first
    assert b"services' memory, MiB" in first
    assert b"machine load" not in first  # an older soak recorded no load: no empty panel
    assert plots.soak_plot(minutes[:1], tmp_path / "c.svg") is None  # one minute is no line


def test_the_soak_plot_draws_the_machine_load_beneath_when_recorded(tmp_path: Path) -> None:
    minutes = [{"minute": m, "p99_ms": 150.0, "load_average": 2.0 * m} for m in range(1, 6)]

    svg = (plots.soak_plot(minutes, tmp_path / "s.svg") or tmp_path).read_text()

    assert "machine load (1 min)" in svg
