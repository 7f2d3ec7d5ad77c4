"""Which server answers, and whether it can answer completely: readiness and restarts.

A SCAN cursor is a position in one server process's hash table. After a restart (the data
reloaded from an RDB into a table with a new hash seed) or a failover (another process
behind the address), the old cursor still "works" but walks a different table, and keys go
missing without a word. So every loop that reads one server (a SCAN walk, a read phase)
holds a :class:`ServerWatch`:

* **Start**: one ``INFO`` (on a cluster node, ``INFO``, ``CLUSTER INFO`` and ``CLUSTER NODES``
  in one round trip) gives the server's identity (``run_id``, ``master_replid``; on a cluster
  the node id and the slots it serves) and says whether it is ready: not loading, not a
  replica whose link to its primary is down or still syncing (unless
  ``options.allow_stale_replica``), not a cluster node whose ``cluster_state`` is not ``ok``.
  A server that is not ready raises :class:`ServerNotReadyError` before any batch.
* **After a reconnect** (a retry in :func:`timed_call`) and **when the loop ends** (which
  also catches reconnects redis-py made on its own: a pooled connection that is replaced
  when it was found closed, a caller's client with its own retries) the server is identified
  again. A SCAN walk whose server changed starts over from cursor 0 (the callers
  de-duplicate), at most ``options.retries`` times, else :class:`ServerChangedError`; a read
  phase only records it (MGET is idempotent; keys gone with the restart read as ``None``).

Each change is counted in ``stats.restarts`` and described in ``stats.restart_events``;
``stats.servers[name].identity`` holds the identity each server last had, so that reading
values after a listing compares against the server that listed the keys.

If ``INFO`` itself is refused (an ACL without ``+info``), the fetch goes on unchecked and
says so in ``stats.servers[name].unchecked``; ``CLUSTER INFO``/``CLUSTER NODES`` refused on a
cluster likewise leave only the cluster parts unchecked.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import redis
from redis import exceptions as redis_errors

from ..config import Options
from ..exceptions import ServerChangedError, ServerNotReadyError
from ..version import server_label
from ._connection import describe_server
from ._stats import FetchStats, Restart, ServerIdentity, StaleReplica, timed_call

logger = logging.getLogger("rp_toolkit")
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _warn_once(where: str, message: str, *args: object) -> None:
    """Log a warning about ``where`` once per process (a notebook fetches many times)."""
    text = message % args
    with _warned_lock:
        if (where, text) in _warned:
            return
        _warned.add((where, text))
    logger.warning(text)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _cluster_state(reply: Any) -> str | None:
    if isinstance(reply, Exception):
        return None
    if isinstance(reply, dict):  # some redis-py versions parse CLUSTER INFO
        return _text(reply.get("cluster_state", "")) or None
    for line in _text(reply).splitlines():
        name, _, value = line.partition(":")
        if name == "cluster_state":
            return value.strip()
    return None


def _myself(reply: Any) -> tuple[str | None, str | None]:
    """``(node id, slots)`` from the ``myself`` line of ``CLUSTER NODES``."""
    if isinstance(reply, Exception):
        return None, None
    for line in _text(reply).splitlines():
        fields = line.split()
        if len(fields) >= 8 and "myself" in fields[2].split(","):
            # the slot ranges it owns; "[slot->-node]" entries are migrations in progress
            owned = [field for field in fields[8:] if not field.startswith("[")]
            return fields[0], " ".join(owned)
    return None, None


@dataclass
class Observation:
    """One look at a server: its identity, its ``INFO`` (empty when refused), its cluster
    state (``None`` when not a cluster node or not known) and what could not be asked."""

    identity: ServerIdentity
    info: dict[str, Any]
    cluster_state: str | None = None
    unchecked: str | None = None


def observe(
    client: redis.Redis, stats: FetchStats, options: Options, *, cluster: bool = False
) -> Observation:
    """Ask ``client``'s server who it is: one round trip (retried like every other)."""
    if cluster:

        def ask() -> list[Any]:
            pipe = client.pipeline(transaction=False)
            pipe.info()
            pipe.execute_command("CLUSTER", "INFO")
            pipe.execute_command("CLUSTER", "NODES")
            return pipe.execute(raise_on_error=False)

        info, cluster_info, nodes = timed_call(ask, stats, retries=options.retries)
    else:
        try:
            info = timed_call(client.info, stats, retries=options.retries)
        except redis_errors.ResponseError as error:  # refused (ACL) or renamed
            info = error
        cluster_info = nodes = None
    refused = [
        name
        for name, reply in (
            ("INFO", info),
            ("CLUSTER INFO", cluster_info),
            ("CLUSTER NODES", nodes),
        )
        if isinstance(reply, Exception)
    ]
    if isinstance(info, Exception) or not isinstance(info, dict):
        info = {}
    node_id, slots = _myself(nodes) if cluster else (None, None)
    identity = ServerIdentity(
        run_id=info.get("run_id"),
        replid=info.get("master_replid"),
        role=info.get("role"),
        node_id=node_id,
        slots=slots,
    )
    unchecked = None
    if refused:
        what = "readiness and restarts" if "INFO" in refused else "the cluster state and slots"
        grants = " ".join("+" + name.lower().replace(" ", "|") for name in refused)
        unchecked = f"{', '.join(refused)} refused, {what} not checked (grant {grants})"
    return Observation(identity, info, _cluster_state(cluster_info), unchecked)


