"""The dashboard's own reports: requests, per-minute charts, the jobs pages, resources,
annotations, and the few the gem lacks (error rate, Apdex, time split, the window against
the one before).

Every function takes the frame :mod:`rp_toolkit.frames` builds for one record kind and returns
a new DataFrame (or a small dict / :class:`JobsReport`); see :mod:`rp_toolkit.reports` for
what they share (inputs never modified, empty frames, the gem's percentile).

Per-minute series (throughput, response time, the job pages) of a frame ``rp.load`` returned
cover the window it was loaded for (:func:`chart_window`). Given ``now`` or ``duration``, or
for any other frame, they cover the gem's window: the minutes from ``stop - duration`` to
``stop`` inclusive, where ``stop`` is ``now + 1 minute`` floored to the minute (the gem's
``kind_of_now.change(sec: 0)``). With the default 4 hours that is 241 points; the last one is
normally empty. Records outside the window are ignored. A per-minute result is a DataFrame
indexed by ``minute`` (a UTC DatetimeIndex with ``freq="min"``) with one column. "Newest
first" sorts by ``datetimei`` descending; ties keep the input order (stable sort).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ..kinds import DEFAULT_WINDOW, RESOURCES_WINDOW, window_bound
from ._deploys import event_labels
from ._groups import (
    ENDPOINT_COLUMNS,
    PERCENTILES,
    by_count,
    endpoints,
    floats,
    group_percentiles,
    percentiles,
)
from ._jobs import GRAPE_DURATION_FIELD, JOB_KINDS, duration_field

__all__ = [
    "ALL_ENDPOINTS",
    "DEFAULT_DURATION",
    "RESOURCES_DURATION",
    "RESOURCE_FIELDS",
    "JobsReport",
    "annotations",
    "apdex",
    "chart_window",
    "crashes",
    "custom",
    "delayed_job",
    "error_rate",
    "grape",
    "jobs_pages",
    "jobs_summary",
    "minute_window",
    "rake",
    "recent",
    "requests",
    "resources",
    "response_time",
    "sidekiq",
    "slow",
    "throughput",
    "time_split",
    "window_change",
]

TimeLike = pd.Timestamp | datetime | str

DEFAULT_DURATION = pd.Timedelta(DEFAULT_WINDOW)
"""The gem's ``RailsPerformance.duration``: the window of every chart and job page."""
RESOURCES_DURATION = pd.Timedelta(RESOURCES_WINDOW)
"""The gem's ``system_monitor_duration``: the window of the resources charts."""
RESOURCE_FIELDS = ("cpu_one_min", "memory", "disk_available")
"""The three series the gem charts per server: CPU load (1 min), memory, disk available."""
ALL_ENDPOINTS = "(all)"
"""The ``group`` label of :func:`apdex`'s overall row (endpoint groups always hold ``#``)."""

_ONE_MINUTE = pd.Timedelta(minutes=1)


# --------------------------------------------------------------------------- time helpers


def _utc(value: TimeLike | None, name: str = "now") -> pd.Timestamp:
    """``value`` as a UTC Timestamp, read as a loader reads a bound
    (:func:`rp_toolkit.kinds.window_bound`: naive values are UTC); None is now."""
    return pd.Timestamp.now(tz="UTC") if value is None else window_bound(value, name=name)


def minute_window(
    now: TimeLike | None = None, duration: pd.Timedelta = DEFAULT_DURATION
) -> pd.DatetimeIndex:
    """The minutes a per-minute chart covers, as the gem builds them.

    ``stop`` = ``now + 1 minute`` floored to the minute; the points run from
    ``(now + 1 minute - duration)`` floored to the minute up to ``stop``, both included, one
    per minute (for whole-minute durations: ``duration / 1 minute + 1`` points).
    """
    shifted = _utc(now) + _ONE_MINUTE
    stop = shifted.floor("min")
    start = (shifted - pd.Timedelta(duration)).floor("min")
    return pd.date_range(start, stop, freq="min", name="minute")


def _minutes(df: pd.DataFrame, unit: str) -> pd.Series:
    """The ``minute`` column as UTC Timestamps floored to the minute, in ``unit``."""
    minutes = df["minute"]
    if not isinstance(minutes.dtype, pd.DatetimeTZDtype):
        minutes = pd.to_datetime(minutes, utc=True)
    return minutes.dt.tz_convert("UTC").dt.floor("min").dt.as_unit(unit)


