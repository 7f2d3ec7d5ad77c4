"""Jobs and the other timed kinds: sidekiq, delayed_job, grape, rake and custom records.

Each kind's ``n`` records are spread over the window (:class:`.Timeline`) and built slice by
slice by the kind's builder; :data:`TIMED_BUILDERS` lists them in the order they are generated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..kinds import CUSTOM, DELAYED_JOB, GRAPE, RAKE, SIDEKIQ, RecordKind
from ._catalogue import (
    AWKWARD_PATH_SHARE,
    AWKWARD_QUERIES,
    CUSTOM_BLOCKS,
    DELAYED_JOBS,
    GRAPE_ENDPOINTS,
    RAKE_TASKS,
    SEARCH_TERMS,
    SIDEKIQ_ERRORS,
    SIDEKIQ_WORKERS,
)
from ._encoding import RecordBatch, ruby_json
from ._timeline import (
    CHUNK_RECORDS,
    COUNTS_STREAM,
    Timeline,
    Window,
    hex_ids,
    lognormal,
    minute_text,
    remaining_ttls,
    rounded_list,
    stream_rng,
)

Builder = Callable[[np.random.Generator, np.ndarray, int], tuple[list[str], list[str]]]
"""``build(rng, epochs, done)``: keys and values of records at ``epochs`` (``done`` so far)."""


def _weights(table: Sequence[tuple[Any, ...]], column: int) -> np.ndarray:
    weights = np.array([row[column] for row in table], dtype=float)
    return weights / weights.sum()


def timed_batches(
    kind: RecordKind,
    n: int,
    window: Window,
    seed: int,
    build: Builder,
    max_records: int = CHUNK_RECORDS,
    distinct: bool = False,
) -> Iterator[RecordBatch]:
    """Batches of ``n`` records of ``kind`` built slice by slice by ``build(rng, epochs, done)``."""
    timeline = Timeline.build(n, window, stream_rng(seed, kind.name, COUNTS_STREAM), spiky=False)
    done = 0
    for number, (i, j) in enumerate(timeline.slices(max_records), start=1):
        rng = stream_rng(seed, kind.name, number)
        epochs = timeline.times(rng, i, j, distinct)
        keys, values = build(rng, epochs, done)
        done += len(keys)
        yield RecordBatch(kind, keys, values, remaining_ttls(kind, epochs, window.end))


def _sidekiq(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    worker = rng.choice(len(SIDEKIQ_WORKERS), size=n, p=_weights(SIDEKIQ_WORKERS, 2))
    table = SIDEKIQ_WORKERS
    median = np.array([row[3] for row in table])[worker]
    sigma = np.array([row[4] for row in table])[worker]
    failed = rng.random(n) < np.array([row[5] for row in table])[worker]
    duration = rounded_list(lognormal(rng, median, sigma))
    # `datetimei` is when the job was created (== enqueued here); `datetime` and `start_timei`
    # when it started. The wait is kept inside the minute so that datetime and datetimei agree.
    wait = np.minimum(rng.exponential(1.5, size=n).astype(np.int64), epochs % 60)
    created = (epochs - wait).tolist()
    message = rng.integers(0, len(SIDEKIQ_ERRORS), size=n).tolist()
    jids = hex_ids(rng, n, 12)
    keys, values = [], []
    rows = zip(
        worker.tolist(),
        failed.tolist(),
        duration,
        minute_text(epochs),
        epochs.tolist(),
        created,
        jids,
        message,
        strict=True,
    )
    for w, bad, dur, dt, start, made, jid, msg in rows:
        queue, name = table[w][0], table[w][1]
        keys.append(
            SIDEKIQ.format_key(
                {
                    "queue": queue,
                    "worker": name,
                    "jid": jid,
                    "datetime": dt,
                    "datetimei": made,
                    "enqueued_ati": made,
                    "start_timei": start,
                    "status": "exception" if bad else "success",
                }
            )
        )
        values.append(ruby_json({"message": SIDEKIQ_ERRORS[msg] if bad else None, "duration": dur}))
    return keys, values


def _delayed_job(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    job = rng.choice(len(DELAYED_JOBS), size=n, p=_weights(DELAYED_JOBS, 3))
    median = np.array([row[4] for row in DELAYED_JOBS])[job]
    sigma = np.array([row[5] for row in DELAYED_JOBS])[job]
    duration = rounded_list(lognormal(rng, median, sigma))
    failed = (rng.random(n) < 0.02).tolist()
    keys, values = [], []
    rows = zip(job.tolist(), failed, duration, minute_text(epochs), epochs.tolist(), strict=True)
    for number, (j, bad, dur, dt, epoch) in enumerate(rows, start=100_001 + done):
        source_type, class_name, method_name = DELAYED_JOBS[j][:3]
        keys.append(
            DELAYED_JOB.format_key(
                {
                    "jid": number,
                    "datetime": dt,
                    "datetimei": epoch,
                    "source_type": source_type,
                    "class_name": class_name,
                    "method_name": method_name,
                    "status": "error" if bad else "success",
                }
            )
        )
        values.append(ruby_json({"duration": dur}))
    return keys, values


def _grape_paths(rng: np.random.Generator, endpoint: np.ndarray) -> list[str]:
    """Each Grape request's path: its endpoint's, filled in, a few with an awkward query."""
    n = len(endpoint)
    ids = rng.integers(1, 50_000, size=n).tolist()
    terms = rng.integers(0, len(SEARCH_TERMS), size=n).tolist()
    awkward = (rng.random(n) < AWKWARD_PATH_SHARE).tolist()
    awkward_choice = rng.integers(0, len(AWKWARD_QUERIES), size=n).tolist()
    paths = []
    for i, e in enumerate(endpoint.tolist()):
        path = GRAPE_ENDPOINTS[e][1].format(id=ids[i], q=SEARCH_TERMS[terms[i]])
        if awkward[i]:
            path = path.split("?", 1)[0] + "?" + AWKWARD_QUERIES[awkward_choice[i]]
        paths.append(path)
    return paths


def _grape(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
    n = len(epochs)
    table = GRAPE_ENDPOINTS
    endpoint = rng.choice(len(table), size=n, p=_weights(table, 2))
    run = lognormal(
        rng,
        np.array([row[3] for row in table])[endpoint],
        np.array([row[4] for row in table])[endpoint],
    )
    render = rounded_list(rng.gamma(2.0, 0.05, size=n))
    fmt = rounded_list(rng.gamma(2.0, 0.4, size=n))
    outcome = rng.random(n)
    status = np.array([row[5] for row in table])[endpoint]
    status[outcome < 0.02] = 401
    status[outcome < 0.01] = 404
    status[outcome < 0.003] = 500
    paths = _grape_paths(rng, endpoint)
    request_ids = hex_ids(rng, n, 16)
    keys, values = [], []
    rows = zip(
        endpoint.tolist(),
        status.tolist(),
        minute_text(epochs),
        epochs.tolist(),
        paths,
        request_ids,
        zip(rounded_list(run), render, fmt, strict=True),
        strict=True,
    )
    for e, status_code, minute, epoch, path, request_id, (run_ms, render_ms, fmt_ms) in rows:
        fields = {"datetime": minute, "datetimei": epoch, "format": "json", "path": path}
        fields |= {"status": status_code, "method": table[e][0], "request_id": request_id}
        keys.append(GRAPE.format_key(fields))
        timings = {"endpoint_render.grape": render_ms, "endpoint_run.grape": run_ms}
        values.append(ruby_json(timings | {"format_response.grape": fmt_ms}))
    return keys, values


def _simple_durations(
    kind: RecordKind,
    table: Sequence[tuple[Any, ...]],
    fields: Callable[[tuple[Any, ...]], dict],
    failure_share: float,
) -> Callable[[np.random.Generator, np.ndarray, int], tuple[list, list]]:
    """A builder for kinds whose value is just ``{"duration": ms}`` (rake, custom)."""

    def build(rng: np.random.Generator, epochs: np.ndarray, done: int) -> tuple[list, list]:
        n = len(epochs)
        row = rng.choice(len(table), size=n, p=_weights(table, -3))
        duration = rounded_list(
            lognormal(
                rng, np.array([r[-2] for r in table])[row], np.array([r[-1] for r in table])[row]
            )
        )
        failed = (rng.random(n) < failure_share).tolist()
        keys, values = [], []
        for r, bad, dur, dt, epoch in zip(
            row.tolist(), failed, duration, minute_text(epochs), epochs.tolist(), strict=True
        ):
            keys.append(
                kind.format_key(
                    {
                        **fields(table[r]),
                        "datetime": dt,
                        "datetimei": epoch,
                        "status": "error" if bad else "success",
                    }
                )
            )
            values.append(ruby_json({"duration": dur}))
        return keys, values

    return build


_rake = _simple_durations(RAKE, RAKE_TASKS, lambda row: {"task": ruby_json(row[0])}, 0.03)
_custom = _simple_durations(
    CUSTOM, CUSTOM_BLOCKS, lambda row: {"tag_name": row[0], "namespace_name": row[1]}, 0.02
)


# Generated in this order. rake and custom keys hold no id: their records get distinct seconds
# so that none collide.
TIMED_BUILDERS: dict[str, tuple[RecordKind, Builder, bool]] = {
    "sidekiq": (SIDEKIQ, _sidekiq, False),
    "delayed_job": (DELAYED_JOB, _delayed_job, False),
    "grape": (GRAPE, _grape, False),
    "rake": (RAKE, _rake, True),
    "custom": (CUSTOM, _custom, True),
}
"""Kind name: ``(kind, builder, distinct)`` (``distinct``: no two records share a second)."""
