"""The dashboard's reports, and a few it lacks, as plain functions of the loader's DataFrames.

Every function takes the frame :mod:`rp_toolkit.frames` builds for one record kind (one row
per record; key fields, then value fields; ``minute`` is the key's UTC minute, ``datetimei``
the epoch second and ``datetime`` its UTC timestamp) and returns a new DataFrame (or a small
dict / :class:`JobsReport`). Inputs are never modified, and an empty frame gives an empty
result rather than an error (per-minute charts: the window with every minute 0; apdex: the
overall row alone, with a count of 0).

The numbers are the gem's (rails_performance 1.6.x), see ``SCHEMA.md``, "What the dashboard
computes":

* Percentiles use the gem's formula exactly: sort; ``rank = p/100 * (n - 1)``;
  ``lower + (upper - lower) * (rank - floor(rank))`` with ``lower``/``upper`` the values at
  ``floor(rank)``/``ceil(rank)``. This is numpy's ``method="linear"``; it is computed here with
  the gem's own arithmetic so results agree to the last bit (numpy interpolates from the upper
  value when the fraction is at least 0.5, which can differ in the last place).
* Per-minute series (throughput, response time, the job pages) of a frame ``rp.load``
  returned cover the window it was loaded for (:func:`chart_window`). Given ``now`` or
  ``duration``, or for any other frame, they cover the gem's window: the
  minutes from ``stop - duration`` to ``stop`` inclusive, where ``stop`` is ``now + 1 minute``
  floored to the minute (the gem's ``kind_of_now.change(sec: 0)``). With the default 4 hours
  that is 241 points; the last one is normally empty. Records outside the window are ignored.
  A per-minute result is a DataFrame indexed by ``minute`` (a UTC DatetimeIndex with
  ``freq="min"``) with one column.
* "Newest first" sorts by ``datetimei`` descending; ties keep the input order (stable sort).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist

import numpy as np
import pandas as pd

from .export import export
from .kinds import DEFAULT_WINDOW, RESOURCES_WINDOW, utc_timestamp

__all__ = [
    "ALL_ENDPOINTS",
    "DEFAULT_DURATION",
    "DEPLOY_WINDOW",
    "GRAPE_DURATION_FIELD",
    "JOB_KINDS",
    "jobs_pages",
    "jobs_summary",
    "RESOURCE_FIELDS",
    "RESOURCES_DURATION",
    "JobsReport",
    "annotations",
    "apdex",
    "crashes",
    "custom",
    "delayed_job",
    "deploy_impact",
    "deploy_impact_by_endpoint",
    "event_labels",
    "error_rate",
    "export",
    "grape",
    "minute_window",
    "chart_window",
    "percentile",
    "percentiles",
    "rake",
    "recent",
    "requests",
    "resources",
    "response_time",
    "sidekiq",
    "slow",
    "throughput",
    "time_split",
]

TimeLike = pd.Timestamp | datetime | str

DEFAULT_DURATION = pd.Timedelta(DEFAULT_WINDOW)
"""The gem's ``RailsPerformance.duration``: the window of every chart and job page."""
RESOURCES_DURATION = pd.Timedelta(RESOURCES_WINDOW)
"""The gem's ``system_monitor_duration``: the window of the resources charts."""
DEPLOY_WINDOW = pd.Timedelta(minutes=30)
""":func:`deploy_impact`'s default window on each side of an event."""
GRAPE_DURATION_FIELD = "endpoint_run.grape"
JOB_KINDS = ("sidekiq", "delayed_job", "custom", "rake", "grape")
"""Grape's span for the whole endpoint (filters, the endpoint block and rendering)."""
RESOURCE_FIELDS = ("cpu_one_min", "memory", "disk_available")
"""The three series the gem charts per server: CPU load (1 min), memory, disk available."""
ALL_ENDPOINTS = "(all)"
"""The ``group`` label of :func:`apdex`'s overall row (endpoint groups always hold ``#``)."""

PERCENTILES = (50, 95, 99)
_ENDPOINT_COLUMNS = ["group", "controller", "action", "format"]
_ONE_MINUTE = pd.Timedelta(minutes=1)


# --------------------------------------------------------------------------- percentiles


