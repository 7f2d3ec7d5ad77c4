"""The request report's figures: what :mod:`rp_toolkit.reports` returns, drawn.

``throughput``, ``response_time``, ``top_endpoints``, ``daily_p95`` (many days),
``job_page`` / ``job_pages`` (the gem's jobs pages), ``resources`` and ``trace`` (a
waterfall); ``latency_heatmap`` takes the requests themselves (``rp.load("requests")``).
Durations and bytes are drawn in the unit that reads best (ms, s, min; MiB, GiB), named in
the axis label; counts and durations from 0. Every time chart has the same x axis
(:func:`time_axis`: ``HH:MM`` ticks and the date once in the label; dates over several days)
and the same deploy markers (a vertical line, the dashboard's label written above the plot,
staggered: :func:`label_rows`). Given no data (an empty frame, or only gaps) they return
None, never an empty chart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timezone
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ... import units
from ...markup import chart_text

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
            when = mdates.num2date(number, tz=timezone.utc)
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


LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 60_000)
"""The bucket edges (ms) of :func:`latency_heatmap`: a bucket below the first (``<1 ms``),
one between each two (``1–2 ms``, ..., ``20–60 s``) and one from the last (``≥60 s``)."""


def _edge_text(ms: float) -> str:
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def latency_buckets(edges: tuple[float, ...] = LATENCY_EDGES_MS) -> list[str]:
    """The names of the duration buckets between ``edges`` (ms), shortest first: ``<1 ms``,
    ``1–2 ms``, ``500 ms–1 s``, ..., ``≥60 s``."""
    names = [f"<{_edge_text(edges[0])}"]
    for low, high in zip(edges, edges[1:], strict=False):
        low_text, high_text = _edge_text(low), _edge_text(high)
        same = low_text.split()[1] == high_text.split()[1]
        names.append(f"{low_text.split()[0] if same else low_text}–{high_text}")
    return names + [f"≥{_edge_text(edges[-1])}"]


def latency_counts(requests: pd.DataFrame) -> tuple[pd.DatetimeIndex, Any]:
    """Requests per minute (every minute from the first to the last) and duration bucket
    (:data:`LATENCY_EDGES_MS`): the minutes and a (buckets, minutes) array of counts. Requests
    without a duration or a minute are left out. Vectorised (one ``np.bincount``)."""
    minutes = pd.to_datetime(requests["minute"], utc=True)
    durations = pd.to_numeric(requests["duration"], errors="coerce").astype("float64")
    known = (minutes.notna() & durations.notna()).to_numpy()
    minutes, values = minutes[known], durations.to_numpy()[known]
    buckets = len(LATENCY_EDGES_MS) + 1
    if not len(values):
        return pd.DatetimeIndex([], tz="UTC", name="minute"), np.zeros((buckets, 0), np.int64)
    first = minutes.min().floor("min")
    columns = ((minutes - first) // pd.Timedelta(minutes=1)).to_numpy(dtype=np.int64)
    width = int(columns.max()) + 1
    rows = np.searchsorted(np.asarray(LATENCY_EDGES_MS, dtype="float64"), values, side="right")
    counts = np.bincount(rows * width + columns, minlength=buckets * width)
    index = pd.date_range(first, periods=width, freq="min", name="minute")
    return index, counts.reshape(buckets, width)


def latency_heatmap(
    requests: pd.DataFrame, annotations: pd.DataFrame | None = None
) -> Figure | None:
    """Requests (``rp.load("requests")``) per minute (x) and duration bucket (y, logarithmic:
    :func:`latency_buckets`) as a heatmap, so the spread of durations over time shows, not
    only the mean: each cell's colour is its count (a log scale, the colorbar labelled
    ``requests``; a minute and bucket without requests is blank), with event markers. None
    when no request has a duration."""
    if requests is None or not len(requests) or "duration" not in requests:
        return None
    minutes, counts = latency_counts(requests)
    if not len(minutes):
        return None
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    axes = figure.subplots()
    half = pd.Timedelta(seconds=30)  # each minute's column centred on it, as the line charts
    left, right = (
        mdates.date2num(t.tz_localize(None)) for t in (minutes[0] - half, minutes[-1] + half)
    )
    shown = pd.DataFrame(counts).where(counts > 0).to_numpy()  # 0: blank, not the lowest colour
    image = axes.imshow(
        shown,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        extent=(left, right, 0, counts.shape[0]),
        cmap="viridis",
        norm=LogNorm(vmin=1, vmax=max(int(counts.max()), 2)),
    )
    names = latency_buckets()
    axes.set_yticks([row + 0.5 for row in range(len(names))], names, fontsize="x-small")
    time_axis(axes, minutes[0], minutes[-1], pad=half)
    bar = figure.colorbar(image, ax=axes, pad=0.01)
    bar.set_label("requests")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    bar.ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    _time_axes(axes, "Request durations per minute", "duration", annotations)
    axes.grid(False)
    return figure


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
