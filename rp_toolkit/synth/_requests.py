"""Request records and their traces: ``n`` requests to the simulated shop over a window.

Requests are generated in time slices of whole minutes (at most :data:`.CHUNK_RECORDS` records
each, unless one minute holds more); each slice draws from its own random stream, and the
traces of the requests of the last hour from another.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ..exceptions import InvalidArgumentError
from ..kinds import REQUESTS, TRACE
from ._catalogue import (
    AWKWARD_PATH_SHARE,
    AWKWARD_QUERIES,
    BACKTRACE_FRAMES,
    CUSTOM_DATA,
    CUSTOM_DATA_SHARE,
    ENDPOINT_DB,
    ENDPOINT_JSON,
    ENDPOINT_MEDIAN,
    ENDPOINT_OK,
    ENDPOINT_QUERIES,
    ENDPOINT_SIGMA,
    ENDPOINT_VIEW,
    ENDPOINTS,
    ERROR_SHARE_404,
    ERROR_SHARE_500,
    EXCEPTIONS,
    POPULARITY,
    REFERERS,
    REGRESSION,
    SEARCH_TERMS,
    SQL,
    Endpoint,
)
from ._encoding import RecordBatch, ruby_json
from ._events import deploy_times
from ._timeline import (
    CHUNK_RECORDS,
    COUNTS_STREAM,
    Timeline,
    Window,
    check_seed,
    hex_ids,
    lognormal,
    minute_text,
    remaining_ttls,
    rounded_list,
    stream_rng,
)


def _controller_file(controller: str) -> str:
    parts = controller.split("::")
    snake = ["".join("_" + c.lower() if c.isupper() else c for c in p).lstrip("_") for p in parts]
    return "app/controllers/" + "/".join(snake) + ".rb"


@dataclass
class _RequestChunk:
    keys: list[str]
    values: list[str]
    epochs: np.ndarray
    request_ids: list[str]
    endpoint: np.ndarray
    db_runtime: np.ndarray
    view_runtime: np.ndarray  # NaN where nothing was rendered


REGRESSED_ENDPOINT = next(
    number for number, e in enumerate(ENDPOINTS) if (e.controller, e.action) == REGRESSION[:2]
)


@dataclass
class _Timings:
    """What each request was and how long it took: endpoint index, HTTP status and times (ms)."""

    endpoint: np.ndarray
    status: np.ndarray
    duration: np.ndarray
    db_runtime: np.ndarray
    view_runtime: np.ndarray  # NaN where nothing was rendered


def _draw_timings(
    rng: np.random.Generator, epochs: np.ndarray, regression_from: float | None
) -> _Timings:
    """Each request's endpoint, status, duration and its database and view shares."""
    n = len(epochs)
    endpoint = rng.choice(len(ENDPOINTS), size=n, p=POPULARITY)
    duration = np.maximum(0.5, lognormal(rng, ENDPOINT_MEDIAN[endpoint], ENDPOINT_SIGMA[endpoint]))
    if regression_from is not None:  # the catalogue's regression, shipped with a deploy
        duration[(endpoint == REGRESSED_ENDPOINT) & (epochs >= regression_from)] *= REGRESSION[2]

    outcome = rng.random(n)
    status = ENDPOINT_OK[endpoint].copy()
    failed_form = (status == 302) & (rng.random(n) < 0.06)  # re-rendered with errors
    status[failed_form] = 422
    status[outcome < ERROR_SHARE_404 + ERROR_SHARE_500] = 404
    status[outcome < ERROR_SHARE_500] = 500
    is_404, is_500 = status == 404, status == 500
    duration[is_404] *= 0.3

    db_mean = ENDPOINT_DB[endpoint]
    db_share = np.where(
        db_mean > 0,
        rng.beta(np.maximum(db_mean, 1e-3) * 20, np.maximum(1 - db_mean, 1e-3) * 20),
        0.0,
    )
    db_runtime = duration * db_share * 0.9
    view_mean = np.where(failed_form, 0.6, ENDPOINT_VIEW[endpoint])
    view_share = rng.beta(np.maximum(view_mean, 1e-3) * 20, np.maximum(1 - view_mean, 1e-3) * 20)
    view_runtime = (duration - db_runtime) * view_share * 0.9
    no_view = (view_mean == 0) | is_404 | is_500 | (status == 204)
    no_view |= ENDPOINT_JSON[endpoint] & (rng.random(n) < 0.3)  # `render json:` without a view
    view_runtime[no_view] = np.nan
    return _Timings(endpoint, status, duration, db_runtime, view_runtime)


