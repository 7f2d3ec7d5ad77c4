"""The charts draw what the data says: the trace's view steps, SQL and deploy names as text."""

from __future__ import annotations

import pandas as pd
import pytest
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
    labels = axes.get_yticklabels()
    assert [label.get_text() for label in labels][:2] == [
        "SELECT * FROM users WHERE id = $1 LIMIT $2",
        "Rendered users/show.html.erb",
    ]
    assert not any(label.get_parse_math() for label in labels)


def test_deploy_markers_are_labelled_with_their_names_as_text() -> None:
    index = pd.date_range("2026-11-27 10:00", periods=10, freq="min", tz="UTC", name="minute")
    series = pd.DataFrame({"count": range(10)}, index=index)
    events = pd.DataFrame({"datetime": [index[4]], "name": ["deploy $1 fix"]})
    figure = plots.throughput(series, events)
    texts = [t for t in figure.axes[0].texts if t.get_text() == "deploy $1 fix"]
    assert len(texts) == 1 and not texts[0].get_parse_math()


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
    assert any(t.get_text() == "v2 (abc)" for t in time_axes.texts)  # the deploy's label
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
