"""The read path as stages that overlap: walk → read → the caller.

Each node of a source (:mod:`.node`; every primary of a cluster) gets two threads joined by a
bounded queue: its **walk** (SCAN batches, or one KEYS) hands each round trip's worth of keys
to its **read** stage, which drops the keys seen before (while the walk waits for Redis's next
reply) and reads the rest with pipelined MGETs on a second connection from the pool (a
cluster node's first waits in a bounded buffer, grouped by hash slot, until its slot makes a
wide MGET: :class:`~.cluster.SlotBuffer`), putting
``(keys, values)`` batches on one queue for the caller (the parser, in
:mod:`rp_toolkit.frames`; with no values to read, the caller's thread drops the repeats). So
Redis answers the next SCAN or MGET while the client parses the last batch, and all primaries
of a cluster work at once. The queues hold a few round trips each: memory stays bounded
whatever the size of the keyspace, and a slow caller slows the stages down instead of piling
up data.

What stays exact (the guarantees the sequential path gave):

* **Readiness**: every node is checked (one ``INFO``) before any batch.
* **Restarts**: a node's two stages share one :class:`~.identity.ServerWatch`; the walk
  starts over from cursor 0 when the server changed, whichever stage saw it first.
* **De-duplication**: a key is handed on once (SCAN may return a key twice), exactly (a set
  of keys) or, with ``exact=False`` for callers that keep no keys (the batch interface), by
  its 64-bit hash in about 8 to 24 bytes a key (two different keys share a hash with
  probability about n²/2⁶⁵, 3×10⁻⁸ at a million keys; such a key would be counted in
  ``duplicates_dropped``, not dropped without a word).
* **Statistics**: each stage counts into its own :class:`~.stats.FetchStats`; they are summed
  into the fetch's at the end (``stats.extra["nodes"]`` on a cluster).
* **Errors**: a stage's error ends the stream and is raised to the caller, as a one-line
  rp_toolkit error; a caller that stops early stops the stages.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from ..config import settings
from ..kinds import KeysAndValues, encode_key
from .cluster import ClusterSource, in_parallel
from .connection import is_cluster, translate_errors
from .identity import ServerWatch, fold_into
from .node import Node, RedisSource
from .scan import warn_keys_deprecated
from .stats import FetchStats, merge_counts, progress_bar, timed_call

STAGE_QUEUE_TRIPS = 4
"""Round trips waiting between two stages (per node): enough to keep Redis busy while the
caller parses, few enough to bound memory."""
_POLL_S = 0.1


def source_of(client: redis.Redis) -> RedisSource:
    """The source a client reads from: one server, or every primary of a cluster."""
    return ClusterSource(client) if is_cluster(client) else RedisSource(client)


class SeenKeys:
    """The keys handed on so far (shared by the walks of all nodes).

    ``exact``: a set of the keys themselves. Otherwise their 64-bit hashes in a few sorted
    arrays whose sizes at least double from the newest to the oldest (a new batch's hashes
    are a new array, merged with the one before while that is not larger): 8 bytes a key,
    about log₂(n / batch) arrays to look a batch up in, and each hash merged that many times.
    """

    def __init__(self, *, exact: bool = True) -> None:
        self.exact = exact
        self.duplicates = 0
        self._seen: set[bytes] = set()
        self._runs: list[np.ndarray] = []
        self._lock = threading.Lock()

    def fresh(self, batch: list[bytes]) -> list[bytes]:
        """The keys of ``batch`` not seen before, in their order."""
        with self._lock:
            if self.exact:
                seen = self._seen
                if seen.isdisjoint(batch):  # the usual case, checked in C
                    before = len(seen)
                    seen.update(batch)
                    if len(seen) - before == len(batch):
                        return batch
                    seen.difference_update(batch)  # none was seen before: undo, go key by key
                out = []
                for key in batch:
                    if key in seen:
                        self.duplicates += 1
                    else:
                        seen.add(key)
                        out.append(key)
                return out
            return self._fresh_by_hash(batch)

    def _fresh_by_hash(self, batch: list[bytes]) -> list[bytes]:
        hashes = np.fromiter(map(hash, batch), dtype=np.int64, count=len(batch))
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        fresh = np.ones(len(batch), dtype=bool)  # in hash order
        fresh[1:] = ordered[1:] != ordered[:-1]  # the first of equal hashes in the batch
        for run in self._runs:  # sorted needles: each search starts where the last ended
            at = np.searchsorted(run, ordered)
            at[at == len(run)] = len(run) - 1
            fresh &= run[at] != ordered
        new = np.empty(len(batch), dtype=bool)
        new[order] = fresh
        kept = int(fresh.sum())
        self.duplicates += len(batch) - kept
        if kept:
            self._runs.append(ordered[fresh])
            while len(self._runs) > 1 and len(self._runs[-2]) <= len(self._runs[-1]):
                merged = np.concatenate(self._runs[-2:])
                merged.sort(kind="stable")  # two sorted runs: merged in linear time
                self._runs[-2:] = [merged]
        return list(itertools.compress(batch, new.tolist())) if kept < len(batch) else batch


class _Stopped(Exception):
    """The caller went away: a stage ends quietly."""


@dataclass
class _Stage:
    """What one node's stages recorded."""

    node: Node
    walk: FetchStats
    read: FetchStats
    watch: ServerWatch | None = None
    keys_found: int = 0
    walk_window: tuple[float, float] = (0.0, 0.0)
    """When the walk ran, in seconds from the stream's start."""
    keys_seconds: float = 0.0
    values_seconds: float = 0.0
    values_read: int = 0
    values_missing: int = 0