@dataclass
class _Details:
    """The rest of each request's record, drawn after its timings (in this order)."""

    request_ids: list[str]
    ids: list[int]
    pages: list[int]
    terms: list[int]
    awkward: np.ndarray
    awkward_choice: list[int]
    custom: np.ndarray
    custom_choice: list[int]
    referer: list[int]
    exception: list[int]
    frames: list[list[int]]
    depth: list[int]
    lines: list[list[int]]

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> _Details:
        request_ids = hex_ids(rng, n, 16)
        ids = rng.integers(1, 50_000, size=n).tolist()
        pages = (rng.geometric(0.45, size=n)).tolist()
        terms = rng.integers(0, len(SEARCH_TERMS), size=n).tolist()
        awkward = np.flatnonzero(rng.random(n) < AWKWARD_PATH_SHARE)
        awkward_choice = rng.integers(0, len(AWKWARD_QUERIES), size=len(awkward)).tolist()
        custom = rng.random(n) < CUSTOM_DATA_SHARE
        return cls(
            request_ids,
            ids,
            pages,
            terms,
            awkward,
            awkward_choice,
            custom,
            custom_choice=rng.integers(0, len(CUSTOM_DATA), size=n).tolist(),
            referer=rng.integers(0, len(REFERERS), size=n).tolist(),
            exception=rng.integers(0, len(EXCEPTIONS), size=n).tolist(),
            frames=rng.integers(0, len(BACKTRACE_FRAMES), size=(n, 2)).tolist(),
            depth=rng.integers(1, 4, size=n).tolist(),
            lines=rng.integers(5, 240, size=(n, 3)).tolist(),
        )

    def paths(self, endpoint: np.ndarray) -> list[str]:
        """Each request's path: its endpoint's, filled in, a few with an awkward query."""
        paths = [
            ENDPOINTS[e].path.format(id=i, page=p, q=SEARCH_TERMS[t])
            for e, i, p, t in zip(endpoint.tolist(), self.ids, self.pages, self.terms, strict=True)
        ]
        for index, choice in zip(self.awkward.tolist(), self.awkward_choice, strict=True):
            paths[index] = paths[index].split("?", 1)[0] + "?" + AWKWARD_QUERIES[choice]
        return paths

    def backtrace(self, ep: Endpoint, i: int) -> list[str]:
        """A failed request's backtrace: its controller's line, then a frame or two."""
        lines = self.lines[i]
        trace = [f"{_controller_file(ep.controller)}:{lines[0]}:in `{ep.action}'"]
        trace += [
            BACKTRACE_FRAMES[f].format(line=line)
            for f, line in zip(self.frames[i], lines[1:], strict=True)
        ]
        return trace[: self.depth[i]]


def _request_value(
    ep: Endpoint, status: int, times: tuple[float, float, float], details: _Details, i: int
) -> str:
    """One request's value, as the gem writes it (``times``: duration, db and view runtime)."""
    duration, db, view = times
    value: dict[str, Any] = {
        "view_runtime": None if view != view else view,  # NaN: nothing rendered
        "db_runtime": db,
        "duration": duration,
        "http_referer": REFERERS[details.referer[i]] if status == 404 else None,
        "custom_data": (
            CUSTOM_DATA[details.custom_choice[i]].format(n=details.ids[i])
            if details.custom[i]
            else "null"
        ),
    }
    if status == 500:
        value["exception"] = EXCEPTIONS[details.exception[i]]
        value["backtrace"] = details.backtrace(ep, i)
    return ruby_json(value)


