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
(the gem's jobs pages), ``resources`` and ``trace``. Durations and bytes are drawn in the unit
that reads best (ms, s, min; MiB, GiB), named in the axis label; deploy markers carry the
dashboard's label text. Recorded text (deploy labels, endpoints, server names, SQL, request ids
in a title) goes through :func:`rp_toolkit.markup.chart_text`: drawn as it is, never as
mathtext.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from . import units
from .config import count_sort_key
from .markup import chart_text


def _count_label(count: str) -> str:
    if count in ("auto", "adaptive"):
        return "SCAN auto-tune" if count == "auto" else "SCAN adaptive"
    return f"SCAN COUNT {count}"


def _overhead_axes(figure: Figure, axes, title: str) -> Figure:
    """The KEYS = 1 reference line, log ratio axis, title and legend of the overhead plots."""
    axes.axhline(1.0, color="black", linestyle="--", linewidth=1, label="KEYS (= 1)")
    axes.set_yscale("log")
    axes.set_ylabel("wall time / KEYS wall time")
    axes.yaxis.set_major_formatter(LogFormatter())  # 2, 3, ... rather than 2×10⁰
    axes.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(2, 0.5)))
    axes.set_title(f"SCAN overhead over KEYS {title}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def _lines_per_size_by_count(axes, results: pd.DataFrame, query: str, column: str) -> list[str]:
    """One line per keyspace size of SCAN ``column`` against COUNT (as categories, ascending,
    ``auto`` last); returns the COUNT labels in axis order."""
    rows = results[(results["method"] == "SCAN") & (results["query"] == query)]
    counts = sorted(set(rows["count"].astype(str)), key=count_sort_key)
    position = {count: index for index, count in enumerate(counts)}
    for size in sorted(rows["size"].unique()):
        line = rows[rows["size"] == size]
        points = sorted(zip(line["count"].astype(str).map(position), line[column], strict=True))
        axes.plot(*zip(*points, strict=True), marker="o", label=f"{int(size):,} records")
    return counts


def overhead_vs_size(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN time / KEYS time against the number of records: one line per COUNT (ascending).

    The dashed line at 1.0 is KEYS itself. Lines: one per COUNT, then the KEYS line.
    """
    rows = results[(results["method"] == "SCAN") & (results["query"] == query)]
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = sorted(set(rows["count"].astype(str)), key=count_sort_key)
    for count in counts:
        line = rows[rows["count"].astype(str) == count].sort_values("size")
        axes.plot(line["size"], line["overhead"], marker="o", label=_count_label(count))
    axes.set_xscale("log")
    axes.set_xlabel("records in the keyspace")
    return _overhead_axes(figure, axes, f"by keyspace size ({query} query)")


def overhead_vs_count(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN time / KEYS time against the COUNT hint: one line per keyspace size.

    COUNT values are categories, ascending, ``auto`` last; the dashed line
    at 1.0 is KEYS. Lines: one per size, then the KEYS line.
    """
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = _lines_per_size_by_count(axes, results, query, "overhead")
    axes.set_xticks(range(len(counts)), counts)
    axes.set_xlabel("SCAN COUNT hint")
    return _overhead_axes(figure, axes, f"by COUNT ({query} query)")


def blocking(results: pd.DataFrame, query: str = "day", count: str = "auto") -> Figure:
    """How long another client waited for a PING while the keys were listed.

    Lines: KEYS max, KEYS p99, SCAN (``count``) max, SCAN p99, then the idle probe's p99
    (no fetch running) as a dashed reference. Log scales.
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
        idle["size"],
        idle["probe_idle_p99_ms"],
        linestyle="--",
        color="grey",
        label="idle server: p99",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("records in the keyspace")
    axes.set_ylabel("another client's PING round trip (ms)")
    axes.set_title(f"Blocking: other clients' latency during the fetch ({query} query)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def scan_calls_vs_count(results: pd.DataFrame, query: str = "day") -> Figure:
    """SCAN round trips per fetch against the COUNT hint: one line per keyspace size.

    COUNT values are categories, ascending, ``auto`` last. Log y.
    """
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.subplots()
    counts = _lines_per_size_by_count(axes, results, query, "scan_calls")
    axes.set_xticks(range(len(counts)), counts)
    axes.set_yscale("log")
    axes.set_xlabel("SCAN COUNT hint")
    axes.set_ylabel("SCAN calls per fetch")
    axes.set_title(f"SCAN round trips by COUNT ({query} query)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def adaptive_vs_best_fixed(results: pd.DataFrame) -> Figure:
    """The adaptive COUNT against the best fixed COUNT of the same run, by keyspace size.

    Left: adaptive wall time / the best fixed COUNT's, one line per query, with 1.0 (as fast)
    and 1.05 (5 % slower) dashed. Right: the probe's longest wait (and, dotted, its p99) during
    the adaptive fetch, per query, with the budget + 1 ms dashed. Log x. Empty panels (titled
    so) when the results hold no adaptive rows.
    """
    rows = results[(results["method"] == "SCAN") & (results["count"].astype(str) == "adaptive")]
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    ratio_axes, probe_axes = figure.subplots(1, 2)
    for query in sorted(set(rows["query"])):
        line = rows[rows["query"] == query].sort_values("size")
        ratio_axes.plot(line["size"], line["vs_best_fixed"], marker="o", label=query)
        (drawn,) = probe_axes.plot(line["size"], line["probe_max_ms"], marker="o", label=query)
        probe_axes.plot(
            line["size"],
            line["probe_p99_ms"],
            marker=".",
            linestyle=":",
            color=drawn.get_color(),
            label=f"{query}: p99",
        )
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
        axes.set_xlabel("records in the keyspace")
        axes.grid(True, which="both", alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
    ratio_axes.set_ylabel("adaptive wall time / best fixed COUNT's")
    probe_axes.set_ylabel("probe max during the fetch (ms)")
    probe_axes.set_yscale("log")
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
_SERIES_LABELS = {"count": "requests", "duration_average": "mean duration"}


def _largest(values: Any) -> float:
    """The largest finite value of ``values`` (0 when none)."""
    numbers = pd.Series(values, dtype="float64")
    return float(numbers.max()) if numbers.notna().any() else 0.0


ANNOTATION_WIDTH = 40
"""Characters of a deploy marker's label drawn (a longer one, a commit message say, is cut
with an ellipsis: it runs down the chart's height)."""


def _mark_annotations(axes, annotations: pd.DataFrame | None) -> None:
    """Vertical markers (deploys and the like) on a time axis, with their ``label`` (else
    their ``name``), cut to :data:`ANNOTATION_WIDTH` characters and left out of the layout (a
    label never squeezes the chart)."""
    if annotations is None or len(annotations) == 0:
        return
    texts = annotations["label"] if "label" in annotations else annotations["name"]
    for number, (when, name) in enumerate(zip(annotations["datetime"], texts, strict=True)):
        axes.axvline(
            when,
            color="tab:red",
            linestyle=":",
            linewidth=1.2,
            label="deploy / event" if number == 0 else None,
        )
        text = str(name)
        if len(text) > ANNOTATION_WIDTH:
            text = text[: ANNOTATION_WIDTH - 1] + "…"
        marker = axes.annotate(
            chart_text(text),
            (when, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize="x-small",
            color="tab:red",
        )
        marker.set_in_layout(False)


def _time_axes(axes, title: str, ylabel: str, annotations: pd.DataFrame | None) -> None:
    _mark_annotations(axes, annotations)
    axes.set_title(chart_text(title))
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    if annotations is not None and len(annotations):
        axes.legend(fontsize="small", loc="upper left")


def time_series(
    series: pd.DataFrame | pd.Series,
    *,
    title: str,
    ylabel: str,
    annotations: pd.DataFrame | None = None,
    durations: bool = False,
) -> Figure:
    """A per-minute series (``reports.throughput`` / ``response_time``) with event markers;
    ``durations``: the values are milliseconds, drawn in the unit that reads best (ms, s or
    min, named in the y label)."""
    frame = series.to_frame() if isinstance(series, pd.Series) else series
    figure = Figure(figsize=(9, 3.5), layout="constrained")
    axes = figure.subplots()
    divisor = 1.0
    if durations:
        divisor, unit = units.duration_unit(_largest(frame.to_numpy().ravel()))
        ylabel = f"{ylabel} ({unit})"
    for column in frame.columns:
        label = _SERIES_LABELS.get(str(column), str(column))
        axes.plot(frame.index, frame[column] / divisor, linewidth=1.2, label=label)
    _time_axes(axes, title, ylabel, annotations)
    axes.set_xlabel("minute (UTC)")
    return figure


def throughput(series: pd.DataFrame, annotations: pd.DataFrame | None = None) -> Figure:
    """Requests per minute, as the dashboard's throughput chart."""
    return time_series(
        series, title="Throughput", ylabel="requests per minute", annotations=annotations
    )


def response_time(series: pd.DataFrame, annotations: pd.DataFrame | None = None) -> Figure:
    """Mean duration per minute, as the dashboard's response-time chart."""
    return time_series(
        series,
        title="Response time (mean per minute)",
        ylabel="mean duration",
        annotations=annotations,
        durations=True,
    )


def top_endpoints(table: pd.DataFrame, *, by: str = "count", n: int = 10) -> Figure:
    """The ``n`` endpoints of ``reports.requests`` with the highest ``by`` as bars, each
    labelled with its value (ties in ``by`` by endpoint name)."""
    ordered = table.sort_values([by, "group"], ascending=[False, True], kind="stable")
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
    axes.set_title(f"Top {len(top)} endpoints by {label.replace(' (ms)', '')}")
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def daily_p95(days: pd.DataFrame, *, n: int = 8, annotations: pd.DataFrame | None = None) -> Figure:
    """p95 per day (``reports.endpoint_days``) of the ``n`` endpoints with the most requests
    over all the days (ties by endpoint name), one line each, busiest first in the legend; a
    day without requests to an endpoint is a gap in its line. Durations in the unit that reads
    best; event markers from ``annotations`` (``reports.annotations``)."""
    totals = days.groupby("group", sort=True, observed=True)["count"].sum().reset_index()
    top = totals.sort_values(["count", "group"], ascending=[False, True], kind="stable")
    groups = top["group"].head(n).tolist()
    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.subplots()
    dates = pd.DatetimeIndex(sorted(days["date"].unique())) if len(days) else None
    shown = days[days["group"].isin(groups)]
    divisor, unit = units.duration_unit(_largest(shown["duration_p95"]))
    if dates is not None and len(dates):
        every = pd.date_range(dates[0], dates[-1], freq="D")
        for group in groups:
            line = shown[shown["group"] == group].set_index("date")["duration_p95"]
            values = line.reindex(every) / divisor
            axes.plot(every, values, marker=".", linewidth=1.2, label=chart_text(group))
    _mark_annotations(axes, annotations)
    axes.set_title(f"p95 per day of the {len(groups)} endpoints with the most requests")
    axes.set_ylabel(f"p95 ({unit})")
    axes.set_xlabel("day (UTC)")
    axes.grid(True, alpha=0.3)
    if groups:
        axes.legend(fontsize="x-small", loc="upper left")
    return figure


def job_page(
    throughput: pd.DataFrame,
    response_time: pd.DataFrame,
    *,
    kind: str,
    annotations: pd.DataFrame | None = None,
) -> Figure:
    """A jobs page's two charts (``reports.JobsReport``): records per minute and their mean
    duration per minute (minutes without records drawn as gaps, not 0), with event markers."""
    title, noun = JOB_TITLES.get(kind, (kind, "records"))
    figure = Figure(figsize=(9, 4.6), layout="constrained")
    count_axes, time_axes = figure.subplots(2, 1, sharex=True)
    counts = throughput["count"]
    count_axes.plot(throughput.index, counts, linewidth=1.1, color="tab:blue")
    _time_axes(count_axes, f"{title}: throughput and mean duration", f"{noun} per minute", None)
    means = response_time["duration_average"].where(counts.reindex(response_time.index) > 0)
    divisor, unit = units.duration_unit(_largest(means))
    time_axes.plot(response_time.index, means / divisor, linewidth=1.1, color="tab:purple")
    _time_axes(time_axes, "", f"mean duration ({unit})", annotations)
    _mark_annotations(count_axes, annotations)
    time_axes.set_xlabel("minute (UTC)")
    return figure


def job_pages(pages: Mapping[str, Any], annotations: pd.DataFrame | None = None) -> dict:
    """:func:`job_page` of each ``reports.jobs_pages`` entry (kind to ``JobsReport``) whose
    records are not empty: kind to Figure, in the given order."""
    return {
        kind: job_page(page.throughput, page.response_time, kind=kind, annotations=annotations)
        for kind, page in pages.items()
        if len(page.table)
    }


def resources(
    samples: pd.DataFrame, fields: tuple[str, ...] = ("cpu_one_min", "memory", "disk_available")
) -> Figure:
    """``reports.resources``: one panel per field, one line per server / context / role.

    Memory and disk are drawn in the binary unit that reads best (MiB, GiB, named in the y
    label); CPU load as it is.
    """
    present = [field for field in fields if field in samples]
    figure = Figure(figsize=(9, 2.6 * max(len(present), 1)), layout="constrained")
    axes_list = figure.subplots(max(len(present), 1), 1, sharex=True, squeeze=False)[:, 0]
    keys = ["server", "context", "role"]
    for axes, field in zip(axes_list, present, strict=False):
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
        axes.set_ylabel(ylabel)
        axes.grid(True, alpha=0.3)
    if present:
        axes_list[0].legend(fontsize="x-small", loc="upper left")
        axes_list[0].set_title("Resources per server / context / role")
        axes_list[-1].set_xlabel("minute (UTC)")
    return figure


def trace(steps: pd.DataFrame, *, title: str = "Trace") -> Figure:
    """A request's trace steps (``rp.load_trace``) in the order they ran: SQL steps as bars of
    their duration, view steps (which carry no duration) as markers. Labels are plain text
    (SQL's ``$1`` is not read as math)."""
    figure = Figure(figsize=(9, 0.3 * max(len(steps), 3) + 1), layout="constrained")
    axes = figure.subplots()
    if len(steps):
        labels = [
            str(s if isinstance(s, str) else m)[:70]
            for s, m in zip(steps["sql"], steps["message"], strict=True)
        ]
        rows = list(range(len(steps)))
        is_db = (steps["group"] == "db").to_numpy()
        durations = steps["duration"].astype("float64").fillna(0).to_numpy()
        axes.barh([r for r in rows if is_db[r]], durations[is_db], color="tab:blue")
        views = [r for r in rows if not is_db[r]]
        axes.plot([0] * len(views), views, "D", color="tab:orange", markersize=5, linestyle="")
        axes.set_yticks(rows, [chart_text(label) for label in labels], fontsize="x-small")
        axes.invert_yaxis()
    axes.set_xlabel("ms (blue bars: db; orange: view steps, no duration)")
    axes.set_title(chart_text(title))
    return figure