class _Done:
    pass


@dataclass
class _Walked:
    """Keys a node's walk handed on (repeats not yet dropped), when no values are read."""

    stage: _Stage
    keys: list[bytes]


def stream_batches(
    source: RedisSource,
    pattern: str,
    stats: FetchStats,
    *,
    values: bool = True,
    exact: bool = True,
) -> Iterator[KeysAndValues]:
    """Batches of ``(keys, values)`` (raw bytes; ``values`` None with ``values=False``) for
    the keys matching ``pattern`` on every node of ``source``, walk and reads overlapped.

    ``stats`` (method, pattern and COUNT already set) gets everything counted, once the
    stream is exhausted; keys come in the servers' order, each once (see :class:`SeenKeys`).
    """
    use_scan = stats.method == "SCAN"
    if not use_scan:
        warn_keys_deprecated()
    raw_pattern = encode_key(pattern)
    nodes = source.nodes()
    stages = [
        _Stage(
            node,
            FetchStats(
                stats.method, pattern, node.name, count=stats.count, count_rule=stats.count_rule
            ),
            FetchStats("MGET", pattern, node.name),
        )
        for node in nodes
    ]

    def check(stage: _Stage) -> ServerWatch:
        with translate_errors(stage.node.client, "checking that the server is ready"):
            return stage.node.check(stage.walk)

    # Every node ready (one round trip each, at once) before any of them is walked.
    watches = in_parallel([lambda s=s: check(s) for s in stages])
    for stage, watch in zip(stages, watches, strict=True):
        stage.watch = watch
    total = 0
    if use_scan and settings.progress:  # the first INFO gave each database's size, or ask
        for stage in stages:
            known = stage.watch.keys_at_start if stage.watch else None
            total += timed_call(stage.node.client.dbsize, stats) if known is None else known
    seen = SeenKeys(exact=exact)
    stop = threading.Event()
    outbox: queue.Queue[Any] = queue.Queue(maxsize=STAGE_QUEUE_TRIPS * len(stages))
    lock = threading.Lock()
    read_so_far = [0]
    label = f"{stats.method}{'+MGET' if values else ''} {pattern[:40]}"
    label += f" ({len(nodes)} nodes)" if source.cluster else ""
    started = time.perf_counter()
    with progress_bar(total, label, "keys") as bar:

        def put(box: queue.Queue[Any], item: Any) -> None:
            while not stop.is_set():
                try:
                    box.put(item, timeout=_POLL_S)
                    return
                except queue.Full:
                    continue
            raise _Stopped

        def take(box: queue.Queue[Any]) -> Any:
            while not stop.is_set():
                try:
                    return box.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
            raise _Stopped

        def walk(stage: _Stage, hand_on: Any) -> None:
            node, mine = stage.node, stage.walk
            trip = node.trip_keys()
            began = time.perf_counter()
            buffer: list[bytes] = []
            with translate_errors(node.client, f"listing keys matching {pattern!r}"):
                for batch in node.walk(
                    raw_pattern, stats.count or 1, mine, stage.watch, use_scan=use_scan
                ):
                    # Handed on as they come: the next stage drops repeats (SeenKeys) while
                    # this one waits for Redis's next reply.
                    buffer.extend(batch)
                    with lock:  # SCAN: the share of the keyspace walked; KEYS: keys to read
                        if use_scan and total:
                            step = mine.extra.get("counts", {}).get("final") or stats.count or 1
                            bar.update(min(step, max(0, total - bar.n)))
                        elif not use_scan and values:
                            bar.total = (bar.total or 0) + len(batch)
                    while len(buffer) >= trip:
                        hand_on(buffer[:trip])
                        buffer = buffer[trip:]
            if buffer:
                hand_on(buffer)
            stage.keys_seconds = time.perf_counter() - began
            stage.walk_window = (began - started, began - started + stage.keys_seconds)

        def read(stage: _Stage, inbox: queue.Queue[Any]) -> None:
            node, mine = stage.node, stage.read
            reader = node.reader(mine, stage.watch)  # a cluster node's groups keys by slot

            def hand_on(batch: KeysAndValues | None, began: float) -> None:
                if batch is None:
                    return
                stage.values_seconds += time.perf_counter() - began
                stage.values_read += len(batch.keys)
                stage.values_missing += batch.values.count(None)
                with lock:
                    read_so_far[0] += len(batch.keys)
                    if use_scan:
                        bar.set_postfix_str(f"{read_so_far[0]:,} values read", refresh=False)
                put(outbox, batch)

            with translate_errors(node.client, "reading values"):
                while not isinstance(walked := take(inbox), _Done):
                    keys = seen.fresh(walked)
                    stage.keys_found += len(keys)
                    if not use_scan:
                        with lock:
                            bar.update(len(walked))
                    began = time.perf_counter()
                    hand_on(reader.add(keys), began)
                began = time.perf_counter()
                hand_on(reader.finish(), began)
                stage.watch.changed("MGET", rescan=False)  # recorded, if it happened

        def run(job: Any, done: queue.Queue[Any], *args: Any) -> None:
            """Run one stage; its end (or its error, for the caller) goes on ``done``."""
            try:
                job(*args)
            except _Stopped:
                return
            except BaseException as error:  # raised again in the caller's thread
                stop.set()
                outbox.put(error)
                return
            with contextlib.suppress(_Stopped):
                put(done, _Done())

        threads: list[threading.Thread] = []
        for stage in stages:
            if values:
                inbox: queue.Queue[Any] = queue.Queue(maxsize=STAGE_QUEUE_TRIPS)
                jobs = [
                    (walk, inbox, stage, lambda keys, box=inbox: put(box, keys)),
                    (read, outbox, stage, inbox),
                ]
            else:
                jobs = [(walk, outbox, stage, lambda keys, s=stage: put(outbox, _Walked(s, keys)))]
            threads += [threading.Thread(target=run, args=job, daemon=True) for job in jobs]
        running = len(stages)  # each node's last stage says when it is done
        _RUNNING[stop] = threads
        try:
            for thread in threads:
                thread.start()
            while running:
                item = outbox.get()
                if isinstance(item, _Done):
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                elif isinstance(item, _Walked):  # keys only: repeats dropped here
                    fresh = seen.fresh(item.keys)
                    item.stage.keys_found += len(fresh)
                    if fresh:
                        yield KeysAndValues(fresh, None)
                else:
                    yield item
        finally:
            _stop(stop, threads)
            _RUNNING.pop(stop, None)
    _fold(stats, stages, seen, source)
    stats.elapsed_seconds = time.perf_counter() - started


