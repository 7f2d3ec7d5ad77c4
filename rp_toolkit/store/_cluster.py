"""Redis Cluster: key discovery on every primary, values read per slot.

The gem lists keys with one ``KEYS`` and reads them with one ``MGET``. On a cluster both break:
KEYS (and SCAN) see the keys of the one node they run on, and an MGET whose keys hash to
different slots fails with ``CROSSSLOT Keys in request don't hash to the same slot``. Here:

* **Which URLs are clusters**: :mod:`rp_toolkit.store._connection` decides.
* **Keys.** KEYS or SCAN (per ``use_scan`` and the COUNT rules) runs on every primary, all at
  once: each primary is its own stream in :mod:`rp_toolkit.store._stream`, and the keys are
  de-duplicated and sorted by the caller exactly as on one node.
* **Values.** Each primary's read stage groups the keys it is handed by hash slot in a
  bounded buffer (:class:`SlotBuffer`) and reads a slot's keys when they fill an MGET, when
  the walk has passed the slot, when the buffer is full, or at the end: MGETs of at most
  ``options.mget_chunk`` keys of one slot (an MGET never spans two slots), as wide as the
  slot and the buffer allow. A slot may hold few keys, so the MGETs for one primary are
  pipelined about ``mget_chunk × pipeline_depth`` keys per round trip, as many as one trip to
  a single node, packed by hiredis without redis-py's Python work per key and per command
  (:func:`send_mgets`); primaries are read at the same time. A chunk
  answered with a redirection (a slot moved while resharding) is re-read through redis-py's
  cluster client, which follows the redirection. A trip answered ``CLUSTERDOWN`` (a node
  that just restarted serves again only after about 2 s) is sent again with the backoff of
  a lost connection, then :class:`ServerNotReadyError`.
* **Readiness and restarts**: every primary is checked before any is listed, and each SCAN
  loop and read phase watches its own node (:mod:`rp_toolkit.store._identity`).

Keys listed while a slot migrates may come from both nodes (de-duplicated) or, rarely, be
missed; analysis during a resharding is best repeated afterwards.
"""

from __future__ import annotations

import itertools
from binascii import crc_hqx
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from redis import exceptions as redis_errors
from redis.cluster import RedisCluster, key_slot

from ..config import Options
from ..exceptions import ServerNotReadyError
from ..kinds import KeysAndValues
from ._identity import ServerWatch
from ._node import Node, Reader, ServerTopology, send_mgets
from ._stats import FetchStats, timed_call

SLOTS = 16384
MAX_THREADS = 8
"""At most this many nodes are checked at the same time (one thread each)."""
CLUSTER_BUFFER_TRIPS = 8
"""A cluster node's read stage holds at most this many round trips' keys, grouped by slot,
before it reads them (:class:`SlotBuffer`)."""
_REDIRECTIONS = (redis_errors.MovedError, redis_errors.AskError, redis_errors.TryAgainError)

T = TypeVar("T")


def in_parallel(jobs: Sequence[Callable[[], T]]) -> list[T]:
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


