"""KEYS versus SCAN, measured: what the SCAN migration costs and what it saves.

``run()`` builds keyspaces of synthetic request records in the gem's format, then times the
real :func:`rp_toolkit.fetch_keys` with KEYS and with SCAN at several COUNT hints, while a
second connection PINGs Redis in a tight loop to see how long other clients are kept waiting.
One row per measurement; ``save`` / ``load_results`` / ``to_markdown`` turn the rows into
files and the docs table; ``rp_toolkit.reports.plots`` draws them. Also here: ``load_speed``
(``rp.load`` against the raw transfer) and ``cluster.benchmark`` (one node against a local
Redis Cluster).

Method
======

Datasets
    Sizes are measured in ascending order on one keyspace that grows: going from 10,000 to
    100,000 records writes 90,000 more. Records come from
    :func:`rp_toolkit.synth.iter_request_records` (the gem's exact keys and values, realistic
    controllers, statuses and paths, some with ``|``, ``*`` or ``[`` in their query strings),
    spread over one UTC day (today by default), one seed per growth step, without expiry.
    ``noise × size`` unrelated keys (``cache:...``, ``queue:...``, ``session:...``) are added
    because SCAN and KEYS both walk the whole keyspace, not just the gem's keys. Every fetch
    is checked against the dataset: it must find exactly the records its pattern matches
    (counted in Python, with the same glob rules, as they are written).

Queries (patterns from :meth:`rp_toolkit.kinds.RecordKind.pattern`, as the gem builds them)
    ``day``          ``performance|*datetime|YYYYMMDD*|*|END|1.0.2``: every record of the day;
                     auto-tune COUNT 1000.
    ``controller``   ``performance|*controller|HomeController|*|END|1.0.2`` (about 15 % of the
                     records); auto COUNT 100.
    ``request_id``   ``performance|*request_id|<an existing id>|END|1.0.2``; auto COUNT 1000
                     (the gem: 10).

Methods (column ``method``)
    ``KEYS``                ``fetch_keys`` with ``use_scan=False``: the baseline of the same run.
    ``SCAN``                ``fetch_keys`` with ``use_scan=True`` and a fixed COUNT
                            (``scan_count_auto_tune=False``) or auto-tune (``count == "auto"``)
                            or the adaptive COUNT (``count == "adaptive"``: ``scan_count=
                            "adaptive"``, budget ``settings.scan_budget_ms``, which
                            ``RP_SCAN_BUDGET_MS`` sets for a run).
    ``gem_keys_mget``       the gem's full fetch, done with redis-py: KEYS, then ONE MGET of
                            every key found.
    ``scan_chunked_mget``   rp_toolkit's ``fetch_from_redis`` with SCAN (auto-tune) and chunked,
                            pipelined MGETs.
    Progress bars of the fetches are off while measuring (``progress=False``).

Repeats and the time budget
    Every cell (size, query, method, COUNT) runs ``repeats`` times, except that another repeat
    is started only while ``time spent in the cell + the last repeat's time <= cell_budget_s``
    (30 s by default); at least one repeat always runs. Slow cells (COUNT 10 over a million
    keys: 100,000 round trips) therefore get fewer repeats; ``repeats_done`` says how many.
    ``gc.collect()`` runs before each repeat, outside the timing.

Measured per cell (``COLUMNS`` lists them all)
    wall time median/min/max over repeats (``time.perf_counter`` around the call);
    ``overhead`` = this cell's median / the KEYS median of the same size and query (for
    ``scan_chunked_mget``: / the ``gem_keys_mget`` median); ``keys_found`` (checked: every
    method must find exactly the keys KEYS found, and exactly the records the dataset holds
    for the query, else :class:`BenchmarkError`); ``scan_calls`` (SCAN commands the client
    sent); ``scan_count_min`` / ``_mean`` / ``_max`` (the COUNTs those SCANs carried, read off
    the wire; last repeat); ``mget_calls``; Redis-side time from ``INFO commandstats``
    deltas (usec of KEYS, SCAN, MGET; median over repeats); the slowest single
    KEYS/SCAN/MGET per ``SLOWLOG`` (``slowlog-log-slower-than`` = ``slowlog_threshold_us``,
    1 ms by default; entries newer than before the repeat; NaN when no command was that
    slow). SLOWLOG times are wall clock inside Redis, so on a busy machine a command
    descheduled by the OS looks slower than it is (a few ms on the 2-core reference
    machine); and the blocking probe.

Adaptive against the best fixed COUNT
    On ``adaptive`` rows, ``best_fixed_count`` is the fixed COUNT (among the run's integer
    counts) with the lowest median for the same size and query, and ``vs_best_fixed`` the
    adaptive median over that one (1.0 = as fast); ``scan_budget_ms`` is the budget used.
    The probe's maximum during the adaptive fetch is ``probe_max_ms`` as for every row.

The blocking probe
    A separate process (``probe_mode="process"``, the default) with its own connection sends
    PING in a tight loop from just before the fetch starts (the fetch waits for the probe's
    "started") until just after it ends (an Event stops it; its in-flight PING completes), and
    records each round trip. ``probe_p50_ms`` / ``probe_p99_ms`` / ``probe_max_ms`` pool every
    repeat's samples; ``probe_idle_*`` is the same probe with no fetch running, per size.

    Why a process and not a thread: a probe thread shares the GIL with the fetch, so it
    cannot run while the fetch does Python work (decoding and sorting 100,000 keys holds the
    GIL for tens of milliseconds), and it reports that as Redis latency. Measured on the
    reference machine (2 cores, Redis 6.2, 100,000 records, day query, 3 trials of 5 repeats
    per mode, medians): during SCAN (COUNT 100 and auto) the thread probe's maximum was
    58 ms, the process probe's 4-7 ms; during KEYS both saw the same 95 ms (the server really
    is blocked); the thread probe also got 5x fewer samples. The process probe is one more
    busy client: on a small machine it competes for CPU with Redis and the fetch (which shows
    as a few ms of probe maximum even for short commands), equally for every method.
    ``probe_mode="thread"`` reproduces the comparison; ``probe=False`` turns the probe off.

Safety
    By default a throwaway Redis (:class:`rp_toolkit.local.RedisServer`) is started and
    stopped at the end. ``redis_url`` points at an existing server only with
    ``allow_existing_server=True``. There, every key the benchmark writes carries a marker
    ``RpBench<uuid4 hex>``: in the controller name, the format, the path and the request id of
    each record and in each noise key. Before each batch is written, EXISTS checks that none
    of its keys exists (one that does aborts the run: it is not ours to overwrite or delete);
    they are written with ``SET ... NX`` and expire after ``EXISTING_SERVER_TTL_S`` (ten
    minutes, renewed between measurements) as a safety net; SIGTERM and SIGHUP unwind the run
    like Ctrl-C, so the keys are removed then too. The queries are scoped to the marker while
    keeping their type (and so their auto-tuned COUNT):

    ``day``          ``performance|*format|RpBench<id>|*datetime|YYYYMMDD*|*|END|1.0.2``
    ``controller``   ``performance|*controller|RpBench<id>HomeController|*|END|1.0.2``
    ``request_id``   ``performance|*request_id|RpBench<id>-<hex id>|END|1.0.2``

    (the format of a marked record is the marker itself, so the day query can name it).

    Every fetched key is checked to carry the marker. At the end (also after an error or
    Ctrl-C) exactly the keys written are removed with UNLINK in chunks; nothing is ever
    flushed. The slowlog settings are restored, the slowlog is not reset (entries newer than
    the last one seen are read instead), so it keeps the benchmark's entries afterwards.
    ``INFO commandstats`` deltas include other clients' commands on a shared server.

On a Redis Cluster
    ``redis_url`` may name a cluster (detected as :func:`rp_toolkit.store.get_client` does:
    ``redis+cluster://``, or a server saying ``cluster_enabled:1``), with the same safety
    rules; ``cluster=True`` (``--cluster``) starts a throwaway local cluster of ``primaries``
    (3) instead of a single throwaway server. ``fetch_keys`` and ``fetch_from_redis`` walk
    every primary at once; SCAN calls and their COUNTs are counted over all of them, and
    ``dbsize``, commandstats and SLOWLOG figures are summed over the primaries (the slowest
    entry is the slowest on any). The existence checks and final UNLINKs of the benchmark's
    own keys go per hash slot (TTL renewals per key), never across slots. The gem's KEYS + one MGET
    cannot work across slots: KEYS runs on every primary, the one MGET is refused
    (``CROSSSLOT``), and that row carries the reason in ``error`` (no timing,
    ``repeats_done`` 0) unless the keys share a slot (the request_id query's single key).
    The probe PINGs one primary (the one the URL names, else the first), named in the
    environment's ``probe_node``; ``cluster``, ``primaries`` and ``cluster_nodes`` say what
    was measured.

Modules
=======

:mod:`.keyspace` (the dataset), :mod:`.probe` with :mod:`.probe_process` (the blocking probe),
:mod:`.server_stats` (commands counted, INFO commandstats, SLOWLOG), :mod:`.target` (one
server or a cluster's primaries: the clients a run uses), :mod:`.environment`,
:mod:`.results` (typed rows, files) and :mod:`.markdown` (the docs tables), :mod:`.runner`
(the measuring and :func:`run`), :mod:`.speed` (``load_speed``), :mod:`.cluster` (single node
against a cluster), :mod:`.walks` (one walk of the keyspace against the gem's per-day KEYS)
and :mod:`.cli` (the ``bench``, ``load-speed``, ``cluster-bench`` and ``walk-bench``
commands).
"""