def _request_chunk(
    rng: np.random.Generator, epochs: np.ndarray, regression_from: float | None = None
) -> _RequestChunk:
    timings = _draw_timings(rng, epochs, regression_from)
    details = _Details.draw(rng, len(epochs))
    format_key = REQUESTS.format_key
    keys: list[str] = []
    values: list[str] = []
    rows = zip(
        timings.endpoint.tolist(),
        timings.status.tolist(),
        minute_text(epochs),
        epochs.tolist(),
        details.paths(timings.endpoint),
        details.request_ids,
        zip(
            rounded_list(timings.duration),
            rounded_list(timings.db_runtime),
            rounded_list(timings.view_runtime),
            strict=True,
        ),
        strict=True,
    )
    for i, (e, status, minute, epoch, path, request_id, times) in enumerate(rows):
        ep = ENDPOINTS[e]
        fields = {"controller": ep.controller, "action": ep.action, "format": ep.format}
        fields |= {"status": status, "datetime": minute, "datetimei": epoch}
        fields |= {"method": ep.method, "path": path, "request_id": request_id}
        keys.append(format_key(fields))
        values.append(_request_value(ep, status, times, details, i))
    return _RequestChunk(
        keys,
        values,
        epochs,
        details.request_ids,
        timings.endpoint,
        timings.db_runtime,
        timings.view_runtime,
    )


@functools.cache
def _sql_json(statement: int, table: str) -> str:
    return ruby_json(SQL[statement].format(t=table))


def _trace_values(rng: np.random.Generator, chunk: _RequestChunk, rows: np.ndarray) -> list[str]:
    """The gem's trace for each request in ``rows``: SQL steps, then rendered views."""
    n = len(rows)
    endpoint = chunk.endpoint[rows]
    db_total = chunk.db_runtime[rows]
    view_total = chunk.view_runtime[rows]
    has_db = ENDPOINT_DB[endpoint] > 0
    n_db = np.where(has_db, 1 + rng.poisson(ENDPOINT_QUERIES[endpoint]), 0)
    n_db = np.minimum(n_db, 25)
    # Split each request's db_runtime over its queries.
    weights = rng.exponential(size=int(n_db.sum()))
    owner = np.repeat(np.arange(n), n_db)
    sums = np.bincount(owner, weights=weights, minlength=n)
    step_ms = np.round(weights / np.where(sums[owner] > 0, sums[owner], 1) * db_total[owner], 2)
    # GETs only read; the others may also write (the last two statements).
    reads_only = np.array([ep.method == "GET" for ep in ENDPOINTS])[endpoint][owner]
    sql_choice = rng.integers(0, len(SQL) - np.where(reads_only, 2, 0)).tolist()
    table_choice = rng.integers(0, 64, size=len(weights)).tolist()
    partials = rng.poisson(1.5, size=n).tolist()
    allocations = rng.integers(50, 20_000, size=(n, 6)).tolist()
    collection = rng.integers(2, 50, size=n).tolist()

    # The JSON text is assembled step by step (the same bytes as ruby_json(list of step hashes),
    # which the tests check): building dicts and encoding them took five times as long.
    values: list[str] = []
    offsets = np.concatenate([[0], np.cumsum(n_db)]).tolist()
    epochs = chunk.epochs[rows].tolist()
    step_list = step_ms.tolist()
    rows_ = zip(endpoint.tolist(), epochs, view_total.tolist(), strict=True)
    for i, (e, when, view) in enumerate(rows_):
        ep = ENDPOINTS[e]
        steps: list[str] = []
        for s in range(offsets[i], offsets[i + 1]):
            sql = _sql_json(sql_choice[s], ep.tables[table_choice[s] % len(ep.tables)])
            steps.append(f'{{"group":"db","duration":{step_list[s]!r},"sql":{sql},"time":{when}}}')
        if view == view and ep.template is not None:  # not NaN: something was rendered
            alloc = allocations[i]
            messages = []
            if ep.partial is not None:
                for k in range(min(partials[i], 4)):
                    share = view * 0.05 * (k + 1)
                    messages.append(
                        f"Rendered {ep.partial} (Duration: {share:.1f}ms | Allocations: {alloc[k]})"
                    )
                messages.append(
                    f"Rendered collection of {ep.partial} [{collection[i]} times] "
                    f"(Duration: {view * 0.4:.1f}ms | Allocations: {alloc[4]})"
                )
            layout = " within layouts/application" if ep.format == "html" else ""
            messages.append(
                f"Rendered {ep.template}{layout} (Duration: {view:.1f}ms | Allocations: {alloc[5]})"
            )
            steps += [
                f'{{"group":"view","message":{ruby_json(message)},"time":{when}}}'
                for message in messages
            ]
        values.append("[" + ",".join(steps) + "]")
    return values


