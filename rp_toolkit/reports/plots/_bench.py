"""The benchmark's figures (``rp_toolkit.bench.run`` results, or ``bench.load_results``):
``overhead_vs_size``, ``overhead_vs_count``, ``blocking``, ``scan_calls_vs_count``,
``adaptive_vs_best_fixed``. Plain tick labels, COUNTs as points, the spread across repeats as
bars, the idle maximum beside every maximum."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter

from ...config import count_sort_key
from ...markup import chart_text

__all__ = [
    "adaptive_vs_best_fixed",
    "blocking",
    "overhead_vs_count",
    "overhead_vs_size",
    "scan_calls_vs_count",
]


def _count_label(count: str) -> str:
    if count in ("auto", "adaptive"):
        return "SCAN auto-tune" if count == "auto" else "SCAN adaptive"
    return f"SCAN COUNT {count}"


def _count_tick(count: str) -> str:
    """A COUNT as its tick reads: ``10,000``, ``auto``."""
    return f"{int(count):,}" if count.isdigit() else count


def _plain(value: float) -> str:
    """A tick as people write it: ``1,000``, ``6``, ``0.5``; never ``6×10⁰`` or ``1e+04``."""
    return f"{value:,.0f}" if abs(value) >= 1 and float(value).is_integer() else f"{value:,.3g}"


class _PlainLogFormatter(LogFormatter):
    """LogFormatter's choice of which ticks to label, written by :func:`_plain`."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return _plain(x)


def _plain_log(axis) -> None:
    """A log ``axis`` (``axes.xaxis``/``yaxis``) with plain tick labels, minor ones included
    when the axis spans little (where matplotlib would write ``6×10⁰``)."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))


def _spread(rows: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """How far below and above ``column`` (a ratio of the median wall time) the fastest and
    slowest repeat lay: ``column × wall_min_s / wall_median_s`` and ``… wall_max_s``; 0 where
    the results hold no spread."""
    value = rows[column].astype(float)
    median = rows["wall_median_s"].astype(float).where(lambda m: m > 0)
    low = (value - value * rows["wall_min_s"].astype(float) / median).clip(lower=0)
    high = (value * rows["wall_max_s"].astype(float) / median - value).clip(lower=0)
    return low.fillna(0.0), high.fillna(0.0)


def _with_spread(axes, x: Any, rows: pd.DataFrame, column: str, **style: Any):
    """``column`` against ``x`` with min–max error bars across the repeats; returns the
    :class:`~matplotlib.container.ErrorbarContainer`."""
    low, high = _spread(rows, column)
    return axes.errorbar(
        list(x), rows[column].astype(float).to_list(), yerr=[low.to_list(), high.to_list()],
        marker="o", capsize=3, **style,
    )  # fmt: skip


def _overhead_axes(figure: Figure, axes, title: str) -> Figure:
    """The KEYS = 1 reference line, log ratio axis, title and legend of the overhead plots."""
    axes.axhline(1.0, color="black", linestyle="--", linewidth=1, label="KEYS (= 1)")
    axes.set_yscale("log")
    axes.set_ylabel("wall time / KEYS wall time (bars: fastest–slowest repeat)")
    _plain_log(axes.yaxis)
    axes.set_title(f"SCAN overhead over KEYS {title}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def _points_per_size_by_count(axes, results: pd.DataFrame, query: str, column: str) -> list[str]:
    """SCAN ``column`` against COUNT, as points (COUNTs are categories: ascending, ``auto`` and
    ``adaptive`` last, never joined by lines), one colour per keyspace size, sizes side by side
    around each COUNT; min–max bars across the repeats when ``column`` is ``overhead``.
    Returns the COUNT labels in axis order."""
    rows = results[(results["method"] == "SCAN") & (results["query"] == query)]
    counts = sorted(set(rows["count"].astype(str)), key=count_sort_key)
    position = {count: index for index, count in enumerate(counts)}
    sizes = sorted(rows["size"].unique())
    for index, size in enumerate(sizes):
        points = rows[rows["size"] == size].copy()
        points["_x"] = points["count"].astype(str).map(position)
        points = points.sort_values("_x")
        x = points["_x"] + (index - (len(sizes) - 1) / 2) * 0.08
        label = f"{int(size):,} records"
        if column == "overhead":
            _with_spread(axes, x, points, column, linestyle="none", label=label)
        else:
            axes.plot(x, points[column], marker="o", linestyle="none", label=label)
    return counts


def overhead_vs_size(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN time / KEYS time against the number of records: one line per COUNT (ascending).

    The dashed line at 1.0 is KEYS itself. Lines: one per COUNT (error bars: the fastest and
    slowest repeat), then the KEYS line.
    """
    rows = results[(results["method"] == "SCAN") & (results["query"] == query)]
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = sorted(set(rows["count"].astype(str)), key=count_sort_key)
    for count in counts:
        line = rows[rows["count"].astype(str) == count].sort_values("size")
        _with_spread(axes, line["size"], line, "overhead", label=_count_label(count))
    axes.set_xscale("log")
    _plain_log(axes.xaxis)
    axes.set_xlabel("records in the keyspace")
    return _overhead_axes(figure, axes, f"by keyspace size ({query} query)")


