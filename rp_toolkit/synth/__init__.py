"""Synthetic rails_performance data, in the gem's exact format, for demos, tests and benchmarks.

Every key is built by :meth:`RecordKind.format_key` and every TTL comes from
:attr:`RecordKind.ttl_seconds` (:mod:`rp_toolkit.kinds` is the only place a layout is written
down). Values are JSON as the gem writes it from a Rails app: ``Hash#to_json`` with
ActiveSupport loaded, i.e. compact, ``null`` for nil, non-ASCII text as is, and ``<``, ``>``,
``&`` escaped as ``\\u003c``, ``\\u003e``, ``\\u0026`` (Rails' default
``escape_html_entities_in_json``).

Output is deterministic for a given seed, end, span, rate and server list: every kind draws from
its own ``numpy.random.default_rng([seed, stream, chunk])``, so the same arguments give the same
keys and values byte for byte, whatever other kinds are chosen. Records are generated and written
in time slices of whole minutes (at most :data:`CHUNK_RECORDS` records each, unless a single minute
holds more), so memory stays bounded however many records are asked for.

Writing uses ``SET key value EX ttl NX``: existing keys are never modified (not even their TTL)
and nothing is ever deleted.

Entry points:

* :func:`write` -- everything a demo needs, written to one Redis;
* :func:`generate` -- the same records as batches, without writing;
* :func:`request_records` / :func:`iter_request_records` -- exactly ``n`` request records;
* :func:`write_records` -- the shared pipelined writer.

Modules, bottom up: :mod:`.catalogue` (the simulated app, as data), :mod:`.encoding`
(:func:`ruby_json`, :class:`RecordBatch`), :mod:`.timeline` (window, per-minute counts, random
streams, TTLs), the generators :mod:`.requests`, :mod:`.jobs`, :mod:`.events` and
:mod:`.resources`, :mod:`.plan` (:func:`generate`, :func:`planned_counts`) and :mod:`.writer`
(the only one that talks to Redis).
"""

from .catalogue import (
    AWKWARD_PATH_SHARE,
    CUSTOM_DATA_SHARE,
    DEFAULT_SERVERS,
    DEPLOYS_PER_HOUR,
    ERROR_SHARE_404,
    ERROR_SHARE_500,
    RATE_PER_MINUTE,
    RATE_PER_RPS,
    REGRESSION,
)
from .encoding import RecordBatch, ruby_json
from .plan import ALL_KINDS, generate, planned_counts
from .requests import iter_request_records, request_records
from .timeline import CHUNK_RECORDS, MIN_TTL_SECONDS
from .writer import PIPELINE_BATCH, SynthSummary, write, write_records

__all__ = [
    "ALL_KINDS",
    "AWKWARD_PATH_SHARE",
    "CHUNK_RECORDS",
    "CUSTOM_DATA_SHARE",
    "DEFAULT_SERVERS",
    "DEPLOYS_PER_HOUR",
    "REGRESSION",
    "ERROR_SHARE_404",
    "ERROR_SHARE_500",
    "MIN_TTL_SECONDS",
    "PIPELINE_BATCH",
    "RATE_PER_MINUTE",
    "RATE_PER_RPS",
    "RecordBatch",
    "SynthSummary",
    "generate",
    "iter_request_records",
    "planned_counts",
    "request_records",
    "ruby_json",
    "write",
    "write_records",
]
