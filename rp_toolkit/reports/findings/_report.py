"""The request report's sentences: the load, the overview, endpoints, slow requests,
crashes, errors, Apdex, the time split, traces, jobs, resources, deploys and history.

Each takes what :mod:`rp_toolkit.reports` returns (and a few parameters of the run); see
:mod:`rp_toolkit.reports.findings` for what every sentence holds to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ...markup import code_span
from ...units import count, duration, human_bytes, missing, ms, percent, short, signed_percent
from .._dashboard import ALL_ENDPOINTS

__all__ = [
    "APDEX_RATINGS",
    "apdex",
    "crashes",
    "deploys",
    "deploys_in_range",
    "endpoints",
    "errors",
    "exception_groups",
    "history",
    "jobs",
    "key_listing",
    "loaded",
    "overview",
    "period_comparison",
    "resources",
    "slow_requests",
    "slowest",
    "time_split",
    "trace",
]

APDEX_RATINGS = ((0.94, "excellent"), (0.85, "good"), (0.70, "fair"), (0.50, "poor"))
"""The usual Apdex bands (lower bound, name); below the last one: ``unacceptable``."""


def _when(value: Any, *, seconds: bool = False) -> str:
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _span(start: Any, end: Any) -> str:
    """``from 2026-11-28 04:27 to 08:27 UTC`` (the date once when both are on it)."""
    first, last = _when(start), _when(end)
    if first[:10] == last[:10]:
        return f"on {first[:10]} from {first[11:16]} to {last[11:]}"
    return f"from {first} to {last}"


def _share(part: float, whole: float) -> str:
    return percent(part / whole * 100 if whole else float("nan"))


def _endpoint(record: Mapping[str, Any]) -> str:
    return f"{record['controller']}#{record['action']}"


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- requests


COUNT_RULES = {
    "auto-tune": "auto-tune",
    "fixed": "fixed: `scan_count`, auto-tune off",
}
"""How a SCAN's COUNT was chosen (``LoadInfo.summary()["scan_count_rule"]``), in words."""