class ClusterNode(Node):
    """One primary of a cluster: walked like a single server, read per slot."""

    cluster = True

    def __init__(self, owner: RedisCluster, node: Any, options: Options) -> None:
        super().__init__(owner.get_redis_connection(node), options, node.name)
        self.owner = owner

    def buffer_keys(self) -> int:
        """An MGET may not span two slots: a read stage holds up to
        :data:`CLUSTER_BUFFER_TRIPS` round trips' keys, grouped by slot, so that a walk whose
        batches spread over every slot still reads more than a key or two per MGET."""
        return super().buffer_keys() * CLUSTER_BUFFER_TRIPS

    def reader(self, stats: FetchStats, watch: ServerWatch) -> SlotBuffer:
        return SlotBuffer(self, stats, watch)

    def read(
        self, keys: Sequence[bytes], stats: FetchStats, watch: ServerWatch
    ) -> list[bytes | None]:
        """Values of ``keys``: MGETs within one slot each (see :meth:`read_slots`)."""
        if not keys:
            return []
        slots = slots_of(keys)
        order = np.argsort(slots, kind="stable")  # each slot's keys together, in their order
        ordered = slots[order]
        order_list = order.tolist()
        by_slot = [keys[index] for index in order_list]
        found = self.read_slots(by_slot, *_runs(ordered), stats, watch)
        values: list[bytes | None] = [None] * len(keys)
        for index, value in zip(order_list, found, strict=True):
            values[index] = value
        return values

    def read_slots(
        self,
        keys: Sequence[bytes],
        slots: list[int],
        bounds: list[int],
        stats: FetchStats,
        watch: ServerWatch,
    ) -> list[bytes | None]:
        """Values of ``keys``, whose ``keys[bounds[i]:bounds[i + 1]]`` are of ``slots[i]``:
        MGETs of at most ``options.mget_chunk`` keys of one slot, pipelined about
        ``mget_chunk × pipeline_depth`` keys per round trip. A chunk answered with a
        redirection (the slot moved) is re-read through the cluster client; ``CLUSTERDOWN``
        is retried, then ServerNotReadyError. (Plain lists of ints, not a tuple per slot or
        per MGET: fewer objects for the garbage collector.)"""
        chunk = self.options.mget_chunk
        pairs = itertools.pairwise(bounds)
        cuts = [offset for start, end in pairs for offset in range(start, end, chunk)]
        cuts.append(bounds[-1])  # MGET j reads keys[cuts[j]:cuts[j + 1]]
        stats.slots_read.update(slots)
        found: list[bytes | None] = [None] * len(keys)
        for first, last in _trips(cuts, chunk * self.options.pipeline_depth):
            retries = stats.retries
            values, errors = self._send(keys, cuts[first : last + 1], stats)
            found[cuts[first] : cuts[last]] = values  # a trip's MGETs follow each other
            stats.mget_calls += last - first - len(errors)
            for at, error in errors.items():
                start, end = cuts[first + at], cuts[first + at + 1]
                if isinstance(error, redis_errors.ClusterCrossSlotError):
                    # Keys taken to share a slot (ordered_runs) do not: read by exact slots.
                    stats.regrouped_chunks += 1
                    found[start:end] = self.read(keys[start:end], stats, watch)
                elif isinstance(error, _REDIRECTIONS):
                    # The slot moved (resharding): the cluster client follows it.
                    stats.redirected_chunks += 1
                    found[start:end] = timed_call(
                        lambda s=start, e=end: self.owner.mget_nonatomic(keys[s:e]),
                        stats,
                        retries=self.options.retries,
                    )
                    stats.mget_calls += 1
                else:
                    raise error
            if stats.retries != retries:
                watch.changed("MGET", rescan=False)
        return found

    def _send(
        self, keys: Sequence[bytes], cuts: list[int], stats: FetchStats
    ) -> tuple[list[bytes | None], dict[int, Exception]]:
        def send() -> tuple[list[bytes | None], dict[int, Exception]]:
            values, errors = send_mgets(self.client, keys, cuts)
            for error in errors.values():
                if isinstance(error, redis_errors.ClusterDownError):
                    raise error  # not ready (yet): the trip is sent again
            return values, errors

        try:
            return timed_call(
                send,
                stats,
                retries=self.options.retries,
                also_retry=(redis_errors.ClusterDownError,),
            )
        except redis_errors.ClusterDownError:
            raise ServerNotReadyError(
                f"Redis Cluster node {self.name} answers CLUSTERDOWN while reading values: "
                "its cluster_state is not ok (a node that just restarted waits about 2 s "
                "before serving again; or slots are not covered). Retry in a moment, or let "
                "reads wait longer with rp.setup(retries=N)."
            ) from None


