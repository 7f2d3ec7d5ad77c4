"""KEYS against SCAN, measured: the runner that times each cell, and :func:`run`."""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from redis import exceptions as redis_errors
from tqdm.auto import tqdm

from ..config import Options, current_options, setup
from ..exceptions import BenchmarkError, first_line
from ..files import SignalStop, unwind_on_signals
from ..kinds import decode_key
from ..local import LocalCluster, RedisServer
from ..store import (
    determine_scan_count,
    fetch_from_redis,
    fetch_keys,
    in_parallel,
    quiet_keys_notices,
    redact_url,
)
from ._environment import describe_environment, load_average
from ._keyspace import EXISTING_SERVER_TTL_S, QUERIES, Keyspace
from ._probe import NoProbe, Probe, ProbeStats
from ._results import to_frame
from ._server_stats import WATCHED, CountingCluster, CountingRedis, ServerStats
from ._target import Target

logger = logging.getLogger("rp_toolkit")

DEFAULT_SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
DEFAULT_COUNTS: tuple[int | str, ...] = (10, 100, 1000, 10_000, "auto")
CELL_BUDGET_S = 30.0
SLOWLOG_THRESHOLD_US = 1000
IDLE_PROBE_S = 0.5
MIN_PRIMARIES = 3
"""A throwaway cluster needs this many primaries: Redis Cluster's minimum (with fewer, no
majority of primaries can agree that one has failed)."""


@dataclass
class Outcome:
    """What one repeat of a measured action returns."""

    keys: list[Any]
    scan_calls: int = 0
    mget_calls: int = 0
    values: list[Any] | None = None
    scan_counts: list[int] = field(default_factory=list)
    error: str | None = None
    """Why the method cannot work here (the gem's one MGET on a cluster): no timing."""


Action = Callable[[], Outcome]
"""A measured action: one repeat of a cell."""


@dataclass
class Repeats:
    """What the repeats of one cell gathered: their wall times, the probe's round trips,
    the server's statistics of each, and the last repeat's outcome."""

    walls: list[float] = field(default_factory=list)
    latencies: list[np.ndarray] = field(default_factory=list)
    server: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome = field(default_factory=lambda: Outcome([]))