def chart_window(
    df: pd.DataFrame, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> pd.DatetimeIndex:
    """The minutes a per-minute series of ``df`` covers: with ``now`` or ``duration`` given,
    the gem's window (:func:`minute_window`); otherwise, for a frame ``rp.load`` returned, the
    whole minutes of the window it was loaded for (a minute cut by either edge of the window
    holds only part of its records and would be drawn as a drop); else the gem's 4 hours
    before now."""
    info = df.attrs.get("rp")
    start, end = getattr(info, "start", None), getattr(info, "end", None)
    if now is None and duration is None and start is not None and end is not None:
        first, last = _utc(start).ceil("min"), _utc(end).floor("min") - pd.Timedelta(minutes=1)
        if last < first:  # under two minutes: every minute it touches
            first, last = _utc(start).floor("min"), _utc(end).floor("min")
        return pd.date_range(first, last, freq="min", name="minute")
    return minute_window(now, DEFAULT_DURATION if duration is None else duration)


def _per_minute(
    df: pd.DataFrame,
    field: str | None,
    now: TimeLike | None,
    duration: pd.Timedelta | None,
    *,
    gaps: bool = False,
) -> pd.DataFrame:
    """Per minute of the window: ``count`` of records and ``duration_average`` of ``field``.

    Empty minutes are 0 in both, as are minutes whose ``field`` values are all null (the gem
    skips those); with ``gaps`` such minutes' average is NaN (a chart draws a gap, not an
    outage). The one helper behind every per-minute chart.
    """
    index = chart_window(df, now, duration)
    grouped = df.groupby(_minutes(df, index.unit), sort=False)
    counts = grouped.size().reindex(index, fill_value=0).astype("int64")
    if field is None:
        means = pd.Series(0.0, index=index)
    else:
        means = grouped[field].mean().reindex(index).astype("float64")
        means = means if gaps else means.fillna(0.0)
    return pd.DataFrame({"count": counts.to_numpy(), "duration_average": means.to_numpy()}, index)


def _newest_first(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("datetimei", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- requests


def requests(df: pd.DataFrame) -> pd.DataFrame:
    """The requests table: one row per ``Controller#action|format``, most requested first.

    Columns: ``group`` (``"Controller#action|format"``), ``controller``, ``action``, ``format``,
    ``count`` (records, nulls included), ``duration_average``, ``duration_max``,
    ``view_runtime_average``, ``view_runtime_max``, ``db_runtime_average``, ``db_runtime_max``
    (nulls ignored; NaN when a group has none), ``duration_p50``, ``duration_p95``,
    ``duration_p99`` (the gem's percentile). Ties in ``count`` are ordered by ``group``.
    """
    codes, table = endpoints(df)
    grouped = df.groupby(codes, sort=True)
    table["count"] = grouped.size().to_numpy().astype("int64")
    for column in ("duration", "view_runtime", "db_runtime"):
        values = df[column].astype("float64")
        by_group = values.groupby(codes, sort=True)
        table[f"{column}_average"] = by_group.mean().to_numpy()
        table[f"{column}_max"] = by_group.max().to_numpy()
    found = group_percentiles(codes, floats(df["duration"]), len(table), PERCENTILES)
    for p in PERCENTILES:
        table[f"duration_p{p}"] = found[p]
    return by_count(table)


def throughput(
    df: pd.DataFrame, *, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> pd.DataFrame:
    """Records per minute over the window (see :func:`chart_window`: the loaded window of a
    frame from ``rp.load``, or the gem's ``now``/``duration``); empty minutes are 0.

    Returns a DataFrame indexed by ``minute`` (UTC, one row per minute) with ``count`` (int64).
    Records are bucketed by their key's ``minute``. ``now`` defaults to the current UTC time.
    """
    return _per_minute(df, None, now, duration)[["count"]]


def response_time(
    df: pd.DataFrame,
    *,
    now: TimeLike | None = None,
    duration: pd.Timedelta | None = None,
    field: str = "duration",
    gaps: bool = False,
) -> pd.DataFrame:
    """Mean and p95 of ``field`` (ms) per minute over the window (see :func:`throughput`);
    empty minutes are 0 as on the gem's dashboard, or NaN with ``gaps`` (for charts: no
    requests is not a 0 ms response).

    Returns a DataFrame indexed by ``minute`` (UTC) with ``duration_average`` (the gem's chart)
    and ``duration_p95`` (the gem's percentile of the minute's values; float64 both).
    """
    series = _per_minute(df, field, now, duration, gaps=gaps)[["duration_average"]]
    codes = series.index.get_indexer(_minutes(df, series.index.unit))  # -1: outside the window
    p95 = group_percentiles(codes, floats(df[field]), len(series), (95,))[95]
    series["duration_p95"] = p95 if gaps else np.nan_to_num(p95, nan=0.0)
    return series


def crashes(df: pd.DataFrame, *, status: int = 500) -> pd.DataFrame:
    """Requests with ``status`` (500, as the gem's crash page), newest first; every column."""
    return _newest_first(df[df["status"] == status])


def _cut(df: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    return df if limit is None else df.head(limit)


def recent(
    df: pd.DataFrame,
    *,
    now: TimeLike | None = None,
    minutes: int = 60,
    limit: int | None = None,
) -> pd.DataFrame:
    """Records of the last ``minutes`` minutes, newest first; every column.

    As the gem: kept when ``datetimei > floor(now) - minutes * 60`` (epoch seconds), so a record
    exactly ``minutes`` ago is left out. ``limit`` keeps the first rows (the gem caps its table
    by configuration; None keeps all).
    """
    since = math.floor(_utc(now).timestamp()) - int(minutes) * 60
    return _cut(_newest_first(df[df["datetimei"] > since]), limit)


def slow(
    df: pd.DataFrame,
    *,
    now: TimeLike | None = None,
    hours: float = 4,
    threshold_ms: float = 500,
    limit: int | None = None,
) -> pd.DataFrame:
    """Requests slower than ``threshold_ms`` in the last ``hours``, newest first.

    As the gem: ``duration > threshold_ms`` (exactly the threshold is not slow; null durations
    are not slow) and ``datetimei > floor(now) - hours * 3600``.
    """
    since = math.floor(_utc(now).timestamp()) - hours * 3600
    mask = (df["datetimei"] > since) & (df["duration"].astype("float64") > threshold_ms)
    return _cut(_newest_first(df[mask]), limit)


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True, eq=False)
class JobsReport:
    """A jobs page: per-minute ``throughput`` and ``response_time``, and the records' ``table``.

    ``throughput`` and ``response_time`` are as :func:`throughput` and :func:`response_time`
    return them; ``table`` is every record, newest first.
    """

    throughput: pd.DataFrame
    response_time: pd.DataFrame
    table: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """The three frames by name (what :func:`export` writes)."""
        return {
            "throughput": self.throughput,
            "response_time": self.response_time,
            "table": self.table,
        }


def _jobs(
    df: pd.DataFrame, field: str, now: TimeLike | None, duration: pd.Timedelta | None
) -> JobsReport:
    series = _per_minute(df, field, now, duration)
    return JobsReport(series[["count"]], series[["duration_average"]], _newest_first(df))


def sidekiq(
    df: pd.DataFrame, *, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> JobsReport:
    """The Sidekiq page: jobs per minute, mean ``duration`` per minute, jobs newest first."""
    return _jobs(df, "duration", now, duration)


def delayed_job(
    df: pd.DataFrame, *, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> JobsReport:
    """The Delayed::Job page: jobs per minute, mean ``duration`` per minute, jobs newest first."""
    return _jobs(df, "duration", now, duration)


def custom(
    df: pd.DataFrame, *, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> JobsReport:
    """The custom events page: blocks per minute, mean ``duration``, records newest first."""
    return _jobs(df, "duration", now, duration)


def rake(
    df: pd.DataFrame, *, now: TimeLike | None = None, duration: pd.Timedelta | None = None
) -> JobsReport:
    """The rake page: tasks per minute, mean ``duration`` per minute, tasks newest first."""
    return _jobs(df, "duration", now, duration)


def grape(
    df: pd.DataFrame,
    *,
    now: TimeLike | None = None,
    duration: pd.Timedelta | None = None,
    duration_field: str = GRAPE_DURATION_FIELD,
) -> JobsReport:
    """The Grape page: requests per minute, mean ``duration_field`` per minute, newest first.

    Grape records carry no total duration. ``endpoint_run.grape`` spans the endpoint's whole
    run (filters, the endpoint block, which ``endpoint_render.grape`` times, and rendering);
    only ``format_response.grape`` (serialisation, after the endpoint) falls outside it.
    """
    return _jobs(df, duration_field, now, duration)


# --------------------------------------------------------------------------- resources


def resources(
    df: pd.DataFrame,
    *,
    now: TimeLike | None = None,
    duration: pd.Timedelta = RESOURCES_DURATION,
    fields: Sequence[str] = RESOURCE_FIELDS,
) -> pd.DataFrame:
    """Per ``server / context / role``, one row per minute of the window with each of ``fields``.

    A tidy DataFrame with columns ``server``, ``context``, ``role``, ``minute`` (UTC), then
    ``fields`` (default: ``cpu_one_min``, ``memory``, ``disk_available``, as the gem charts).
    Every target gets every minute of :func:`minute_window` (default 24 hours, 1441 points);
    minutes without a sample are NaN (the gem leaves gaps, not zeros). Values are not rounded
    (the gem rounds to 2 decimals for display). Sorted by server, context, role, minute.
    """
    targets = ["server", "context", "role"]
    fields = list(fields)
    index = minute_window(now, duration)
    keys = df[targets].astype("string").fillna("")
    samples = (
        df[fields]
        .astype("float64")
        .assign(**{t: keys[t] for t in targets}, minute=_minutes(df, index.unit))
    )
    values = samples.groupby([*targets, "minute"], sort=False)[fields].mean()
    unique = keys.drop_duplicates().sort_values(targets).reset_index(drop=True)
    rows = np.repeat(np.arange(len(unique)), len(index))
    minutes = index[np.tile(np.arange(len(index)), len(unique))]
    full = pd.MultiIndex.from_arrays(
        [*(unique[t].to_numpy()[rows] for t in targets), minutes], names=[*targets, "minute"]
    )
    out = values.reindex(full).reset_index()
    for target in targets:
        out[target] = out[target].astype("string")
    return out[[*targets, "minute", *fields]]


# --------------------------------------------------------------------------- annotations


def annotations(
    events_df: pd.DataFrame, *, start: TimeLike | None = None, end: TimeLike | None = None
) -> pd.DataFrame:
    """Events (deploy markers and the like) in ``[start, end]``, oldest first.

    Columns ``datetime`` (UTC), ``name``, ``options``, ``label`` (:func:`event_labels`: the
    text the dashboard shows); both bounds are inclusive and optional.
    """
    mask = pd.Series(True, index=events_df.index)
    if start is not None:
        mask &= events_df["datetime"] >= _utc(start, "start")
    if end is not None:
        mask &= events_df["datetime"] <= _utc(end, "end")
    chosen = events_df.loc[mask, ["datetime", "name", "options"]]
    chosen = chosen.sort_values("datetime", kind="stable").reset_index(drop=True)
    return chosen.assign(label=event_labels(chosen))


# --------------------------------------------------------------------------- beyond the gem


def error_rate(df: pd.DataFrame) -> pd.DataFrame:
    """Per endpoint: ``count``, ``count_4xx``, ``count_5xx``, ``rate_4xx``, ``rate_5xx``.

    Rates are shares of ``count`` (0..1). Same endpoint columns and order as :func:`requests`.
    """
    codes, table = endpoints(df)
    status = df["status"]
    flags = pd.DataFrame(
        {
            "count_4xx": status.between(400, 499).astype("int64"),
            "count_5xx": status.between(500, 599).astype("int64"),
        }
    )
    sums = flags.groupby(codes, sort=True).sum()
    table["count"] = df.groupby(codes, sort=True).size().to_numpy().astype("int64")
    table["count_4xx"] = sums["count_4xx"].to_numpy().astype("int64")
    table["count_5xx"] = sums["count_5xx"].to_numpy().astype("int64")
    table["rate_4xx"] = table["count_4xx"] / table["count"]
    table["rate_5xx"] = table["count_5xx"] / table["count"]
    return by_count(table)


def apdex(df: pd.DataFrame, *, threshold_ms: float = 500) -> pd.DataFrame:
    """Apdex per endpoint, plus an overall row last (``group`` = ``"(all)"``, other keys NA).

    Satisfied: ``duration <= T``; tolerating: ``T < duration <= 4T``; frustrated: slower, or
    any 5xx whatever its duration. Non-5xx records with a null duration are left out.
    ``apdex = (satisfied + tolerating / 2) / count`` (NaN when ``count`` is 0). Columns:
    ``group``, ``controller``, ``action``, ``format``, ``count``, ``satisfied``,
    ``tolerating``, ``frustrated``, ``apdex``; endpoints ordered as :func:`requests`. An empty
    frame gives the overall row alone (``count`` 0, ``apdex`` NaN).
    """
    codes, table = endpoints(df)
    duration = df["duration"].astype("float64")
    server_error = df["status"].between(500, 599)
    flags = pd.DataFrame(
        {
            "satisfied": ~server_error & (duration <= threshold_ms),
            "tolerating": ~server_error
            & (duration > threshold_ms)
            & (duration <= 4 * threshold_ms),
            "frustrated": server_error | (duration > 4 * threshold_ms),
        }
    ).astype("int64")
    counts = ["satisfied", "tolerating", "frustrated"]
    sums = flags.groupby(codes, sort=True).sum().reindex(range(len(table)), fill_value=0)
    for column in counts:
        table[column] = sums[column].to_numpy().astype("int64")
    overall = pd.DataFrame([{"group": ALL_ENDPOINTS, **flags.sum().to_dict()}])
    table = pd.concat([table, overall], ignore_index=True)
    for column in ENDPOINT_COLUMNS:
        table[column] = table[column].astype("string")
    for column in counts:
        table[column] = table[column].astype("int64")
    table.insert(4, "count", table[counts].sum(axis=1).astype("int64"))
    total = table["count"].where(table["count"] > 0)
    table["apdex"] = ((table["satisfied"] + table["tolerating"] / 2) / total).astype("float64")
    ranked = by_count(table.iloc[:-1])
    return pd.concat([ranked, table.iloc[-1:]], ignore_index=True)


def time_split(df: pd.DataFrame) -> pd.DataFrame:
    """Where requests spend their time, per endpoint: database, views, and everything else.

    Over records with a non-null duration: ``other = duration - db_runtime - view_runtime``
    with null db/view runtimes taken as 0 (``other`` can be negative when the runtimes
    overlap). Columns: endpoint columns, ``count``, ``duration_average``, ``db_average``,
    ``view_average``, ``other_average`` and ``db_share``, ``view_share``, ``other_share``
    (each average over ``duration_average``; they sum to 1). Ordered as :func:`requests`.
    """
    codes, table = endpoints(df)
    duration = df["duration"].astype("float64")
    has = duration.notna().to_numpy()
    db = df["db_runtime"].astype("float64").fillna(0.0)
    view = df["view_runtime"].astype("float64").fillna(0.0)
    parts = pd.DataFrame(
        {
            "duration_average": duration,
            "db_average": db,
            "view_average": view,
            "other_average": duration - db - view,
        }
    )[has]
    means = parts.groupby(codes[has], sort=True).mean().reindex(range(len(table)))
    table["count"] = np.bincount(codes[has], minlength=len(table)).astype("int64")
    for column in parts.columns:
        table[column] = means[column].to_numpy().astype("float64")
    total = table["duration_average"].where(table["duration_average"] != 0)
    for part in ("db", "view", "other"):
        table[f"{part}_share"] = table[f"{part}_average"] / total
    return by_count(table)


def jobs_pages(
    frames: dict[str, pd.DataFrame],
    *,
    now: TimeLike | None = None,
    duration: pd.Timedelta | None = None,
) -> dict[str, JobsReport]:
    """The jobs page (:func:`sidekiq`, :func:`delayed_job`, ...) of every kind in ``frames``
    (a :data:`JOB_KINDS` name to its frame) that holds records, in :data:`JOB_KINDS` order."""
    pages = {"sidekiq": sidekiq, "delayed_job": delayed_job, "custom": custom, "rake": rake}
    pages["grape"] = grape
    return {
        kind: pages[kind](frames[kind], now=now, duration=duration)
        for kind in JOB_KINDS
        if kind in frames and len(frames[kind])
    }


def jobs_summary(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per job kind that recorded anything: ``records`` and p50/p95/p99 of its
    duration (the kind's duration field; Grape: ``endpoint_run.grape``), indexed by kind."""
    rows = {
        kind: {
            "records": len(frame),
            **percentiles(frame, field=duration_field(kind)),
        }
        for kind, frame in frames.items()
        if len(frame)
    }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["records", "p50", "p95", "p99"]
    ).rename_axis("kind")


def window_change(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """The window against the one before it (same length): one row per metric (``requests``,
    then ``p50``, ``p95``, ``p99`` of ``duration``, the gem's percentile, ms), columns
    ``current``, ``previous`` (NaN: no request then), ``change`` (current - previous) and
    ``change_pct`` (percent of previous; NaN when previous is 0 or missing).
    ``attrs["previous_span"]``: the time from the first to the last record before (NaT: none),
    to tell a window the source held whole from one it held in part."""
    now, before = percentiles(current), percentiles(previous)
    rows = [("requests", float(len(current)), float(len(previous)) if len(previous) else np.nan)]
    for name in now:
        rows.append((name, now[name], before[name]))
    table = pd.DataFrame(rows, columns=["metric", "current", "previous"]).astype(
        {"current": "float64", "previous": "float64"}
    )
    table["change"] = table["current"] - table["previous"]
    base = table["previous"].where(table["previous"] != 0)
    table["change_pct"] = table["change"] / base * 100
    table = table.set_index("metric")
    times = previous["datetime"] if len(previous) else pd.Series(dtype="datetime64[ns, UTC]")
    table.attrs["previous_span"] = times.max() - times.min() if len(times) else pd.NaT
    return table