def overhead_vs_count(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN time / KEYS time against the COUNT hint: points per keyspace size.

    COUNT values are categories (ascending, ``auto`` last): points with min–max error bars
    across the repeats, never lines. The dashed line at 1.0 is KEYS.
    """
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = _points_per_size_by_count(axes, results, query, "overhead")
    axes.set_xticks(range(len(counts)), [_count_tick(count) for count in counts])
    axes.set_xlabel("SCAN COUNT hint")
    return _overhead_axes(figure, axes, f"by COUNT ({query} query)")


def blocking(results: pd.DataFrame, query: str = "day", count: str = "auto") -> Figure:
    """How long another client waited for a PING while the keys were listed.

    Lines: KEYS max, KEYS p99, SCAN (``count``) max, SCAN p99, then the idle probe (no fetch
    running): its max dashed, beside the maxima (what :func:`rp_toolkit.bench.findings.blocking`
    compares with), and its p99 dotted. Log scales, plain tick labels. The probe's figures are
    over all repeats (one value per row): no spread to draw.
    """
    rows = results[results["query"] == query]
    keys = rows[rows["method"] == "KEYS"].sort_values("size")
    scan = rows[(rows["method"] == "SCAN") & (rows["count"].astype(str) == str(count))]
    scan = scan.sort_values("size")
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    scan_label = _count_label(str(count))
    for frame, label, colour in ((keys, "KEYS", "tab:red"), (scan, scan_label, "tab:blue")):
        axes.plot(
            frame["size"], frame["probe_max_ms"], marker="o", color=colour, label=f"{label}: max"
        )
        axes.plot(
            frame["size"],
            frame["probe_p99_ms"],
            marker=".",
            linestyle=":",
            color=colour,
            label=f"{label}: p99",
        )
    idle = rows.drop_duplicates("size").sort_values("size")
    axes.plot(
        idle["size"], idle["probe_idle_max_ms"], linestyle="--", color="black", label="idle: max"
    )
    axes.plot(
        idle["size"], idle["probe_idle_p99_ms"], linestyle=":", color="grey", label="idle: p99"
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    _plain_log(axes.xaxis)
    _plain_log(axes.yaxis)
    axes.set_xlabel("records in the keyspace")
    axes.set_ylabel("another client's PING round trip (ms)")
    axes.set_title(f"Blocking: other clients' latency during the fetch ({query} query)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def scan_calls_vs_count(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN round trips per fetch against the COUNT hint: points per keyspace size.

    COUNT values are categories (ascending, ``auto`` last), never joined by lines. Log y with
    plain tick labels. (One repeat's count: the calls do not vary across repeats.)
    """
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = _points_per_size_by_count(axes, results, query, "scan_calls")
    axes.set_xticks(range(len(counts)), [_count_tick(count) for count in counts])
    axes.set_yscale("log")
    _plain_log(axes.yaxis)
    axes.set_xlabel("SCAN COUNT hint")
    axes.set_ylabel("SCAN calls per fetch")
    axes.set_title(f"SCAN round trips by COUNT ({query} query)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def adaptive_vs_best_fixed(results: pd.DataFrame) -> Figure:
    """The adaptive COUNT against the best fixed COUNT of the same run, by keyspace size.

    Left: adaptive wall time / the best fixed COUNT's, one line per query (error bars: the
    fastest and slowest adaptive repeat), with 1.0 (as fast) and 1.05 (5 % slower) dashed.
    Right: the probe's longest wait (and, dotted, its p99) during the adaptive fetch, per
    query, with the idle probe's max dashed black and the budget + 1 ms dashed grey. Log x,
    plain tick labels. Empty panels (titled so) when the results hold no adaptive rows.
    """
    rows = results[(results["method"] == "SCAN") & (results["count"].astype(str) == "adaptive")]
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    ratio_axes, probe_axes = figure.subplots(1, 2)
    for query in sorted(set(rows["query"])):
        line = rows[rows["query"] == query].sort_values("size")
        _with_spread(ratio_axes, line["size"], line, "vs_best_fixed", label=chart_text(query))
        (drawn,) = probe_axes.plot(
            line["size"], line["probe_max_ms"], marker="o", label=chart_text(query)
        )
        probe_axes.plot(
            line["size"],
            line["probe_p99_ms"],
            marker=".",
            linestyle=":",
            color=drawn.get_color(),
            label=chart_text(f"{query}: p99"),
        )
    idle = rows.drop_duplicates("size").sort_values("size")
    if len(idle):
        probe_axes.plot(
            idle["size"], idle["probe_idle_max_ms"], linestyle="--", color="black",
            label="idle: max",
        )  # fmt: skip
    ratio_axes.axhline(1.0, color="black", linestyle="--", linewidth=1, label="as fast (1.0)")
    ratio_axes.axhline(1.05, color="grey", linestyle=":", linewidth=1, label="5 % slower")
    budgets = rows["scan_budget_ms"].dropna()
    if len(budgets):
        probe_axes.axhline(
            float(budgets.max()) + 1.0,
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"budget + 1 ms ({float(budgets.max()) + 1.0:g} ms)",
        )
    for axes in (ratio_axes, probe_axes):
        axes.set_xscale("log")
        _plain_log(axes.xaxis)
        axes.set_xlabel("records in the keyspace")
        axes.grid(True, which="both", alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
    ratio_axes.set_ylabel("adaptive wall time / best fixed COUNT's")
    probe_axes.set_ylabel("probe max during the fetch (ms)")
    probe_axes.set_yscale("log")
    _plain_log(probe_axes.yaxis)
    ratio_axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _plain(value)))
    suffix = "" if len(rows) else " (no adaptive rows)"
    ratio_axes.set_title("Adaptive COUNT against the best fixed COUNT" + suffix)
    probe_axes.set_title("Other clients' longest wait, adaptive" + suffix)
    return figure
