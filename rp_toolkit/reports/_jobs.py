"""The job kinds per worker or class, and their failures: what the gem's job pages show as a
list of records, summed up per system and worker.

A *system* is a job kind (:data:`JOB_KINDS`: ``sidekiq``, ``delayed_job``, ``custom``,
``rake``, ``grape``); a *name* is what runs in it (:data:`NAME_RULES`). A record *failed*
when its status says so (:func:`failed`): the gem writes ``success`` or ``exception`` for
Sidekiq and ``success`` or ``error`` for Delayed::Job, rake and custom blocks; a kind whose
status is an HTTP status (Grape's, an ``int`` key field) failed on a 5xx. What differs per
kind is read from its :class:`~rp_toolkit.kinds.RecordKind` (duration field, status type,
record id) or from the tables below (labels, name rules), never from comparing its name.

Pure and vectorised: names and statuses are worked out once per distinct value, never per
record; percentiles are :func:`._groups.group_percentiles` (the gem's, one sort for all
groups).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..kinds import GRAPE, KINDS
from ._groups import PERCENTILES, floats, group_percentiles

__all__ = [
    "FAILED_STATUSES",
    "FAILED_JOB_COLUMNS",
    "GRAPE_DURATION_FIELD",
    "JOB_KINDS",
    "JOB_LABELS",
    "NAME_RULES",
    "WORKER_COLUMNS",
    "duration_field",
    "failed",
    "http_status",
    "failed_jobs",
    "job_names",
    "jobs_by_worker",
]

JOB_KINDS = ("sidekiq", "delayed_job", "custom", "rake", "grape")
"""The kinds the gem's job pages show, in the dashboard's order."""
GRAPE_DURATION_FIELD: str = GRAPE.duration_field or "duration"
"""Grape's span for the whole endpoint (filters, the endpoint block and rendering)."""
JOB_LABELS = {
    "sidekiq": "Sidekiq",
    "delayed_job": "Delayed::Job",
    "custom": "custom",
    "rake": "rake",
    "grape": "Grape",
}
"""How each system is named for people (tables, sentences)."""
NAME_RULES = {
    "sidekiq": "the worker class (`worker`)",
    "delayed_job": "`class_name#method_name`",
    "custom": "`namespace_name/tag_name`",
    "rake": "the task list (`task`, several tasks joined by `, `)",
    "grape": "`METHOD /path`: the path without its query string, each all-digit segment "
    "as `:id` (one row per route, not per record)",
}
"""What ``name`` is per system; a missing part is empty text."""
FAILED_STATUSES = frozenset({"exception", "error", "errored", "failed", "failure", "fail"})
"""Statuses (compared without case and surrounding blanks) that mean a job failed."""
WORKER_COLUMNS = [
    "system",
    "name",
    "count",
    "failures",
    "failure_rate",
    *(f"duration_p{p}" for p in PERCENTILES),
]
""":func:`jobs_by_worker`'s columns."""
FAILED_JOB_COLUMNS = [
    "system",
    "name",
    "queue",
    "status",
    "datetime",
    "duration",
    "message",
    "jid",
]
""":func:`failed_jobs`' columns."""

_NAME_PARTS: dict[str, tuple[tuple[str, ...], str]] = {
    "sidekiq": (("worker",), "{}"),
    "delayed_job": (("class_name", "method_name"), "{}#{}"),
    "custom": (("namespace_name", "tag_name"), "{}/{}"),
    "rake": (("task",), "{}"),
    "grape": (("method", "path"), "{} {}"),
}
"""The columns a record's name is made of, per system, and how they are joined
(:data:`NAME_RULES` says it for people); a ``path`` is named by its route (:func:`_route`)."""
_RECORD_IDS = ("jid", "request_id")
"""The key fields that identify a job's record, the first a kind has (none: ``""``)."""

_ID_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")


def duration_field(kind: str) -> str:
    """The column that holds a record's duration (ms): the kind's
    :attr:`~rp_toolkit.kinds.RecordKind.duration_field` (Grape's ``endpoint_run.grape``);
    ``duration`` for a name that is not a kind."""
    known = KINDS.get(kind)
    return (known.duration_field if known else None) or "duration"