def _whole(value: Any) -> str:
    """A whole number as it is (``1000``, as Redis's COUNT is written); anything else as code."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return code_span(value)


def key_listing(summary: Mapping[str, Any]) -> str:
    """How the keys were found (``LoadInfo.summary()``): ``Keys listed with SCAN, COUNT 1000
    (auto-tune), in 518 calls.``, ``... with KEYS ...``, the snapshot or the archive read; ""
    when nothing was fetched."""
    method = summary.get("method")
    if method is None:
        return ""
    made = summary.get("scan_calls") or 0
    calls = f", in {count(made)} call{'s' if made != 1 else ''}" if made else ""
    if method == "SCAN":
        rule, start = summary.get("scan_count_rule"), _whole(summary.get("scan_count"))
        if rule == "adaptive":
            return (
                "Keys listed with SCAN, COUNT adaptive (sized to `scan_budget_ms` per call, "
                f"starting at {start}){calls}."
            )
        how = f" ({COUNT_RULES.get(rule) or code_span(rule)})" if rule is not None else ""
        return f"Keys listed with SCAN, COUNT {start}{how}{calls}."
    if method == "KEYS":
        return (
            "Keys listed with KEYS (`use_scan` off: the gem's command, which blocks Redis while "
            "it walks the keyspace)."
        )
    if method == "RDB":  # a snapshot file: no server was asked anything
        return (
            f"Keys read from the {code_span(summary.get('source'))}, without touching any server."
        )
    if method == "archive":  # Parquet files rp.archive wrote: no server, no key
        return (
            f"Records read from the {code_span(summary.get('source'))} with DuckDB, without "
            "touching any server."
        )
    return f"Keys listed with {code_span(method)}."


def loaded(summary: Mapping[str, Any]) -> str:
    """What was read (``LoadInfo.summary()``): records, how the keys were found, problems."""
    parts = [f"Read {count(summary.get('records'))} request records."]
    listing = key_listing(summary)
    if listing:
        parts.append(listing)
    server = summary.get("server")
    if server:  # valkey 9.1.2, redis 7.0.15: the server by what it is
        written = "written by" if summary.get("method") == "RDB" else "served by"
        parts.append(f"The records were {written} {code_span(server)}.")
    outside = summary.get("outside_window") or 0
    if outside:
        parts.append(f"{count(outside)} listed keys fell outside the window and are left out.")
    parts += _filtered(summary)
    skipped, kept = summary.get("skipped") or 0, summary.get("kept_with_problems") or 0
    if skipped or kept:
        parts.append(
            f"{count(skipped)} records could not be read (skipped); {count(kept)} are kept "
            "with problems (see the table)."
        )
    else:
        parts.append("Every record could be read.")
    return " ".join(parts)


def _filtered(summary: Mapping[str, Any]) -> list[str]:
    """Sentences on what the filters left out, and on a filter that matched nothing."""
    filters = dict(summary.get("filters") or {})
    if not filters:
        return []
    shown = {name: f"{name} = {code_span(value)}" for name, value in filters.items()}
    left = {
        name: n for name, n in (summary.get("filtered_out") or {}).items() if n and name in shown
    }
    parts = []
    if len(left) == 1:
        [(name, n)] = left.items()
        parts.append(
            f"{count(n)} listed keys in the window did not match the filter {shown[name]} "
            "and are left out."
        )
    elif left:
        each = _listing([f"{count(n)} {shown[name]}" for name, n in left.items()])
        parts.append(
            f"{count(sum(left.values()))} listed keys in the window did not match the filters "
            f"and are left out (the first each failed: {each})."
        )
    if summary.get("records"):
        return parts
    matches = summary.get("filter_matches") or {}
    unmatched = [shown[name] for name in filters if not matches.get(name)]
    if summary.get("filters_in_pattern") and len(filters) > 1:
        parts.append(  # only keys matching every filter were listed: which one failed is unknown
            "No record in the window matched all the filters at once "
            f"({_listing(list(shown.values()))})."
        )
    elif unmatched:
        if len(unmatched) == 1:
            which = f"the filter {unmatched[0]}"
        else:
            which = f"the filters {', '.join(unmatched[:-1])} or {unmatched[-1]}"
        advice = " (filters match exact values: check the spelling)" if left else ""
        parts.append(f"No record in the window matched {which}{advice}.")
    else:
        parts.append(
            "Each filter matched some records in the window, but none matched all of them "
            f"at once ({_listing(list(shown.values()))})."
        )
    return parts


def overview(df: pd.DataFrame, cards: Mapping[str, float | None], start: Any, end: Any) -> str:
    """How many requests in ``[start, end]``, per minute, and the percentile cards in words."""
    window = _span(start, end)
    if not len(df):
        return f"No request was recorded {window}."
    minutes = (pd.Timestamp(end) - pd.Timestamp(start)) / pd.Timedelta(minutes=1)
    rate = f", {short(len(df) / minutes)} per minute on average" if minutes > 0 else ""
    text = (
        f"**{count(len(df))} requests** {window}{rate}. Half finished within "
        f"**{ms(cards['p50'])} ms**, 95 % within **{ms(cards['p95'])} ms** and 99 % within "
        f"**{ms(cards['p99'])} ms**."
    )
    p95, p99 = cards.get("p95"), cards.get("p99")
    if not (missing(p95) or missing(p99)) and p95 > 0:
        ratio = p99 / p95
        tail = (
            "so the slowest 1 % are far slower than the rest (see the slow requests below)."
            if ratio >= 2
            else "so there is no long tail of very slow requests."
        )
        text += f" p99 is {ratio:.1f} × p95, {tail}"
    return text


def endpoints(table: pd.DataFrame, *, min_requests: int = 20, n: int = 3) -> str:
    """The busiest endpoint of ``reports.requests`` and the ``n`` slowest by p95 among those
    with at least ``min_requests`` requests."""
    if not len(table):
        return "No endpoint was requested."
    total = table["count"].sum()
    busiest = table.sort_values(["count", "group"], ascending=[False, True], kind="stable")
    top = busiest.iloc[0]
    text = (
        f"{count(len(table))} endpoints. The busiest is {code_span(top['group'])} "
        f"({count(top['count'])} requests, {_share(top['count'], total)} % of all)."
    )
    ranked = table[(table["count"] >= min_requests) & table["duration_p95"].notna()]
    ranked = ranked.sort_values(["duration_p95", "group"], ascending=[False, True], kind="stable")
    if not len(ranked):
        return text + f" No endpoint has {min_requests} requests to rank by p95."
    slowest = [
        f"{code_span(row['group'])} ({ms(row['duration_p95'])} ms)"
        for _, row in ranked.head(n).iterrows()
    ]
    return text + (
        f" Slowest by p95 (of the endpoints with at least {min_requests} requests): "
        f"{_listing(slowest)}."
    )


def slow_requests(slow: pd.DataFrame, total: int, threshold_ms: float) -> str:
    """How many requests took longer than ``threshold_ms`` (``reports.slow``), which endpoint
    most of them belong to, and the slowest one."""
    if not len(slow):
        return f"No request took longer than {ms(threshold_ms)} ms."
    by_endpoint = _endpoint_counts(slow)
    worst = slow.loc[slow["duration"].astype("float64").idxmax()]
    return (
        f"{count(len(slow))} requests ({_share(len(slow), total)} %) took longer than "
        f"{ms(threshold_ms)} ms; {_share(by_endpoint.iloc[0], len(slow))} % of them were "
        f"{code_span(by_endpoint.index[0])}. The slowest took {ms(worst['duration'])} ms "
        f"({code_span(_endpoint(worst))}, {_when(worst['datetime'], seconds=True)})."
    )


def _endpoint_counts(records: pd.DataFrame) -> pd.Series:
    """Records per ``Controller#action``, most first, ties by name."""
    names = records["controller"].astype("string") + "#" + records["action"].astype("string")
    counted = names.fillna("?").value_counts()
    frame = counted.rename_axis("name").reset_index(name="n")
    frame = frame.sort_values(["n", "name"], ascending=[False, True], kind="stable")
    return frame.set_index("name")["n"]


