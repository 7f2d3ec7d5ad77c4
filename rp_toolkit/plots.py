"""Figures for notebooks and docs.

Every function takes a results frame, returns a :class:`matplotlib.figure.Figure` and uses
the object-oriented API only (no ``pyplot``, no ``show``), so it works under Agg, in
notebooks (display the returned figure) and in scripts (``fig.savefig("x.png")``). Each
function is self-contained.

Benchmark figures (``rp_toolkit.bench.run`` results, or ``bench.load_results``):
``overhead_vs_size``, ``overhead_vs_count``, ``blocking``, ``scan_calls_vs_count``,
``adaptive_vs_best_fixed``.

Request-performance figures (what ``rp_toolkit.reports`` returns): ``throughput``,
``response_time``, ``top_endpoints``, ``daily_p95`` (many days), ``job_page`` / ``job_pages``
(the gem's jobs pages), ``resources`` and ``trace`` (a waterfall). Durations and bytes are
drawn in the unit that reads best (ms, s, min; MiB, GiB), named in the axis label; counts and
durations from 0. Every time chart has the same x axis (:func:`time_axis`: ``HH:MM`` ticks
and the date once in the label; dates over several days) and the same deploy markers (a
vertical line, the dashboard's label written above the plot, staggered: :func:`label_rows`).
Given no data (an empty frame, or only gaps) they return None, never an empty chart. Recorded
text (deploy labels, endpoints, server names, SQL, request ids in a title) goes through
:func:`rp_toolkit.markup.chart_text`: drawn as it is, never as mathtext.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogFormatter, MaxNLocator

from . import units
from .config import count_sort_key
from .markup import chart_text


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


# --------------------------------------------------------------------------- requests
# Request-performance figures take what rp_toolkit.reports returns.

JOB_TITLES = {
    "sidekiq": ("Sidekiq", "jobs"),
    "delayed_job": ("Delayed::Job", "jobs"),
    "custom": ("Custom events", "events"),
    "rake": ("Rake tasks", "tasks"),
    "grape": ("Grape", "requests"),
}
"""Each job kind's page title and what it counts (``reports.JOB_KINDS``)."""

_AXIS_LABELS = {
    "count": "requests",
    "duration_average": "mean (ms)",
    "duration_max": "max (ms)",
    "duration_p50": "p50 (ms)",
    "duration_p95": "p95 (ms)",
    "duration_p99": "p99 (ms)",
}
_RESOURCE_LABELS = {
    "cpu_one_min": "CPU load (1 min)",
    "memory": "memory",
    "disk_available": "disk free",
}
_SERIES_LABELS = {"count": "requests", "duration_average": "mean", "duration_p95": "p95"}


def _largest(values: Any) -> float:
    """The largest finite value of ``values`` (0 when none)."""
    numbers = pd.Series(values, dtype="float64")
    return float(numbers.max()) if numbers.notna().any() else 0.0


ANNOTATION_WIDTH = 40
"""Characters of a deploy marker's label drawn (a longer one, a commit message say, is cut
with an ellipsis)."""
ANNOTATION_ROWS = 3
"""Rows of marker labels above a time chart: a label that fits in none (markers too close) is
left out and counted in the legend; its line stays."""
_LABEL_POINTS = 8.0  # "small" at the default 10 pt
_ROW_POINTS = 11.0


def _label_text(text: Any) -> str:
    text = str(text)
    return text if len(text) <= ANNOTATION_WIDTH else text[: ANNOTATION_WIDTH - 1] + "…"


def label_rows(
    positions: Any, widths: Any, rows: int = ANNOTATION_ROWS, gap: float = 0.01
) -> list[int | None]:
    """The row (0 = nearest the plot) of each label at ``positions`` (its centre, as a
    fraction of the axes' width, 0..1) of ``widths`` (same unit), so no two labels in a row
    overlap: labels left to right, each in the lowest row where it fits (its extent kept
    inside 0..1); None when it fits in none of ``rows`` (thinned out)."""
    order = sorted(range(len(positions)), key=lambda i: float(positions[i]))
    ends = [-1.0] * rows  # the right edge of each row's last label
    found: list[int | None] = [None] * len(positions)
    for i in order:
        width = float(widths[i])
        left = min(max(float(positions[i]) - width / 2, 0.0), max(1.0 - width, 0.0))
        for row in range(rows):
            if left >= ends[row] + gap:
                found[i], ends[row] = row, left + width
                break
    return found


