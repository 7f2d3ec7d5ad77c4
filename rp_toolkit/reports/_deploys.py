"""Deploys (and other events): the dashboard's labels, and request durations before and
after each event, overall and per endpoint. Pure functions of the loader's frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._groups import (
    PERCENTILES,
    comparison,
    endpoints,
    floats,
    group_percentiles,
    sorted_groups,
)

__all__ = [
    "DEPLOY_WINDOW",
    "chosen_events",
    "deploy_impact",
    "deploy_impact_by_endpoint",
    "event_labels",
]

DEPLOY_WINDOW = pd.Timedelta(minutes=30)
""":func:`deploy_impact`'s default window on each side of an event."""


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


def chosen_events(events_df: pd.DataFrame, match: str | None) -> pd.DataFrame:
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
    events = chosen_events(events_df, match)
    rows, codes, lengths = _around(df, events["datetimei"].to_numpy("int64"), window)
    found = group_percentiles(codes, floats(df["duration"])[rows], len(lengths), PERCENTILES)
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

    (:func:`._groups.compare_groups`, which :func:`._history.period_comparison` shares.) Events
    oldest first; within an event the slower endpoints first, then by ``p95_change_pct``
    descending (NaN last), ties by ``group``. No events, or no endpoint with enough requests,
    give an empty frame with these columns.
    """
    events = chosen_events(events_df, match)
    kept = df[df["duration"].notna()]
    endpoint, keys = endpoints(kept)
    rows, side, _ = _around(kept, events["datetimei"].to_numpy("int64"), window)
    n, m = len(events), len(keys)
    ordered, starts, counts = sorted_groups(
        side * m + endpoint[rows], floats(kept["duration"])[rows], 2 * n * m
    )
    before, after = np.arange(n * m), n * m + np.arange(n * m)
    chosen = (counts[before] >= max(1, min_requests)) & (counts[after] >= max(1, min_requests))
    before, after = before[chosen], after[chosen]
    event, place = np.divmod(before, max(m, 1))
    pairs = pd.concat(
        [
            events.loc[event, ["datetime", "name", "label"]].reset_index(drop=True),
            keys.iloc[place].reset_index(drop=True),
        ],
        axis=1,
    )
    out = comparison(
        pairs, ordered, starts, counts, before, after, min_change=min_change, confidence=confidence
    )
    slower = (out["verdict"] == "slower").to_numpy(dtype=bool)
    order = out.assign(_e=event, _s=~slower, _c=-out["p95_change_pct"].fillna(-np.inf))
    order = order.sort_values(["_e", "_s", "_c", "group"], kind="stable")
    return out.loc[order.index].reset_index(drop=True)