def check_ready(seen: Observation, where: str, stats: FetchStats, options: Options) -> None:
    """Raise :class:`ServerNotReadyError` if the server cannot give a complete answer now;
    a stale replica read anyway (``options.allow_stale_replica``) is noted in ``stats``."""
    info = seen.info
    if str(info.get("loading", 0)) == "1" or str(info.get("async_loading", 0)) == "1":
        done = info.get("loading_loaded_perc")
        progress = f", {float(done):.0f}% done" if done is not None else ""
        raise ServerNotReadyError(
            f"Redis at {where} is still loading its data set (INFO loading:1{progress}): a "
            "read now would miss keys. Retry when it has finished loading."
        )
    if info.get("role") == "slave":
        link = _text(info.get("master_link_status", "?"))
        syncing = str(info.get("master_sync_in_progress", 0)) == "1"
        if link != "up" or syncing:
            primary = f"{info.get('master_host', '?')}:{info.get('master_port', '?')}"
            state = "a full sync from it is in progress" if syncing else f"its link is {link}"
            if not options.allow_stale_replica:
                raise ServerNotReadyError(
                    f"Redis at {where} is a replica of {primary} and {state}: its data may be "
                    "old or incomplete. Read the primary, wait for the replica to catch up, or "
                    "read it anyway with rp.setup(allow_stale_replica=True) "
                    "(RP_ALLOW_STALE_REPLICA=true)."
                )
            stats.server_facts(where).stale_replica = StaleReplica(
                primary, link, syncing, info.get("master_link_down_since_seconds")
            )
            _warn_once(
                where,
                "Reading Redis at %s, a replica of %s, though %s (allow_stale_replica): "
                "its data may be old or incomplete.",
                where,
                primary,
                state,
            )
    if seen.cluster_state is not None and seen.cluster_state != "ok":
        raise ServerNotReadyError(
            f"Redis Cluster node {where} reports cluster_state:{seen.cluster_state} (slots "
            "not covered, or a node that just restarted and has not rejoined yet): reads "
            "would be refused or incomplete. Retry when CLUSTER INFO says cluster_state:ok."
        )