def crashes(crashes: pd.DataFrame, total: int) -> str:
    """How many requests ended in a 500 (``reports.crashes``), the commonest exception and the
    endpoint with the most."""
    if not len(crashes):
        return "No request ended in a 500."
    text = (
        f"{count(len(crashes))} requests ({_share(len(crashes), total)} %) ended in a 500; "
        f"the most at {code_span(_endpoint_counts(crashes).index[0])} "
        f"({count(_endpoint_counts(crashes).iloc[0])})."
    )
    exceptions = crashes["exception"].dropna().astype(str) if "exception" in crashes else None
    if exceptions is not None and len(exceptions):
        counted = exceptions.value_counts()
        top = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[0]
        text += f" The commonest exception: {code_span(top[0])} ({count(top[1])})."
    return text


def _group_of(record: Mapping[str, Any]) -> str:
    """``Controller#action|format`` of a request record (its ``group`` when it has one)."""
    if "group" in record and not missing(record["group"]):
        return str(record["group"])
    parts = [record.get(name) for name in ("controller", "action", "format")]
    controller, action, form = ("" if missing(part) else str(part) for part in parts)
    return f"{controller}#{action}|{form}"


def _at(value: Any) -> str:
    return "at an unknown time" if missing(value) else f"at {_when(value, seconds=True)}"


def _status(value: Any) -> str:
    """A status as a number when it is a whole number, else as recorded text."""
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return code_span(value)


