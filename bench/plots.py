"""The benchmark report's plots: SVG files beside `report.md`, drawn with matplotlib.

Three kinds, each readable without colour (every bar carries its value or its verdict in text,
and met and missed aims differ by hatching as well as by colour):
- the overview: every aim as "how far from it", 1 being the aim itself, so ratios "at least"
  and "at most" share one axis;
- per bench, its figures side by side, one panel per unit (events/s, ms, MiB, ...): the path
  and the reference it is measured against;
- the soak's minutes: latency p50 and p99, and the services' memory, minute by minute.

The files are written deterministically (no date in their metadata, a fixed hash salt), so a
report written twice from the same results does not change in git.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import matplotlib

# No display on a server or in CI; the Agg canvas draws SVG without one. Chosen before pyplot
# is imported, which would otherwise look for a display.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

PLOTS = "plots"
MET, MISSED = "#1b7837", "#b2182b"
BAR = "#4575b4"
# Text stays text in the SVG (smaller files, searchable, and the page's font is used).
STYLE: dict[Any, Any] = {"svg.fonttype": "none", "svg.hashsalt": "kitflow-bench", "font.size": 9}
# The unit is the label's last word: "rebuild s", "reference events/s" (not "receipts").
UNIT = re.compile(r"(?:^|\s)(?P<unit>[A-Za-z]+/s|ms|MiB|s)$")
MOST_BARS = 16


class AimLike(Protocol):
    """What the overview reads of an aim (bench.report's `Aim`; read-only)."""

    @property
    def label(self) -> str: ...
    @property
    def at_least(self) -> bool: ...
    @property
    def target(self) -> float: ...
    @property
    def value(self) -> float | None: ...
    @property
    def met(self) -> bool | None: ...


@dataclass(frozen=True)
class AimRow:
    """One aim of one bench, as the overview draws it."""

    bench: str
    aim: AimLike

    @property
    def score(self) -> float | None:
        """Measured against the aim so that 1 is the aim and more is better, either way."""
        value, target = self.aim.value, self.aim.target
        if value is None or target <= 0 or value <= 0:
            return None  # an aim of zero (no errors) has no ratio: the table says it
        return value / target if self.aim.at_least else target / value

    @property
    def verdict(self) -> str:
        """ "12.4, aim <= 2.5: missed": the figure, the aim and the verdict, in words."""
        sign = ">=" if self.aim.at_least else "<="
        word = "met" if self.aim.met else "missed"
        return f"{self.aim.value:.3g}, aim {sign} {self.aim.target:g}: {word}"


def unit_of(label: str) -> str | None:
    """The unit a figure's label ends with ("reference events/s" -> "events/s")."""
    found = UNIT.search(label.strip())
    return found.group("unit") if found else None


def by_unit(figures: Iterable[tuple[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """The numeric figures grouped by unit, keeping the report's order; ratios and counts out."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for label, value in figures:
        unit = unit_of(label)
        if unit and isinstance(value, int | float) and not isinstance(value, bool):
            groups.setdefault(unit, []).append((label.removesuffix(unit).strip(), float(value)))
    return {unit: bars for unit, bars in groups.items() if len(bars) >= 2}


def _save(figure: Figure, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(figure)
    return out


def _bar_labels(axes: Any, bars: Any, texts: Sequence[str]) -> None:
    # A white box keeps a label readable where it crosses a hatch or the aim's line.
    box = {"facecolor": "white", "edgecolor": "none", "pad": 1}
    axes.bar_label(bars, labels=list(texts), padding=3, bbox=box)


def figures_plot(name: str, figures: Sequence[tuple[str, Any]], out: Path) -> Path | None:
    """One panel per unit with two or more figures; None when the bench has none to compare."""
    groups = {unit: bars[:MOST_BARS] for unit, bars in by_unit(figures).items()}
    if not groups:
        return None
    with plt.rc_context(STYLE):
        heights = [0.35 * len(bars) + 0.8 for bars in groups.values()]
        figure, panels = plt.subplots(
            len(groups),
            1,
            figsize=(7, sum(heights)),
            height_ratios=heights,
            squeeze=False,
            layout="constrained",
        )
        for axes, (unit, bars) in zip(panels[:, 0], groups.items(), strict=True):
            labels, values = zip(*reversed(bars), strict=True)
            drawn = axes.barh(labels, values, color=BAR)
            _bar_labels(axes, drawn, [f"{v:,.3g}" if v < 100 else f"{v:,.0f}" for v in values])
            axes.set_xlabel(unit)
            axes.margins(x=0.2)
            axes.spines[["top", "right"]].set_visible(False)
        panels[0, 0].set_title(name)
        return _save(figure, out)


def overview_plot(rows: Sequence[AimRow], out: Path) -> Path | None:
    """Every measurable aim on one log axis; the dashed line at 1 is the aim."""
    drawn_rows = [row for row in rows if row.score is not None]
    if not drawn_rows:
        return None
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7, 0.4 * len(drawn_rows) + 1.2), layout="constrained")
        labels = [f"{row.bench}: {row.aim.label}" for row in reversed(drawn_rows)]
        scores = [row.score or 0.0 for row in reversed(drawn_rows)]
        met = [row.aim.met for row in reversed(drawn_rows)]
        bars = axes.barh(
            labels,
            scores,
            color=[MET if m else MISSED for m in met],
            hatch=["" if m else "//" for m in met],
            edgecolor="white",
        )
        _bar_labels(axes, bars, [row.verdict for row in reversed(drawn_rows)])
        axes.axvline(1.0, color="black", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        axes.margins(x=0.6)
        axes.set_xlabel("measured against the aim (1 = the aim; right of it = met)")
        axes.spines[["top", "right"]].set_visible(False)
        return _save(figure, out)


def _top(values: Iterable[Any]) -> float:
    """Room above the highest point, so a flat line is not drawn on the frame."""
    numbers = [float(v) for v in values if isinstance(v, int | float)]
    return max(numbers, default=1.0) * 1.15 or 1.0


def soak_plot(per_minute: Sequence[dict[str, Any]], out: Path) -> Path | None:
    """Latency and memory minute by minute: flat lines are the soak's verdict. The machine's
    load beneath them, where the soak recorded it, tells a drift from the neighbours' work."""
    minutes = [m for m in per_minute if isinstance(m.get("minute"), int)]
    if len(minutes) < 2:
        return None
    x = [m["minute"] for m in minutes]
    with plt.rc_context(STYLE):
        loads = [m.get("load_average") for m in minutes]
        with_load = any(isinstance(v, int | float) for v in loads)
        figure, panels = plt.subplots(
            3 if with_load else 2,
            1,
            figsize=(7, 7 if with_load else 5),
            sharex=True,
            layout="constrained",
        )
        latency, memory = panels[0], panels[1]
        latency.plot(x, [m.get("p99_ms") for m in minutes], marker="o", label="p99")
        latency.plot(x, [m.get("p50_ms") for m in minutes], marker="s", label="p50")
        latency.set_ylabel("latency, ms")
        latency.set_ylim(0, _top(m.get("p99_ms") for m in minutes))
        latency.legend(frameon=False)
        memory.plot(x, [m.get("services_mib") for m in minutes], marker="o", color=BAR)
        memory.set_ylabel("services' memory, MiB")
        memory.set_ylim(0, _top(m.get("services_mib") for m in minutes))
        if with_load:
            panels[2].plot(x, loads, marker="^", color="grey")
            panels[2].set_ylabel("machine load (1 min)")
            panels[2].set_ylim(0, _top(loads))
        panels[-1].set_xlabel("minute of the soak")
        panels[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
        for axes in panels:
            axes.spines[["top", "right"]].set_visible(False)
            axes.grid(axis="y", linewidth=0.3)
        latency.set_title("soak, per minute")
        return _save(figure, out)


def clear(plot_dir: Path) -> None:
    """Remove the plots of an earlier report (only SVG files: the folder is the report's)."""
    for old in plot_dir.glob("*.svg"):
        old.unlink()


def markdown_image(report_dir: Path, plot: Path | None, alt: str) -> list[str]:
    """The report's line for a plot (relative path), or nothing when there is no plot."""
    if plot is None:
        return []
    return [f"![{alt}]({plot.relative_to(report_dir).as_posix()})", ""]