def _mark_annotations(
    axes, annotations: pd.DataFrame | None, *, labels: bool = True, legend: bool = True
) -> int:
    """Vertical markers (deploys and the like) at the annotations within the axes' x range,
    with their ``label`` (else ``name``) written horizontally above the plot area, cut to
    :data:`ANNOTATION_WIDTH` characters and staggered over up to :data:`ANNOTATION_ROWS`
    rows (:func:`label_rows`); labels that fit in no row are left out (counted in the
    legend's entry). Returns the rows of labels used (the title is padded above them)."""
    if annotations is None or len(annotations) == 0:
        return 0
    low, high = axes.get_xlim()
    whens = pd.to_datetime(annotations["datetime"], utc=True)
    numbers = pd.Series(mdates.date2num(whens.dt.tz_localize(None)), index=annotations.index)
    inside = numbers.between(low, high)
    if not inside.any():
        return 0
    names = annotations["label"] if "label" in annotations else annotations["name"]
    texts = [_label_text(name) for name in names[inside]]
    xs = numbers[inside].tolist()
    lines = [axes.axvline(x, color="tab:red", linestyle=":", linewidth=1.2) for x in xs]
    axes.set_xlim(low, high)
    if not labels:
        return 0
    inches = axes.figure.get_figwidth() * 0.85  # the axes' width, about
    widths = [len(text) * _LABEL_POINTS * 0.6 / 72 / inches for text in texts]
    centres = [(x - low) / (high - low) if high > low else 0.5 for x in xs]
    rows = label_rows(centres, widths)
    for text, centre, width, row in zip(texts, centres, widths, rows, strict=True):
        if row is None:
            continue
        left = min(max(centre - width / 2, 0.0), max(1.0 - width, 0.0))
        marker = axes.annotate(
            chart_text(text),
            (left, 1.0),
            xycoords="axes fraction",
            xytext=(0, 3 + row * _ROW_POINTS),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize="small",
            color="tab:red",
        )
        marker.set_in_layout(False)  # the title's padding makes room
    left_out = sum(row is None for row in rows)
    if legend:
        name = "deploy / event" if len(xs) == 1 else "deploys / events"
        if left_out:
            name += f" ({left_out} unlabelled: too close)"
        lines[0].set_label(name)
    return 1 + max((row for row in rows if row is not None), default=-1)


