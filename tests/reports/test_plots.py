"""The charts draw what the data says: the trace's view steps, SQL and deploy names as text."""

from __future__ import annotations

import io
import warnings

import pandas as pd
import pytest
from matplotlib import dates as mdates
from matplotlib.cbook import is_math_text
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from rp_toolkit import plots, reports
from tests.reports.test_reports import frame


def test_the_trace_chart_shows_every_step_as_it_ran_with_sql_as_text() -> None:
    steps = pd.DataFrame(
        {
            "group": ["db", "view", "db", "view"],
            "duration": [3.5, None, 12.0, None],
            "sql": ["SELECT * FROM users WHERE id = $1 LIMIT $2", None, "SELECT 1", None],
            "message": [None, "Rendered users/show.html.erb", None, "Rendered layout"],
            "time": [1, 1, 1, 1],
        }
    )
    figure = plots.trace(steps)
    axes = figure.axes[0]
    figure.canvas.draw()
    bars = [p for p in axes.patches if isinstance(p, Rectangle)]
    assert sorted(bar.get_width() for bar in bars) == [3.5, 12.0]  # the db steps' durations
    assert sorted(bar.get_y() + bar.get_height() / 2 for bar in bars) == [0, 2]  # in order
    markers = [line for line in axes.lines if isinstance(line, Line2D)]
    assert sorted(y for line in markers for y in line.get_ydata()) == [1, 3]  # the view steps
    assert shown(axes.get_yticklabels())[:2] == [
        "SELECT * FROM users WHERE id = $1 LIMIT $2",
        "Rendered users/show.html.erb",
    ]


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
