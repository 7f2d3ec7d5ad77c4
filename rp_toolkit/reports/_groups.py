"""What the reports share: the gem's percentile over many groups in one sort, each request's
endpoint, and whether a percentile moved beyond noise between two sets of groups.

Pure numpy/pandas, vectorised (one sort for all groups), the lowest module of
:mod:`rp_toolkit.reports`. The percentile is the gem's (:func:`percentile`), interpolated in
one place (:func:`_at_rank`) for every report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..exceptions import InvalidArgumentError

__all__ = [
    "ENDPOINT_COLUMNS",
    "PERCENTILES",
    "VERDICTS",
    "by_count",
    "compare_groups",
    "comparison",
    "endpoints",
    "floats",
    "group_percentiles",
    "percentile",
    "percentiles",
    "sorted_groups",
]

PERCENTILES = (50, 95, 99)
"""The dashboard's percentiles."""
ENDPOINT_COLUMNS = ["group", "controller", "action", "format"]
"""An endpoint's columns in every per-endpoint report, in this order."""
VERDICTS = ("slower", "faster", "unchanged")
""":func:`compare_groups`'s verdicts."""


def sorted_groups(
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


def _at_rank(ordered: np.ndarray, starts: np.ndarray, counts: np.ndarray, p: float) -> np.ndarray:
    """The gem's percentile ``p`` of each group (given by its start and count, count > 0)."""
    rank = (p / 100) * (counts - 1)
    floor = np.floor(rank)
    lower = ordered[starts + floor.astype(np.intp)]
    upper = ordered[starts + np.ceil(rank).astype(np.intp)]
    return lower + (upper - lower) * (rank - floor)


def group_percentiles(
    codes: np.ndarray, values: np.ndarray, ngroups: int, ps: Sequence[float]
) -> dict[float, np.ndarray]:
    """The gem's percentile of ``values`` per group ``codes`` (0..ngroups-1), NaN if none.

    NaN values and negative codes are ignored. Vectorised: one sort for all groups.
    """
    ordered, starts, counts = sorted_groups(codes, values, ngroups)
    present = counts > 0
    result = {}
    for p in ps:
        out = np.full(ngroups, np.nan)
        out[present] = _at_rank(ordered, starts[present], counts[present], p)
        result[p] = out
    return result


def _check_p(p: float) -> None:
    if not 0 <= p <= 100:
        raise InvalidArgumentError(f"A percentile must be between 0 and 100, got {p!r}.")


def percentile(values: Iterable[float | None], p: float) -> float | None:
    """The gem's percentile ``p`` (0-100) of ``values``; None, NaN and NA are ignored.

    Sort; ``rank = p/100 * (n - 1)``; ``lower + (upper - lower) * (rank - floor(rank))`` with
    ``lower``/``upper`` the values at ``floor(rank)``/``ceil(rank)``: numpy's "linear" method,
    with the gem's own arithmetic so results agree to the last bit (numpy interpolates from
    the upper value when the fraction is at least 0.5). None when no value is left.
    """
    _check_p(p)
    if not isinstance(values, (np.ndarray, pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        values = list(values)
    array = pd.array(values, dtype="Float64").to_numpy(dtype="float64", na_value=np.nan)
    result = group_percentiles(np.zeros(len(array), dtype=np.intp), array, 1, [p])[p][0]
    return None if math.isnan(result) else float(result)


def percentiles(df: pd.DataFrame, *, field: str = "duration") -> dict[str, float | None]:
    """The dashboard's percentile cards: ``{"p50": .., "p95": .., "p99": ..}`` of ``field``.

    Values are None when the frame holds no non-null ``field``.
    """
    return {f"p{p}": percentile(df[field], p) for p in PERCENTILES}


def floats(series: pd.Series) -> np.ndarray:
    """``series`` as float64 values, nulls (None, NA) as NaN."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _texts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's value as text (null as ""): codes into the distinct texts, and the texts."""
    codes, uniques = pd.factorize(series)  # a null is -1: the "" appended last
    texts = pd.Series(np.asarray(uniques, dtype=object)).astype("string").fillna("")
    merged, values = pd.factorize(np.append(texts.to_numpy(dtype=object), ""))
    return merged[codes], np.asarray(values, dtype=object)


def endpoints(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes of ``Controller#action|format`` per row (null parts as empty text), and the
    endpoints' columns (:data:`ENDPOINT_COLUMNS`, strings) per code, in order of first
    appearance; the columns are those of the endpoint's first row.

    Vectorised on codes: the text of an endpoint is built once per distinct triple.
    """
    (c, controllers), (a, actions), (f, formats) = (
        _texts(df[column]) for column in ("controller", "action", "format")
    )
    pair, pairs = pd.factorize(c.astype(np.int64) * len(actions) + a)
    triple, triples = pd.factorize(pair.astype(np.int64) * len(formats) + f)
    pair_of, format_of = np.divmod(np.asarray(triples, dtype=np.int64), len(formats))
    controller_of, action_of = np.divmod(np.asarray(pairs, dtype=np.int64)[pair_of], len(actions))
    parts = {
        "controller": controllers[controller_of],
        "action": actions[action_of],
        "format": formats[format_of],
    }
    names = [f"{x}#{y}|{z}" for x, y, z in zip(*parts.values(), strict=True)]
    group_of, groups = pd.factorize(np.asarray(names, dtype=object))
    first = np.unique(group_of, return_index=True)[1] if len(names) else np.array([], int)
    keys = pd.DataFrame({"group": np.asarray(groups, dtype=object)}).astype("string")
    for column, values in parts.items():
        keys[column] = pd.array(values[first], dtype="string")
    return group_of[triple].astype(np.intp), keys


def by_count(table: pd.DataFrame, count: str = "count") -> pd.DataFrame:
    """Sorted by ``count`` descending, ties by ``group`` ascending."""
    return table.sort_values([count, "group"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )


def compare_groups(
    ordered: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    *,
    min_change: float,
    confidence: float,
    ps: Sequence[int] = (50, 95),
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each pair of groups ``before[i]``, ``after[i]`` of :func:`sorted_groups`' output
    (every group not empty) compared on each percentile of ``ps``.

    Returns the columns, in order, for each p: ``before_pP``, ``after_pP`` (the gem's
    percentile), ``pP_change`` (after - before) and ``pP_change_pct`` (percent of before; NaN
    when before is not above 0); and each pair's verdict:

    * ``"slower"`` when some percentile rose by at least ``min_change`` (0.1: 10 %) *and*
      beyond noise: the distribution-free ``confidence`` intervals of that percentile before
      and after (from order statistics: ranks ``n q -+ z sqrt(n q (1 - q))``, 1-based,
      clipped to the sample) do not overlap;
    * ``"faster"`` when, by the same rules, one fell and none rose;
    * ``"unchanged"`` otherwise (a change within noise, or too small to matter).
    """
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    columns: dict[str, np.ndarray] = {}
    slower = np.zeros(len(before), bool)
    faster = np.zeros(len(before), bool)
    for p in ps:
        q = p / 100
        sides = {}
        for name, groups in (("before", before), ("after", after)):
            count, first = counts[groups], starts[groups]
            value = _at_rank(ordered, first, count, p)
            half = z * np.sqrt(count * q * (1 - q))
            low = np.clip(np.floor(count * q - half).astype(np.intp) - 1, 0, count - 1)
            high = np.clip(np.ceil(count * q + half).astype(np.intp) - 1, 0, count - 1)
            sides[name] = (value, ordered[first + low], ordered[first + high])
            columns[f"{name}_p{p}"] = value
        (was, was_low, was_high), (now, now_low, now_high) = sides["before"], sides["after"]
        columns[f"p{p}_change"] = now - was
        columns[f"p{p}_change_pct"] = (now - was) / np.where(was > 0, was, np.nan) * 100
        slower |= (now_low > was_high) & (now >= was * (1 + min_change))
        faster |= (now_high < was_low) & (now <= was * (1 - min_change))
    verdict = np.where(slower, "slower", np.where(faster, "faster", "unchanged"))
    return columns, verdict


def comparison(
    keys: pd.DataFrame,
    ordered: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    *,
    min_change: float,
    confidence: float,
) -> pd.DataFrame:
    """``keys`` (one row per pair, index ignored) with each pair's ``before_count``,
    ``after_count``, :func:`compare_groups`' columns for p50 and p95 and ``verdict``
    (string): the rows :func:`._deploys.deploy_impact_by_endpoint` and
    :func:`._history.period_comparison` share."""
    out = keys.reset_index(drop=True)
    out["before_count"] = counts[before].astype("int64")
    out["after_count"] = counts[after].astype("int64")
    columns, verdict = compare_groups(
        ordered, starts, counts, before, after, min_change=min_change, confidence=confidence
    )
    for name, values in columns.items():
        out[name] = values
    out["verdict"] = pd.array(verdict, dtype="string")
    return out
