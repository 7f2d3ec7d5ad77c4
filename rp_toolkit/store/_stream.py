"""The read path as stages that overlap: walk → read → the caller.

Each node of a topology (:mod:`._node`; every primary of a cluster) gets two threads joined by a
bounded queue: its **walk** (SCAN batches, or one KEYS) hands each round trip's worth of keys
to its **read** stage, which drops the keys seen before (while the walk waits for Redis's next
reply) and reads the rest with pipelined MGETs on a second connection from the pool (a
cluster node's first waits in a bounded buffer, grouped by hash slot, until its slot makes a
wide MGET: :class:`~._cluster.SlotBuffer`), putting
``(keys, values)`` batches on one queue for the caller (the parser, in
:mod:`rp_toolkit.frames`; with no values to read, the caller's thread drops the repeats). So
Redis answers the next SCAN or MGET while the client parses the last batch, and all primaries
of a cluster work at once. The queues hold a few round trips each: memory stays bounded
whatever the size of the keyspace, and a slow caller slows the stages down instead of piling
up data.

What stays exact (the guarantees the sequential path gave):

* **Readiness**: every node is checked (one ``INFO``) before any batch.
* **Restarts**: a node's two stages share one :class:`~._identity.ServerWatch`; the walk
  starts over from cursor 0 when the server changed, whichever stage saw it first.
* **De-duplication**: a key is handed on once (SCAN may return a key twice), exactly (a set
  of keys) or, with ``exact=False`` for callers that keep no keys (the batch interface), by
  its 64-bit hash in about 8 to 24 bytes a key (two different keys share a hash with
  probability about n²/2⁶⁵, 3×10⁻⁸ at a million keys; such a key would be counted in
  ``duplicates_dropped``, not dropped without a word).
* **Statistics**: each stage counts into its own :class:`~._stats.FetchStats`; they are folded
  into the fetch's at the end (:meth:`~._stats.FetchStats.absorb`; ``stats.nodes`` on a
  cluster).
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

from ..kinds import KeysAndValues, encode_key
from ._cluster import in_parallel
from ._connection import translate_errors
from ._identity import ServerWatch
from ._node import Node, ServerTopology
from ._scan import warn_keys_deprecated
from ._stats import FetchStats, NodeFigures, progress_bar, timed_call

STAGE_QUEUE_TRIPS = 4
"""Round trips waiting between two stages (per node): enough to keep Redis busy while the
caller parses, few enough to bound memory."""
_POLL_S = 0.1


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
    """One node's stages and what they recorded: the walk counts into ``walk`` (keys found,
    the walk's time), the read stage into ``read`` (values missing, the reads' time)."""

    node: Node
    walk: FetchStats
    read: FetchStats
    watch: ServerWatch | None = None
    walk_window: tuple[float, float] = (0.0, 0.0)
    """When the walk ran, in seconds from the stream's start."""
    values_read: int = 0


class _Done:
    pass


@dataclass
class _Walked:
    """Keys a node's walk handed on (repeats not yet dropped), when no values are read."""

    stage: _Stage
    keys: list[bytes]


def stream_batches(
    topology: ServerTopology,
    pattern: str,
    stats: FetchStats,
    *,
    values: bool = True,
    exact: bool = True,
) -> Iterator[KeysAndValues]:
    """Batches of ``(keys, values)`` (raw bytes; ``values`` None with ``values=False``) for
    the keys matching ``pattern`` on every node of ``topology``, walk and reads overlapped,
    with the topology's options.

    ``stats`` (method, pattern and COUNT already set) gets everything counted, once the
    stream is exhausted; keys come in the servers' order, each once (see :class:`SeenKeys`).
    """
    if stats.method != "SCAN":
        warn_keys_deprecated()
    stream = _Stream(topology, pattern, stats, values=values, exact=exact)
    total = stream.check_ready()  # every node, before any of them is walked
    with progress_bar(total, stream.label(), "keys", stream.options) as bar:
        stream.bar = bar
        yield from stream.run()
    stream.fold()


