"""Per-request traces: ``load_trace`` and ``slowest_trace``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..deprecation import renamed_parameter
from ..kinds import TRACE
from ..store import open_source
from ._documents import TRACE_COLUMNS, parse_trace
from ._parsed import ParsedRecords, RecordsLike


def trace_values(source: RecordsLike, request_ids: Sequence[str], what: str) -> list[Any]:
    """The stored traces of ``request_ids`` (None where there is none), from a source or
    :class:`ParsedRecords`."""
    if isinstance(source, ParsedRecords):
        return source.trace_values(request_ids)
    keys = [TRACE.format_key({"request_id": request_id}) for request_id in request_ids]
    return open_source(source).get_many(keys, what)


@renamed_parameter("client", "source")
def load_trace(request_id: str, source: RecordsLike = None) -> pd.DataFrame:
    """The trace steps of one request: ``group`` (db/view), ``duration``, ``sql``, ``message``,
    ``time``. Empty (with those columns) when the trace has expired (after 60 minutes)."""
    key = TRACE.format_key({"request_id": request_id})
    (raw,) = trace_values(source, [request_id], f"reading the trace of request {request_id!r}")
    return parse_trace(raw, key)


@renamed_parameter("client", "source")
def slowest_trace(
    frame: pd.DataFrame, source: RecordsLike = None, *, candidates: int = 50
) -> tuple[str | None, pd.DataFrame]:
    """The trace of the slowest request in ``frame`` that still has one (traces expire after
    60 minutes): ``(request_id, steps)``, or ``(None, empty steps)``."""
    slowest = frame.nlargest(candidates, "duration")["request_id"].tolist() if len(frame) else []
    keys = [TRACE.format_key({"request_id": request_id}) for request_id in slowest]
    traces = trace_values(source, slowest, "reading the traces of the slowest requests")
    for request_id, key, raw in zip(slowest, keys, traces, strict=True):
        steps = parse_trace(raw, key)
        if len(steps):
            return request_id, steps
    return None, pd.DataFrame(columns=TRACE_COLUMNS)