def exception_groups(table: pd.DataFrame, *, n: int = 3) -> str:
    """How many requests raised exceptions in how many groups (``reports.exception_groups``:
    exception class × endpoint), and the ``n`` largest groups with their latest occurrence."""
    if not len(table):
        return "No request raised an exception."
    total, groups = int(table["count"].sum()), len(table)
    ranked = table.sort_values(
        ["count", "last_seen", "exception_class", "group"],
        ascending=[False, False, True, True],
        kind="stable",
        na_position="last",
    )
    items = [
        f"{code_span(row['exception_class'])} in {code_span(row['group'])} "
        f"({count(row['count'])}, last {_at(row['last_seen'])})"
        for row in ranked.head(n).to_dict("records")
    ]
    raised = "request raised an exception" if total == 1 else "requests raised exceptions"
    text = f"{count(total)} {raised} in {count(groups)} "
    text += "group" if groups == 1 else "groups"
    if groups == 1:
        return text + f" (exception class × endpoint): {items[0]}."
    more = f" (and {count(groups - n)} more, in the table)" if groups > n else ""
    return text + f" (exception class × endpoint); the most: {_listing(items)}{more}."


def slowest(table: pd.DataFrame) -> str:
    """The slowest request of ``reports.slowest`` (its endpoint, duration, path, status, time
    and id), and the range and commonest endpoint of the requests listed."""
    durations = table["duration"].astype("float64") if len(table) else pd.Series(dtype=float)
    if not durations.notna().any():
        return "No request with a duration was recorded."
    top = table.loc[durations.idxmax()]
    status = "" if missing(top.get("status")) else f", status {_status(top['status'])}"
    path = "" if missing(top.get("path")) else f" {code_span(top['path'])}"
    rid = top.get("request_id")
    request = "" if missing(rid) else f", request {code_span(rid)}"
    text = (
        f"The slowest request took **{duration(top['duration'])}**: "
        f"{code_span(_group_of(top))}{path}{status}, {_at(top.get('datetime'))}{request}."
    )
    listed = int(durations.notna().sum())
    if listed > 1:
        names = pd.Series([_group_of(row) for row in table.to_dict("records")])
        counted = names[durations.notna().to_numpy()].value_counts()
        ties = counted[counted == counted.max()].index
        commonest = sorted(ties)[0]
        text += (
            f" The {count(listed)} slowest took {duration(durations.min())} to "
            f"{duration(durations.max())}; {count(counted[commonest])} of them were "
            f"{code_span(commonest)}."
        )
    return text


def errors(error_rate: pd.DataFrame) -> str:
    """Shares of 4xx and 5xx over all requests and the endpoint with the highest 5xx share
    (``reports.error_rate``)."""
    total = error_rate["count"].sum() if len(error_rate) else 0
    if not total:
        return "No request was recorded, so no error rate."
    text = (
        f"{_share(error_rate['count_4xx'].sum(), total)} % of requests got a 4xx and "
        f"{_share(error_rate['count_5xx'].sum(), total)} % a 5xx."
    )
    failing = error_rate[error_rate["count_5xx"] > 0]
    if not len(failing):
        return text + " No endpoint answered with a 5xx."
    worst = failing.sort_values(
        ["rate_5xx", "count_5xx", "group"], ascending=[False, False, True], kind="stable"
    ).iloc[0]
    return text + (
        f" Highest 5xx share: {code_span(worst['group'])}, "
        f"{percent(worst['rate_5xx'], share=True)} % ({count(worst['count_5xx'])} of "
        f"{count(worst['count'])})."
    )


def _rating(score: float) -> str:
    for bound, name in APDEX_RATINGS:
        if score >= bound:
            return name
    return "unacceptable"


def apdex(table: pd.DataFrame, threshold_ms: float, *, below: float = 0.85, n: int = 5) -> str:
    """The overall Apdex of ``reports.apdex`` with its rating, and the endpoints below
    ``below`` (the ``n`` lowest)."""
    overall = table[table["group"] == ALL_ENDPOINTS]
    if not len(overall) or missing(overall["apdex"].iloc[0]):
        return "No request to score."
    score = float(overall["apdex"].iloc[0])
    text = f"Overall Apdex **{score:.3f}** ({_rating(score)}) with T = {ms(threshold_ms)} ms."
    low = table[(table["group"] != ALL_ENDPOINTS) & (table["apdex"] < below)]
    low = low.sort_values(["apdex", "group"], kind="stable")
    if not len(low):
        return text + f" Every endpoint scores at least {below:.2f}."
    names = [
        f"{code_span(row['group'])} {row['apdex']:.3f} ({_rating(row['apdex'])})"
        for _, row in low.head(n).iterrows()
    ]
    more = f" (and {len(low) - n} more)" if len(low) > n else ""
    return text + f" Below {below:.2f}: {_listing(names)}{more}."


