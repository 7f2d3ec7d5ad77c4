"""The charts draw what the data says: the trace's view steps, SQL and deploy names as text."""

from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from rp_toolkit import plots


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
