"""Sentences on the job kinds per worker and on their failures (``reports.jobs_by_worker``,
``reports.failed_jobs``).

Every figure comes from the frames given, rounded by :mod:`rp_toolkit.units`; recorded text
(worker and class names, statuses, messages) appears only as code spans
(:func:`rp_toolkit.markup.code_span`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...markup import code_span
from ...units import count, duration, percent, short
from .._jobs import JOB_KINDS, JOB_LABELS, http_status

__all__ = ["failed_jobs", "jobs_by_worker"]

_NOUNS: dict[str, tuple[str, str]] = {
    "sidekiq": ("job", "jobs"),
    "delayed_job": ("job", "jobs"),
    "custom": ("block", "blocks"),
    "rake": ("task run", "task runs"),
    "grape": ("request", "requests"),
}


_NAMES: dict[str, tuple[str, str]] = {
    "sidekiq": ("worker", "workers"),
    "delayed_job": ("class and method", "classes and methods"),
    "custom": ("tag", "tags"),
    "rake": ("task list", "task lists"),
    "grape": ("route", "routes"),
}


def _label(system: str) -> str:
    """``Sidekiq``; an unknown system's name as code."""
    return JOB_LABELS[system] if system in JOB_LABELS else code_span(system)


def _noun(system: str, n: int, nouns: dict[str, tuple[str, str]] = _NOUNS) -> str:
    """``927 jobs``, ``1 task run``: ``n`` with the system's noun."""
    one, many = nouns.get(system, ("record", "records"))
    return f"{count(n)} {one if n == 1 else many}"


def _things(system: str, n: int) -> str:
    """``927 Sidekiq jobs``, ``1 rake task run``."""
    number, noun = _noun(system, n).split(" ", 1)
    return f"{number} {_label(system)} {noun}"


def _systems(systems: pd.Series) -> list[str]:
    """The systems present, in :data:`JOB_KINDS` order, then any other by name."""
    present = set(systems.astype(str))
    return [s for s in JOB_KINDS if s in present] + sorted(present - set(JOB_KINDS))


def _ranked(values: pd.Series) -> pd.Series:
    """Counts of ``values`` (text), most first, ties by text."""
    counted = values.astype(str).value_counts()
    frame = counted.rename_axis("text").reset_index(name="n")
    frame = frame.sort_values(["n", "text"], ascending=[False, True], kind="stable")
    return frame.set_index("text")["n"]


def _share(part: float, whole: float) -> str:
    return percent(part / whole * 100 if whole else float("nan"))


def _listing(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {last} " + items[-1]


def _failed_system(rows: pd.DataFrame, system: str, totals: pd.DataFrame | None) -> str:
    n = len(rows)
    statuses = _ranked(rows["status"])
    shown = [code_span(s) for s in statuses.index[:3]]
    if http_status(system):
        ended = f"a 5xx ({_listing(shown, 'or')})"
    elif len(statuses) == 1:
        ended = shown[0]
    else:
        ended = _listing([f"{s} ({count(k)})" for s, k in zip(shown, statuses, strict=False)], "or")
    text = f"**{_things(system, n)}** ended in {ended}"
    if totals is not None:
        of = int(totals.loc[totals["system"] == system, "count"].sum())
        if of:
            text += f" ({_share(n, of)} % of {count(of)})"
    names = _ranked(rows["name"])
    top = f"{code_span(names.index[0])} ({count(names.iloc[0])}, {_share(names.iloc[0], n)} %)"
    if len(names) == 1:
        text += f"; all from {code_span(names.index[0])}."
    else:
        following = f"{code_span(names.index[1])} ({count(names.iloc[1])})"
        text += f"; the most from {top}, then {following}."
    messages = _ranked(rows.loc[rows["message"].fillna("").astype(str) != "", "message"])
    if len(messages):
        commonest = code_span(messages.index[0])
        text += f" The commonest message ({count(messages.iloc[0])}): {commonest}."
    return text


def failed_jobs(failed: pd.DataFrame, *, by_worker: pd.DataFrame | None = None) -> str:
    """Per system of ``reports.failed_jobs``: how many records failed and with which status
    (with ``by_worker``, ``reports.jobs_by_worker``: of how many), the worker or class with
    the most failures and the next, and the commonest message."""
    if not len(failed):
        if by_worker is not None and not len(by_worker):
            return "No background job, rake task, custom block or Grape request was recorded."
        return "No job, rake task, custom block or Grape request failed."
    return " ".join(
        _failed_system(failed[failed["system"].astype(str) == system], system, by_worker)
        for system in _systems(failed["system"])
    )


def _compare(top: Any, after: Any) -> str:
    """How ``top``'s p95 compares with ``after``'s: ``337 × the next`` or ``+12.0 %``."""
    high, low = float(top["duration_p95"]), float(after["duration_p95"])
    if low <= 0:
        return f"the next is {code_span(after['name'])} ({duration(low)})"
    ratio = high / low
    how = f"{short(ratio)} × that of" if ratio >= 1.995 else f"{_share(high - low, low)} % above"
    return f"{how} the next, {code_span(after['name'])} ({duration(low)})"


def _by_worker_system(rows: pd.DataFrame, system: str) -> str:
    label = _label(system)
    names = _noun(system, len(rows), _NAMES)
    text = f"**{label[:1].upper()}{label[1:]}**: {names}, {_noun(system, int(rows['count'].sum()))}"
    ranked = rows[rows["duration_p95"].notna()].sort_values(
        ["duration_p95", "count", "name"], ascending=[False, False, True], kind="stable"
    )
    if len(ranked):
        top = ranked.iloc[0]
        text += (
            f"; the highest p95 is {code_span(top['name'])}'s, {duration(top['duration_p95'])} "
            f"over {_noun(system, int(top['count']))}"
        )
        text += f", {_compare(top, ranked.iloc[1])}" if len(ranked) > 1 else ""
    failing = rows[rows["failures"] > 0].sort_values(
        ["failure_rate", "failures", "name"], ascending=[False, False, True], kind="stable"
    )
    if len(failing):
        worst = failing.iloc[0]
        text += (
            f". The highest failure rate: {code_span(worst['name'])}, "
            f"{percent(worst['failure_rate'], share=True)} % ({count(worst['failures'])} of "
            f"{count(worst['count'])})"
        )
    return text + "."


def jobs_by_worker(table: pd.DataFrame) -> str:
    """Per system of ``reports.jobs_by_worker``: how many names and records, the name with the
    highest p95 against the next, and the highest failure rate."""
    if not len(table):
        return "No background job, rake task, custom block or Grape request was recorded."
    return " ".join(
        _by_worker_system(table[table["system"].astype(str) == system], system)
        for system in _systems(table["system"])
    )