_RUNNING: dict[threading.Event, list[threading.Thread]] = {}
"""The stages of every stream not yet closed (a caller interrupted between two batches
leaves its generator suspended until it is collected)."""


def _stop(stop: threading.Event, threads: list[threading.Thread]) -> None:
    """Stop a stream's stages and wait for them (each ends within one round trip), even if
    a signal interrupts the wait: a stage must not outlive its stream."""
    stop.set()
    interrupted: BaseException | None = None
    for thread in threads:
        while thread.is_alive():
            try:
                thread.join()
            except BaseException as error:  # KeyboardInterrupt, a signal handler's exception
                interrupted = error
    if interrupted is not None:
        raise interrupted


@atexit.register
def _stop_all() -> None:
    """At exit, stop the stages of streams a caller left suspended, before the interpreter
    tears down what they use."""
    for stop, threads in list(_RUNNING.items()):
        _stop(stop, threads)


def _fold(stats: FetchStats, stages: list[_Stage], seen: SeenKeys, source: RedisSource) -> None:
    """Sum what every stage counted into the fetch's ``stats``."""
    for stage in stages:
        walk, read = stage.walk, stage.read
        stats.scan_calls += walk.scan_calls
        stats.keys_filtered += walk.keys_filtered
        stats.mget_calls += read.mget_calls
        stats.retries += walk.retries + read.retries
        stats.slowest_call_seconds = max(
            stats.slowest_call_seconds, walk.slowest_call_seconds, read.slowest_call_seconds
        )
        stats.keys_found += stage.keys_found
        stats.values_missing += stage.values_missing
        stats.keys_seconds = max(stats.keys_seconds, stage.keys_seconds)
        stats.values_seconds = max(stats.values_seconds, stage.values_seconds)
        if source.cluster:
            entry = note_node_reads(stats, stage.node.name, read, stage.values_read)
            entry.update(
                keys_found=stage.keys_found,
                keys_filtered=walk.keys_filtered,
                scan_calls=walk.scan_calls,
                keys_seconds=stage.keys_seconds,
                walk_window_s=tuple(round(t, 4) for t in stage.walk_window),
                slowest_call_seconds=max(walk.slowest_call_seconds, read.slowest_call_seconds),
                retries=walk.retries + read.retries,
                restarts=walk.restarts,
                values_seconds=stage.values_seconds,
            )
            if "counts" in walk.extra:  # the COUNTs SCAN sent to this node
                entry["counts"] = walk.extra["counts"]
        fold_into(stats, walk)
    counts = [stage.walk.extra["counts"] for stage in stages if "counts" in stage.walk.extra]
    if counts:
        stats.extra["counts"] = merge_counts(counts)
    stats.duplicates_dropped += seen.duplicates


def note_node_reads(
    stats: FetchStats, name: str, read: FetchStats, values_read: int
) -> dict[str, Any]:
    """One cluster node's entry in ``stats.extra["nodes"]``, with what its reads did."""
    entry = stats.extra.setdefault("nodes", {}).setdefault(name, {})
    entry.update(
        mget_calls=read.mget_calls,
        values_read=values_read,
        values_seconds=read.values_seconds,
        slots=len(read.extra.pop("slots", ())),
    )
    for counted in ("redirected_chunks", "regrouped_chunks"):  # a slot moved; CROSSSLOT
        if counted in read.extra:
            entry[counted] = read.extra.pop(counted)
    return entry
