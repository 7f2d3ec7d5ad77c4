"""What broke and what was slow, per request: exceptions grouped by class and endpoint, and the
slowest requests (overall and per endpoint).

Pure pandas/numpy, vectorised (work per distinct exception text, per group or per row, never a
Python loop over the requests), over the requests frame of :mod:`rp_toolkit.frames`.

The gem stores a request's exception as one text: Rails' ``payload[:exception]`` (the class
name and the message) joined by a space, ``"ActiveRecord::RecordNotFound Couldn't find ..."``
(``RequestRecord``: ``Array.wrap(exception).compact.join(" ")``); other writers, rp_toolkit's
synthetic data among them, write ``"ClassName: message"`` or the class alone.
:func:`exception_classes` reads the class from any of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._groups import ENDPOINT_COLUMNS, endpoints

__all__ = [
    "EXCEPTION_GROUP_COLUMNS",
    "exception_classes",
    "exception_groups",
    "slowest",
    "slowest_by_endpoint",
]

EXCEPTION_GROUP_COLUMNS = [
    "exception_class",
    *ENDPOINT_COLUMNS,
    "count",
    "first_seen",
    "last_seen",
    "statuses",
    "message",
    "request_id",
]
""":func:`exception_groups`' columns, in order."""

# A Ruby constant path's characters: anything but blanks and ":", with "::" inside a name.
_CLASS = r"^\s*((?:[^\s:]|::)+)"
_FIRST_WORD = r"^\s*(\S+)"


def exception_classes(texts: pd.Series) -> pd.Series:
    """The exception class of each recorded exception text (NA where the text is null or
    blank), the full text left as it is.

    The rule: leading blanks skipped, the class is the text up to the first blank or the first
    ``:`` that is not part of ``::`` (Ruby's namespace separator), so ``"PG::QueryCanceled:
    ERROR ..."``, ``"PG::QueryCanceled ERROR ..."`` and ``"PG::QueryCanceled"`` all give
    ``PG::QueryCanceled``. A text that starts with a lone ``:`` gives its first word instead.
    Computed once per distinct text."""
    codes, uniques = pd.factorize(texts)
    distinct = pd.Series(np.asarray(uniques, dtype=object).astype(str), dtype=object)
    found = distinct.str.extract(_CLASS, expand=False)  # object: Python's re, Unicode blanks
    found = found.fillna(distinct.str.extract(_FIRST_WORD, expand=False))
    values = found.to_numpy(dtype=object)
    picked = np.where(codes >= 0, values[np.maximum(codes, 0)] if len(values) else pd.NA, pd.NA)
    return pd.Series(pd.array(picked, dtype="string"), index=texts.index, name="exception_class")


def _status_texts(status: pd.Series) -> list[str]:
    """Each status as text: whole numbers without a decimal point, NA as ``"?"``."""
    shown = []
    for value in status.tolist():
        if value is None or value is pd.NA or value != value:
            shown.append("?")
        elif isinstance(value, (int, float, np.integer, np.floating)):
            whole = float(value).is_integer()
            shown.append(str(int(value)) if whole else f"{value:g}")
        else:
            shown.append(str(value))
    return shown


def _statuses(groups: np.ndarray, status: pd.Series, ngroups: int) -> list[str]:
    """Each group's distinct statuses, ascending (numbers as numbers), joined by ``", "``."""
    pairs = pd.DataFrame({"group": groups, "status": status.to_numpy()}).drop_duplicates()
    numeric = pd.to_numeric(pairs["status"], errors="coerce")
    pairs = pairs.assign(number=numeric, text=_status_texts(pairs["status"]))
    pairs = pairs.sort_values(["group", "number", "text"], kind="stable", na_position="last")
    joined = pairs.groupby("group", sort=True)["text"].agg(", ".join)
    return joined.reindex(range(ngroups), fill_value="").tolist()