class ServerWatch:
    """One server's identity for the length of one loop (a SCAN walk or a read phase):
    see the module's description. ``name`` is how ``stats`` names the server; ``options``
    are the fetch's (``retries``, ``allow_stale_replica``)."""

    def __init__(
        self,
        client: redis.Redis,
        stats: FetchStats,
        identity: ServerIdentity,
        options: Options,
        *,
        name: str | None = None,
        cluster: bool = False,
    ) -> None:
        self.client, self.stats, self.identity = client, stats, identity
        self.options = options
        self.name = name or describe_server(client)
        self.cluster = cluster
        self.changes = 0
        self.generation = 0
        """Bumped on every change found, by whichever stage found it: a SCAN walk compares it
        with the generation it started from (:meth:`changed`'s ``since``), so a restart that
        the read stage noticed first still makes the walk start over."""
        self._lock = threading.Lock()
        self.keys_at_start: int | None = None
        """The database's size from the first ``INFO`` (sizes a progress bar), if known."""
        self._remember()

    @classmethod
    def start(
        cls,
        client: redis.Redis,
        stats: FetchStats,
        options: Options,
        *,
        name: str | None = None,
        cluster: bool = False,
    ) -> ServerWatch:
        """Identify the server and check that it is ready (one round trip)."""
        where = name or describe_server(client)
        seen = observe(client, stats, options, cluster=cluster)
        facts = stats.server_facts(where)
        if seen.unchecked:
            facts.unchecked = seen.unchecked
            _warn_once(where, "Redis at %s: %s.", where, seen.unchecked)
        check_ready(seen, where, stats, options)
        if seen.info:  # which server answered: valkey 9.1.2, redis 7.0.15
            facts.software = server_label(seen.info)
        watch = cls(client, stats, seen.identity, options, name=where, cluster=cluster)
        if seen.info:  # the keyspace section lists only databases that hold keys
            db = client.connection_pool.connection_kwargs.get("db", 0) or 0
            keyspace = seen.info.get(f"db{db}")
            watch.keys_at_start = int(keyspace.get("keys", 0)) if isinstance(keyspace, dict) else 0
        return watch

    @classmethod
    def resume(
        cls,
        client: redis.Redis,
        stats: FetchStats,
        options: Options,
        *,
        name: str | None = None,
        cluster: bool = False,
        known: ServerIdentity | None = None,
    ) -> ServerWatch:
        """The watch for a loop that follows another one on the same fetch (values after
        keys): the identity the listing ended with (``known``, else the one in
        ``stats.servers``), or, if there is none, a fresh :meth:`start`."""
        where = name or describe_server(client)
        if known is None and where in stats.servers:
            known = stats.servers[where].identity
        if known is None:
            return cls.start(client, stats, options, name=where, cluster=cluster)
        return cls(client, stats, known, options, name=where, cluster=cluster)

    def _remember(self) -> None:
        self.stats.server_facts(self.name).identity = self.identity

    def changed(self, during: str, *, rescan: bool, since: int | None = None) -> bool:
        """Identify the server again (after a reconnect, or when a loop ends); whether it is
        another one than before (than at generation ``since``, when given: the walk and the
        read stage of one node share this watch, and either may see the change first). A
        change is recorded once; with ``rescan`` (a SCAN walk that will start over) more
        than ``options.retries`` changes raise ServerChangedError."""
        with self._lock:
            mark = self.generation if since is None else since
            if self.identity == ServerIdentity():
                return False  # nothing could be learned about it (INFO refused)
            now = observe(self.client, self.stats, self.options, cluster=self.cluster).identity
            if self.identity.differs_from(now):
                self._record(during, now, rescan=rescan)
            elif rescan and self.generation != mark:
                self.changes += 1  # seen first by the read stage: this walk starts over too
                self._check_limit("restarted or failed over")
            return self.generation != mark

    def _record(self, during: str, now: ServerIdentity, *, rescan: bool) -> None:
        before, self.identity = self.identity, now
        self.changes += 1
        self.generation += 1
        self.stats.restarts += 1
        action = "SCAN restarted from cursor 0" if rescan else "recorded"
        event = Restart(self.name, during, before, now, action)
        self.stats.restart_events.append(event)
        self._remember()
        change = before.change_to(now)
        logger.warning(
            "Redis at %s %s during %s%s.",
            self.name,
            change,
            during,
            "; its SCAN starts over from cursor 0" if rescan else "",
        )
        if rescan:
            self._check_limit(change, event)

    def _check_limit(self, change: str, event: Restart | None = None) -> None:
        retries = self.options.retries
        if self.changes > retries:
            if event is not None:
                event.action = "gave up"
            raise ServerChangedError(
                f"Redis at {self.name} {change} mid-scan, {self.changes} time(s) with "
                f"retries={retries}: a SCAN cursor means nothing on the new server, "
                "so the key list would be incomplete. Read again once the server is stable, "
                "or allow more restarts with rp.setup(retries=N)."
            )