def request_batches(
    n: int,
    window: Window,
    seed: int,
    *,
    requests: bool = True,
    traces: bool = False,
    max_records: int = CHUNK_RECORDS,
) -> Iterator[RecordBatch]:
    """``n`` requests over ``window``, slice by slice: their records if ``requests``, and the
    traces of those in the last hour (the trace TTL) if ``traces``."""
    timeline = Timeline.build(n, window, stream_rng(seed, "requests", COUNTS_STREAM), spiky=True)
    trace_from = window.end - TRACE.ttl_seconds
    regression_from = deploy_times(window, seed)[0][0]
    for number, (i, j) in enumerate(timeline.slices(max_records), start=1):
        if not requests and timeline.lo[j - 1] + 60 <= trace_from:
            continue  # no traces in this slice (each slice has its own stream: skip it freely)
        rng = stream_rng(seed, "requests", number)
        chunk = _request_chunk(rng, timeline.times(rng, i, j), regression_from)
        if requests:
            yield RecordBatch(
                REQUESTS,
                chunk.keys,
                chunk.values,
                remaining_ttls(REQUESTS, chunk.epochs, window.end),
            )
        if traces:
            rows = np.flatnonzero(chunk.epochs >= trace_from)
            values = _trace_values(stream_rng(seed, "trace", number), chunk, rows)
            # The gem saves no empty trace (a request with neither SQL nor a rendered view).
            kept = [i for i, value in enumerate(values) if value != "[]"]
            if kept:
                rows = rows[kept]
                keys = [TRACE.format_key({"request_id": chunk.request_ids[r]}) for r in rows]
                values = [values[i] for i in kept]
                yield RecordBatch(
                    TRACE, keys, values, remaining_ttls(TRACE, chunk.epochs[rows], window.end)
                )


def iter_request_records(
    n: int,
    *,
    seed: int = 1,
    end: datetime | float | None = None,
    hours: float = 4.0,
) -> Iterator[RecordBatch]:
    """Exactly ``n`` request records over ``[end - hours, end)``, in time slices of whole
    minutes (at most :data:`CHUNK_RECORDS` records each, unless one minute holds more).

    The same records :func:`write` sends for requests when ``n == round(rps * hours * 3600)``
    (same seed and end). Each batch has ``.ttls`` (seconds left at ``end``).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidArgumentError(f"n must be a whole number >= 0, not {n!r}.")
    yield from request_batches(int(n), Window.of(end, hours), check_seed(seed))


def request_records(
    n: int, *, seed: int = 1, end: datetime | float | None = None, hours: float = 4.0
) -> RecordBatch:
    """``(keys, values)`` of exactly ``n`` request records (``.ttls`` holds their TTLs).

    For building benchmark datasets of exact sizes: ``write_records(client, *batch,
    ttls=batch.ttls)``. About 6 µs per record; a million records take about 0.5 GB of memory
    (use :func:`iter_request_records` to stay small).
    """
    keys: list[str] = []
    values: list[str] = []
    ttls: list[int] = []
    for batch in iter_request_records(n, seed=seed, end=end, hours=hours):
        keys += batch.keys
        values += batch.values
        ttls += batch.ttls or []
    return RecordBatch(REQUESTS, keys, values, ttls)
