"""Reports only a history of many days allows: per day, per endpoint and day, one period
against the one before it, and every deploy of a range.

Pure functions of a requests frame (the loader's layout, or an archive's: ``datetime`` is the
record's UTC timestamp) covering any number of days. Vectorised: one sort per report, so a
frame of millions of requests takes seconds. Days are UTC days of ``datetime``; durations are
the gem's percentile (:func:`._groups.group_percentiles`), null durations ignored.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ..exceptions import InvalidArgumentError
from ..kinds import utc_timestamp
from ._deploys import DEPLOY_WINDOW, deploy_impact, deploy_impact_by_endpoint
from ._groups import (
    PERCENTILES,
    comparison,
    endpoints,
    floats,
    group_percentiles,
    sorted_groups,
)

__all__ = [
    "COMPARISON_PERIOD",
    "deploys_in_range",
    "endpoint_days",
    "period_comparison",
    "requests_per_day",
]

COMPARISON_PERIOD = pd.Timedelta(days=7)
""":func:`period_comparison`'s default period: this week against the week before."""

_DAY_NS = 86_400 * 10**9
_SECOND = pd.Timedelta(seconds=1)


def _stamps(df: pd.DataFrame) -> pd.DatetimeIndex:
    """The ``datetime`` column as a UTC DatetimeIndex in nanoseconds (naive means UTC)."""
    stamps = df["datetime"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = pd.to_datetime(stamps, utc=True)
    return pd.DatetimeIndex(stamps).tz_convert("UTC").as_unit("ns")


def _days(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's UTC day (days since 1970-01-01) and whether it has a ``datetime``."""
    stamps = _stamps(df)
    valid = ~np.asarray(stamps.isna())
    return np.floor_divide(stamps.asi8, _DAY_NS), valid


def _dates(days: np.ndarray) -> pd.Series:
    """Day numbers as midnights, ``datetime64[ns, UTC]``."""
    stamps = (np.asarray(days, dtype="int64") * _DAY_NS).astype("datetime64[ns]")
    return pd.Series(pd.DatetimeIndex(stamps).tz_localize("UTC"))


def endpoint_days(df: pd.DataFrame) -> pd.DataFrame:
    """Daily per-endpoint percentiles: one row per UTC day and endpoint that has records.

    Columns, in order: ``date`` (``datetime64[ns, UTC]``, the day's midnight), ``group``
    (``"Controller#action|format"``, null parts as empty text, as :func:`requests`),
    ``controller``, ``action``, ``format`` (strings; null as ""), ``count`` (int64: records,
    null durations included), ``duration_p50``, ``duration_p95``, ``duration_p99`` (float64:
    the gem's percentile of the day's non-null durations; NaN when there are none). Rows
    sorted by ``date``, then ``group`` (by code point). Records without a ``datetime`` are
    left out. The archive's DuckDB query and the Spark job compute the same frame.
    """
    codes, keys = endpoints(df)
    days, valid = _days(df)
    m = max(len(keys), 1)
    order = np.argsort(keys["group"].to_numpy(dtype=object), kind="stable")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    first = int(days[valid].min()) if valid.any() else 0
    pairs = (days[valid] - first) * m + rank[codes[valid]]
    unique, inverse = np.unique(pairs, return_inverse=True)
    code = np.full(len(df), -1, dtype=np.intp)
    code[valid] = inverse.ravel()
    found = group_percentiles(code, floats(df["duration"]), len(unique), PERCENTILES)
    day, place = np.divmod(unique, m)
    out = keys.iloc[order].reset_index(drop=True).iloc[place].reset_index(drop=True)
    out.insert(0, "date", _dates(first + day))
    out["count"] = np.bincount(inverse.ravel(), minlength=len(unique)).astype("int64")
    for p in PERCENTILES:
        out[f"duration_p{p}"] = found[p]
    return out


def requests_per_day(df: pd.DataFrame) -> pd.DataFrame:
    """Requests per UTC day, every day from the first to the last that has records.

    Columns: ``date`` (``datetime64[ns, UTC]``, midnight), ``count`` (int64: records, null
    durations included; 0 on a day without any), ``errors_5xx`` (int64: records with a status
    from 500 to 599), ``duration_p50``, ``duration_p95``, ``duration_p99`` (float64: the gem's
    percentile of the day's non-null durations over every endpoint; NaN when there are
    none). Oldest first. Records without a ``datetime`` are left out; an empty frame gives
    no rows.
    """
    days, valid = _days(df)
    first = int(days[valid].min()) if valid.any() else 0
    n = int(days[valid].max()) - first + 1 if valid.any() else 0
    code = np.where(valid, days - first, -1).astype(np.intp)
    failed = df["status"].between(500, 599).to_numpy(dtype=bool, na_value=False)
    out = pd.DataFrame({"date": _dates(first + np.arange(n))})
    out["count"] = np.bincount(code[valid], minlength=n).astype("int64")
    out["errors_5xx"] = np.bincount(code[valid & failed], minlength=n).astype("int64")
    found = group_percentiles(code, floats(df["duration"]), n, PERCENTILES)
    for p in PERCENTILES:
        out[f"duration_p{p}"] = found[p]
    return out


def period_comparison(
    df: pd.DataFrame,
    *,
    now: pd.Timestamp | datetime | str | None = None,
    period: pd.Timedelta = COMPARISON_PERIOD,
    min_requests: int = 30,
    min_change: float = 0.1,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each endpoint this period, ``[now - period, now)``, against the one before,
    ``[now - 2 period, now - period)``, on p50 and p95 of its requests with a duration.

    ``now`` (naive means UTC) defaults to one second after the newest record's ``datetime``
    (records carry whole seconds: the newest one is in this period). An endpoint is compared
    when it has at least ``min_requests`` requests with a duration in both periods. Columns:
    the endpoint columns of :func:`requests`, ``before_count`` and ``after_count`` (requests
    with a duration in the previous and in this period), for p in 50, 95 ``before_pP``,
    ``after_pP`` (the gem's percentile, ms), ``pP_change`` (after - before, ms) and
    ``pP_change_pct`` (percent of before; NaN when before is 0), then ``verdict``: "slower",
    "faster" or "unchanged" by :func:`deploy_impact_by_endpoint`'s rules (a change of at least
    ``min_change`` whose ``confidence`` intervals, from order statistics, do not overlap).

    Order: the slower and faster endpoints first, then the unchanged; within each, by the
    larger of ``|p50_change_pct|`` and ``|p95_change_pct|``, descending (NaN last), ties by
    ``group``. ``attrs["period"]`` holds ``start`` (``now - 2 period``), ``middle``,
    ``end`` (``now``; None for an empty frame without ``now``), ``min_requests``,
    ``min_change`` and ``confidence``.
    """
    period = pd.Timedelta(period)
    if not period > pd.Timedelta(0):
        raise InvalidArgumentError(f"The period must be longer than 0, got {period!r}.")
    codes, keys = endpoints(df)
    m = len(keys)
    end, side = _periods(df, now, period)
    group = np.where(side >= 0, side * m + codes, -1)
    ordered, starts, counts = sorted_groups(group, floats(df["duration"]), 2 * m)
    least, rules = max(1, min_requests), {"min_change": min_change, "confidence": confidence}
    before = np.flatnonzero((counts[:m] >= least) & (counts[m:] >= least))
    out = comparison(keys.iloc[before], ordered, starts, counts, before, m + before, **rules)
    size = np.fmax(np.abs(out["p50_change_pct"]), np.abs(out["p95_change_pct"])).to_numpy()
    unchanged = (out["verdict"] == "unchanged").to_numpy(dtype=bool)
    order = out.assign(_s=unchanged, _c=-np.nan_to_num(size, nan=-np.inf))
    order = order.sort_values(["_s", "_c", "group"], kind="stable")
    out = out.loc[order.index].reset_index(drop=True)
    out.attrs["period"] = {
        "start": None if end is None else end - 2 * period,
        "middle": None if end is None else end - period,
        "end": end,
        "min_requests": min_requests,
        "min_change": min_change,
        "confidence": confidence,
    }
    return out


def _periods(
    df: pd.DataFrame, now: pd.Timestamp | datetime | str | None, period: pd.Timedelta
) -> tuple[pd.Timestamp | None, np.ndarray]:
    """:func:`period_comparison`'s end (``now``, or a second after the newest record; None for
    an empty frame without ``now``) and each row's period: 0 the one before, 1 this one, -1
    neither (or no ``datetime``)."""
    stamps = _stamps(df)
    valid = ~np.asarray(stamps.isna())
    if now is not None:
        end = utc_timestamp(now)
    elif valid.any():
        end = stamps[valid].max() + _SECOND
    else:
        end = None
    side = np.full(len(df), -1, dtype=np.intp)
    if end is not None:
        ns, bounds = stamps.asi8, [(end - k * period).as_unit("ns").value for k in (2, 1, 0)]
        side[valid & (ns >= bounds[0]) & (ns < bounds[1])] = 0
        side[valid & (ns >= bounds[1]) & (ns < bounds[2])] = 1
    return end, side


def deploys_in_range(
    df: pd.DataFrame,
    events_df: pd.DataFrame,
    *,
    window: pd.Timedelta = DEPLOY_WINDOW,
    match: str | None = None,
    min_requests: int = 30,
    min_change: float = 0.1,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Every event from the frame's first record to its last (both included) with what it
    did: :func:`deploy_impact`'s row (over all requests) and how many endpoints
    :func:`deploy_impact_by_endpoint` (same ``window``, ``match``, ``min_requests``,
    ``min_change``, ``confidence``) found slower.

    Columns: those of :func:`deploy_impact` (``datetime``, ``name``, ``label``, counts and
    percentiles before and after), then ``endpoints_compared``, ``endpoints_slower``,
    ``endpoints_faster`` (int64) and ``slower_endpoints`` (a list of ``group`` names, the
    largest p95 rise first). Oldest first; identical events (same time, name and label)
    once. For the per-endpoint rows themselves, call :func:`deploy_impact_by_endpoint`.
    """
    stamps = _stamps(df)
    valid = ~np.asarray(stamps.isna())
    if valid.any():
        when = _stamps(events_df)
        inside = (when >= stamps[valid].min()) & (when <= stamps[valid].max())
        events_df = events_df[np.asarray(inside)]
    else:
        events_df = events_df.iloc[0:0]
    key = ["datetime", "name", "label"]
    impact = deploy_impact(df, events_df, window=window, match=match)
    impact = impact[~_duplicated(impact, key)].reset_index(drop=True)
    rows = deploy_impact_by_endpoint(
        df,
        events_df,
        window=window,
        match=match,
        min_requests=min_requests,
        min_change=min_change,
        confidence=confidence,
    )
    rows = rows[~_duplicated(rows, [*key, "group"])]
    place = {event: number for number, event in enumerate(_keys(impact, key))}
    event = np.array([place[k] for k in _keys(rows, key)], dtype=np.intp)
    slower = (rows["verdict"] == "slower").to_numpy(dtype=bool, na_value=False)
    faster = (rows["verdict"] == "faster").to_numpy(dtype=bool, na_value=False)
    n = len(impact)
    impact["endpoints_compared"] = np.bincount(event, minlength=n).astype("int64")
    impact["endpoints_slower"] = np.bincount(event[slower], minlength=n).astype("int64")
    impact["endpoints_faster"] = np.bincount(event[faster], minlength=n).astype("int64")
    names: list[list[str]] = [[] for _ in range(n)]
    for number, group in zip(event[slower], rows["group"][slower], strict=True):
        names[number].append(str(group))
    impact["slower_endpoints"] = pd.Series(names, dtype=object)
    return impact


def _keys(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Each row's ``columns`` as a hashable tuple (text as ``str``, timestamps as they are)."""
    return list(zip(*(frame[c].astype(object).map(_hashable) for c in columns), strict=True))


def _hashable(value: object) -> object:
    return value if isinstance(value, (str, int, pd.Timestamp)) else repr(value)


def _duplicated(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return pd.Series(_keys(frame, columns), dtype=object).duplicated().to_numpy()