def server_figures(server: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The server's figures of a cell's repeats: median Redis time per command, the slowest
    SLOWLOG entry of any repeat, the most entries a repeat logged."""
    row: dict[str, Any] = {}
    for name in WATCHED:
        row[f"redis_{name}_usec"] = statistics.median(s[f"redis_{name}_usec"] for s in server)
    row["redis_usec"] = statistics.median(
        sum(s[f"redis_{name}_usec"] for name in WATCHED) for s in server
    )
    slowest = max(
        (s for s in server if not math.isnan(s["slowlog_max_us"])),
        key=lambda s: s["slowlog_max_us"],
        default=None,
    )
    row["slowlog_max_us"] = slowest["slowlog_max_us"] if slowest else math.nan
    row["slowlog_max_command"] = slowest["slowlog_max_command"] if slowest else None
    entries = [s["slowlog_entries"] for s in server if not math.isnan(s["slowlog_entries"])]
    row["slowlog_entries"] = max(entries) if entries else math.nan
    return row


class Runner:
    """Times the measured actions on one keyspace: repeats within the cell's time budget,
    with the probe sampling and the server's statistics read around each repeat."""

    def __init__(
        self,
        *,
        client: CountingRedis | CountingCluster,
        stats: ServerStats,
        probe: Probe | NoProbe,
        keyspace: Keyspace,
        repeats: int,
        cell_budget_s: float,
    ) -> None:
        self.client = client
        self.stats = stats
        self.probe = probe
        self.keyspace = keyspace
        self.repeats = repeats
        self.cell_budget_s = cell_budget_s

    def measure(
        self, flags: dict[str, Any], action: Action, expected_keys: int
    ) -> tuple[dict[str, Any], list[Any]]:
        """Run ``action`` (with the settings ``flags``) repeatedly, within the cell's budget:
        one result row, and the keys of the last repeat."""
        done = Repeats()
        while len(done.walls) < self.repeats:
            if done.walls and sum(done.walls) + done.walls[-1] > self.cell_budget_s:
                break
            before = self._prepare()
            with setup(progress=False, **flags), self.probe.sampling() as collected:
                started = time.perf_counter()
                done.outcome = action()
                done.walls.append(time.perf_counter() - started)
            done.latencies.extend(collected)
            if done.outcome.error is not None:
                return self._failed(done.outcome, expected_keys), done.outcome.keys
            done.server.append(self.stats.after(before))
            self._check(done.outcome, expected_keys)
        row = {**self._timing_row(done), **server_figures(done.server), "error": None}
        return row, done.outcome.keys

    def _prepare(self) -> dict[str, Any]:
        """Before a repeat, outside its time: garbage collected, the client's counts cleared;
        the server's statistics so far."""
        gc.collect()
        self.client.command_counts.clear()
        self.client.scan_counts.clear()
        return self.stats.before()

    def _timing_row(self, done: Repeats) -> dict[str, Any]:
        """The client's figures of a cell: times, calls, COUNTs sent, the probe's waits."""
        outcome, walls = done.outcome, done.walls
        probe = ProbeStats.of(done.latencies)
        return {
            "repeats_done": len(walls),
            "wall_median_s": statistics.median(walls),
            "wall_min_s": min(walls),
            "wall_max_s": max(walls),
            "keys_found": len(outcome.keys),
            "scan_calls": outcome.scan_calls,
            "scan_count_min": min(outcome.scan_counts, default=None),
            "scan_count_mean": statistics.fmean(outcome.scan_counts)
            if outcome.scan_counts
            else math.nan,
            "scan_count_max": max(outcome.scan_counts, default=None),
            "mget_calls": outcome.mget_calls,
            "probe_samples": probe.samples,
            "probe_p50_ms": probe.p50_ms,
            "probe_p99_ms": probe.p99_ms,
            "probe_max_ms": probe.max_ms,
            "slowlog_threshold_us": self.stats.threshold_us,
        }

    def _failed(self, outcome: Outcome, expected: int) -> dict[str, Any]:
        """The row of a method that cannot work on this server: its error, the keys it
        listed before failing (checked like any), no timing."""
        self._check(Outcome(outcome.keys), expected)
        row: dict[str, Any] = {
            "repeats_done": 0,
            "wall_median_s": math.nan,
            "wall_min_s": math.nan,
            "wall_max_s": math.nan,
            "keys_found": len(outcome.keys),
            "scan_calls": outcome.scan_calls,
            "mget_calls": outcome.mget_calls,
            "probe_samples": 0,
            "slowlog_threshold_us": self.stats.threshold_us,
            "redis_usec": math.nan,
            **{f"redis_{name}_usec": math.nan for name in WATCHED},
            "error": outcome.error,
        }
        return row

    def _check(self, outcome: Outcome, expected: int) -> None:
        if len(outcome.keys) != expected:
            raise BenchmarkError(
                f"Found {len(outcome.keys)} keys where the dataset holds {expected} matching "
                "records."
            )
        marker = self.keyspace.marker
        if marker and not all(marker in decode_key(key) for key in outcome.keys):
            raise BenchmarkError("A fetch matched a key the benchmark did not write.")
        if outcome.values is not None and (
            len(outcome.values) != expected or any(value is None for value in outcome.values)
        ):
            raise BenchmarkError("A full fetch read fewer values than it listed keys.")

    # The measured actions: each is what a user (or the gem) runs, and the settings it runs
    # with (applied outside the timing).

    def keys_action(self, pattern: str) -> tuple[dict[str, Any], Action]:
        return {"use_scan": False}, lambda: Outcome(fetch_keys(pattern, self.client))

    def scan_action(self, pattern: str, count: int | str) -> tuple[dict[str, Any], Action]:
        flags: dict[str, Any] = {"use_scan": True}
        if count == "auto":
            flags["scan_count_auto_tune"] = True
        elif count == "adaptive":
            flags.update(scan_count_auto_tune=True, scan_count="adaptive")
        else:
            flags.update(scan_count_auto_tune=False, scan_count=count)

        def action() -> Outcome:
            keys = fetch_keys(pattern, self.client)
            return Outcome(
                keys,
                scan_calls=self.client.command_counts["SCAN"],
                scan_counts=list(self.client.scan_counts),
            )

        return flags, action

    def gem_action(self, pattern: str) -> tuple[dict[str, Any], Action]:
        """The gem's KEYS + one MGET. On a cluster KEYS runs on every primary (as the store
        does), and the one MGET goes to the node of the first key: with keys in several hash
        slots the server refuses it (CROSSSLOT), which becomes the outcome's error."""
        client = self.client
        if not isinstance(client, CountingCluster):

            def action() -> Outcome:
                keys = client.keys(pattern)
                values = client.mget(keys) if keys else []
                return Outcome(keys, mget_calls=1 if keys else 0, values=values)

            return {}, action

        def cluster_action() -> Outcome:
            nodes = [client.get_redis_connection(node) for node in client.get_primaries()]
            listed = in_parallel([lambda n=node: n.keys(pattern) for node in nodes])
            keys = [key for node_keys in listed for key in node_keys]
            if not keys:
                return Outcome([], values=[])
            owner = client.get_redis_connection(client.get_node_from_key(keys[0]))
            try:
                values = owner.mget(keys)
            except redis_errors.ClusterCrossSlotError as error:
                return Outcome(keys, mget_calls=1, error=cross_slot_reason(error, len(nodes)))
            return Outcome(keys, mget_calls=1, values=values)

        return {}, cluster_action

    def rp_full_action(self, pattern: str) -> tuple[dict[str, Any], Action]:
        def action() -> Outcome:
            result = fetch_from_redis(pattern, self.client)
            return Outcome(
                result.keys,
                scan_calls=result.stats.scan_calls,
                mget_calls=result.stats.mget_calls,
                values=result.values,
                scan_counts=list(self.client.scan_counts),
            )

        return {"use_scan": True, "scan_count_auto_tune": True}, action


def cross_slot_reason(error: Exception, primaries: int) -> str:
    """Why the gem's one MGET fails on a cluster, in one line."""
    return (
        f"CROSSSLOT {first_line(error)}: on a Redis Cluster one MGET cannot span hash slots "
        f"(KEYS ran on each of the {primaries} primaries)"
    )


def check_target(
    redis_url: str | None, allow_existing_server: bool, cluster: bool, primaries: int
) -> None:
    """Check where ``run`` is pointed: an existing server only when allowed, a throwaway
    cluster (``cluster=True``) only without a URL and with at least 3 primaries.

    Raises :class:`BenchmarkError`.
    """
    if cluster and redis_url is not None:
        raise BenchmarkError(
            "cluster=True (--cluster) starts a throwaway Redis Cluster; with redis_url the "
            "server there is benchmarked as it is (a cluster URL works as is). Pass one or the "
            "other."
        )
    if cluster and (isinstance(primaries, bool) or int(primaries) < MIN_PRIMARIES):
        raise BenchmarkError(f"A Redis Cluster needs at least {MIN_PRIMARIES} primaries.")
    if redis_url is not None and not allow_existing_server:
        raise BenchmarkError(
            f"Refusing to benchmark the existing Redis at {redact_url(redis_url)}: the "
            "benchmark writes up to millions of keys and runs KEYS, which blocks that server. "
            "Pass allow_existing_server=True (--allow-existing-server) if that is really "
            "what you want (it writes only keys marked RpBench<id> and removes them at the "
            "end), or leave redis_url unset to use a throwaway server."
        )


def validate_parameters(
    sizes: Iterable[int],
    counts: Iterable[int | str],
    queries: Iterable[str],
    repeats: int,
    noise: float,
) -> tuple[list[int], list[int | str], list[str]]:
    """Check ``run``'s parameters; sizes sorted and de-duplicated, counts and queries as lists.

    Raises :class:`BenchmarkError` (an :class:`RPToolkitError`) on a bad value.
    """
    size_list = sorted({int(size) for size in sizes})
    if not size_list or size_list[0] < 1:
        raise BenchmarkError("sizes must be whole numbers of at least 1.")
    count_list: list[int | str] = []
    for count in counts:
        if count in ("auto", "adaptive"):
            count_list.append(count)
            continue
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise BenchmarkError(
                f"counts must be whole numbers of at least 1, 'auto' or 'adaptive': {count!r}"
            )
        count_list.append(int(count))
    query_list = list(dict.fromkeys(queries))
    unknown = [q for q in query_list if q not in QUERIES]
    if unknown:
        raise BenchmarkError(f"Unknown queries {unknown}; known: {', '.join(QUERIES)}.")
    if repeats < 1:
        raise BenchmarkError("repeats must be at least 1.")
    if noise < 0:
        raise BenchmarkError("noise must be 0 or more (unrelated keys per record).")
    return size_list, count_list, query_list


check_parameters = validate_parameters
"""Another name of :func:`validate_parameters` (the benchmark notebook's check)."""


@dataclass(frozen=True)
class RunParameters:
    """What :func:`run` measures, checked (see :func:`validate_parameters`)."""

    sizes: list[int]
    counts: list[int | str]
    queries: list[str]
    repeats: int
    noise: float
    full_fetch: bool
    cell_budget_s: float
    slowlog_threshold_us: int
    probe: bool
    probe_mode: str
    idle_probe_s: float
    day: date
    seed: int
    cluster: bool
    primaries: int

    def cells(self) -> int:
        """How many cells the run measures."""
        per_query = 1 + len(self.counts) + (2 if self.full_fetch else 0)
        return len(self.sizes) * len(self.queries) * per_query

    def described(self, marker: str, options: Options) -> dict[str, Any]:
        """The parameters as the environment records them, with the run's ``marker`` and
        the options the fetches ran with."""
        return {
            "sizes": self.sizes,
            "counts": [str(c) for c in self.counts],
            "repeats": self.repeats,
            "noise": self.noise,
            "queries": self.queries,
            "full_fetch": self.full_fetch,
            "cell_budget_s": self.cell_budget_s,
            "slowlog_threshold_us": self.slowlog_threshold_us,
            "probe": self.probe,
            "probe_mode": self.probe_mode if self.probe else None,
            "idle_probe_s": self.idle_probe_s,
            "day": self.day.isoformat(),
            "seed": self.seed,
            "cluster": self.cluster,
            "primaries": int(self.primaries) if self.cluster else None,
            "marker": marker or None,
            "mget_chunk": options.mget_chunk,
            "pipeline_depth": options.pipeline_depth,
            "scan_budget_ms": options.scan_budget_ms,
        }


@dataclass
class Baselines:
    """The KEYS and the gem's full fetch of one (size, query): their median time and sorted
    keys, which every other method of the same (size, query) is checked against."""

    found: dict[str, tuple[float, list[str]]] = field(default_factory=dict)

    def check(
        self, method: str, count: int | str | None, keys: list[Any], row: dict[str, Any]
    ) -> float:
        """Keep ``method``'s keys if it is a baseline, check them against the reference (the
        gem's full fetch for a full fetch, or KEYS where that failed: a cluster; KEYS
        otherwise); the reference's time (NaN: a full fetch is timed only against the gem's).

        Raises :class:`BenchmarkError` when the keys differ.
        """
        if method in ("KEYS", "gem_keys_mget") and row["error"] is None:
            self.found[method] = (row["wall_median_s"], sorted(map(decode_key, keys)))
        mget = method.endswith("mget")
        reference = "gem_keys_mget" if mget and "gem_keys_mget" in self.found else "KEYS"
        base_time, base_keys = self.found[reference]
        if mget and reference == "KEYS":
            base_time = math.nan
        if method not in self.found and sorted(map(decode_key, keys)) != base_keys:
            raise BenchmarkError(
                f"{method} (COUNT {count}) and {reference} found different keys for "
                f"{row['pattern']!r} at {row['size']:,} records: {len(keys)} against "
                f"{len(base_keys)}."
            )
        return base_time


Cell = tuple[str, int | str | None, tuple[dict[str, Any], Action]]
"""One cell of a query: the method, its COUNT, and its flags and action."""


@dataclass
class Session:
    """One run's server and instruments: what each size and query is measured with."""

    parameters: RunParameters
    target: Target
    keyspace: Keyspace
    probe: Probe | NoProbe
    runner: Runner
    stop: SignalStop
    bar: Any
    scan_budget_ms: float

    def measure_size(self, size: int) -> list[dict[str, Any]]:
        """Grow the keyspace to ``size`` records; the rows of every query's cells."""
        self.bar.set_postfix_str(f"writing {size:,} records")
        self.keyspace.grow(size, self.parameters.noise)
        self.stop.check()
        idle = self.probe.idle(self.parameters.idle_probe_s)
        common = {
            "size": size,
            "noise_keys": self.keyspace.noise_keys,
            "dbsize": self.target.dbsize(),
            "probe_idle_p50_ms": idle.p50_ms,
            "probe_idle_p99_ms": idle.p99_ms,
            "probe_idle_max_ms": idle.max_ms,
        }
        rows = []
        for query, (pattern, expected) in self.keyspace.queries(self.parameters.queries).items():
            common_row = {**common, "query": query, "pattern": pattern}
            rows += self.measure_query(common_row, expected)
        return rows

    def cells(self, pattern: str) -> list[Cell]:
        """The cells of one query: KEYS, SCAN at each COUNT, and the two full fetches."""
        runner = self.runner
        cells: list[Cell] = [("KEYS", None, runner.keys_action(pattern))]
        cells += [("SCAN", c, runner.scan_action(pattern, c)) for c in self.parameters.counts]
        if self.parameters.full_fetch:
            cells.append(("gem_keys_mget", None, runner.gem_action(pattern)))
            cells.append(("scan_chunked_mget", "auto", runner.rp_full_action(pattern)))
        return cells

    def measure_query(self, common: dict[str, Any], expected: int) -> list[dict[str, Any]]:
        """The rows of one (size, query): each cell measured, checked against the baselines,
        and the adaptive COUNT compared with the best fixed one."""
        baselines = Baselines()
        pattern = common["pattern"]
        rows = []
        for method, count, (flags, action) in self.cells(pattern):
            self.bar.set_postfix_str(
                f"{common['size']:,} {common['query']} {method} {count or ''}".strip()
            )
            self.stop.check()
            self.keyspace.keep_alive()  # between measurements, never during one
            row, keys = self.runner.measure(flags, action, expected)
            row = {
                **common,
                "method": method,
                "count": None if count is None else str(count),
                "scan_count": _scan_count(pattern, count),
                **row,
            }
            base_time = baselines.check(method, count, keys, row)
            row["overhead"] = row["wall_median_s"] / base_time if base_time else math.nan
            rows.append(row)
            self.bar.update(1)
        _compare_adaptive(rows, self.scan_budget_ms)
        return rows


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    counts: Sequence[int | str] = DEFAULT_COUNTS,
    repeats: int = 5,
    noise: float = 0.0,
    queries: Sequence[str] = QUERIES,
    redis_url: str | None = None,
    allow_existing_server: bool = False,
    probe: bool = True,
    progress: bool = True,
    full_fetch: bool = True,
    *,
    cell_budget_s: float = CELL_BUDGET_S,
    slowlog_threshold_us: int = SLOWLOG_THRESHOLD_US,
    probe_mode: str = "process",
    idle_probe_s: float = IDLE_PROBE_S,
    day: date | None = None,
    seed: int = 1,
    cluster: bool = False,
    primaries: int = 3,
) -> pd.DataFrame:
    """Measure KEYS against SCAN (each COUNT) on growing keyspaces; one row per measurement.

    See :mod:`rp_toolkit.bench` for the method. The environment (Redis, redis-py, hiredis,
    Python, CPUs, platform, date, server binary, cluster or not and its primaries,
    parameters, run time) is in ``frame.attrs["environment"]``. ``redis_url`` may name a
    Redis Cluster; ``cluster=True`` starts a throwaway one of ``primaries`` primaries instead
    of a single throwaway server.
    """
    size_list, count_list, query_list = validate_parameters(sizes, counts, queries, repeats, noise)
    check_target(redis_url, allow_existing_server, cluster, primaries)
    options = current_options()
    parameters = RunParameters(
        sizes=size_list,
        counts=count_list,
        queries=query_list,
        repeats=repeats,
        noise=noise,
        full_fetch=full_fetch,
        cell_budget_s=cell_budget_s,
        slowlog_threshold_us=slowlog_threshold_us,
        probe=probe,
        probe_mode=probe_mode,
        idle_probe_s=idle_probe_s,
        day=day or datetime.now(timezone.utc).date(),
        seed=seed,
        cluster=cluster,
        primaries=primaries,
    )
    return to_frame(*_measure(parameters, redis_url, progress, options))


