"""Records as typed pandas DataFrames.

Private modules, one job each, bottom up: ``_values`` (the per-value checks) and ``_parse``
(bytes in, typed frames and problems out) and ``_documents`` (traces and events, which have
no Arrow schema), all pure; ``_question`` (a question's kinds,
windows, filters and walk glob, checked before any round trip; pure), ``_info``
(:class:`LoadInfo`, what a load did) and ``_parsed`` (:class:`ParsedRecords`, a place holding
records already parsed, such as the archive); ``_batches`` (batches parsed in two threads and
joined); the loaders: ``_load`` (``load``, ``iter_load``), ``_events`` (``load_events``),
``_traces`` (``load_trace``, ``slowest_trace``), ``_many`` (``load_many``, one walk for
several kinds) and ``_stored`` (:class:`StoredBatches`, the archive's read). This package
exports what other packages and the tests use.
"""

from ._batches import concat_batches
from ._documents import TRACE_COLUMNS, parse_events, parse_trace
from ._events import load_events
from ._info import LoadInfo, walks
from ._load import BATCH_ROWS, ITER_BATCH_ROWS, LoadBatches, iter_load, load
from ._many import load_many
from ._parse import (
    MISSING_VALUE,
    TIMESTAMP,
    Problems,
    decode_json_text,
    empty_frame,
    key_text,
    list_column,
    parse,
    parse_key,
)
from ._parsed import ParsedRecords, RecordsLike
from ._question import kind_windows, split_by_kind, tabular_kind, walk_pattern
from ._stored import EARLIEST, StoredBatches
from ._traces import load_trace, slowest_trace

__all__ = [
    "BATCH_ROWS",
    "EARLIEST",
    "ITER_BATCH_ROWS",
    "MISSING_VALUE",
    "TIMESTAMP",
    "TRACE_COLUMNS",
    "LoadBatches",
    "LoadInfo",
    "ParsedRecords",
    "Problems",
    "RecordsLike",
    "StoredBatches",
    "concat_batches",
    "decode_json_text",
    "empty_frame",
    "iter_load",
    "key_text",
    "kind_windows",
    "list_column",
    "load",
    "load_events",
    "load_many",
    "load_trace",
    "parse",
    "parse_events",
    "parse_key",
    "parse_trace",
    "slowest_trace",
    "split_by_kind",
    "tabular_kind",
    "walk_pattern",
    "walks",
]
