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

Private modules, bottom up: :mod:`._catalogue` (the simulated app, as data), :mod:`._encoding`
(:func:`ruby_json`, ``RecordBatch``), :mod:`._timeline` (window, per-minute counts, random
streams, TTLs), the generators :mod:`._requests`, :mod:`._jobs`, :mod:`._events` and
:mod:`._resources`, :mod:`._plan` (:func:`generate`, :func:`planned_counts`) and :mod:`._writer`
(the only one that talks to Redis).
"""

from ._catalogue import DEFAULT_SERVERS, REGRESSION
from ._encoding import ruby_json
from ._plan import ALL_KINDS, generate, planned_counts
from ._requests import iter_request_records, request_records
from ._timeline import CHUNK_RECORDS, MIN_TTL_SECONDS
from ._writer import SynthSummary, write, write_records

__all__ = [
    "ALL_KINDS",
    "CHUNK_RECORDS",
    "DEFAULT_SERVERS",
    "MIN_TTL_SECONDS",
    "REGRESSION",
    "SynthSummary",
    "generate",
    "iter_request_records",
    "planned_counts",
    "request_records",
    "ruby_json",
    "write",
    "write_records",
]