def _measure(
    parameters: RunParameters, redis_url: str | None, progress: bool, options: Options
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`run`'s measurements, on ``redis_url`` or a throwaway server: the rows and the
    environment."""
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        url, binary = _server_url(stack, redis_url, parameters.cluster, parameters.primaries)
        target = Target.connect(url, cluster=parameters.cluster if redis_url is None else None)
        stack.callback(target.close)
        environment = describe_environment(target.admins[0], binary, redis_url)
        environment.update(target.describe())
        marker = "" if redis_url is None else f"RpBench{uuid.uuid4().hex}"
        session = _open_session(stack, parameters, target, marker, progress, options)
        rows = [row for size in parameters.sizes for row in session.measure_size(size)]
        environment.update(
            parameters=parameters.described(marker, options),
            run_seconds=round(time.perf_counter() - started, 1),
            load_average_end=load_average(),
        )
    return rows, environment


def _server_url(
    stack: contextlib.ExitStack, redis_url: str | None, cluster: bool, primaries: int
) -> tuple[str, str | None]:
    """The URL to benchmark and the binary of the server there (None: not started here):
    ``redis_url``, else a throwaway cluster or server, stopped when ``stack`` closes."""
    if redis_url is not None:
        return redis_url, None
    if cluster:
        local = stack.enter_context(LocalCluster(int(primaries)))
        return local.url, local.servers[0].binary
    server = stack.enter_context(RedisServer())
    return server.url, server.binary


def _open_session(
    stack: contextlib.ExitStack,
    parameters: RunParameters,
    target: Target,
    marker: str,
    progress: bool,
    options: Options,
) -> Session:
    """The keyspace, statistics, probe, runner and progress bar of a run on ``target``, each
    undone when ``stack`` closes (on a server not ours: the keys written removed, and
    SIGTERM and SIGHUP unwinding the run like Ctrl-C)."""
    owns = not marker
    keyspace = Keyspace(
        target.client,
        day=parameters.day,
        seed=parameters.seed,
        marker=marker,
        ttl=None if owns else EXISTING_SERVER_TTL_S,
        track=not owns,
    )
    stop = SignalStop()
    if not owns:
        stack.callback(_remove_keys, keyspace)
        stop = stack.enter_context(unwind_on_signals())
    stats = ServerStats(target.admins, owns, parameters.slowlog_threshold_us)
    stack.callback(stats.restore)
    probe: Probe | NoProbe = (
        Probe(target.probe_url, parameters.probe_mode) if parameters.probe else NoProbe()
    )
    stack.callback(probe.close)
    stack.enter_context(quiet_keys_notices())
    runner = Runner(
        client=target.client,
        stats=stats,
        probe=probe,
        keyspace=keyspace,
        repeats=parameters.repeats,
        cell_budget_s=parameters.cell_budget_s,
    )
    bar = stack.enter_context(
        tqdm(total=parameters.cells(), desc="bench", unit="cell", disable=not progress)
    )
    return Session(parameters, target, keyspace, probe, runner, stop, bar, options.scan_budget_ms)


def _scan_count(pattern: str, count: int | str | None) -> int | None:
    """The COUNT a cell sends (auto: the auto-tuned one; adaptive: the one it starts from)."""
    if count is None:
        return None
    if count == "auto":
        with setup(scan_count_auto_tune=True):
            return determine_scan_count(pattern)
    if count == "adaptive":
        with setup(scan_count="adaptive"):
            return determine_scan_count(pattern)  # the COUNT it starts from
    return int(count)


def _compare_adaptive(rows: Sequence[dict[str, Any]], scan_budget_ms: float) -> None:
    """Fill the adaptive rows of one (size, query) with the best fixed COUNT's comparison
    and the budget they ran with."""
    fixed = [r for r in rows if r["method"] == "SCAN" and str(r["count"]).isdigit()]
    best = min(fixed, key=lambda r: r["wall_median_s"], default=None)
    for row in rows:
        if row["method"] == "SCAN" and row["count"] == "adaptive":
            row["scan_budget_ms"] = scan_budget_ms
            if best is not None:
                row["best_fixed_count"] = int(best["count"])
                row["vs_best_fixed"] = row["wall_median_s"] / best["wall_median_s"]


def _remove_keys(keyspace: Keyspace) -> None:
    removed = keyspace.remove()
    logger.info("Benchmark keys removed: %d.", removed)