def time_split(table: pd.DataFrame, *, min_requests: int = 20) -> str:
    """Where the time of all requests went (``reports.time_split``, weighted by requests),
    and the endpoint with the largest database share."""
    weights = table["count"]
    total = (table["duration_average"] * weights).sum() if len(table) else 0.0
    if not total or missing(total):
        return "No request with a duration, so no split of the time."
    shares = {
        part: (table[f"{part}_average"] * weights).sum() / total * 100
        for part in ("db", "view", "other")
    }
    text = (
        f"Over all requests, {percent(shares['db'])} % of the time went to the database, "
        f"{percent(shares['view'])} % to views and {percent(shares['other'])} % to the rest "
        "(Ruby, external calls)."
    )
    ranked = table[(table["count"] >= min_requests) & table["db_share"].notna()]
    ranked = ranked.sort_values(["db_share", "group"], ascending=[False, True], kind="stable")
    if len(ranked):
        top = ranked.iloc[0]
        text += (
            f" Most database-bound: {code_span(top['group'])}, "
            f"{percent(top['db_share'], share=True)} % ({ms(top['db_average'])} of "
            f"{ms(top['duration_average'])} ms on average)."
        )
    return text


# --------------------------------------------------------------------------- deploys


def _change(row: Mapping[str, Any], p: int) -> str:
    return (
        f"p{p} {ms(row[f'before_p{p}'])} → {ms(row[f'after_p{p}'])} ms "
        f"({signed_percent(row[f'p{p}_change_pct'])} %)"
    )


def _deploy_text(
    event: Mapping[str, Any],
    rows: pd.DataFrame,
    window: pd.Timedelta,
    min_requests: int,
    min_change: float,
) -> str:
    minutes = f"{pd.Timedelta(window) / pd.Timedelta(minutes=1):g} minutes"
    head = f"At **{code_span(event['label'])}** ({_when(event['datetime'])})"
    overall = _overall_change(event, minutes)
    if not len(rows):
        return (
            f"{head}, no endpoint had {min_requests} requests with a duration in both "
            f"{minutes} windows, so no endpoint can be compared.{overall}"
        )
    slower = rows[rows["verdict"] == "slower"]
    faster = rows[rows["verdict"] == "faster"]
    if len(slower):
        items = [
            f"{code_span(r['group'])}: {_change(r, 95)}, {_change(r, 50)}, over "
            f"{count(r['before_count'])} → {count(r['after_count'])} requests"
            for _, r in slower.head(3).iterrows()
        ]
        more = f" (and {len(slower) - 3} more, in the table)" if len(slower) > 3 else ""
        text = (
            f"{head}, {len(slower)} of {len(rows)} endpoints got slower: {'; '.join(items)}{more}."
        )
    else:
        text = _none_slower(head, rows, min_requests, min_change)
    if len(faster):
        names = [
            f"{code_span(r['group'])} ({_change(r, 95)})" for _, r in faster.head(3).iterrows()
        ]
        text += f" {len(faster)} got faster: {_listing(names)}."
    return text + overall


def _overall_change(event: Mapping[str, Any], minutes: str) -> str:
    """`` Over all requests, p95 went ...`` of one event (empty when a side had none)."""
    if not (event["before_count"] and event["after_count"]):
        return ""
    change = event["p95_change"] / event["before_p95"] * 100 if event["before_p95"] else None
    return (
        f" Over all requests, p95 went {ms(event['before_p95'])} → "
        f"{ms(event['after_p95'])} ms ({signed_percent(change)} %; "
        f"{count(event['before_count'])} requests in the {minutes} before, "
        f"{count(event['after_count'])} after)."
    )


