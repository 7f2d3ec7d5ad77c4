"""The report's first screen: what is slow, what broke, what changed at a deploy, which jobs
fail, in a few lines, each computed from the report's own tables.

Every figure comes from the frames given, rounded by :mod:`rp_toolkit.units`; recorded text
(endpoints, deploy names, exception classes, workers) appears only as code spans.
"""

from __future__ import annotations

import pandas as pd

from ...markup import code_span
from ...units import count, duration, signed_percent

__all__ = ["at_a_glance", "deploy_regressions", "traffic_and_latency"]


COVERED = 0.9
"""The share of the window before that its records must span for a change to be given."""


def _span_text(span: pd.Timedelta) -> str:
    minutes = span / pd.Timedelta(minutes=1)
    if minutes < 1:
        return "less than a minute"
    return f"{minutes:.0f} minutes" if minutes < 120 else _window_text(span.round("h"))


def _window_text(window: pd.Timedelta) -> str:
    hours = window / pd.Timedelta(hours=1)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours / 24:g} days"
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def traffic_and_latency(change: pd.DataFrame, window: pd.Timedelta) -> str:
    """Requests and p50/p95/p99 of the window (``reports.window_change``), with the change
    against the window before it, or why there is none."""
    current = change["current"]
    if not current["requests"]:
        return f"No request was recorded in the last {_window_text(window)}."
    text = (
        f"**{count(current['requests'])} requests** in {_window_text(window)}: p50 "
        f"{duration(current['p50'])}, p95 {duration(current['p95'])}, p99 "
        f"{duration(current['p99'])}"
    )
    previous = change["previous"]
    span = change.attrs.get("previous_span", pd.NaT)
    if pd.isna(previous["requests"]) or pd.isna(span) or span < window * COVERED:
        held = (
            "hold no request"
            if pd.isna(previous["requests"])
            else f"are held only in part (records over {_span_text(span)})"
        )
        return (
            f"{text}. The {_window_text(window)} before {held}, so there is no change to give "
            "(Redis keeps the gem's records for hours; `rp-toolkit archive` keeps them longer)."
        )
    pct = change["change_pct"]
    return (
        f"{text}; against the {_window_text(window)} before: requests "
        f"{signed_percent(pct['requests'])} %, p95 {signed_percent(pct['p95'])} % (was "
        f"{duration(previous['p95'])}), p99 {signed_percent(pct['p99'])} %."
    )


def _slowest_endpoints(requests_table: pd.DataFrame, n: int) -> str:
    top = requests_table.dropna(subset=["duration_p95"])
    top = top.sort_values(["duration_p95", "group"], ascending=[False, True], kind="stable")
    if not len(top):
        return "No endpoint has a duration to rank."
    items = [
        f"{code_span(row['group'])} {duration(row['duration_p95'])}"
        for _, row in top.head(n).iterrows()
    ]
    return f"Slowest endpoints by p95: {', '.join(items)}."


def deploy_regressions(by_endpoint: pd.DataFrame, n: int = 3) -> str:
    """The deploys (``reports.deploy_impact_by_endpoint``) after which endpoints got slower
    beyond noise, each with up to ``n`` of them, or that none did."""
    if not len(by_endpoint):
        return "No deploy in the window had enough requests on both sides to compare."
    slower = by_endpoint[by_endpoint["verdict"] == "slower"]
    if not len(slower):
        return "No deploy in the window made an endpoint slower beyond noise."
    parts = []
    for (_, label), rows in slower.groupby(["datetime", "label"], sort=True, observed=True):
        names = ", ".join(
            f"{code_span(row['group'])} (p95 {signed_percent(row['p95_change_pct'])} %)"
            for _, row in rows.head(n).iterrows()
        )
        more = f" and {count(len(rows) - n)} more" if len(rows) > n else ""
        parts.append(f"after {code_span(label)}: {names}{more}")
    return f"Slower beyond noise {'; '.join(parts)}."


def _exceptions(groups: pd.DataFrame) -> str:
    if not len(groups):
        return "No request raised an exception."
    top = groups.iloc[0]
    total = int(groups["count"].sum())
    return (
        f"**{count(total)} requests raised exceptions** in {count(len(groups))} group"
        f"{'s' if len(groups) != 1 else ''}; the most: {code_span(top['exception_class'])} in "
        f"{code_span(top['group'])} ({count(top['count'])})."
    )


def _failed_jobs(failed: pd.DataFrame) -> str:
    if not len(failed):
        return "No job failed."
    names = failed.groupby(["system", "name"], sort=False, observed=True).size()
    names = names.sort_values(ascending=False, kind="stable")
    (system, name), most = names.index[0], int(names.iloc[0])
    return (
        f"**{count(len(failed))} jobs failed**; the most from {code_span(name)} ({system}, "
        f"{count(most)})."
    )


def at_a_glance(
    change: pd.DataFrame,
    window: pd.Timedelta,
    requests_table: pd.DataFrame,
    by_endpoint: pd.DataFrame,
    exception_groups: pd.DataFrame,
    failed_jobs: pd.DataFrame,
    *,
    n: int = 5,
) -> str:
    """The first screen as a Markdown list: traffic and latency against the window before,
    the ``n`` slowest endpoints by p95, deploy regressions, exceptions, failed jobs."""
    lines = [
        traffic_and_latency(change, window),
        _slowest_endpoints(requests_table, n),
        deploy_regressions(by_endpoint),
        _exceptions(exception_groups),
        _failed_jobs(failed_jobs),
    ]
    return "\n".join(f"* {line}" for line in lines)