def exception_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Requests that raised an exception (a non-blank ``exception``), one row per exception
    class (:func:`exception_classes`) and endpoint (``Controller#action|format`` as
    :func:`rp_toolkit.reports.requests` names it).

    Columns (:data:`EXCEPTION_GROUP_COLUMNS`): ``exception_class``, ``group``, ``controller``,
    ``action``, ``format``, ``count``, ``first_seen`` and ``last_seen`` (the earliest and
    latest ``datetime``, UTC), ``statuses`` (the distinct statuses, ascending:
    ``"500"``, ``"422, 500"``), ``message`` (the full exception text of the most recent request:
    the latest ``datetime``, ties to the later row) and that request's ``request_id``.
    Sorted by ``count`` descending, then ``last_seen`` descending, ``exception_class`` and
    ``group``. A frame without exceptions gives an empty frame with these columns.
    """
    texts = df["exception"] if "exception" in df else pd.Series(pd.NA, index=df.index)
    classes = exception_classes(texts)
    chosen = np.flatnonzero(classes.notna().to_numpy())
    rows = df.iloc[chosen]
    class_codes, class_names = pd.factorize(classes.iloc[chosen])
    endpoint_codes, table = endpoints(rows)
    combined = class_codes.astype(np.int64) * max(len(table), 1) + endpoint_codes
    group_of, keys = pd.factorize(combined)
    ngroups = len(keys)
    class_of, endpoint_of = np.divmod(np.asarray(keys, dtype=np.int64), max(len(table), 1))

    times = pd.to_datetime(rows["datetime"], utc=True).reset_index(drop=True)
    by_group = times.groupby(group_of, sort=True)
    stamps = times.to_numpy(dtype="datetime64[ns]").view("int64")  # NaT: the smallest
    order = np.lexsort((np.arange(len(rows)), stamps, group_of))
    counts = np.bincount(group_of, minlength=ngroups).astype("int64")
    latest = order[np.cumsum(counts) - 1] if ngroups else np.array([], dtype=np.intp)

    out = pd.DataFrame(
        {"exception_class": pd.array(np.asarray(class_names, dtype=object)[class_of], "string")}
    )
    for column in ENDPOINT_COLUMNS:
        out[column] = table[column].to_numpy()[endpoint_of]
        out[column] = out[column].astype("string")
    out["count"] = counts
    out["first_seen"] = pd.Series(by_group.min().to_numpy(), dtype=times.dtype)
    out["last_seen"] = pd.Series(by_group.max().to_numpy(), dtype=times.dtype)
    out["statuses"] = pd.array(_statuses(group_of, rows["status"], ngroups), dtype="string")
    out["message"] = pd.array(texts.iloc[chosen].to_numpy(dtype=object)[latest], dtype="string")
    ids = rows["request_id"] if "request_id" in rows else pd.Series(pd.NA, index=rows.index)
    out["request_id"] = pd.array(ids.to_numpy(dtype=object)[latest], dtype="string")
    out = out.sort_values(
        ["count", "last_seen", "exception_class", "group"],
        ascending=[False, False, True, True],
        kind="stable",
        na_position="last",
    )
    return out.reset_index(drop=True)[EXCEPTION_GROUP_COLUMNS]


def _slowest_order(df: pd.DataFrame) -> np.ndarray:
    """Positions of the records with a duration, the slowest first; ties: the newest first,
    then input order."""
    duration = df["duration"].to_numpy(dtype="float64", na_value=np.nan)
    kept = np.flatnonzero(~np.isnan(duration))
    times = pd.DatetimeIndex(pd.to_datetime(df["datetime"].iloc[kept], utc=True))
    stamps = times.as_unit("ns").asi8  # NaT: the smallest, so last once inverted
    return kept[np.lexsort((kept, ~stamps, -duration[kept]))]  # ~: newest first


def slowest(df: pd.DataFrame, *, limit: int | None = 20) -> pd.DataFrame:
    """The slowest requests: every column, sorted by ``duration`` descending (ties: the newest
    ``datetime`` first, then input order); null durations left out. ``limit`` keeps the first
    rows (None: all). Unlike :func:`rp_toolkit.reports.slow`, no threshold and no window."""
    order = _slowest_order(df)
    return df.iloc[order if limit is None else order[: max(limit, 0)]].reset_index(drop=True)


def slowest_by_endpoint(df: pd.DataFrame, *, per_endpoint: int = 3) -> pd.DataFrame:
    """The ``per_endpoint`` slowest requests of every endpoint: every column, then ``group``
    (``Controller#action|format``) and ``rank`` (1 = the endpoint's slowest).

    Endpoints are ordered by their slowest request (the slowest first), each endpoint's rows
    by ``rank``; order within ties as :func:`slowest`. Null durations are left out.
    """
    order = _slowest_order(df)
    codes, table = endpoints(df[["controller", "action", "format"]].iloc[order])
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy() + 1
    kept = np.flatnonzero(rank <= per_endpoint)
    kept = kept[np.lexsort((rank[kept], codes[kept]))]  # codes: endpoints in first appearance
    out = df.iloc[order[kept]].reset_index(drop=True)
    out["group"] = pd.array(table["group"].to_numpy(dtype=object)[codes[kept]], dtype="string")
    out["rank"] = rank[kept].astype("int64")
    return out
