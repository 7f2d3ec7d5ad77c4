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
  ``settings.allow_stale_replica``), not a cluster node whose ``cluster_state`` is not ``ok``.
  A server that is not ready raises :class:`ServerNotReadyError` before any batch.
* **After a reconnect** (a retry in :func:`timed_call`) and **when the loop ends** (which
  also catches reconnects redis-py made on its own: a pooled connection that is replaced
  when it was found closed, a caller's client with its own retries) the server is identified
  again. A SCAN walk whose server changed starts over from cursor 0 (the callers
  de-duplicate), at most ``settings.retries`` times, else :class:`ServerChangedError`; a read
  phase only records it (MGET is idempotent; keys gone with the restart read as ``None``).

Each change is counted in ``stats.restarts`` and described in ``stats.extra["restarts"]``;
``stats.extra["servers"]`` holds the identity each server last had, so that reading values
after a listing compares against the server that listed the keys.

If ``INFO`` itself is refused (an ACL without ``+info``), the fetch goes on unchecked and
says so in ``stats.extra["unchecked"]``; ``CLUSTER INFO``/``CLUSTER NODES`` refused on a
cluster likewise leave only the cluster parts unchecked.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

import redis
from redis import exceptions as redis_errors

from ..config import settings
from ..exceptions import ServerChangedError, ServerNotReadyError
from ..version import server_label
from .connection import describe_server
from .stats import FetchStats, timed_call

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


@dataclass(frozen=True)
class ServerIdentity:
    """What tells one server process (and its data set) from another at the same address."""

    run_id: str | None = None
    """A new random id every time the process starts."""
    replid: str | None = None
    """``master_replid``: changes on a failover (promotion, or becoming a replica)."""
    role: str | None = None
    node_id: str | None = None
    """A cluster node's id (kept in ``nodes.conf`` across restarts)."""
    slots: str | None = None
    """The slots a cluster node serves, as ``CLUSTER NODES`` lists them."""

    def differs_from(self, other: ServerIdentity) -> bool:
        """Whether ``other`` is another server (or the same one after a restart or failover,
        or a cluster node that serves other slots now); a part either side could not learn
        is not compared."""
        return any(
            _differ(mine, theirs)
            for mine, theirs in (
                (self.run_id, other.run_id),
                (self.replid, other.replid),
                (self.node_id, other.node_id),
                (self.slots, other.slots),
            )
        )

    def change_to(self, other: ServerIdentity) -> str:
        """What differs in ``other``, in a few words: ``restarted (run_id 1a2b3c4d ->
        5e6f7a8b)``, ``failed over (...)``, ``its slots changed (...)``."""
        if _differ(self.run_id, other.run_id):
            return f"restarted (run_id {_short(self.run_id)} -> {_short(other.run_id)})"
        if _differ(self.replid, other.replid) or _differ(self.node_id, other.node_id):
            return (
                f"failed over (role {self.role} -> {other.role}, replication id "
                f"{_short(self.replid)} -> {_short(other.replid)})"
            )
        return f"its slots changed ({self.slots} -> {other.slots})"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ServerIdentity:
        return cls(**{name: values.get(name) for name in cls.__dataclass_fields__})


def _differ(mine: str | None, theirs: str | None) -> bool:
    return mine is not None and theirs is not None and mine != theirs


def _short(value: str | None) -> str:
    return (value or "?")[:8]


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


def observe(client: redis.Redis, stats: FetchStats, *, cluster: bool = False) -> Observation:
    """Ask ``client``'s server who it is: one round trip (retried like every other)."""
    if cluster:

        def ask() -> list[Any]:
            pipe = client.pipeline(transaction=False)
            pipe.info()
            pipe.execute_command("CLUSTER", "INFO")
            pipe.execute_command("CLUSTER", "NODES")
            return pipe.execute(raise_on_error=False)

        info, cluster_info, nodes = timed_call(ask, stats)
    else:
        try:
            info = timed_call(client.info, stats)
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


def check_ready(seen: Observation, where: str, stats: FetchStats) -> None:
    """Raise :class:`ServerNotReadyError` if the server cannot give a complete answer now;
    a stale replica read anyway (``settings.allow_stale_replica``) is noted in ``stats``."""
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
            if not settings.allow_stale_replica:
                raise ServerNotReadyError(
                    f"Redis at {where} is a replica of {primary} and {state}: its data may be "
                    "old or incomplete. Read the primary, wait for the replica to catch up, or "
                    "read it anyway with rp.setup(allow_stale_replica=True) "
                    "(RP_ALLOW_STALE_REPLICA=true)."
                )
            note = {
                "primary": primary,
                "master_link_status": link,
                "master_sync_in_progress": syncing,
                "master_link_down_since_seconds": info.get("master_link_down_since_seconds"),
            }
            stats.extra.setdefault("stale_replica", {})[where] = note
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
    see the module's description. ``name`` is how ``stats`` names the server."""

    def __init__(
        self,
        client: redis.Redis,
        stats: FetchStats,
        identity: ServerIdentity,
        *,
        name: str | None = None,
        cluster: bool = False,
    ) -> None:
        self.client, self.stats, self.identity = client, stats, identity
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
        *,
        name: str | None = None,
        cluster: bool = False,
    ) -> ServerWatch:
        """Identify the server and check that it is ready (one round trip)."""
        where = name or describe_server(client)
        seen = observe(client, stats, cluster=cluster)
        if seen.unchecked:
            stats.extra.setdefault("unchecked", {})[where] = seen.unchecked
            _warn_once(where, "Redis at %s: %s.", where, seen.unchecked)
        check_ready(seen, where, stats)
        if seen.info:  # which server answered: valkey 9.1.2, redis 7.0.15
            stats.extra.setdefault("software", {})[where] = server_label(seen.info)
        watch = cls(client, stats, seen.identity, name=where, cluster=cluster)
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
        *,
        name: str | None = None,
        cluster: bool = False,
        known: dict[str, Any] | None = None,
    ) -> ServerWatch:
        """The watch for a loop that follows another one on the same fetch (values after
        keys): the identity the listing ended with (``known``, else the one in
        ``stats.extra["servers"]``), or, if there is none, a fresh :meth:`start`."""
        where = name or describe_server(client)
        known = known or stats.extra.get("servers", {}).get(where)
        if known is None:
            return cls.start(client, stats, name=where, cluster=cluster)
        return cls(client, stats, ServerIdentity.from_dict(known), name=where, cluster=cluster)

    def _remember(self) -> None:
        self.stats.extra.setdefault("servers", {})[self.name] = asdict(self.identity)

    def changed(self, during: str, *, rescan: bool, since: int | None = None) -> bool:
        """Identify the server again (after a reconnect, or when a loop ends); whether it is
        another one than before (than at generation ``since``, when given: the walk and the
        read stage of one node share this watch, and either may see the change first). A
        change is recorded once; with ``rescan`` (a SCAN walk that will start over) more
        than ``settings.retries`` changes raise ServerChangedError."""
        with self._lock:
            mark = self.generation if since is None else since
            if self.identity == ServerIdentity():
                return False  # nothing could be learned about it (INFO refused)
            now = observe(self.client, self.stats, cluster=self.cluster).identity
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
        event = {
            "server": self.name,
            "during": during,
            "before": asdict(before),
            "after": asdict(now),
            "action": "SCAN restarted from cursor 0" if rescan else "recorded",
        }
        self.stats.extra.setdefault("restarts", []).append(event)
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

    def _check_limit(self, change: str, event: dict[str, Any] | None = None) -> None:
        if self.changes > settings.retries:
            if event is not None:
                event["action"] = "gave up"
            raise ServerChangedError(
                f"Redis at {self.name} {change} mid-scan, {self.changes} time(s) with "
                f"retries={settings.retries}: a SCAN cursor means nothing on the new server, "
                "so the key list would be incomplete. Read again once the server is stable, "
                "or allow more restarts with rp.setup(retries=N)."
            )


def fold_into(stats: FetchStats, mine: FetchStats) -> None:
    """Add what one node's loop recorded (``mine``) to the whole fetch's ``stats``."""
    stats.restarts += mine.restarts
    stats.extra.setdefault("restarts", []).extend(mine.extra.pop("restarts", []))
    if not stats.extra["restarts"]:
        del stats.extra["restarts"]
    for name in ("servers", "software", "stale_replica", "unchecked"):
        if name in mine.extra:
            stats.extra.setdefault(name, {}).update(mine.extra.pop(name))
