"""Report tables for people: the frames of :mod:`rp_toolkit.reports` as pandas Stylers.

The data functions return full-precision, machine-friendly frames (what ``reports.export``
writes). The functions here only present them: a chosen set of columns with units in their
headers (``p95 (ms)``, ``5xx (%)``, ``req/min``), milliseconds to 0 or 1 decimal, shares as
percentages with 1 decimal, counts with thousands separators, a stable order with a
deterministic tie-break, no positional index, and long text (endpoints, paths) cut with an
ellipsis, its full text in a tooltip. Every table is narrow enough for a 1280 px page.
Text cells, tooltips and captions are escaped by :func:`rp_toolkit.markup.html_text` (a Styler
writes cells as they are), and the table carries :data:`rp_toolkit.markup.NO_MATH_CLASSES`, so
recorded text shows as it is: never as HTML, never typeset by MathJax.

Each function returns a :class:`pandas.io.formats.style.Styler` (rendered as HTML in
notebooks and in the nbconvert report; it needs ``jinja2``). Cells are rounded by
:mod:`rp_toolkit.units`, as the sentences of :mod:`.findings` are, so both read
alike. Inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidArgumentError
from ..markup import NO_MATH_CLASSES, html_text
from ..units import (
    MISSING,
    count,
    duration_unit,
    missing,
    ms,
    percent,
    short,
    signed_ms,
    signed_percent,
)
from ._dashboard import ALL_ENDPOINTS
from ._jobs import JOB_LABELS

__all__ = [
    "ENDPOINT_WIDTH",
    "WRAP_WIDTH",
    "Column",
    "apdex",
    "crashes",
    "deploy_endpoints",
    "deploys",
    "error_rates",
    "exception_groups",
    "failed_jobs",
    "for_people",
    "jobs_by_worker",
    "jobs_summary",
    "percentile_cards",
    "requests",
    "slow_requests",
    "slowest",
    "summary",
    "time_split",
]

ENDPOINT_WIDTH = 44
"""Characters of an endpoint name shown before the ellipsis (the full name is the tooltip)."""
WRAP_WIDTH = "24em"
"""The widest a wrapped text column (a message shown whole) grows before it wraps."""


# --------------------------------------------------------------------------- cells


def _fixed(digits: int) -> Callable[[Any], str]:
    return lambda value: MISSING if missing(value) else f"{float(value):,.{digits}f}"


def _time(value: Any) -> str:
    return MISSING if missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")


_FORMATS: dict[str, Callable[[Any], str]] = {
    "count": count,
    "ms": ms,
    "signed_ms": signed_ms,
    "share": lambda value: percent(value, share=True),
    "percent": percent,
    "signed_percent": signed_percent,
    "rate": _fixed(1),
    "score": _fixed(3),
    "time": _time,
    "decimals": _fixed(2),
    "short": lambda value: MISSING if missing(value) else short(float(value)),
}


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Column:
    """One displayed column: ``source`` column of the frame, its ``header`` (with the unit;
    a pair of texts makes a two-level header, e.g. ``("p95 (ms)", "before")``) and how its
    cells read: ``kind`` is ``text`` (cut to ``width`` characters, the full text
    in a tooltip), or a number format: ``count``, ``ms``, ``signed_ms``, ``share`` (a fraction
    shown in percent), ``percent``, ``signed_percent``, ``rate`` (1 decimal), ``decimals`` (2),
    ``score`` (3 decimals), ``short`` (3 significant digits) or ``time`` (UTC, to the second).
    ``wrap``: a text shown whole, wrapped within :data:`WRAP_WIDTH` (line breaks and blanks
    kept)."""

    source: str
    header: str | tuple[str, str]
    kind: str = "text"
    width: int | None = None
    wrap: bool = False


def _text(width: int | None) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        if missing(value):
            return MISSING
        text = str(value)
        if width is None or len(text) <= width:
            return html_text(text)
        return f'<span title="{html_text(text)}">{html_text(text[: width - 1])}…</span>'

    return show


def _wrapped(value: Any) -> str:
    """The full text, each line escaped; the lines joined by a line break the cell keeps."""
    if missing(value):
        return MISSING
    return "\n".join(html_text(line) for line in str(value).splitlines() or [""])


def for_people(
    df: pd.DataFrame,
    columns: Sequence[Column],
    *,
    caption: str | None = None,
    bold_first: bool = False,
) -> Any:
    """``df``'s ``columns`` as a Styler: headers with units, cells formatted by kind, text left
    and numbers right aligned, no index; ``bold_first`` sets the first row in bold (an overall
    row). Columns missing from ``df`` are left out; the rows are shown in ``df``'s order."""
    chosen = [column for column in columns if column.source in df.columns]
    headers: list[Any] = [column.header for column in chosen]
    if any(isinstance(header, tuple) for header in headers):
        pairs = [h if isinstance(h, tuple) else (h, "") for h in headers]
        headers = list(pd.MultiIndex.from_tuples(pairs))
    if len(set(headers)) != len(headers):
        raise InvalidArgumentError(f"Column headers must be unique, got {headers}.")
    shown = pd.DataFrame(
        dict(zip(range(len(chosen)), (df[c.source].to_numpy() for c in chosen), strict=True)),
        index=pd.RangeIndex(len(df)),
    )
    shown.columns = (
        pd.MultiIndex.from_tuples(headers)
        if headers and isinstance(headers[0], tuple)
        else pd.Index(headers, dtype=object)
    )
    styler = shown.style.hide(axis="index").set_table_attributes(f'class="{NO_MATH_CLASSES}"')
    for header, column in zip(headers, chosen, strict=True):
        if column.wrap:
            formatter = _wrapped
        else:
            formatter = _text(column.width) if column.kind == "text" else _FORMATS[column.kind]
        styler = styler.format(formatter, subset=[header])
    styles = [
        {"selector": "", "props": "font-size: 12px; border-collapse: collapse; width: auto"},
        {"selector": "th", "props": "text-align: right; white-space: nowrap; padding: 3px 8px"},
        {"selector": "td", "props": "text-align: right; white-space: nowrap; padding: 3px 8px"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; font-weight: bold"},
    ]
    if isinstance(shown.columns, pd.MultiIndex):  # a group header centred over its columns
        styles.append({"selector": "th.col_heading.level0", "props": "text-align: center"})
    for number, column in enumerate(chosen):  # text reads from the left, numbers line up right
        if column.kind in ("text", "time"):
            for selector in (f"td.col{number}", f"th.col_heading.col{number}"):
                styles.append({"selector": selector, "props": "text-align: left"})
        if column.wrap:
            props = f"white-space: pre-wrap; overflow-wrap: anywhere; max-width: {WRAP_WIDTH}"
            styles.append({"selector": f"td.col{number}", "props": props})
    styler = styler.set_table_styles(styles)
    if bold_first and len(shown):
        styler = styler.set_properties(subset=pd.IndexSlice[0, :], **{"font-weight": "bold"})
    if caption:
        styler = styler.set_caption(html_text(caption))
    return styler


def _sorted(df: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    """``df`` sorted by ``by``, NaN last, ties in the given order (stable)."""
    return df.sort_values(by, ascending=ascending, kind="stable", na_position="last")


ENDPOINT = Column("group", "Endpoint", "text", ENDPOINT_WIDTH)


# --------------------------------------------------------------------------- report tables


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return count(value)
    if isinstance(value, (float, np.floating)):
        return MISSING if missing(value) else f"{float(value):,.3g}"
    if isinstance(value, (pd.Timestamp, datetime)):
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if isinstance(value, (list, tuple, set)):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return MISSING if missing(value) else str(value)


def summary(values: Mapping[str, Any]) -> Any:
    """A mapping (``LoadInfo.summary()``) as two columns, ``Item`` and ``Value``: whole numbers
    with separators, other numbers to 3 significant digits, times to the second, lists and
    dicts as text."""
    rows = pd.DataFrame(
        {
            "item": [str(key).replace("_", " ") for key in values],
            "value": [_value_text(value) for value in values.values()],
        }
    )
    return for_people(rows, [Column("item", "Item"), Column("value", "Value", "text", 60)])


def percentile_cards(cards: dict[str, float | None]) -> Any:
    """The dashboard's percentile cards (``reports.percentiles``) as one row."""
    row = pd.DataFrame([{key: (math.nan if v is None else v) for key, v in cards.items()}])
    return for_people(row, [Column(key, f"{key} (ms)", "ms") for key in cards])


def requests(table: pd.DataFrame, *, minutes: float | None = None, n: int | None = 15) -> Any:
    """``reports.requests``, busiest first (ties by endpoint): requests, req/min (with the
    window's ``minutes``), mean, p50, p95, p99 and max duration. The view and database times
    are in :func:`time_split`. ``n``: the first rows only (None: all)."""
    rows = _sorted(table, ["count", "group"], [False, True])
    if minutes:
        rows = rows.assign(per_minute=rows["count"] / minutes)
    rows = rows if n is None else rows.head(n)
    columns = [
        ENDPOINT,
        Column("count", "Requests", "count"),
        Column("per_minute", "req/min", "rate"),
        Column("duration_average", "Mean (ms)", "ms"),
        Column("duration_p50", "p50 (ms)", "ms"),
        Column("duration_p95", "p95 (ms)", "ms"),
        Column("duration_p99", "p99 (ms)", "ms"),
        Column("duration_max", "Max (ms)", "ms"),
    ]
    return for_people(rows, columns)


def apdex(table: pd.DataFrame, *, n: int | None = 15) -> Any:
    """``reports.apdex``: the overall row first (bold), then the endpoints with the lowest
    Apdex (ties: the busier first, then by name); counts and shares of satisfied, tolerating
    and frustrated requests."""
    overall = table[table["group"] == ALL_ENDPOINTS].assign(group="(all endpoints)")
    endpoints = _sorted(
        table[table["group"] != ALL_ENDPOINTS], ["apdex", "count", "group"], [True, False, True]
    )
    endpoints = endpoints if n is None else endpoints.head(n)
    rows = pd.concat([overall, endpoints], ignore_index=True)
    total = rows["count"].where(rows["count"] > 0)
    for part in ("satisfied", "tolerating", "frustrated"):
        rows[f"{part}_share"] = rows[part] / total
    columns = [
        ENDPOINT,
        Column("apdex", "Apdex", "score"),
        Column("count", "Requests", "count"),
        Column("satisfied_share", "Satisfied (%)", "share"),
        Column("tolerating_share", "Tolerating (%)", "share"),
        Column("frustrated_share", "Frustrated (%)", "share"),
    ]
    return for_people(rows, columns, bold_first=len(overall) > 0)


def error_rates(table: pd.DataFrame, *, n: int | None = 10) -> Any:
    """``reports.error_rate``, the highest 5xx share first (ties: the most 5xx, then the
    highest 4xx share, then by name)."""
    rows = _sorted(
        table, ["rate_5xx", "count_5xx", "rate_4xx", "group"], [False, False, False, True]
    )
    rows = rows if n is None else rows.head(n)
    columns = [
        ENDPOINT,
        Column("count", "Requests", "count"),
        Column("count_5xx", "5xx", "count"),
        Column("rate_5xx", "5xx (%)", "share"),
        Column("count_4xx", "4xx", "count"),
        Column("rate_4xx", "4xx (%)", "share"),
    ]
    return for_people(rows, columns)


def time_split(table: pd.DataFrame, *, n: int | None = 15) -> Any:
    """``reports.time_split``, the highest mean duration first (ties by endpoint): mean
    total, database, view and other time, and their shares."""
    rows = _sorted(table, ["duration_average", "group"], [False, True])
    rows = rows if n is None else rows.head(n)
    columns = [
        ENDPOINT,
        Column("count", "Requests", "count"),
        Column("duration_average", "Mean (ms)", "ms"),
        Column("db_average", "DB (ms)", "ms"),
        Column("view_average", "View (ms)", "ms"),
        Column("other_average", "Other (ms)", "ms"),
        Column("db_share", "DB (%)", "share"),
        Column("view_share", "View (%)", "share"),
        Column("other_share", "Other (%)", "share"),
    ]
    return for_people(rows, columns)


def _endpoint_of(records: pd.DataFrame) -> pd.Series:
    parts = records[["controller", "action"]].astype("string").fillna("?")
    return parts["controller"] + "#" + parts["action"]


def slow_requests(records: pd.DataFrame, *, n: int | None = 20) -> Any:
    """``reports.slow`` (or any request records), in the given order: time, endpoint,
    status, path, duration and request id."""
    rows = records if n is None else records.head(n)
    rows = rows.assign(endpoint=_endpoint_of(rows))
    columns = [
        Column("datetime", "Time (UTC)", "time"),
        Column("endpoint", "Endpoint", "text", 36),
        Column("status", "Status", "count"),
        Column("path", "Path", "text", 36),
        Column("duration", "Duration (ms)", "ms"),
        Column("request_id", "Request id", "text", 14),
    ]
    return for_people(rows, columns)


def crashes(records: pd.DataFrame, *, n: int | None = 20) -> Any:
    """``reports.crashes``, in the given order: time, endpoint, path, exception, duration."""
    rows = records if n is None else records.head(n)
    rows = rows.assign(endpoint=_endpoint_of(rows))
    columns = [
        Column("datetime", "Time (UTC)", "time"),
        Column("endpoint", "Endpoint", "text", 36),
        Column("path", "Path", "text", 32),
        Column("exception", "Exception", "text", 36),
        Column("duration", "Duration (ms)", "ms"),
    ]
    return for_people(rows, columns)


def deploys(impact: pd.DataFrame) -> Any:
    """``reports.deploy_impact``, oldest first: requests and p50/p95 of all requests before
    and after each event, and the change of p95."""
    rows = impact.assign(
        p95_change_pct=impact["p95_change"]
        / impact["before_p95"].where(impact["before_p95"] > 0)
        * 100
    )
    columns = [
        Column("label", "Deploy / event", "text", 36),
        Column("datetime", "Time (UTC)", "time"),
        Column("before_count", ("Requests", "before"), "count"),
        Column("after_count", ("Requests", "after"), "count"),
        Column("before_p50", ("p50 (ms)", "before"), "ms"),
        Column("after_p50", ("p50 (ms)", "after"), "ms"),
        Column("before_p95", ("p95 (ms)", "before"), "ms"),
        Column("after_p95", ("p95 (ms)", "after"), "ms"),
        Column("p95_change_pct", ("p95 (ms)", "change (%)"), "signed_percent"),
    ]
    return for_people(rows, columns)


def deploy_endpoints(rows: pd.DataFrame, *, n: int | None = 8) -> Any:
    """Rows of ``reports.deploy_impact_by_endpoint`` (one event's, normally), in their order
    (slower first): requests, p50 and p95 before and after with the change, and the verdict
    (slower in bold red, faster in green)."""
    rows = rows if n is None else rows.head(n)
    columns = [
        Column("group", "Endpoint", "text", ENDPOINT_WIDTH),
        Column("before_count", ("Requests", "before"), "count"),
        Column("after_count", ("Requests", "after"), "count"),
        Column("before_p50", ("p50 (ms)", "before"), "ms"),
        Column("after_p50", ("p50 (ms)", "after"), "ms"),
        Column("p50_change_pct", ("p50 (ms)", "change (%)"), "signed_percent"),
        Column("before_p95", ("p95 (ms)", "before"), "ms"),
        Column("after_p95", ("p95 (ms)", "after"), "ms"),
        Column("p95_change_pct", ("p95 (ms)", "change (%)"), "signed_percent"),
        Column("verdict", "Verdict"),
    ]
    styler = for_people(rows, columns)
    if "verdict" in rows and len(rows):
        colours = {"slower": "color: #b00020; font-weight: bold", "faster": "color: #1b7a2e"}
        verdict = styler.data.columns[-1]
        styler = styler.map(lambda value: colours.get(str(value), ""), subset=[verdict])
    return styler


def jobs_summary(summary: pd.DataFrame) -> Any:
    """``reports.jobs_summary``: records and duration percentiles per job kind, busiest first
    (ties by kind)."""
    rows = summary.rename_axis("kind").reset_index()
    rows = _sorted(rows, ["records", "kind"], [False, True])
    columns = [
        Column("kind", "Kind"),
        Column("records", "Records", "count"),
        Column("p50", "p50 (ms)", "ms"),
        Column("p95", "p95 (ms)", "ms"),
        Column("p99", "p99 (ms)", "ms"),
    ]
    return for_people(rows, columns)


def _duration_columns(rows: pd.DataFrame, sources: Sequence[str]) -> tuple[pd.DataFrame, str, str]:
    """``rows`` with the duration columns ``sources`` in one unit for the whole table: ms when
    the largest is under a second, else seconds (:func:`rp_toolkit.units.duration_unit`, never
    minutes); the unit's name and the cells' format."""
    present = [s for s in sources if s in rows]
    largest = rows[present].abs().max().max() if present and len(rows) else math.nan
    _, unit = duration_unit(largest)
    if unit == "ms":
        return rows, unit, "ms"
    return rows.assign(**{s: rows[s] / 1000.0 for s in present}), "s", "short"


def _system_labels(systems: pd.Series) -> pd.Series:
    return systems.astype(str).map(lambda system: JOB_LABELS.get(system, system))


def jobs_by_worker(table: pd.DataFrame, *, n: int | None = None) -> Any:
    """``reports.jobs_by_worker``, in its order (by system, the highest p95 first): runs,
    failures and their share, p50, p95 and p99 in one unit for the whole table (ms, or s when
    any reaches a second; the unit in the headers). ``n``: the first rows only (None: all)."""
    rows = table if n is None else table.head(n)
    rows = rows.assign(system=_system_labels(rows["system"]))
    durations = [f"duration_p{p}" for p in (50, 95, 99)]
    rows, unit, kind = _duration_columns(rows, durations)
    columns = [
        Column("system", "System"),
        Column("name", "Worker / class", "text", ENDPOINT_WIDTH),
        Column("count", "Runs", "count"),
        Column("failures", "Failed", "count"),
        Column("failure_rate", "Failed (%)", "share"),
        *(Column(d, f"{d[-3:]} ({unit})", kind) for d in durations),
    ]
    return for_people(rows, columns)


def failed_jobs(failed: pd.DataFrame, *, n: int | None = 20) -> Any:
    """``reports.failed_jobs``, in its order (newest first): time, system, worker or class,
    queue, status, duration (one unit for the table) and the message whole, wrapped; the
    job id. ``n``: the first rows only (None: all)."""
    rows = failed if n is None else failed.head(n)
    rows = rows.assign(system=_system_labels(rows["system"]))
    rows, unit, kind = _duration_columns(rows, ["duration"])
    columns = [
        Column("datetime", "Time (UTC)", "time"),
        Column("system", "System"),
        Column("name", "Worker / class", "text", 28),
        Column("queue", "Queue", "text", 12),
        Column("status", "Status", "text", 10),
        Column("duration", f"Duration ({unit})", kind),
        Column("message", "Message", "text", wrap=True),
        Column("jid", "Job id", "text", 12),
    ]
    return for_people(rows, columns)


def exception_groups(table: pd.DataFrame, *, n: int | None = 20) -> Any:
    """``reports.exception_groups`` in its order (the most requests first): exception class,
    endpoint, requests, statuses, first and last seen, and the latest request's full message
    (wrapped, never cut). The latest request's id is in the frame (and its export)."""
    rows = table if n is None else table.head(n)
    columns = [
        Column("exception_class", "Exception", "text", 30),
        Column("group", "Endpoint", "text", 32),
        Column("count", "Requests", "count"),
        Column("statuses", "Status"),
        Column("first_seen", "First seen (UTC)", "time"),
        Column("last_seen", "Last seen (UTC)", "time"),
        Column("message", "Latest message", "text", wrap=True),
    ]
    return for_people(rows, columns)


def slowest(records: pd.DataFrame, *, n: int | None = 20) -> Any:
    """``reports.slowest`` or ``reports.slowest_by_endpoint``, in the given order: time,
    endpoint (with the rank within it, if given), status, path, duration and request id. One
    duration unit for the whole table (:func:`rp_toolkit.units.duration_unit` of the largest
    shown: ms, s or min), named in the header."""
    rows = records if n is None else records.head(n)
    if "group" in rows:
        endpoint = rows["group"]
    else:  # Controller#action|format, as the endpoint's group reads
        form = rows["format"].astype("string").fillna("") if "format" in rows else ""
        endpoint = _endpoint_of(rows) + "|" + form
    durations = rows["duration"].astype("float64")
    divisor, unit = duration_unit(durations.max() if durations.notna().any() else 0.0)
    rows = rows.assign(endpoint=endpoint, shown_duration=durations / divisor)
    columns = [
        Column("datetime", "Time (UTC)", "time"),
        Column("endpoint", "Endpoint", "text", 36),
        Column("rank", "Rank", "count"),
        Column("status", "Status", "count"),
        Column("path", "Path", "text", 36),
        Column("shown_duration", f"Duration ({unit})", "ms" if unit == "ms" else "decimals"),
        Column("request_id", "Request id", "text", 14),
    ]
    return for_people(rows, columns)
