"""Records as typed pandas DataFrames.

:mod:`.parse` is pure (bytes in, typed frames and problems out); :mod:`.load` reads them from
Redis through :mod:`rp_toolkit.store` and parses them: ``load``, ``iter_load``, ``load_trace``,
``load_events``, ``slowest_trace``.
"""

from .load import (
    BATCH_ROWS,
    ITER_BATCH_ROWS,
    LoadBatches,
    LoadInfo,
    concat_batches,
    iter_load,
    load,
    load_events,
    load_many,
    load_trace,
    resolve_window,
    slowest_trace,
    split_by_kind,
    walk_pattern,
)
from .parse import (
    MISSING_VALUE,
    PROBLEM_COLUMNS,
    TIMESTAMP,
    TRACE_COLUMNS,
    Problems,
    empty_frame,
    empty_problems,
    key_text,
    parse,
    parse_events,
    parse_key,
    parse_trace,
)

__all__ = [
    "BATCH_ROWS",
    "ITER_BATCH_ROWS",
    "MISSING_VALUE",
    "PROBLEM_COLUMNS",
    "TIMESTAMP",
    "TRACE_COLUMNS",
    "LoadBatches",
    "LoadInfo",
    "Problems",
    "concat_batches",
    "empty_frame",
    "empty_problems",
    "iter_load",
    "key_text",
    "load",
    "load_events",
    "load_many",
    "load_trace",
    "parse",
    "parse_events",
    "parse_key",
    "parse_trace",
    "resolve_window",
    "slowest_trace",
    "split_by_kind",
    "walk_pattern",
]
