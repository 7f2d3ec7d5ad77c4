"""What Redis itself says about a measurement: commands sent, INFO commandstats, SLOWLOG.

On a Redis Cluster every figure covers every primary: commandstats are summed, SLOWLOG is read
on each node (entries counted over all, the slowest is the slowest of any)."""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis import exceptions as redis_errors
from redis.cluster import RedisCluster

from ..exceptions import InvalidArgumentError

logger = logging.getLogger("rp_toolkit")

SLOWLOG_MAX_LEN = 10_000
WATCHED = ("keys", "scan", "mget")
"""The commands whose server time and slowlog entries are measured (commandstats names)."""
WATCHED_NAMES = tuple(name.upper() for name in WATCHED)


class CountingRedis(redis.Redis):
    """A ``redis.Redis`` that counts the commands it sends (pipelines aside).

    The counters are plain attributes, so several clients can share them (the per-node
    clients of a :class:`CountingCluster`); a lock keeps counts right across threads.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_counts: collections.Counter[str] = collections.Counter()
        self.scan_counts: list[int] = []  # the COUNT of every SCAN sent
        self.count_lock = threading.Lock()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        name = str(args[0]).upper()
        with self.count_lock:
            self.command_counts[name] += 1
            if name == "SCAN" and b"COUNT" in args:
                self.scan_counts.append(int(args[args.index(b"COUNT") + 1]))
        return super().execute_command(*args, **options)


class CountingCluster(RedisCluster):
    """A ``RedisCluster`` whose per-node clients (those the read path walks and reads each
    primary with) are :class:`CountingRedis` sharing this client's counters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.command_counts: collections.Counter[str] = collections.Counter()
        self.scan_counts: list[int] = []
        self.count_lock = threading.Lock()
        self._counting: dict[str, CountingRedis] = {}
        super().__init__(*args, **kwargs)  # may already ask for a node's client

    def get_redis_connection(self, node: Any) -> redis.Redis:
        """The node's client, as a :class:`CountingRedis` on the same connection pool."""
        base = super().get_redis_connection(node)
        with self.count_lock:
            counting = self._counting.get(node.name)
            if counting is None or counting.connection_pool is not base.connection_pool:
                counting = CountingRedis(connection_pool=base.connection_pool)
                counting.command_counts = self.command_counts
                counting.scan_counts = self.scan_counts
                counting.count_lock = self.count_lock
                self._counting[node.name] = counting
            return counting


class ServerStats:
    """INFO commandstats deltas and SLOWLOG entries around one repeat, on admin connections:
    one server's, or one per primary of a cluster (figures summed over them).

    Sets ``slowlog-log-slower-than`` to ``threshold_us`` (and raises ``slowlog-max-len``) on
    every node until :meth:`restore`; when CONFIG is refused on any, only commandstats are
    measured (and the nodes already changed are put back).
    """

    def __init__(
        self, admin: redis.Redis | Sequence[redis.Redis], owns_server: bool, threshold_us: int
    ) -> None:
        self.nodes: list[redis.Redis] = [admin] if isinstance(admin, redis.Redis) else list(admin)
        if not self.nodes:
            raise InvalidArgumentError("ServerStats needs at least one admin connection.")
        self.admin = self.nodes[0]
        self.owns_server = owns_server
        self.threshold_us: float = math.nan
        self._saved: list[tuple[redis.Redis, dict[str, str]]] = []
        try:
            for node in self.nodes:
                saved: dict[str, str] = {}
                for name in ("slowlog-log-slower-than", "slowlog-max-len"):
                    saved.update({str(k): str(v) for k, v in node.config_get(name).items()})
                self._saved.append((node, saved))
                node.config_set("slowlog-log-slower-than", threshold_us)
                node.config_set(
                    "slowlog-max-len", max(SLOWLOG_MAX_LEN, int(saved.get("slowlog-max-len", 0)))
                )
            self.threshold_us = float(threshold_us)
        except redis_errors.ResponseError as error:
            logger.warning("SLOWLOG not measured: CONFIG refused (%s).", error)
            self.restore()
            self._saved = []
        self._marks = [-1] * len(self.nodes)

    @property
    def slowlog(self) -> bool:
        return not math.isnan(self.threshold_us)

    def restore(self) -> None:
        """Put the slowlog settings back as they were, on every node."""
        for node, saved in self._saved:
            for name, value in saved.items():
                with contextlib.suppress(redis_errors.RedisError):
                    node.config_set(name, value)

    def commandstats(self) -> dict[str, tuple[int, int]]:
        """``{command: (calls, usec)}`` of the watched commands, summed over the nodes."""
        totals = dict.fromkeys(WATCHED, (0, 0))
        for node in self.nodes:
            info = node.info("commandstats")
            for name in WATCHED:
                entry = info.get(f"cmdstat_{name}", {})
                calls, usec = totals[name]
                totals[name] = (
                    calls + int(entry.get("calls", 0)),
                    usec + int(entry.get("usec", 0)),
                )
        return totals

    def before(self) -> dict[str, tuple[int, int]]:
        """Call before a repeat; pass what it returns to :meth:`after`."""
        if self.slowlog:
            for index, node in enumerate(self.nodes):
                if self.owns_server:
                    node.slowlog_reset()
                last = node.slowlog_get(1)
                self._marks[index] = int(last[0]["id"]) if last else -1
        return self.commandstats()

    def after(self, before: dict[str, tuple[int, int]]) -> dict[str, Any]:
        """``redis_<command>_usec`` per watched command (all nodes) and the slowlog figures of
        a repeat: entries logged on any node, the slowest of them."""
        now = self.commandstats()
        result: dict[str, Any] = {
            f"redis_{name}_usec": float(now[name][1] - before[name][1]) for name in WATCHED
        }
        result["slowlog_entries"] = math.nan
        result["slowlog_max_us"] = math.nan
        result["slowlog_max_command"] = None
        if self.slowlog:
            entries = []
            for node, mark in zip(self.nodes, self._marks, strict=True):
                mine = [
                    entry
                    for entry in node.slowlog_get(SLOWLOG_MAX_LEN)
                    if int(entry["id"]) > mark and _command_name(entry) in WATCHED_NAMES
                ]
                if len(mine) >= SLOWLOG_MAX_LEN:
                    logger.warning(
                        "The slowlog filled up (%d entries) during one repeat: the slowest "
                        "command may be missing. Raise slowlog_threshold_us.",
                        len(mine),
                    )
                entries += mine
            result["slowlog_entries"] = float(len(entries))
            if entries:
                slowest = max(entries, key=lambda entry: int(entry["duration"]))
                result["slowlog_max_us"] = float(slowest["duration"])
                result["slowlog_max_command"] = _command_name(slowest)
        return result


def _command_name(entry: dict[str, Any]) -> str:
    command = entry.get("command", b"")
    if isinstance(command, bytes):
        command = command.decode("utf-8", "replace")
    return str(command).split(" ", 1)[0].upper()
