"""The charts draw what the data says: the trace's view steps, SQL and deploy names as text."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib import dates as mdates
from matplotlib.cbook import is_math_text
from matplotlib.patches import Rectangle

from rp_toolkit import reports
from rp_toolkit.reports import plots
from tests.reports.test_reports import NOW as NOW_
from tests.reports.test_reports import frame


def test_the_trace_chart_is_a_waterfall_of_the_steps_as_they_ran_with_sql_as_text() -> None:
    steps = pd.DataFrame(
        {
            "group": ["db", "view", "db", "view", "view"],
            "duration": [3.5, None, 2.0, None, None],
            "sql": ["SELECT * FROM users WHERE id = $1 LIMIT $2", None, "SELECT 1", None, None],
            "message": [
                None,
                "Rendered users/_user.html.erb (Duration: 1.5ms | Allocations: 12)",
                None,
                "Rendered users/show.html.erb within layouts/application (Duration: 4.0ms | A",
                "Rendered layout",  # no duration recorded
            ],
            "time": [1] * 5,
        }
    )
    figure = plots.trace(steps)
    axes = figure.axes[0]
    bars = sorted(
        (round(p.get_y() + p.get_height() / 2), p.get_x(), p.get_width())
        for p in axes.patches
        if isinstance(p, Rectangle)
    )
    # Each step from its start to its end, top down in execution order; the template (4 ms)
    # encloses the partial and the query before it (3.5 ms of work), not the first query.
    assert bars == [(0, 0.0, 3.5), (1, 3.5, 1.5), (2, 5.0, 2.0), (3, 3.5, 4.0)]
    assert axes.get_ylim()[0] > axes.get_ylim()[1]  # the first step on top
    [tick] = [line for line in axes.lines if len(line.get_ydata())]
    assert list(tick.get_ydata()) == [4] and list(tick.get_xdata()) == [7.5]  # not at 0
    assert sorted(t.get_text() for t in axes.texts) == ["1.5 ms", "2 ms", "3.5 ms", "4 ms"]
    assert shown(axes.get_yticklabels())[:2] == [
        "SELECT * FROM users WHERE id = $1 LIMIT $2",
        "Rendered users/_user.html.erb (Duration: 1.5ms | Allocations: 12)",
    ]


def test_view_durations_are_read_from_the_messages_rails_writes() -> None:
    messages = [
        "Rendered users/show.html.erb within layouts/app (Duration: 12.3ms | Allocations: 4)",
        "Rendered collection of users/_user.html.erb [3 times] (Duration: 0.4ms | Allocations: 9)",
        "Rendered users/_user.html.erb (1.2ms)",  # Rails 5
        "Rendered x (7ms) (Duration: 2.5 ms | GC: 0.0ms)",  # the last group counts
        "Rendered layout",
        "Rendered x (Duration: -3ms)",
        "Rendered x (Duration: 1e400ms)",
        None,
        42,
        "",
    ]
    found = plots.view_durations(messages).tolist()
    assert found[:4] == [12.3, 0.4, 1.2, 2.5]
    assert all(value != value for value in found[4:])  # NaN: no duration


@given(st.lists(st.one_of(st.none(), st.text(), st.integers(), st.floats()), max_size=20))
def test_view_durations_never_raise_and_are_finite_or_nan(messages: list) -> None:
    found = plots.view_durations(messages)
    assert len(found) == len(messages) and found.dtype == "float64"
    assert ((found >= 0) | found.isna()).all() and not found.isin([float("inf")]).any()


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(0, 1e6)), st.booleans()), min_size=1, max_size=30
    )
)
def test_a_waterfall_runs_forward_and_views_enclose_only_what_fits(steps: list) -> None:
    durations = [float("nan") if d is None else d for d, _ in steps]
    views = [v for _, v in steps]
    starts, ends = plots.waterfall(durations, views)
    cursor = 0.0
    for duration, view, start, end in zip(durations, views, starts, ends, strict=True):
        length = 0.0 if duration != duration else duration
        assert 0 <= start <= cursor + 1e-6 and end == pytest.approx(start + length)
        assert end >= cursor - 1e-6 * max(cursor, 1)  # never ends before the work so far
        assert view or start == cursor  # only a view starts before the work so far ended
        cursor = end


def test_deploy_markers_are_labelled_with_their_names_as_text() -> None:
    index = pd.date_range("2026-11-27 10:00", periods=10, freq="min", tz="UTC", name="minute")
    series = pd.DataFrame({"count": range(10)}, index=index)
    events = pd.DataFrame({"datetime": [index[4]], "name": ["deploy $1 fix, $2 to go"]})
    figure = plots.throughput(series, events)
    assert shown(figure.axes[0].texts) == ["deploy $1 fix, $2 to go"]


def test_a_long_deploy_label_is_cut_and_never_squeezes_the_chart() -> None:
    """A commit message as a deploy's label: drawn cut, and the chart keeps its layout (a long
    label collapsed it, with a warning in the report)."""
    index = pd.date_range("2026-11-27 10:00", periods=10, freq="min", tz="UTC", name="minute")
    label = "Merge pull request #1234 from team/branch: " + "a long message " * 6
    events = pd.DataFrame({"datetime": [index[4]], "name": ["deploy"], "label": [label]})
    figure = plots.throughput(pd.DataFrame({"count": range(10)}, index=index), events)
    [text] = shown(figure.axes[0].texts)
    assert len(text) == plots.ANNOTATION_WIDTH and label.startswith(text[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "constrained_layout not applied" among them
        figure.savefig(io.BytesIO(), format="png")


def test_recorded_text_in_chart_labels_is_never_mathtext() -> None:
    """Endpoints on the bars, server names in the legend, a request id in a title."""
    table = pd.DataFrame({"group": ["A#$x$|html", "B#b|html"], "count": [3, 2]})
    bars = plots.top_endpoints(table, by="count").axes[0]
    assert sorted(shown(bars.get_yticklabels())) == ["A#$x$|html", "B#b|html"]
    minute = pd.date_range("2026-11-27 10:00", periods=2, freq="min", tz="UTC")
    samples = pd.DataFrame(
        {"minute": minute, "server": "$web$", "context": "rails", "role": "$\\alpha$",
         "cpu_one_min": [0.5, 0.7]}
    )  # fmt: skip
    legend = plots.resources(samples, fields=("cpu_one_min",)).axes[0].get_legend()
    assert shown(legend.get_texts()) == ["$web$ / rails / $\\alpha$"]
    steps = pd.DataFrame({"group": ["db"], "duration": [1.0], "sql": ["SELECT $1"],
                          "message": [None], "time": [1]})  # fmt: skip
    title = plots.trace(steps, title="Trace of request $id$").axes[0].title
    assert shown([title]) == ["Trace of request $id$"]


def shown(texts) -> list[str]:
    """What matplotlib draws for each Text: never mathtext, the text with ``\\$`` as ``$``."""
    assert not any(is_math_text(text.get_text()) for text in texts)
    return [text.get_text().replace("\\$", "$") for text in texts]


# --------------------------------------------------------------------------- request charts


def test_one_job_chart_per_kind_with_records_and_gaps_without_jobs() -> None:
    frames = {
        "sidekiq": frame(
            "sidekiq", [{"at": "11:52:10", "duration": 100.0}, {"at": "11:55:00", "duration": 3e5}]
        ),
        "rake": frame("rake", []),
        "grape": frame("grape", [{"at": "11:53:00", "endpoint_run.grape": 12.0}]),
    }
    now = pd.Timestamp("2026-02-04 12:00:30", tz="UTC")
    pages = reports.jobs_pages(frames, now=now, duration=pd.Timedelta(minutes=10))
    assert list(pages) == ["sidekiq", "grape"]  # rake recorded nothing; JOB_KINDS order
    events = pd.DataFrame(
        {"datetime": [now - pd.Timedelta(minutes=5)], "name": ["deploy"], "label": ["v2 (abc)"]}
    )
    figures = plots.job_pages(pages, events)
    assert list(figures) == ["sidekiq", "grape"]
    sidekiq = figures["sidekiq"]
    counts_axes, time_axes = sidekiq.axes
    assert counts_axes.get_title() == "Sidekiq: throughput and mean duration"
    assert counts_axes.get_ylabel() == "jobs per minute"
    assert time_axes.get_ylabel() == "mean duration (min)"  # up to 300 s: minutes
    means = time_axes.lines[0].get_ydata()
    assert sorted(v for v in means if v == v) == [100 / 60_000, 5.0]  # in minutes
    assert sum(v != v for v in means) == len(means) - 2  # no jobs: a gap, not 0
    assert shown(counts_axes.texts) == ["v2 (abc)"]  # the deploy's label, above the page
    assert not time_axes.texts  # once
    for axes in (counts_axes, time_axes):  # its line on both
        assert [line.get_xdata()[0] for line in axes.lines if line.get_linestyle() == ":"] == [
            mdates.date2num(events["datetime"][0].tz_localize(None))
        ]
    assert figures["grape"].axes[1].get_ylabel() == "mean duration (ms)"


def test_resource_axes_in_binary_units() -> None:
    minutes = pd.date_range("2026-02-04 11:00", periods=3, freq="min", tz="UTC")
    samples = pd.DataFrame(
        {
            "server": ["web-1"] * 3,
            "context": ["rails"] * 3,
            "role": ["web"] * 3,
            "minute": minutes,
            "cpu_one_min": [0.5, 1.0, None],
            "memory": [512 * 2**20, 600 * 2**20, None],
            "disk_available": [100e9, 99e9, None],
        }
    )
    figure = plots.resources(samples)
    cpu, memory, disk = figure.axes
    assert cpu.get_ylabel() == "CPU load (1 min)"
    assert memory.get_ylabel() == "memory (MiB)"
    assert disk.get_ylabel() == "disk free (GiB)"
    assert list(memory.lines[0].get_ydata())[:2] == [512.0, 600.0]
    assert list(disk.lines[0].get_ydata())[0] == pytest.approx(100e9 / 2**30)


def test_top_endpoints_bars_are_labelled_in_readable_units_with_a_stable_order() -> None:
    table = pd.DataFrame(
        {"group": ["B#b|html", "A#a|html", "C#c|html"], "duration_p95": [2364.0, 2364.0, 95.5]}
    )
    figure = plots.top_endpoints(table, by="duration_p95")
    axes = figure.axes[0]
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert labels == ["C#c|html", "B#b|html", "A#a|html"]  # drawn bottom up: A first on top
    assert axes.get_xlabel() == "p95 (s)"
    assert sorted(t.get_text() for t in axes.texts) == ["2.36 s", "2.36 s", "95.5 ms"]


def test_response_time_axis_names_its_unit() -> None:
    index = pd.date_range("2026-11-27 10:00", periods=3, freq="min", tz="UTC", name="minute")
    figure = plots.response_time(pd.DataFrame({"duration_average": [500.0, 2500.0, None]}, index))
    axes = figure.axes[0]
    assert axes.get_ylabel() == "mean duration (s)"
    assert list(axes.lines[0].get_ydata())[:2] == [0.5, 2.5]


# --------------------------------------------------------------------------- read at a glance


def per_minute(start: str, periods: int, **columns) -> pd.DataFrame:
    index = pd.date_range(start, periods=periods, freq="min", tz="UTC", name="minute")
    return pd.DataFrame(columns or {"count": [800] * periods}, index=index)


def tick_texts(axes) -> list[str]:
    axes.figure.draw_without_rendering()
    return [t.get_text() for t in axes.get_xticklabels() if t.get_text()]


def test_throughput_starts_at_zero_however_busy() -> None:
    series = per_minute("2026-12-04 06:00", 60, count=[750 + i for i in range(60)])
    axes = plots.throughput(series).axes[0]
    assert axes.get_ylim()[0] == 0 and axes.get_ylim()[1] >= 809
    idle = plots.throughput(per_minute("2026-12-04 06:00", 5, count=[0] * 5)).axes[0]
    assert idle.get_ylim() == (0, 1)  # no requests: a flat line at 0 on a 0..1 axis


def test_time_ticks_are_hours_and_minutes_with_the_date_once() -> None:
    axes = plots.throughput(per_minute("2026-12-04 06:00", 240)).axes[0]
    ticks = tick_texts(axes)
    assert len(ticks) >= 3 and all(re.fullmatch(r"\d\d:\d\d", t) for t in ticks), ticks
    assert "06:00" in ticks and axes.get_xlabel() == "2026-12-04 (UTC)"
    night = plots.throughput(per_minute("2026-12-03 22:00", 240)).axes[0]
    ticks = tick_texts(night)
    assert "04 Dec" in ticks and "23:00" in ticks  # midnight as its date
    assert night.get_xlabel() == "2026-12-03 – 2026-12-04 (UTC)"


def test_time_ticks_over_days_are_dates() -> None:
    index = pd.date_range("2026-11-20 00:00", periods=5 * 24 * 60, freq="min", tz="UTC")
    axes = plots.throughput(pd.DataFrame({"count": 1}, index=index)).axes[0]
    ticks = tick_texts(axes)
    assert ticks[0] == "20 Nov" and all(re.fullmatch(r"\d\d [A-Z][a-z]{2}", t) for t in ticks)
    days = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-11-30", "2026-12-01", "2026-12-02"]),
            "group": "A#a|html",
            "count": 3,
            "duration_p95": [10.0, 20.0, 30.0],
        }
    )
    deploy = pd.DataFrame({"datetime": [pd.Timestamp("2026-12-01 09:00", tz="UTC")],
                           "name": ["deploy"], "label": ["v3 (abc)"]})  # fmt: skip
    axes = plots.daily_p95(days, annotations=deploy).axes[0]
    assert tick_texts(axes) == ["30 Nov", "01 Dec", "02 Dec"]
    assert marker_lines(axes) == [mdates.date2num(pd.Timestamp("2026-12-01 09:00"))]
    assert [(t.get_text(), t.get_rotation()) for t in axes.texts] == [("v3 (abc)", 0)]
    assert axes.get_xlabel() == "day, 2026-11-30 – 2026-12-02 (UTC)"
    assert axes.get_ylim()[0] == 0


def events_at(*minutes: str, labels: list[str] | None = None) -> pd.DataFrame:
    whens = [pd.Timestamp(f"2026-12-04 {m}", tz="UTC") for m in minutes]
    return pd.DataFrame(
        {
            "datetime": whens,
            "name": "deploy",
            "label": labels or [f"v{i}" for i in range(len(whens))],
        }
    )


def marker_lines(axes) -> list[float]:
    return [line.get_xdata()[0] for line in axes.lines if line.get_linestyle() == ":"]


def test_deploy_labels_are_horizontal_above_the_plot_and_never_overlap() -> None:
    series = per_minute("2026-12-04 06:00", 240)
    events = events_at("06:30", "06:31", "06:32", "06:33", "08:00", "12:00",
                       labels=["v1.2 (abc)", "v1.3 (def)", "v1.4 (123)", "v1.5 (456)", "v2",
                               "after the window"])  # fmt: skip
    figure = plots.throughput(series, events)
    axes = figure.axes[0]
    assert len(marker_lines(axes)) == 5  # the one after the window is not drawn
    assert axes.get_xlim()[1] == mdates.date2num(series.index[-1].tz_localize(None))
    texts = list(axes.texts)
    assert all(t.get_rotation() == 0 for t in texts)
    assert all(t.xy[1] == 1.0 and t.xyann[1] > 0 for t in texts)  # above the top of the axes
    figure.draw_without_rendering()
    boxes = [t.get_window_extent() for t in texts]
    top = axes.get_window_extent().y1
    assert all(box.y0 >= top for box in boxes)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert axes.title.get_window_extent().y0 >= max(box.y1 for box in boxes)  # title above
    # Four labels within three minutes: three rows, the fourth left out and counted.
    assert len({t.xyann[1] for t in texts}) == plots.ANNOTATION_ROWS
    assert sorted(shown(texts)) == ["v1.2 (abc)", "v1.3 (def)", "v1.4 (123)", "v2"]
    legend = shown(axes.get_legend().get_texts())
    assert "deploys / events (1 unlabelled: too close)" in legend


def test_deploy_markers_are_on_every_time_chart() -> None:
    events = events_at("06:10")
    when = mdates.date2num(events["datetime"][0].tz_localize(None))
    series = per_minute("2026-12-04 06:00", 30, duration_average=[5.0] * 30)
    assert marker_lines(plots.response_time(series, events).axes[0]) == [when]
    samples = pd.DataFrame(
        {"minute": series.index, "server": "web-1", "context": "rails", "role": "web",
         "cpu_one_min": 0.5, "memory": 2.0**30}
    )  # fmt: skip
    figure = plots.resources(samples, annotations=events)
    assert [marker_lines(axes) for axes in figure.axes] == [[when], [when]]
    assert shown(figure.axes[0].texts) == ["v0"] and not figure.axes[1].texts
    assert figure.axes[0].get_xlabel() == "" and figure.axes[1].get_xlabel() == "2026-12-04 (UTC)"


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0.001, 0.5)), max_size=30))
def test_label_rows_never_overlap_within_a_row(labels: list) -> None:
    positions, widths = [p for p, _ in labels], [w for _, w in labels]
    rows = plots.label_rows(positions, widths)
    spans: dict[int, list[tuple[float, float]]] = {}
    for position, width, row in zip(positions, widths, rows, strict=True):
        if row is not None:
            left = min(max(position - width / 2, 0.0), max(1.0 - width, 0.0))
            spans.setdefault(row, []).append((left, left + width))
    for row, extents in spans.items():
        assert 0 <= row < plots.ANNOTATION_ROWS
        extents.sort()
        assert all(a[1] <= b[0] for a, b in zip(extents, extents[1:], strict=False))
    if positions:  # the leftmost label always finds a place, in the first row
        assert rows[min(range(len(positions)), key=positions.__getitem__)] == 0


def test_response_time_draws_the_p95_per_minute_beside_the_mean() -> None:
    series = per_minute(
        "2026-12-04 06:00",
        3,
        duration_average=[100.0, 200.0, None],
        duration_p95=[400.0, 900.0, None],
    )
    axes = plots.response_time(series).axes[0]
    assert [line.get_label() for line in axes.lines] == ["mean", "p95"]
    assert list(axes.lines[1].get_ydata())[:2] == [400.0, 900.0]
    assert axes.get_title() == "Response time per minute: mean and p95"
    assert axes.get_ylabel() == "duration (ms)" and axes.get_ylim()[0] == 0
    assert shown(axes.get_legend().get_texts()) == ["mean", "p95"]


def test_the_notebooks_response_time_frame_charts_its_p95() -> None:
    df = frame("requests", [{"at": "11:51:00", "duration": 10}, {"at": "11:51:30", "duration": 30}])
    series = reports.response_time(df, now=NOW_, duration=pd.Timedelta(minutes=10), gaps=True)
    axes = plots.response_time(series).axes[0]
    assert [line.get_label() for line in axes.lines] == ["mean", "p95"]
    assert max(v for v in axes.lines[1].get_ydata() if v == v) == 29.0


def test_charts_of_nothing_are_none() -> None:
    nothing = per_minute("2026-12-04 06:00", 0, count=[])
    assert plots.throughput(nothing) is None
    assert plots.throughput(nothing, events_at("06:00")) is None
    gaps = per_minute("2026-12-04 06:00", 3, duration_average=[None] * 3)
    assert plots.response_time(gaps) is None  # no request: no chart, not an empty one
    table = pd.DataFrame({"group": [], "count": []})
    assert plots.top_endpoints(table) is None
    days = pd.DataFrame({"date": [], "group": [], "count": [], "duration_p95": []})
    assert plots.daily_p95(days) is None
    steps = pd.DataFrame({column: [] for column in ("group", "duration", "sql", "message", "time")})
    assert plots.trace(steps) is None
    samples = pd.DataFrame({"minute": [], "server": [], "context": [], "role": [], "memory": []})
    assert plots.resources(samples) is None
    zero = per_minute("2026-12-04 06:00", 0, duration_average=[])
    assert plots.job_page(nothing, zero, kind="sidekiq") is None


def test_one_endpoint_is_titled_so() -> None:
    table = pd.DataFrame({"group": ["A#a|html"], "count": [3]})
    assert plots.top_endpoints(table).axes[0].get_title() == "Top endpoint by requests"


# --------------------------------------------------------------------------- latency heatmap


def requests_at(rows: list[tuple[str, float]]) -> pd.DataFrame:
    """A requests frame (``minute``, ``duration``) of ``(HH:MM, ms)`` rows on 2026-12-04."""
    return pd.DataFrame(
        {
            "minute": pd.to_datetime([f"2026-12-04 {m}" for m, _ in rows], utc=True),
            "duration": pd.Series([d for _, d in rows], dtype="float64"),
        }
    )


def reference_counts(requests: pd.DataFrame) -> np.ndarray:
    """Requests per (bucket, minute), counted apart from plots: np.histogram2d over minutes
    since the first and the duration edges, opened to -inf and +inf."""
    known = requests.dropna(subset=["duration"])
    offsets = (known["minute"] - known["minute"].min()).dt.total_seconds() / 60
    width = int(offsets.max()) + 1
    edges = [-np.inf, *plots.LATENCY_EDGES_MS, np.inf]
    counts, _, _ = np.histogram2d(
        known["duration"], offsets, bins=[edges, np.arange(width + 1) - 0.5]
    )
    return counts.astype(int)


def image_counts(figure) -> np.ndarray:
    return np.ma.filled(figure.axes[0].images[0].get_array(), 0).astype(int)


def test_the_latency_heatmap_counts_requests_per_minute_and_duration_bucket() -> None:
    requests = requests_at(
        [("06:00", 0.4), ("06:00", 0.9), ("06:00", 1.0), ("06:00", 1.9), ("06:00", 2.0),
         ("06:00", 999.0), ("06:00", 1000.0), ("06:00", 60_000.0), ("06:00", 250_000.0),
         ("06:00", float("nan")), ("06:03", 45.0), ("06:03", 45.0), ("06:03", 19_999.0)]
    )  # fmt: skip
    figure = plots.latency_heatmap(requests)
    counts = image_counts(figure)
    assert counts.shape == (len(plots.LATENCY_EDGES_MS) + 1, 4)  # 06:00 .. 06:03, gaps too
    np.testing.assert_array_equal(counts, reference_counts(requests))
    names = plots.latency_buckets()
    cell = dict(zip(names, counts[:, 0], strict=True))
    assert (cell["<1 ms"], cell["1–2 ms"], cell["2–5 ms"], cell["500 ms–1 s"]) == (2, 2, 1, 1)
    assert (cell["1–2 s"], cell["≥60 s"]) == (1, 2)  # 60 s exactly and over: the top bucket
    assert counts[:, 1:3].sum() == 0 and counts[:, 3].sum() == 3
    assert counts.sum() == 12  # the request without a duration is left out
    axes = figure.axes[0]
    image = axes.images[0]  # row 0 (the shortest bucket) at the bottom, beside its tick
    assert image.origin == "lower" and list(image.get_extent()[2:]) == [0, len(names)]
    assert list(axes.get_yticks()) == [row + 0.5 for row in range(len(names))]
    assert axes.get_title() == "Request durations per minute"
    colorbar = figure.axes[1]
    assert colorbar.get_ylabel() == "requests"


def test_the_latency_heatmap_ticks_are_plain_text() -> None:
    requests = requests_at([(f"06:{m:02d}", 10.0 * (m + 1)) for m in range(60)] * 3)
    figure = plots.latency_heatmap(requests)
    axes, colorbar = figure.axes
    assert shown(axes.get_yticklabels()) == plots.latency_buckets()
    assert plots.latency_buckets()[0] == "<1 ms" and plots.latency_buckets()[-1] == "≥60 s"
    assert "500 ms–1 s" in plots.latency_buckets()
    ticks = tick_texts(axes)
    assert "06:00" in ticks and all(re.fullmatch(r"\d\d:\d\d", t) for t in ticks), ticks
    assert axes.get_xlabel() == "2026-12-04 (UTC)"
    bar_ticks = [t.get_text() for t in colorbar.get_yticklabels() if t.get_text()]
    assert bar_ticks and all(re.fullmatch(r"[\d,]+", t) for t in bar_ticks), bar_ticks


def test_the_latency_heatmap_marks_deploys() -> None:
    requests = requests_at([(f"06:{m:02d}", 10.0) for m in range(30)])
    events = events_at("06:10", "09:00")  # the second after the window: not drawn
    axes = plots.latency_heatmap(requests, events).axes[0]
    assert marker_lines(axes) == [mdates.date2num(pd.Timestamp("2026-12-04 06:10"))]
    assert shown(axes.texts) == ["v0"]
    assert "deploy / event" in shown(axes.get_legend().get_texts())


def test_the_latency_heatmap_of_nothing_is_none() -> None:
    assert plots.latency_heatmap(requests_at([])) is None
    assert plots.latency_heatmap(requests_at([("06:00", float("nan"))] * 3)) is None
    assert plots.latency_heatmap(requests_at([("06:00", 1.0)])[["minute"]]) is None


@given(
    st.lists(
        st.tuples(
            st.integers(0, 90),
            st.one_of(st.none(), st.floats(-5, 1e6, allow_nan=False)),
        ),
        max_size=40,
    )
)
def test_the_latency_heatmap_counts_every_request_with_a_duration_once(rows: list) -> None:
    requests = pd.DataFrame(
        {
            "minute": pd.Timestamp("2026-12-04 06:00", tz="UTC")
            + pd.to_timedelta([m for m, _ in rows], unit="min"),
            "duration": pd.Series([d for _, d in rows], dtype="float64"),
        }
    )
    figure = plots.latency_heatmap(requests)
    if requests["duration"].notna().any():
        np.testing.assert_array_equal(image_counts(figure), reference_counts(requests))
    else:
        assert figure is None


# --------------------------------------------------------------------------- benchmark


def bench_results(*, repeats_spread: bool = True) -> pd.DataFrame:
    """Benchmark results with known figures: wall times 10 % under and 20 % over the median."""
    from tests.bench.test_findings import _results

    results = _results(adaptive=True)
    results["wall_median_s"] = results["overhead"] * 0.01
    spread = (0.9, 1.2) if repeats_spread else (1.0, 1.0)
    results["wall_min_s"] = results["wall_median_s"] * spread[0]
    results["wall_max_s"] = results["wall_median_s"] * spread[1]
    results["probe_p99_ms"] = 1.0
    results["probe_idle_p99_ms"] = 1.0
    return results


def all_tick_texts(axes) -> list[str]:
    axes.figure.draw_without_rendering()
    return [
        t.get_text()
        for t in [*axes.get_xticklabels(which="both"), *axes.get_yticklabels(which="both")]
        if t.get_text()
    ]


def test_the_blocking_chart_draws_the_idle_max_its_sentence_compares_with() -> None:
    axes = plots.blocking(bench_results()).axes[0]
    lines = {line.get_label(): line for line in axes.lines}
    assert list(lines["idle: max"].get_ydata()) == [1.5, 1.5]  # probe_idle_max_ms
    assert lines["idle: max"].get_linestyle() == "--"
    for name in ("KEYS: max", "SCAN auto-tune: max"):  # every maximum has the idle max beside
        assert lines[name].get_linestyle() == "-"
    assert lines["idle: p99"].get_linestyle() == ":"
    probe = plots.adaptive_vs_best_fixed(bench_results()).axes[1]
    assert "idle: max" in [line.get_label() for line in probe.lines]


def test_categorical_counts_are_points_never_joined_by_lines() -> None:
    for chart in (plots.overhead_vs_count, plots.scan_calls_vs_count):
        axes = chart(bench_results()).axes[0]
        data = [line for line in axes.lines if line.get_label() != "KEYS (= 1)"]
        assert data and all(line.get_linestyle() == "None" for line in data), chart.__name__
        points = [line for line in data if line.get_marker() == "o"]  # the rest: error bar caps
        assert len(points) == 2 and {line.get_marker() for line in data} <= {"o", "_"}
        ticks = [t.get_text() for t in axes.get_xticklabels()]
        assert ticks == ["10", "100", "1,000", "auto", "adaptive"]


def test_benchmark_ticks_are_plain_numbers() -> None:
    for chart in (
        plots.overhead_vs_size,
        plots.overhead_vs_count,
        plots.blocking,
        plots.scan_calls_vs_count,
        plots.adaptive_vs_best_fixed,
    ):
        for axes in chart(bench_results()).axes:
            texts = all_tick_texts(axes)
            assert texts, chart.__name__
            assert not [t for t in texts if "$" in t or "×" in t or "e+" in t], (chart, texts)
    texts = all_tick_texts(plots.blocking(bench_results()).axes[0])
    assert {"1,000", "100,000", "1", "10"} <= set(texts)


def test_every_timing_shows_the_spread_of_its_repeats() -> None:
    results = bench_results()
    figure = plots.overhead_vs_size(results)
    (axes,) = figure.axes
    bars = axes.containers
    assert len(bars) == 5  # one per COUNT (10, 100, 1000, auto, adaptive)
    first = bars[0]  # COUNT 10: overhead 4 at both sizes, repeats 0.9–1.2 of the median
    (segments,) = first.lines[2]
    for low_high in segments.get_segments():
        assert [y for _, y in low_high] == pytest.approx([3.6, 4.8])
    assert "fastest–slowest repeat" in axes.get_ylabel()
    assert len(plots.overhead_vs_count(results).axes[0].containers) == 2  # one per size
    ratio = plots.adaptive_vs_best_fixed(results).axes[0]
    (segments,) = ratio.containers[0].lines[2]
    assert [y for _, y in segments.get_segments()[0]] == pytest.approx([1.12 * 0.9, 1.12 * 1.2])
    flat = plots.overhead_vs_size(bench_results(repeats_spread=False)).axes[0]
    (segments,) = flat.containers[0].lines[2]
    assert all(a[1] == b[1] for a, b in segments.get_segments())  # one repeat: no spread