def _none_slower(head: str, rows: pd.DataFrame, min_requests: int, min_change: float) -> str:
    """An event at which no endpoint got clearly slower, and why its largest p95 rise does
    not count."""
    rising = rows[rows["p95_change_pct"] > 0].sort_values(
        ["p95_change_pct", "group"], ascending=[False, True], kind="stable"
    )
    text = (
        f"{head}, none of the {len(rows)} endpoints with at least {min_requests} requests "
        "on both sides got clearly slower."
    )
    if len(rising):
        top = rising.iloc[0]
        why = (
            "within the noise of that many requests"
            if top["p95_change_pct"] >= min_change * 100
            else f"under the {min_change * 100:g} % that counts as slower"
        )
        text += (
            f" The largest p95 rise, {code_span(top['group'])} {_change(top, 95)} over "
            f"{count(top['before_count'])} → {count(top['after_count'])} requests, is "
            f"{why}."
        )
    return text


def deploys(
    impact: pd.DataFrame,
    by_endpoint: pd.DataFrame,
    *,
    window: pd.Timedelta,
    min_requests: int,
    min_change: float = 0.1,
) -> list[tuple[str, pd.DataFrame]]:
    """One ``(sentence, rows)`` per event of ``reports.deploy_impact`` (oldest first): what
    changed at it, per endpoint (``reports.deploy_impact_by_endpoint``'s rows of that event,
    slower first). ``window``, ``min_requests`` and ``min_change`` are those the frames were
    computed with. No event gives one sentence saying so, with no rows."""
    if not len(impact):
        empty = by_endpoint.iloc[0:0]
        return [
            ("No deploy or other event was recorded in this window: nothing to compare.", empty)
        ]
    sections = []
    for _, event in impact.iterrows():
        rows = by_endpoint[by_endpoint["datetime"] == event["datetime"]]
        if "label" in by_endpoint:
            rows = rows[rows["label"] == event["label"]]
        text = _deploy_text(event, rows, window, min_requests, min_change)
        sections.append((text, rows))
    return sections


# --------------------------------------------------------------------------- history


def _day(value: Any) -> str:
    return _when(value)[:10]


def _days_long(period: pd.Timedelta) -> str:
    """``7 days``, ``1 day``, ``36 hours``, ``90 minutes``."""
    for unit, name in ((pd.Timedelta(days=1), "day"), (pd.Timedelta(hours=1), "hour")):
        if period % unit == pd.Timedelta(0):
            n = period // unit
            return f"{count(n)} {name}{'s' if n != 1 else ''}"
    return f"{period / pd.Timedelta(minutes=1):g} minutes"


def history(per_day: pd.DataFrame) -> str:
    """Requests over the days of ``reports.requests_per_day``: how many and per day, the
    busiest day, the days without any, the 5xx share, and the lowest and highest daily p95."""
    total = int(per_day["count"].sum()) if len(per_day) else 0
    if not total:
        return "No request was recorded, so there is no history to show."
    days = len(per_day)
    first, last = per_day["date"].iloc[0], per_day["date"].iloc[-1]
    if days == 1:
        span = f"on {_day(first)}"
    else:
        span = f"over {count(days)} days, {_day(first)} to {_day(last)}"
    text = f"**{count(total)} requests** {span}"
    if days > 1:
        busiest = per_day.sort_values(["count", "date"], ascending=[False, True], kind="stable")
        top = busiest.iloc[0]
        text += (
            f", {short(total / days)} per day on average; the busiest day was "
            f"{_day(top['date'])} ({count(top['count'])})"
        )
    text += f". {_share(per_day['errors_5xx'].sum(), total)} % ended in a 5xx."
    idle = int((per_day["count"] == 0).sum())
    if idle:
        text += f" {count(idle)} of the {count(days)} days had no request at all."
    p95 = per_day[per_day["duration_p95"].notna()]
    if len(p95) > 1:
        low = p95.sort_values(["duration_p95", "date"], kind="stable").iloc[0]
        high = p95.sort_values(
            ["duration_p95", "date"], ascending=[False, True], kind="stable"
        ).iloc[0]
        text += (
            f" The daily p95 ranged from {ms(low['duration_p95'])} ms ({_day(low['date'])}) "
            f"to {ms(high['duration_p95'])} ms ({_day(high['date'])})."
        )
    elif len(p95):
        text += f" p95 was {ms(p95['duration_p95'].iloc[0])} ms."
    return text