def time_axis(
    axes, start: Any, end: Any, *, days: bool = False, pad: pd.Timedelta | None = None
) -> None:
    """The x axis of every time chart, from ``start`` to ``end`` (UTC): within two days,
    ticks as ``HH:MM`` (a midnight tick as its date, ``04 Dec``) and the date once, in the
    label (``2026-12-04 (UTC)``); over more days (or with ``days``), ticks as dates
    (``04 Dec``) and the first and last dates in the label. ``pad`` widens the limits on
    both sides (a day's point off the edges)."""
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    first = first.tz_localize("UTC") if first.tzinfo is None else first.tz_convert("UTC")
    last = last.tz_localize("UTC") if last.tzinfo is None else last.tz_convert("UTC")
    if last <= first:
        first, last = first - pd.Timedelta(minutes=1), first + pd.Timedelta(minutes=1)
    pad = pd.Timedelta(0) if pad is None else pad
    limits = (first - pad).tz_localize(None), (last + pad).tz_localize(None)
    axes.set_xlim(mdates.date2num(limits[0]), mdates.date2num(limits[1]))
    one_day = first.normalize() == last.normalize()
    dates = f"{first:%Y-%m-%d}" if one_day else f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"
    if last - first <= pd.Timedelta(days=2) and not days:
        locator = mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=10)
        locator.intervald[mdates.MINUTELY] = [1, 2, 5, 10, 15, 20, 30]
        locator.intervald[mdates.HOURLY] = [1, 2, 3, 4, 6, 12]

        def label(number: float, _position: Any = None) -> str:
            when = mdates.num2date(number, tz=UTC)
            midnight = (when.hour, when.minute) == (0, 0) and not one_day
            return when.strftime("%d %b" if midnight else "%H:%M")

        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(FuncFormatter(label))
        axes.set_xlabel(f"{dates} (UTC)")
    else:
        span = (last.normalize() - first.normalize()).days
        axes.xaxis.set_major_locator(mdates.DayLocator(interval=-(-span // 8), tz="UTC"))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%d %b", tz="UTC"))
        axes.set_xlabel(f"day, {dates} (UTC)")


def _time_axes(
    axes,
    title: str,
    ylabel: str,
    annotations: pd.DataFrame | None,
    *,
    labels: bool = True,
    legend: bool = False,
) -> None:
    """Event markers, title (above the markers' labels), y label, grid, and a legend when
    ``legend``, there are several lines, or markers."""
    handles = len(axes.get_legend_handles_labels()[0])
    rows = _mark_annotations(axes, annotations, labels=labels)
    axes.set_title(chart_text(title), pad=6 + rows * _ROW_POINTS)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    markers = len(axes.get_legend_handles_labels()[0]) > handles
    if legend or handles > 1 or markers:
        axes.legend(fontsize="x-small" if legend else "small", loc="upper left")


def _from_zero(axes, largest: float) -> None:
    """A y axis from 0 (a count or a duration), 0 to 1 when every value is 0."""
    axes.set_ylim(bottom=0, top=None if largest > 0 else 1)


def _empty(frame: pd.DataFrame | pd.Series | None) -> bool:
    """True when ``frame`` holds no value to draw (no rows, or only nulls)."""
    return frame is None or len(frame) == 0 or not frame.notna().to_numpy().any()


def time_series(
    series: pd.DataFrame | pd.Series,
    *,
    title: str,
    ylabel: str,
    annotations: pd.DataFrame | None = None,
    durations: bool = False,
) -> Figure | None:
    """A per-minute series (``reports.throughput`` / ``response_time``), y from 0, with event
    markers; ``durations``: the values are milliseconds, drawn in the unit that reads best
    (ms, s or min, named in the y label). None when there is nothing to draw."""
    frame = series.to_frame() if isinstance(series, pd.Series) else series
    if _empty(frame):
        return None
    figure = Figure(figsize=(9, 3.5), layout="constrained")
    axes = figure.subplots()
    divisor = 1.0
    largest = _largest(frame.to_numpy().ravel())
    if durations:
        divisor, unit = units.duration_unit(largest)
        ylabel = f"{ylabel} ({unit})"
    else:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    for column in frame.columns:
        label = _SERIES_LABELS.get(str(column), str(column))
        axes.plot(frame.index, frame[column] / divisor, linewidth=1.2, label=label)
    time_axis(axes, frame.index.min(), frame.index.max())
    _from_zero(axes, largest)
    _time_axes(axes, title, ylabel, annotations)
    return figure


def throughput(series: pd.DataFrame, annotations: pd.DataFrame | None = None) -> Figure | None:
    """Requests per minute, as the dashboard's throughput chart (y from 0)."""
    return time_series(
        series, title="Throughput", ylabel="requests per minute", annotations=annotations
    )


def response_time(series: pd.DataFrame, annotations: pd.DataFrame | None = None) -> Figure | None:
    """Mean duration per minute, as the dashboard's response-time chart, and the minute's p95
    beside it when ``series`` has ``duration_p95`` (``reports.response_time``)."""
    columns = [c for c in ("duration_average", "duration_p95") if c in series]
    p95 = "duration_p95" in columns
    return time_series(
        series[columns or list(series.columns)],
        title="Response time per minute" + (": mean and p95" if p95 else " (mean)"),
        ylabel="duration" if p95 else "mean duration",
        annotations=annotations,
        durations=True,
    )


def top_endpoints(table: pd.DataFrame, *, by: str = "count", n: int = 10) -> Figure | None:
    """The ``n`` endpoints of ``reports.requests`` with the highest ``by`` as bars, each
    labelled with its value (ties in ``by`` by endpoint name). None without endpoints."""
    ordered = table[table[by].notna()] if len(table) else table
    if not len(ordered) or n < 1:
        return None
    ordered = ordered.sort_values([by, "group"], ascending=[False, True], kind="stable")
    top = ordered.head(n).iloc[::-1]
    figure = Figure(figsize=(8, 0.35 * max(len(top), 3) + 1), layout="constrained")
    axes = figure.subplots()
    label = _AXIS_LABELS.get(by, by)
    is_ms = "(ms)" in label
    divisor, unit = units.duration_unit(_largest(top[by])) if is_ms else (1.0, "")
    bars = axes.barh([chart_text(group) for group in top["group"]], top[by] / divisor)
    axes.bar_label(
        bars,
        labels=[units.duration(v) if is_ms else f"{v:,.0f}" for v in top[by]],
        padding=3,
        fontsize="x-small",
    )
    axes.margins(x=0.12)
    axes.set_xlabel(label.replace("(ms)", f"({unit})") if is_ms else label)
    noun = "endpoint" if len(top) == 1 else f"{len(top)} endpoints"
    axes.set_title(f"Top {noun} by {label.replace(' (ms)', '')}")
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def daily_p95(
    days: pd.DataFrame, *, n: int = 8, annotations: pd.DataFrame | None = None
) -> Figure | None:
    """p95 per day (``reports.endpoint_days``) of the ``n`` endpoints with the most requests
    over all the days (ties by endpoint name), one line each, busiest first in the legend; a
    day without requests to an endpoint is a gap in its line. Durations in the unit that reads
    best, y from 0; event markers from ``annotations`` (``reports.annotations``). None without
    days."""
    if not len(days) or n < 1:
        return None
    totals = days.groupby("group", sort=True, observed=True)["count"].sum().reset_index()
    top = totals.sort_values(["count", "group"], ascending=[False, True], kind="stable")
    groups = top["group"].head(n).tolist()
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.subplots()
    dates = pd.DatetimeIndex(sorted(days["date"].unique()))
    shown = days[days["group"].isin(groups)]
    largest = _largest(shown["duration_p95"])
    divisor, unit = units.duration_unit(largest)
    every = pd.date_range(dates[0], dates[-1], freq="D")
    for group in groups:
        line = shown[shown["group"] == group].set_index("date")["duration_p95"]
        values = line.reindex(every) / divisor
        axes.plot(every, values, marker=".", linewidth=1.2, label=chart_text(group))
    time_axis(axes, every[0], every[-1], days=True, pad=pd.Timedelta(hours=12))
    _from_zero(axes, largest)
    noun = "endpoint" if len(groups) == 1 else f"{len(groups)} endpoints"
    _time_axes(axes, f"p95 per day of the {noun} with the most requests", f"p95 ({unit})",
               annotations, legend=True)  # fmt: skip
    return figure


def job_page(
    throughput: pd.DataFrame,
    response_time: pd.DataFrame,
    *,
    kind: str,
    annotations: pd.DataFrame | None = None,
) -> Figure | None:
    """A jobs page's two charts (``reports.JobsReport``): records per minute and their mean
    duration per minute (minutes without records drawn as gaps, not 0), y from 0, with event
    markers on both (their labels above the first). None without minutes."""
    if _empty(throughput):
        return None
    title, noun = JOB_TITLES.get(kind, (kind, "records"))
    figure = Figure(figsize=(9, 4.6), layout="constrained")
    count_axes, time_axes = figure.subplots(2, 1, sharex=True)
    counts = throughput["count"]
    count_axes.plot(throughput.index, counts, linewidth=1.1, color="tab:blue")
    count_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    means = response_time["duration_average"].where(counts.reindex(response_time.index) > 0)
    divisor, unit = units.duration_unit(_largest(means))
    time_axes.plot(response_time.index, means / divisor, linewidth=1.1, color="tab:purple")
    time_axis(time_axes, throughput.index.min(), throughput.index.max())
    count_axes.set_xlabel("")
    _from_zero(count_axes, _largest(counts))
    _from_zero(time_axes, _largest(means))
    _time_axes(count_axes, f"{title}: throughput and mean duration", f"{noun} per minute",
               annotations)  # fmt: skip
    _time_axes(time_axes, "", f"mean duration ({unit})", annotations, labels=False)
    return figure


def job_pages(pages: Mapping[str, Any], annotations: pd.DataFrame | None = None) -> dict:
    """:func:`job_page` of each ``reports.jobs_pages`` entry (kind to ``JobsReport``) whose
    records are not empty: kind to Figure, in the given order."""
    figures = {
        kind: job_page(page.throughput, page.response_time, kind=kind, annotations=annotations)
        for kind, page in pages.items()
        if len(page.table)
    }
    return {kind: figure for kind, figure in figures.items() if figure is not None}


def resources(
    samples: pd.DataFrame,
    fields: tuple[str, ...] = ("cpu_one_min", "memory", "disk_available"),
    annotations: pd.DataFrame | None = None,
) -> Figure | None:
    """``reports.resources``: one panel per field, one line per server / context / role, with
    event markers on each panel (their labels above the first).

    Memory and disk are drawn in the binary unit that reads best (MiB, GiB, named in the y
    label); CPU load as it is, from 0. None without samples of any of ``fields``.
    """
    present = [field for field in fields if field in samples and samples[field].notna().any()]
    if not len(samples) or not present:
        return None
    figure = Figure(figsize=(9, 2.6 * len(present)), layout="constrained")
    axes_list = figure.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    keys = ["server", "context", "role"]
    minutes = pd.to_datetime(samples["minute"], utc=True)
    for number, (axes, field) in enumerate(zip(axes_list, present, strict=True)):
        ylabel, divisor = _RESOURCE_LABELS.get(field, field), 1.0
        if field == "memory" or field.startswith("disk_"):
            divisor, unit = units.byte_unit(_largest(samples[field]))
            ylabel = f"{ylabel} ({unit})"
        for labels, group in samples.groupby(keys, observed=True, sort=True):
            axes.plot(
                group["minute"],
                group[field] / divisor,
                linewidth=1,
                label=chart_text(" / ".join(map(str, labels))),
            )
        if field == "cpu_one_min":
            _from_zero(axes, _largest(samples[field]))
        time_axis(axes, minutes.min(), minutes.max())
        title = "" if number else "Resources per server / context / role"
        _time_axes(axes, title, ylabel, annotations, labels=not number, legend=not number)
        if number and axes.get_legend():
            axes.get_legend().remove()  # the first panel's names the lines
    for axes in axes_list[:-1]:
        axes.set_xlabel("")
    return figure


# --------------------------------------------------------------------------- trace

_VIEW_DURATION = re.compile(
    r"\((?:[^()]*?\bDuration:\s*)?([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*ms\s*(?:[|)])",
    re.IGNORECASE,
)


def view_durations(messages: Any) -> pd.Series:
    """The duration (ms) in each view step's message, NaN where it holds none.

    Rails writes it at the end: ``Rendered users/show.html.erb within layouts/application
    (Duration: 12.3ms | Allocations: 456)`` (Rails 6+) or ``Rendered users/_user.html.erb
    (1.2ms)`` (older); the last such group counts (a template's name may hold one too).
    Anything else (null, not text, no number) is NaN. Vectorised."""
    texts = pd.Series(messages, dtype="object")
    texts = texts.where(texts.map(lambda value: isinstance(value, str)), None)
    found = texts.astype("string").str.findall(_VIEW_DURATION)
    last = found.map(lambda matches: matches[-1] if isinstance(matches, list) and matches else None)
    return pd.to_numeric(last, errors="coerce").astype("float64").rename(None)


def waterfall(durations: Any, is_view: Any) -> tuple[list[float], list[float]]:
    """Start and end (ms from the first step) of each trace step, in execution order.

    A trace holds no start times, only each step's duration, in the order the steps ended. A
    step starts where the work so far ended, except a view: Rails reports a template after the
    partials and queries rendered inside it, so a view encloses the steps just before it that
    fit in its duration (it starts at the earliest of them) and ends ``duration`` after that.
    A step without a duration (NaN) takes no time."""
    starts: list[float] = []
    ends: list[float] = []
    blocks: list[float] = []  # the start of each top-level block so far (nested ones merged)
    cursor = 0.0
    for duration, view in zip(durations, is_view, strict=True):
        length = float(duration) if duration == duration and duration is not None else 0.0
        start = cursor
        if view and length > 0:
            while blocks and cursor - blocks[-1] <= length:
                start = blocks.pop()
        blocks.append(start)
        starts.append(start)
        ends.append(max(start + length, cursor) if view else start + length)
        cursor = ends[-1]
    return starts, ends


def trace(steps: pd.DataFrame, *, title: str = "Trace") -> Figure | None:
    """A request's trace steps (``rp.load_trace``) as a waterfall, top down in the order they
    ran: each step a bar from its start to its end (:func:`waterfall`), SQL in blue, views
    (their duration read from the message, :func:`view_durations`) in orange, labelled with
    its duration; a step without one is a grey tick. Labels are plain text (SQL's ``$1`` is
    not read as math). None without steps."""
    if steps is None or not len(steps):
        return None
    is_view = (steps["group"] == "view").to_numpy()
    durations = steps["duration"].astype("float64").to_numpy().copy()
    durations[is_view] = view_durations(steps["message"]).to_numpy()[is_view]
    starts, ends = waterfall(durations, is_view)
    figure = Figure(figsize=(9, 0.3 * max(len(steps), 3) + 1.2), layout="constrained")
    axes = figure.subplots()
    rows = list(range(len(steps)))
    known = [d == d for d in durations]
    colours = ["tab:orange" if view else "tab:blue" for view in is_view]
    bars = axes.barh(
        [r for r in rows if known[r]],
        [ends[r] - starts[r] for r in rows if known[r]],
        left=[starts[r] for r in rows if known[r]],
        color=[colours[r] for r in rows if known[r]],
        height=0.6,
    )
    axes.bar_label(
        bars, labels=[units.duration(d) for d in durations[known]], padding=3, fontsize="x-small"
    )
    unknown = [r for r in rows if not known[r]]
    axes.plot([starts[r] for r in unknown], unknown, "|", color="grey", markersize=10)
    labels = [
        str(s if isinstance(s, str) else m)[:70]
        for s, m in zip(steps["sql"], steps["message"], strict=True)
    ]
    axes.set_yticks(rows, [chart_text(label) for label in labels], fontsize="x-small")
    axes.set_ylim(len(rows) - 0.5, -0.5)  # the first step on top
    axes.set_xlim(0, max(max(ends), 1e-3) * 1.15)  # room for the duration labels
    axes.set_xlabel("ms from the first step (a view encloses the steps rendered inside it)")
    kinds = [Patch(color="tab:blue", label="SQL")] if not is_view.all() else []
    kinds += [Patch(color="tab:orange", label="view")] if is_view.any() else []
    if unknown:
        kinds.append(Line2D([], [], color="grey", marker="|", linestyle="", label="no duration"))
    figure.legend(handles=kinds, fontsize="x-small", loc="outside upper right", ncols=len(kinds))
    axes.grid(True, axis="x", alpha=0.3)
    axes.set_title(chart_text(title))
    return figure