def http_status(kind: str) -> bool:
    """Whether ``kind``'s ``status`` is an HTTP status (an ``int`` key field, as Grape's), so
    a 5xx is its failure; False for a name that is not a kind."""
    known = KINDS.get(kind)
    return known is not None and known.key_types.get("status") == "int"


def _record_id(kind: str) -> str:
    """The column that identifies a record of ``kind`` (:data:`_RECORD_IDS`)."""
    fields = KINDS[kind].key_fields
    return next((name for name in _RECORD_IDS if name in fields), _RECORD_IDS[0])


def _texts(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the distinct texts of ``series`` (null as ``""``, always the last text)."""
    codes, uniques = pd.factorize(series)
    texts = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype("string")
    texts = np.append(texts.fillna("").to_numpy(dtype=object), "")
    return np.where(codes < 0, len(texts) - 1, codes).astype(np.intp), texts


def _route(path: str) -> str:
    return _ID_SEGMENT.sub("/:id", path.split("?", 1)[0])


def job_names(frame: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Each record's name (:data:`NAME_RULES`) as codes into the distinct names, and those
    names (object array of text); the text is built once per distinct combination."""
    columns, pattern = _NAME_PARTS[kind]
    coded = [_texts(frame[column]) for column in columns]
    if "path" in columns:
        at = columns.index("path")
        codes, paths = coded[at]
        coded[at] = codes, np.array([_route(path) for path in paths], dtype=object)
    combined = np.zeros(len(frame), dtype=np.int64)
    for codes, texts in coded:
        combined = combined * len(texts) + codes
    combo, uniques = pd.factorize(combined)
    texts = []
    for number in np.asarray(uniques, dtype=np.int64).tolist():
        pieces = []
        for _, values in reversed(coded):
            number, at = divmod(number, len(values))
            pieces.append(values[at])
        texts.append(pattern.format(*reversed(pieces)))
    name_of, names = pd.factorize(np.asarray(texts, dtype=object))
    return name_of[combo].astype(np.intp), np.asarray(names, dtype=object)


def failed(frame: pd.DataFrame, kind: str) -> np.ndarray:
    """Whether each record failed: a status in :data:`FAILED_STATUSES`, or for a kind whose
    status is an HTTP status (:func:`http_status`: Grape) one from 500 to 599. A missing
    status is not a failure."""
    if http_status(kind):
        status = floats(pd.to_numeric(frame["status"], errors="coerce").astype("Float64"))
        return (status >= 500) & (status < 600)
    codes, texts = _texts(frame["status"])
    bad = np.array([text.strip().lower() in FAILED_STATUSES for text in texts], dtype=bool)
    return bad[codes]


def _systems(jobs: dict[str, pd.DataFrame]) -> list[str]:
    return [kind for kind in JOB_KINDS if kind in jobs and len(jobs[kind])]


def jobs_by_worker(jobs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per system and name (:data:`NAME_RULES`) of the job kinds in ``jobs`` (a
    :data:`JOB_KINDS` name to its frame; other names and empty frames are left out).

    Columns (:data:`WORKER_COLUMNS`): ``system`` (the kind), ``name``, ``count`` (records),
    ``failures`` (records that :func:`failed`), ``failure_rate`` (``failures / count``),
    ``duration_p50``, ``duration_p95``, ``duration_p99`` (ms, the gem's percentile of
    :func:`duration_field`, nulls ignored; NaN when a name has none). Ordered by system
    (:data:`JOB_KINDS` order), then p95 descending (NaN last), then count descending, then
    name.
    """
    tables = []
    for kind in _systems(jobs):
        frame = jobs[kind]
        codes, names = job_names(frame, kind)
        n = len(names)
        table = pd.DataFrame(
            {
                "system": pd.array([kind] * n, dtype="string"),
                "name": pd.array(names, dtype="string"),
                "count": np.bincount(codes, minlength=n).astype("int64"),
                "failures": np.bincount(codes, weights=failed(frame, kind), minlength=n).astype(
                    "int64"
                ),
            }
        )
        found = group_percentiles(codes, floats(frame[duration_field(kind)]), n, PERCENTILES)
        for p in PERCENTILES:
            table[f"duration_p{p}"] = found[p]
        table = table.sort_values(
            ["duration_p95", "count", "name"],
            ascending=[False, False, True],
            kind="stable",
            na_position="last",
        )
        tables.append(table)
    if not tables:
        return _empty_workers()
    table = pd.concat(tables, ignore_index=True)
    table.insert(4, "failure_rate", (table["failures"] / table["count"]).astype("float64"))
    return table[WORKER_COLUMNS]


def _empty_workers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "system": pd.array([], dtype="string"),
            "name": pd.array([], dtype="string"),
            "count": np.array([], dtype="int64"),
            "failures": np.array([], dtype="int64"),
            "failure_rate": np.array([], dtype="float64"),
            **{f"duration_p{p}": np.array([], dtype="float64") for p in PERCENTILES},
        }
    )


def _column_text(frame: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """``column``'s text at ``rows`` (null as ``""``); ``""`` everywhere when it is absent."""
    if column not in frame:
        return np.full(len(rows), "", dtype=object)
    codes, texts = _texts(frame[column])
    return texts[codes[rows]]


def failed_jobs(jobs: dict[str, pd.DataFrame], limit: int | None = None) -> pd.DataFrame:
    """The records that :func:`failed`, of every job kind in ``jobs``, newest first (by
    ``datetimei``; ties in :data:`JOB_KINDS` order, then the input's order); ``limit`` keeps
    the first rows (None: all).

    Columns (:data:`FAILED_JOB_COLUMNS`): ``system``, ``name`` (:data:`NAME_RULES`),
    ``queue`` (Sidekiq's; ``""`` for the others), ``status`` (as recorded, Grape's as text),
    ``datetime`` (UTC), ``duration`` (ms, :func:`duration_field`), ``message`` (Sidekiq's
    error message, whole; ``""`` where there is none), ``jid`` (the job id of Sidekiq and
    Delayed::Job, Grape's request id; ``""`` for rake and custom).
    """
    parts = []
    for kind in _systems(jobs):
        frame = jobs[kind]
        rows = np.flatnonzero(failed(frame, kind))
        if not len(rows):
            continue
        codes, names = job_names(frame, kind)
        id_column = _record_id(kind)
        parts.append(
            pd.DataFrame(
                {
                    "system": kind,
                    "name": names[codes[rows]],
                    "queue": _column_text(frame, "queue", rows),
                    "status": _column_text(frame, "status", rows),
                    "datetime": frame["datetime"].array[rows],
                    "duration": floats(frame[duration_field(kind)])[rows],
                    "message": _column_text(frame, "message", rows),
                    "jid": _column_text(frame, id_column, rows),
                    "datetimei": frame["datetimei"].to_numpy(dtype="int64")[rows],
                }
            )
        )
    if not parts:
        return _empty_failed()
    table = pd.concat(parts, ignore_index=True)
    table = table.sort_values("datetimei", ascending=False, kind="stable")
    table = table if limit is None else table.head(limit)
    out = table[FAILED_JOB_COLUMNS].reset_index(drop=True)
    for column in ("system", "name", "queue", "status", "message", "jid"):
        out[column] = out[column].astype("string")
    out["datetime"] = pd.to_datetime(out["datetime"], utc=True)
    out["duration"] = out["duration"].astype("float64")
    return out


def _empty_failed() -> pd.DataFrame:
    text = {c: pd.array([], dtype="string") for c in ("system", "name", "queue", "status")}
    return pd.DataFrame(
        {
            **text,
            "datetime": pd.to_datetime(pd.Series([], dtype="int64"), unit="s", utc=True),
            "duration": np.array([], dtype="float64"),
            "message": pd.array([], dtype="string"),
            "jid": pd.array([], dtype="string"),
        }
    )