def _sorted_groups(
    codes: np.ndarray, values: np.ndarray, ngroups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``values`` sorted within groups ``codes`` (0..ngroups-1), each group's start in that
    array and its count; NaN values and negative codes are left out."""
    values = np.asarray(values, dtype="float64")
    codes = np.asarray(codes, dtype=np.intp)
    keep = ~np.isnan(values) & (codes >= 0)
    kept_values, kept_codes = values[keep], codes[keep]
    ordered = kept_values[np.lexsort((kept_values, kept_codes))]
    counts = np.bincount(kept_codes, minlength=ngroups)[:ngroups]
    return ordered, np.cumsum(counts) - counts, counts


def _group_percentiles(
    codes: np.ndarray, values: np.ndarray, ngroups: int, ps: Sequence[float]
) -> dict[float, np.ndarray]:
    """The gem's percentile of ``values`` per group ``codes`` (0..ngroups-1), NaN if none.

    NaN values and negative codes are ignored. Vectorised: one sort for all groups.
    """
    ordered, starts, counts = _sorted_groups(codes, values, ngroups)
    present = counts > 0
    result = {}
    for p in ps:
        rank = (p / 100) * (counts[present] - 1)
        floor = np.floor(rank)
        lower = ordered[starts[present] + floor.astype(np.intp)]
        upper = ordered[starts[present] + np.ceil(rank).astype(np.intp)]
        out = np.full(ngroups, np.nan)
        out[present] = lower + (upper - lower) * (rank - floor)
        result[p] = out
    return result


def _check_p(p: float) -> None:
    if not 0 <= p <= 100:
        raise ValueError(f"A percentile must be between 0 and 100, got {p!r}.")


def percentile(values: Iterable[float | None], p: float) -> float | None:
    """The gem's percentile ``p`` (0-100) of ``values``; None, NaN and NA are ignored.

    Sort; ``rank = p/100 * (n - 1)``; interpolate linearly between the values at
    ``floor(rank)`` and ``ceil(rank)`` (numpy's "linear" method). None when no value is left.
    """
    _check_p(p)
    if not isinstance(values, (np.ndarray, pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        values = list(values)
    array = pd.array(values, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)
    result = _group_percentiles(np.zeros(len(array), dtype=np.intp), array, 1, [p])[p][0]
    return None if math.isnan(result) else float(result)


def percentiles(df: pd.DataFrame, *, field: str = "duration") -> dict[str, float | None]:
    """The dashboard's percentile cards: ``{"p50": .., "p95": .., "p99": ..}`` of ``field``.

    Values are None when the frame holds no non-null ``field``.
    """
    return {f"p{p}": percentile(df[field], p) for p in PERCENTILES}


# --------------------------------------------------------------------------- time helpers


def _utc(value: TimeLike | None) -> pd.Timestamp:
    """``value`` as a UTC Timestamp (naive values are taken as UTC); None is now."""
    return pd.Timestamp.now(tz="UTC") if value is None else utc_timestamp(value)


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


def _floats(series: pd.Series) -> np.ndarray:
    """``series`` as float64 values, nulls (None, NA) as NaN."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _newest_first(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("datetimei", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- requests


def _endpoints(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes of ``Controller#action|format`` per row, and the endpoints' columns per code."""
    parts = df[["controller", "action", "format"]].astype("string").fillna("")
    group = parts["controller"] + "#" + parts["action"] + "|" + parts["format"]
    codes, uniques = pd.factorize(group)
    first_rows = np.unique(codes, return_index=True)[1] if len(codes) else np.array([], int)
    keys = parts.iloc[first_rows].reset_index(drop=True)
    keys.insert(0, "group", pd.array(np.asarray(uniques, dtype=object), dtype="string"))
    return codes, keys


def _by_count(table: pd.DataFrame, count: str = "count") -> pd.DataFrame:
    """Sorted by ``count`` descending, ties by ``group`` ascending."""
    return table.sort_values([count, "group"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def requests(df: pd.DataFrame) -> pd.DataFrame:
    """The requests table: one row per ``Controller#action|format``, most requested first.

    Columns: ``group`` (``"Controller#action|format"``), ``controller``, ``action``, ``format``,
    ``count`` (records, nulls included), ``duration_average``, ``duration_max``,
    ``view_runtime_average``, ``view_runtime_max``, ``db_runtime_average``, ``db_runtime_max``
    (nulls ignored; NaN when a group has none), ``duration_p50``, ``duration_p95``,
    ``duration_p99`` (the gem's percentile). Ties in ``count`` are ordered by ``group``.
    """
    codes, table = _endpoints(df)
    grouped = df.groupby(codes, sort=True)
    table["count"] = grouped.size().to_numpy().astype("int64")
    for column in ("duration", "view_runtime", "db_runtime"):
        values = df[column].astype("float64")
        by_group = values.groupby(codes, sort=True)
        table[f"{column}_average"] = by_group.mean().to_numpy()
        table[f"{column}_max"] = by_group.max().to_numpy()
    found = _group_percentiles(codes, _floats(df["duration"]), len(table), PERCENTILES)
    for p in PERCENTILES:
        table[f"duration_p{p}"] = found[p]
    return _by_count(table)


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
    """Mean ``field`` (ms) per minute over the window (see :func:`throughput`); empty minutes
    are 0 as on the gem's dashboard, or NaN with ``gaps`` (for charts: no requests is not a
    0 ms response).

    Returns a DataFrame indexed by ``minute`` (UTC) with ``duration_average`` (float64).
    """
    return _per_minute(df, field, now, duration, gaps=gaps)[["duration_average"]]


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
        mask &= events_df["datetime"] >= _utc(start)
    if end is not None:
        mask &= events_df["datetime"] <= _utc(end)
    chosen = events_df.loc[mask, ["datetime", "name", "options"]]
    chosen = chosen.sort_values("datetime", kind="stable").reset_index(drop=True)
    return chosen.assign(label=event_labels(chosen))


# --------------------------------------------------------------------------- beyond the gem


def error_rate(df: pd.DataFrame) -> pd.DataFrame:
    """Per endpoint: ``count``, ``count_4xx``, ``count_5xx``, ``rate_4xx``, ``rate_5xx``.

    Rates are shares of ``count`` (0..1). Same endpoint columns and order as :func:`requests`.
    """
    codes, table = _endpoints(df)
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
    return _by_count(table)


def apdex(df: pd.DataFrame, *, threshold_ms: float = 500) -> pd.DataFrame:
    """Apdex per endpoint, plus an overall row last (``group`` = ``"(all)"``, other keys NA).

    Satisfied: ``duration <= T``; tolerating: ``T < duration <= 4T``; frustrated: slower, or
    any 5xx whatever its duration. Non-5xx records with a null duration are left out.
    ``apdex = (satisfied + tolerating / 2) / count`` (NaN when ``count`` is 0). Columns:
    ``group``, ``controller``, ``action``, ``format``, ``count``, ``satisfied``,
    ``tolerating``, ``frustrated``, ``apdex``; endpoints ordered as :func:`requests`. An empty
    frame gives the overall row alone (``count`` 0, ``apdex`` NaN).
    """
    codes, table = _endpoints(df)
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
    for column in _ENDPOINT_COLUMNS:
        table[column] = table[column].astype("string")
    for column in counts:
        table[column] = table[column].astype("int64")
    table.insert(4, "count", table[counts].sum(axis=1).astype("int64"))
    total = table["count"].where(table["count"] > 0)
    table["apdex"] = ((table["satisfied"] + table["tolerating"] / 2) / total).astype("float64")
    endpoints = _by_count(table.iloc[:-1])
    return pd.concat([endpoints, table.iloc[-1:]], ignore_index=True)


def time_split(df: pd.DataFrame) -> pd.DataFrame:
    """Where requests spend their time, per endpoint: database, views, and everything else.

    Over records with a non-null duration: ``other = duration - db_runtime - view_runtime``
    with null db/view runtimes taken as 0 (``other`` can be negative when the runtimes
    overlap). Columns: endpoint columns, ``count``, ``duration_average``, ``db_average``,
    ``view_average``, ``other_average`` and ``db_share``, ``view_share``, ``other_share``
    (each average over ``duration_average``; they sum to 1). Ordered as :func:`requests`.
    """
    codes, table = _endpoints(df)
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
    return _by_count(table)


def event_labels(events_df: pd.DataFrame) -> pd.Series:
    """Each event's text as the dashboard shows it: its ``options`` label's ``text`` (the gem's
    deploy markers carry ``{"label": {"text": "Deploy v2.14 (abc)"}}``), else its ``name``."""

    def label(name: object, options: object) -> str:
        text = options.get("label") if isinstance(options, dict) else None
        text = text.get("text") if isinstance(text, dict) else text
        return text if isinstance(text, str) and text.strip() else str(name)

    options = events_df["options"] if "options" in events_df else [None] * len(events_df)
    labels = map(label, events_df["name"], options)
    return pd.Series(list(labels), index=events_df.index, dtype="string", name="label")


def _chosen_events(events_df: pd.DataFrame, match: str | None) -> pd.DataFrame:
    """The events whose name contains ``match`` (case-insensitive; None: all), oldest first,
    with their ``label``."""
    events = events_df
    if match is not None:
        names = events["name"].astype("string").str.contains(match, case=False, regex=False)
        events = events[names.fillna(False)]
    events = events.sort_values("datetimei", kind="stable").reset_index(drop=True)
    return events.assign(label=event_labels(events))


def _around(df: pd.DataFrame, at: np.ndarray, window: pd.Timedelta) -> tuple[np.ndarray, ...]:
    """Rows of ``df`` (positions) in ``[t - window, t)`` and ``[t, t + window)`` of each time
    ``t`` in ``at`` (epoch seconds), with their group: ``i`` before event ``i``, ``n + i``
    after it; and the number of rows of each of the ``2n`` groups."""
    order = np.argsort(df["datetimei"].to_numpy("int64"), kind="stable")
    times = df["datetimei"].to_numpy("int64")[order]
    seconds = pd.Timedelta(window).total_seconds()
    middle = np.searchsorted(times, at, side="left")
    starts = np.concatenate([np.searchsorted(times, at - seconds, side="left"), middle])
    ends = np.concatenate([middle, np.searchsorted(times, at + seconds, side="left")])
    lengths = ends - starts
    codes = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return order[np.repeat(starts, lengths) + offsets], codes, lengths


def deploy_impact(
    df: pd.DataFrame,
    events_df: pd.DataFrame,
    *,
    window: pd.Timedelta = DEPLOY_WINDOW,
    match: str | None = None,
) -> pd.DataFrame:
    """Request durations around each event: ``window`` before against ``window`` after.

    Before is ``[t - window, t)``, after is ``[t, t + window)``, on ``datetimei`` (epoch
    seconds) against the event's ``datetimei``. ``match`` keeps events whose name contains it
    (case-insensitive); None takes every event. One row per event, oldest first: ``datetime``,
    ``name``, ``label`` (:func:`event_labels`), ``before_count``, ``after_count`` (records,
    nulls included), then per p in 50, 95, 99 ``before_pP``, ``after_pP`` (the gem's
    percentile; NaN when empty) and ``pP_change`` = after - before (ms).
    """
    events = _chosen_events(events_df, match)
    rows, codes, lengths = _around(df, events["datetimei"].to_numpy("int64"), window)
    found = _group_percentiles(codes, _floats(df["duration"])[rows], len(lengths), PERCENTILES)
    n = len(events)
    out = pd.DataFrame(
        {
            "datetime": events["datetime"],
            "name": events["name"],
            "label": events["label"],
            "before_count": lengths[:n].astype("int64"),
            "after_count": lengths[n:].astype("int64"),
        }
    )
    for p in PERCENTILES:
        out[f"before_p{p}"] = found[p][:n]
        out[f"after_p{p}"] = found[p][n:]
        out[f"p{p}_change"] = out[f"after_p{p}"] - out[f"before_p{p}"]
    return out


def deploy_impact_by_endpoint(
    df: pd.DataFrame,
    events_df: pd.DataFrame,
    *,
    window: pd.Timedelta = DEPLOY_WINDOW,
    match: str | None = None,
    min_requests: int = 30,
    min_change: float = 0.1,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Which endpoints changed at each event: p50 and p95 ``window`` before against after.

    Windows and ``match`` as :func:`deploy_impact`; only requests with a duration count. An
    endpoint is compared at an event when it has at least ``min_requests`` such requests on
    both sides. One row per event and endpoint: ``datetime``, ``name``, ``label``, the
    endpoint columns of :func:`requests`, ``before_count``, ``after_count``, and for p in 50,
    95 ``before_pP``, ``after_pP`` (the gem's percentile, ms), ``pP_change`` (ms) and
    ``pP_change_pct`` (percent of before; NaN when before is 0), then ``verdict``:

    * ``"slower"`` when p50 or p95 rose by at least ``min_change`` (0.1: 10 %) *and* beyond
      noise: the distribution-free ``confidence`` intervals of that percentile (from order
      statistics) before and after do not overlap;
    * ``"faster"`` when, by the same rules, one fell and none rose;
    * ``"unchanged"`` otherwise (a change within noise, or too small to matter).

    Events oldest first; within an event the slower endpoints first, then by ``p95_change_pct``
    descending (NaN last), ties by ``group``. No events, or no endpoint with enough requests,
    give an empty frame with these columns.
    """
    events = _chosen_events(events_df, match)
    kept = df[df["duration"].notna()]
    endpoint, keys = _endpoints(kept)
    rows, side, _ = _around(kept, events["datetimei"].to_numpy("int64"), window)
    n, m = len(events), len(keys)
    ordered, starts, counts = _sorted_groups(
        side * m + endpoint[rows], _floats(kept["duration"])[rows], 2 * n * m
    )
    before, after = np.arange(n * m), n * m + np.arange(n * m)
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    chosen = (counts[before] >= max(1, min_requests)) & (counts[after] >= max(1, min_requests))
    before, after = before[chosen], after[chosen]
    event, place = np.divmod(before, max(m, 1))
    out = pd.concat(
        [
            events.loc[event, ["datetime", "name", "label"]].reset_index(drop=True),
            keys.iloc[place].reset_index(drop=True),
        ],
        axis=1,
    )
    out["before_count"] = counts[before].astype("int64")
    out["after_count"] = counts[after].astype("int64")
    slower = np.zeros(len(out), bool)
    faster = np.zeros(len(out), bool)
    for p in (50, 95):
        q = p / 100
        sides = {}
        for name, groups in (("before", before), ("after", after)):
            count, first = counts[groups], starts[groups]
            rank = q * (count - 1)
            lower = ordered[first + np.floor(rank).astype(np.intp)]
            upper = ordered[first + np.ceil(rank).astype(np.intp)]
            value = lower + (upper - lower) * (rank - np.floor(rank))
            half = z * np.sqrt(count * q * (1 - q))
            low = np.clip(np.floor(count * q - half).astype(np.intp) - 1, 0, count - 1)
            high = np.clip(np.ceil(count * q + half).astype(np.intp) - 1, 0, count - 1)
            sides[name] = (value, ordered[first + low], ordered[first + high])
            out[f"{name}_p{p}"] = value
        (was, was_low, was_high), (now, now_low, now_high) = sides["before"], sides["after"]
        out[f"p{p}_change"] = now - was
        out[f"p{p}_change_pct"] = (now - was) / np.where(was > 0, was, np.nan) * 100
        slower |= (now_low > was_high) & (now >= was * (1 + min_change))
        faster |= (now_high < was_low) & (now <= was * (1 - min_change))
    out["verdict"] = np.where(slower, "slower", np.where(faster, "faster", "unchanged"))
    out["verdict"] = out["verdict"].astype("string")
    order = out.assign(_e=event, _s=~slower, _c=-out["p95_change_pct"].fillna(-np.inf))
    order = order.sort_values(["_e", "_s", "_c", "group"], kind="stable")
    return out.loc[order.index].reset_index(drop=True)


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
    duration (Grape: ``endpoint_run.grape``), indexed by kind."""
    rows = {
        kind: {
            "records": len(frame),
            **percentiles(frame, field=GRAPE_DURATION_FIELD if kind == "grape" else "duration"),
        }
        for kind, frame in frames.items()
        if len(frame)
    }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["records", "p50", "p95", "p99"]
    ).rename_axis("kind")