def _changes(rows: pd.DataFrame, n: int) -> str:
    items = [
        f"{code_span(r['group'])}: {_change(r, 95)}, {_change(r, 50)}, over "
        f"{count(r['before_count'])} → {count(r['after_count'])} requests"
        for _, r in rows.head(n).iterrows()
    ]
    more = f" (and {len(rows) - n} more, in the table)" if len(rows) > n else ""
    return "; ".join(items) + more


def period_comparison(table: pd.DataFrame, *, n: int = 3) -> str:
    """What ``reports.period_comparison`` found: the endpoints that got slower and faster
    this period than in the one before (the ``n`` largest changes each), or that none did."""
    info = table.attrs.get("period") or {}
    end = info.get("end")
    if end is None:
        return "No request was recorded, so there is no period to compare."
    start, middle = info["start"], info["middle"]
    length = _days_long(pd.Timestamp(end) - pd.Timestamp(middle))
    head = (
        f"The last {length} ({_span(middle, end)}) against the {length} before "
        f"({_span(start, middle)})"
    )
    least = info.get("min_requests", 0)
    if not len(table):
        return (
            f"{head}: no endpoint had {count(least)} requests with a duration in both, so no "
            "endpoint can be compared."
        )
    slower = table[table["verdict"] == "slower"]
    faster = table[table["verdict"] == "faster"]
    if not len(slower) and not len(faster):
        return (
            f"{head}: none of the {count(len(table))} endpoints with at least {count(least)} "
            "requests in both changed beyond the noise of that many requests."
        )
    parts = []
    if len(slower):
        parts.append(f"{len(slower)} of {len(table)} endpoints got slower: {_changes(slower, n)}.")
    if len(faster):
        parts.append(f"{len(faster)} of {len(table)} endpoints got faster: {_changes(faster, n)}.")
    return f"{head}: " + " ".join(parts)


def deploys_in_range(table: pd.DataFrame, *, n: int = 3) -> str:
    """What ``reports.deploys_in_range`` found: how many events, and those after which
    endpoints got slower (the ``n`` with the most, each with up to ``n`` endpoints)."""
    if not len(table):
        return "No deploy or other event was recorded in this range."
    events = f"{count(len(table))} deploy{'s' if len(table) != 1 else ''} or other events"
    text = f"{events} from {_day(table['datetime'].min())} to {_day(table['datetime'].max())}"
    slower = table[table["endpoints_slower"] > 0]
    if not len(slower):
        compared = int(table["endpoints_compared"].sum())
        return text + (
            f"; after none did an endpoint get clearly slower ({count(compared)} endpoint "
            "comparisons)."
        )
    slower = slower.sort_values(
        ["endpoints_slower", "datetime"], ascending=[False, True], kind="stable"
    )
    items = []
    for _, row in slower.head(n).iterrows():
        names = [code_span(name) for name in row["slower_endpoints"][:n]]
        more = len(row["slower_endpoints"]) - n
        listed = _listing(names) + (f" and {more} more" if more > 0 else "")
        items.append(
            f"{code_span(row['label'])} ({_when(row['datetime'])}): "
            f"{count(row['endpoints_slower'])} ({listed})"
        )
    others = f" (and {len(slower) - n} more)" if len(slower) > n else ""
    return text + (f"; {len(slower)} made endpoints slower: {'; '.join(items)}{others}.")


# --------------------------------------------------------------------------- the rest