class SlotBuffer(Reader):
    """A cluster node's read stage: the fresh keys grouped by hash slot, each slot's keys
    read in MGETs as wide as the slot allows.

    A slot's keys are read when

    * they fill an MGET (``options.mget_chunk`` keys: the full chunks are read, the rest
      waits);
    * the walk has passed their slot: when a batch comes in slot order after one that did and
      ended at or below its first slot (as SCAN hands keys on servers that keep one table per
      slot, Valkey 8+ and Redis 7.4+), the waiting slots below its first are read, so each
      slot is read whole, about one round trip after the walk reached it;
    * the buffer holds more than :meth:`ClusterNode.buffer_keys` keys (a walk that spreads
      each batch over every slot, as SCAN on one table does): all of them, so an MGET carries
      about that many keys over the node's slots, and memory stays bounded;
    * the walk has ended (:meth:`finish`).

    Once a batch came in slot order, the next one is taken to be in order too: where its
    slots change is found by computing the slot of a few keys per slot, not of every key
    (:func:`ordered_runs`; the server checks the rest: an MGET whose keys span two slots is
    answered ``CROSSSLOT``, and its keys are then read by their exact slots).
    """

    def __init__(self, node: ClusterNode, stats: FetchStats, watch: ServerWatch) -> None:
        super().__init__(node, stats, watch)
        self.node: ClusterNode = node
        self.bound = node.buffer_keys()
        self.waiting: dict[int, list[bytes]] = {}
        self.size = 0
        self.frontier: int | None = None
        """The last slot of the batch before, if that batch came in slot order."""
        self.run_guess = 1
        """Keys per slot in the batch before."""

    def add(self, keys: list[bytes]) -> KeysAndValues | None:
        if not keys:
            return None
        runs = None
        if self.frontier is not None:  # the walk came in slot order: find where slots change
            runs = ordered_runs(keys, self.run_guess)
        if runs is not None:
            grouped, in_order = keys, True
        else:
            slots = slots_of(keys)
            in_order = bool(np.all(slots[1:] >= slots[:-1]))
            order = None if in_order else np.argsort(slots, kind="stable")
            ordered = slots if order is None else slots[order]
            grouped = keys if order is None else [keys[index] for index in order.tolist()]
            runs = _runs(ordered)
        slots, bounds = runs
        ready: list[tuple[int, list[bytes]]] = []
        if in_order and self.frontier is not None and slots[0] >= self.frontier:
            # Two batches in a row in slot order: the walk has passed the slots below.
            passed = sorted(slot for slot in self.waiting if slot < slots[0])
            ready += [(slot, self.waiting.pop(slot)) for slot in passed]
        self.frontier = slots[-1] if in_order else None
        self.run_guess = max(1, len(keys) // len(slots))
        chunk = self.node.options.mget_chunk
        for slot, (start, end) in zip(slots, itertools.pairwise(bounds), strict=True):
            group = self.waiting.setdefault(slot, [])
            group += grouped[start:end]
            if len(group) >= chunk:  # full MGETs: read now, the rest waits
                full = len(group) - len(group) % chunk
                ready.append((slot, group[:full]))
                del group[:full]
                if not group:
                    del self.waiting[slot]
        self.size += len(keys) - sum(len(group) for _, group in ready)
        if self.size > self.bound:
            ready += self.waiting.items()
            self.waiting, self.size = {}, 0
        return self._read(ready)

    def finish(self) -> KeysAndValues | None:
        ready, self.waiting, self.size = list(self.waiting.items()), {}, 0
        return self._read(ready)

    def _read(self, ready: list[tuple[int, list[bytes]]]) -> KeysAndValues | None:
        if not ready:
            return None
        keys: list[bytes] = []
        bounds = [0]
        for _, group in ready:
            keys += group
            bounds.append(len(keys))
        slots = [slot for slot, _ in ready]
        found = self.node.read_slots(keys, slots, bounds, self.stats, self.watch)
        return KeysAndValues(keys, found)


class ClusterTopology(ServerTopology):
    """A Redis Cluster as the read path sees it: every primary walked, each key read on its
    slot's owner."""

    cluster = True

    def __init__(self, client: RedisCluster, options: Options) -> None:
        self.client, self.options = client, options
        self._nodes: dict[str, ClusterNode] = {}

    def node(self, node: Any) -> ClusterNode:
        if node.name not in self._nodes:
            self._nodes[node.name] = ClusterNode(self.client, node, self.options)
        return self._nodes[node.name]

    def nodes(self) -> list[Node]:
        return [self.node(node) for node in self.client.get_primaries()]

    def route(self, keys: Sequence[str | bytes]) -> list[tuple[Node, list[int]]]:
        owners: dict[str, list[int]] = defaultdict(list)
        found: dict[str, Any] = {}
        for index, slot in enumerate(slots_of(self.encoded(keys)).tolist()):
            owner = self.client.nodes_manager.get_node_from_slot(slot)
            found[owner.name] = owner
            owners[owner.name].append(index)
        return [(self.node(found[name]), indexes) for name, indexes in owners.items()]


def slots_of(keys: Sequence[bytes]) -> np.ndarray:
    """The hash slot of each of ``keys``, as redis-py's ``key_slot`` computes it: CRC16 of
    the key, or of its hash tag (the part between the first ``{`` and the next ``}``, if not
    empty). The CRCs are computed in C; only keys holding a ``{`` take the Python rule."""
    if b"{" in b"".join(keys):
        crcs: Any = [key_slot(key) if b"{" in key else crc_hqx(key, 0) for key in keys]
    else:
        crcs = map(crc_hqx, keys, itertools.repeat(0))
    return np.fromiter(crcs, dtype=np.int64, count=len(keys)) % SLOTS


def ordered_runs(keys: Sequence[bytes], guess: int = 1) -> tuple[list[int], list[int]] | None:
    """The runs of one slot in ``keys``, taken to come in slot order, as ``(slots,
    bounds)`` (run ``i``: ``keys[bounds[i]:bounds[i + 1]]`` of ``slots[i]``), found by
    galloping from each run's start (``guess`` keys, then twice as far...) and bisecting:
    about log₂(run) slots computed per run instead of one per key. None when the keys
    probed are not in slot order. A key between two probed keys of one slot is taken to be
    of that slot, unchecked (the server refuses an MGET across slots)."""
    known: dict[int, int] = {}

    def slot(index: int) -> int:
        found = known.get(index)
        if found is None:
            key = keys[index]
            found = known[index] = key_slot(key) if b"{" in key else crc_hqx(key, 0) % SLOTS
        return found

    slots: list[int] = []
    bounds = [0]
    if not keys:
        return slots, bounds
    count, start, current = len(keys), 0, slot(0)
    while True:
        low, step = start, max(1, guess)
        high = low + step
        while high < count and slot(high) == current:  # gallop
            low, step = high, step * 2
            high = low + step
        if high >= count:
            if slot(count - 1) == current:
                slots.append(current)
                bounds.append(count)
                return slots, bounds
            high = count - 1
        while high - low > 1:  # slot(low) is current, slot(high) is not
            middle = (low + high) // 2
            if slot(middle) == current:
                low = middle
            else:
                high = middle
        following = slot(high)
        if following < current:
            return None
        slots.append(current)
        bounds.append(high)
        guess, start, current = high - start, high, following


def _runs(ordered: np.ndarray) -> tuple[list[int], list[int]]:
    """The runs of equal slots in ``ordered`` (slots in order), as ``(slots, bounds)``."""
    starts = [0, *(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist()]
    return ordered[starts].tolist(), [*starts, len(ordered)]


def _trips(cuts: list[int], keys_per_trip: int) -> list[tuple[int, int]]:
    """The MGETs (``keys[cuts[j]:cuts[j + 1]]``) grouped into round trips of about
    ``keys_per_trip`` keys, as ``(first, last)``: MGETs ``first`` to ``last - 1``. A slot
    may hold few keys, so a trip can carry many small MGETs, as many keys as one trip to a
    single node."""
    trips: list[tuple[int, int]] = []
    first = 0
    for at in range(1, len(cuts)):
        if cuts[at] - cuts[first] >= keys_per_trip or at == len(cuts) - 1:
            trips.append((first, at))
            first = at
    return trips