from __future__ import annotations

from ..exceptions import BenchmarkError
from . import cluster, walks
from .cli import add_cli, add_commands
from .keyspace import (
    EXISTING_SERVER_TTL_S,
    QUERIES,
    QUERY_CONTROLLER,
    Keyspace,
    glob_regex,
    mark_key,
    unlink_keys,
)
from .markdown import to_markdown
from .probe import NoProbe, Probe, ProbeStats
from .results import COLUMNS, load_results, save, to_frame
from .runner import (
    CELL_BUDGET_S,
    DEFAULT_COUNTS,
    DEFAULT_SIZES,
    IDLE_PROBE_S,
    MIN_PRIMARIES,
    SLOWLOG_THRESHOLD_US,
    check_parameters,
    check_target,
    run,
    validate_parameters,
)
from .server_stats import CountingCluster, CountingRedis, ServerStats
from .speed import load_speed, load_speed_summary
from .target import Target
from .walks import WalkResults, save_walks, walks_markdown

__all__ = [
    "CELL_BUDGET_S",
    "COLUMNS",
    "DEFAULT_COUNTS",
    "DEFAULT_SIZES",
    "EXISTING_SERVER_TTL_S",
    "IDLE_PROBE_S",
    "MIN_PRIMARIES",
    "QUERIES",
    "QUERY_CONTROLLER",
    "SLOWLOG_THRESHOLD_US",
    "BenchmarkError",
    "CountingCluster",
    "CountingRedis",
    "Keyspace",
    "NoProbe",
    "Probe",
    "ProbeStats",
    "ServerStats",
    "Target",
    "WalkResults",
    "add_cli",
    "add_commands",
    "check_parameters",
    "check_target",
    "cluster",
    "glob_regex",
    "load_results",
    "load_speed",
    "load_speed_summary",
    "mark_key",
    "run",
    "save",
    "save_walks",
    "to_frame",
    "to_markdown",
    "unlink_keys",
    "validate_parameters",
    "walks",
    "walks_markdown",
]