def trace(request_id: str | None, steps: pd.DataFrame, requests: pd.DataFrame) -> str:
    """The slowest traced request (``rp.slowest_trace``): its endpoint and duration, its SQL
    time and the longest query, its views."""
    if not request_id:
        return "No request of this window still has a trace (traces expire after 60 minutes)."
    record = requests[requests["request_id"] == request_id]
    about = ""
    if len(record):
        row = record.iloc[0]
        about = (
            f" ({code_span(_endpoint(row))}, {ms(row['duration'])} ms, "
            f"{_when(row['datetime'], seconds=True)})"
        )
    db = steps[steps["group"] == "db"]
    db_ms = db["duration"].astype("float64").sum()
    text = f"Request {code_span(request_id)}{about} ran {count(len(db))} SQL queries"
    text += f" taking {ms(db_ms)} ms in all" if len(db) else ""
    if len(record) and len(db) and not missing(record.iloc[0]["duration"]):
        text += f" ({_share(db_ms, float(record.iloc[0]['duration']))} % of its duration)"
    views = int((steps["group"] == "view").sum())
    text += f" and rendered {count(views)} views."
    if len(db) and db["duration"].notna().any():
        longest = db.loc[db["duration"].astype("float64").idxmax()]
        sql = str(longest["sql"])
        sql = sql if len(sql) <= 90 else sql[:89] + "…"
        text += f" The longest query, {ms(longest['duration'])} ms: {code_span(sql)}."
    return text


def jobs(summary: pd.DataFrame) -> str:
    """Per job kind of ``reports.jobs_summary``: records and p95; the slowest kind by p95."""
    if not len(summary):
        return "No background job, rake task, custom event or Grape request was recorded."
    rows = summary.rename_axis("kind").reset_index()
    rows = rows.sort_values(["records", "kind"], ascending=[False, True], kind="stable")
    items = [
        f"{code_span(kind)} {count(row['records'])} (p95 {duration(row['p95'])})"
        for kind, row in zip(rows["kind"], rows.to_dict("records"), strict=True)
    ]
    text = f"Records per kind: {_listing(items)}."
    ranked = rows[rows["p95"].notna()]
    ranked = ranked.sort_values(["p95", "kind"], ascending=[False, True], kind="stable")
    if len(ranked) > 1:
        top = ranked.iloc[0]
        text += f" The slowest by p95: {code_span(top['kind'])} ({duration(top['p95'])})."
    return text


def resources(samples: pd.DataFrame, *, n: int = 6) -> str:
    """Per server / context / role of ``reports.resources``: peak CPU load, peak memory and
    the least free disk (the first ``n`` targets)."""
    fields = [f for f in ("cpu_one_min", "memory", "disk_available") if f in samples]
    present = samples.dropna(subset=fields, how="all") if fields else samples.iloc[0:0]
    if not len(present):
        return "No resource samples in this window."
    keys = ["server", "context", "role"]
    peaks = present.groupby(keys, observed=True, sort=True)[fields].agg(["max", "min"])
    items = []
    for target, row in peaks.head(n).iterrows():
        parts = []
        if "cpu_one_min" in fields:
            parts.append(f"CPU load up to {_fixed2(row[('cpu_one_min', 'max')])}")
        if "memory" in fields:
            parts.append(f"memory up to {human_bytes(row[('memory', 'max')])}")
        if "disk_available" in fields:
            parts.append(f"free disk down to {human_bytes(row[('disk_available', 'min')])}")
        items.append(f"{code_span(' / '.join(map(str, target)))}: {', '.join(parts)}")
    more = f" (and {len(peaks) - n} more)" if len(peaks) > n else ""
    targets = "target" if len(peaks) == 1 else "targets"
    span = _span(present["minute"].min(), present["minute"].max())
    return (
        f"{count(len(peaks))} {targets} (server / context / role) with samples {span}: "
        + "; ".join(items)
        + f"{more}."
    )


def _fixed2(value: Any) -> str:
    return "–" if missing(value) else f"{float(value):.2f}"