class _Stream:
    """What one stream's stages share: the nodes' stages, the queues, the keys seen, the
    progress bar and the stop signal. Each node's walk and read run in threads
    (:meth:`walk`, :meth:`read`); :meth:`run` hands their batches to the caller."""

    def __init__(
        self,
        topology: ServerTopology,
        pattern: str,
        stats: FetchStats,
        *,
        values: bool,
        exact: bool,
    ) -> None:
        self.topology, self.options, self.stats = topology, topology.options, stats
        self.pattern, self.raw_pattern, self.values = pattern, encode_key(pattern), values
        self.use_scan = stats.method == "SCAN"
        self.stages = [
            _Stage(
                node,
                FetchStats(stats.method, pattern, node.name, stats.count, stats.count_rule),
                FetchStats("MGET", pattern, node.name),
            )
            for node in topology.nodes()
        ]
        self.seen = SeenKeys(exact=exact)
        self.stop = threading.Event()
        self.outbox: queue.Queue[Any] = queue.Queue(maxsize=STAGE_QUEUE_TRIPS * len(self.stages))
        self.lock = threading.Lock()
        self.read_so_far = 0
        self.bar: Any = None
        self.total = 0
        self.started = time.perf_counter()

    def check_ready(self) -> int:
        """Check every node (one round trip each, at once); the keys to walk, for the
        progress bar (0: no bar, or not known)."""

        def check(stage: _Stage) -> ServerWatch:
            with translate_errors(stage.node.client, "checking that the server is ready"):
                return stage.node.check(stage.walk)

        watches = in_parallel([lambda s=s: check(s) for s in self.stages])
        total = 0
        for stage, watch in zip(self.stages, watches, strict=True):
            stage.watch = watch
            if self.use_scan and self.options.progress:  # the first INFO gave the size
                known = watch.keys_at_start
                size = stage.node.client.dbsize
                total += known if known is not None else self._timed(size)
        self.total = total
        self.started = time.perf_counter()
        return total

    def _timed(self, call: Any) -> Any:
        return timed_call(call, self.stats, retries=self.options.retries)

    def label(self) -> str:
        label = f"{self.stats.method}{'+MGET' if self.values else ''} {self.pattern[:40]}"
        return label + (f" ({len(self.stages)} nodes)" if self.topology.cluster else "")

    def put(self, box: queue.Queue[Any], item: Any) -> None:
        while not self.stop.is_set():
            try:
                box.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue
        raise _Stopped

    def take(self, box: queue.Queue[Any]) -> Any:
        while not self.stop.is_set():
            try:
                return box.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        raise _Stopped

    def walk(self, stage: _Stage, hand_on: Any) -> None:
        """A node's walk: its keys handed on a round trip's worth at a time, as they come
        (the next stage drops repeats while this one waits for Redis's next reply)."""
        node, mine = stage.node, stage.walk
        trip = node.trip_keys()
        began = time.perf_counter()
        buffer: list[bytes] = []
        count = self.stats.count or 1
        with translate_errors(node.client, f"listing keys matching {self.pattern!r}"):
            for batch in node.walk(
                self.raw_pattern, count, mine, stage.watch, use_scan=self.use_scan
            ):
                buffer.extend(batch)
                self._walked(mine, len(batch))
                while len(buffer) >= trip:
                    hand_on(buffer[:trip])
                    buffer = buffer[trip:]
        if buffer:
            hand_on(buffer)
        mine.keys_seconds = time.perf_counter() - began
        stage.walk_window = (began - self.started, began - self.started + mine.keys_seconds)

    def _walked(self, mine: FetchStats, keys: int) -> None:
        """The progress of a walk: with SCAN the share of the keyspace walked; with KEYS the
        keys to read."""
        with self.lock:
            bar = self.bar
            if self.use_scan and self.total:
                counts = mine.scan_counts
                step = (counts.final if counts else None) or self.stats.count or 1
                bar.update(min(step, max(0, self.total - bar.n)))
            elif not self.use_scan and self.values:
                bar.total = (bar.total or 0) + keys

    def read(self, stage: _Stage, inbox: queue.Queue[Any]) -> None:
        """A node's read stage: the fresh keys of each walked batch read (a cluster node's
        reader groups them by slot first), the values handed to the caller."""
        node = stage.node
        reader = node.reader(stage.read, stage.watch)
        with translate_errors(node.client, "reading values"):
            while not isinstance(walked := self.take(inbox), _Done):
                keys = self.seen.fresh(walked)
                stage.walk.keys_found += len(keys)
                if not self.use_scan:
                    with self.lock:
                        self.bar.update(len(walked))
                began = time.perf_counter()
                self._hand_on(stage, reader.add(keys), began)
            began = time.perf_counter()
            self._hand_on(stage, reader.finish(), began)
            stage.watch.changed("MGET", rescan=False)  # recorded, if it happened

    def _hand_on(self, stage: _Stage, batch: KeysAndValues | None, began: float) -> None:
        if batch is None:
            return
        stage.read.values_seconds += time.perf_counter() - began
        stage.values_read += len(batch.keys)
        stage.read.values_missing += batch.values.count(None)
        with self.lock:
            self.read_so_far += len(batch.keys)
            if self.use_scan:
                self.bar.set_postfix_str(f"{self.read_so_far:,} values read", refresh=False)
        self.put(self.outbox, batch)

    def _job(self, job: Any, done: queue.Queue[Any], *args: Any) -> None:
        """Run one stage; its end (or its error, for the caller) goes on ``done``."""
        try:
            job(*args)
        except _Stopped:
            return
        except BaseException as error:  # raised again in the caller's thread
            self.stop.set()
            self.outbox.put(error)
            return
        with contextlib.suppress(_Stopped):
            self.put(done, _Done())

    def threads(self) -> list[threading.Thread]:
        """Each node's stages: walk and read joined by a bounded queue, or the walk alone
        (keys only: its keys go straight to the caller)."""
        jobs: list[tuple[Any, ...]] = []
        outbox = self.outbox
        for stage in self.stages:
            if self.values:
                inbox: queue.Queue[Any] = queue.Queue(maxsize=STAGE_QUEUE_TRIPS)
                jobs.append((self.walk, inbox, stage, lambda keys, box=inbox: self.put(box, keys)))
                jobs.append((self.read, outbox, stage, inbox))
            else:
                walked = lambda keys, s=stage: self.put(outbox, _Walked(s, keys))  # noqa: E731
                jobs.append((self.walk, outbox, stage, walked))
        return [threading.Thread(target=self._job, args=job, daemon=True) for job in jobs]

    def run(self) -> Iterator[KeysAndValues]:
        """Start the stages, hand their batches on until each node's last stage is done, and
        stop them whatever happens."""
        threads = self.threads()
        running = len(self.stages)  # each node's last stage says when it is done
        _RUNNING[self.stop] = threads
        try:
            for thread in threads:
                thread.start()
            while running:
                item = self.outbox.get()
                if isinstance(item, _Done):
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                elif isinstance(item, _Walked):  # keys only: repeats dropped here
                    fresh = self.seen.fresh(item.keys)
                    item.stage.walk.keys_found += len(fresh)
                    if fresh:
                        yield KeysAndValues(fresh, None)
                else:
                    yield item
        finally:
            _stop(self.stop, threads)
            _RUNNING.pop(self.stop, None)

    def fold(self) -> None:
        """Sum what every stage counted into the fetch's ``stats`` (and each node's figures
        into ``stats.nodes`` on a cluster)."""
        stats = self.stats
        for stage in self.stages:
            if self.topology.cluster:
                stats.nodes[stage.node.name] = _node_figures(stage)
            stats.absorb(stage.walk)
            stats.absorb(stage.read)
        stats.duplicates_dropped += self.seen.duplicates
        stats.elapsed_seconds = time.perf_counter() - self.started


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


def _node_figures(stage: _Stage) -> NodeFigures:
    """What one cluster node's stages did."""
    walk, read = stage.walk, stage.read
    figures = NodeFigures()
    figures.note_reads(read, stage.values_read)
    figures.keys_found, figures.keys_filtered = walk.keys_found, walk.keys_filtered
    figures.scan_calls, figures.keys_seconds = walk.scan_calls, walk.keys_seconds
    figures.walk_window_s = (round(stage.walk_window[0], 4), round(stage.walk_window[1], 4))
    figures.slowest_call_seconds = max(walk.slowest_call_seconds, read.slowest_call_seconds)
    figures.retries, figures.restarts = walk.retries + read.retries, walk.restarts
    figures.counts = walk.scan_counts
    return figures
