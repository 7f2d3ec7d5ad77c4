"""The benchmark's dataset: a growing keyspace of synthetic request records (and noise keys),
optionally marked so that on a server we did not start only our own keys are touched.

On a Redis Cluster a multi-key command must stay within one hash slot: the existence checks
and deletes go per slot (pipelined by redis-py's cluster pipeline, one batch per node)."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import redis
from redis.cluster import key_slot

from ..exceptions import BenchmarkError, InvalidArgumentError
from ..kinds import REQUESTS, encode_key
from ..store import is_cluster
from ..synth import iter_request_records, write_records

QUERIES = ("day", "controller", "request_id")
QUERY_CONTROLLER = "HomeController"
"""The controller query's controller (about 15 % of synthetic requests)."""
EXISTING_SERVER_TTL_S = 10 * 60
"""Benchmark keys on a server we did not start expire after this, should cleanup ever fail."""
KEY_CHUNK = 1000
"""Keys per UNLINK / EXISTS command when removing or checking the dataset."""
PIPELINE_COMMANDS = 20
NOISE_PREFIXES = ("cache:views/", "queue:default:", "session:", "rack::attack:")
NOISE_STEP = 100_000
"""Noise keys written per batch."""


def mark_key(key: str, marker: str) -> str:
    """A request key with ``marker`` in its controller, format, path and request id.

    Fields are found through the REQUESTS template, by position from both ends, so a path
    holding ``|`` is handled.
    """
    parts = key.split("|")
    at = REQUESTS.part_index
    parts[at("controller")] = marker + parts[at("controller")]
    parts[at("format")] = marker  # the day query of a marked run filters on it
    parts[at("path")] = f"/rpbench-{marker}{parts[at('path')]}"  # its first |-separated piece
    parts[at("request_id")] = f"{marker}-{parts[at('request_id')]}"
    return "|".join(parts)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Redis glob (``*``, ``?`` and ``\\`` escapes; no ``[...]``) as an anchored regex."""
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "[":
            raise InvalidArgumentError("character classes are not used by the benchmark's patterns")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def noise_batch(start: int, stop: int, marker: str) -> tuple[list[str], list[str]]:
    """Unrelated keys (caches, queues, sessions) ``start..stop-1`` and their values."""
    tag = f"{marker}:" if marker else ""
    keys = [f"{NOISE_PREFIXES[i % len(NOISE_PREFIXES)]}{tag}{i:08x}" for i in range(start, stop)]
    return keys, ["x" * 64] * len(keys)


def key_chunks(client: redis.Redis, keys: Sequence[str]) -> Iterator[Sequence[str]]:
    """``keys`` in chunks of at most :data:`KEY_CHUNK` that one multi-key command may carry:
    slices on one server; on a cluster, each chunk within one hash slot."""
    if not is_cluster(client):
        for start in range(0, len(keys), KEY_CHUNK):
            yield keys[start : start + KEY_CHUNK]
        return
    by_slot: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        by_slot[key_slot(encode_key(key))].append(key)
    for slot_keys in by_slot.values():
        for start in range(0, len(slot_keys), KEY_CHUNK):
            yield slot_keys[start : start + KEY_CHUNK]


def _per_chunk(client: redis.Redis, keys: Sequence[str], command: str) -> int:
    """Send ``command`` (UNLINK or EXISTS) for every chunk of ``keys``, pipelined about
    ``KEY_CHUNK × PIPELINE_COMMANDS`` keys a trip (a cluster's pipeline: a trip per node);
    the replies' sum."""
    total = 0
    per_trip = KEY_CHUNK * PIPELINE_COMMANDS
    pipe, queued = client.pipeline(transaction=False), 0
    for chunk in key_chunks(client, keys):
        pipe.execute_command(command, *chunk)  # str: a cluster pipeline routes by name
        queued += len(chunk)
        if queued >= per_trip:
            total += sum(pipe.execute())
            pipe, queued = client.pipeline(transaction=False), 0
    if queued:
        total += sum(pipe.execute())
    return total


def unlink_keys(client: redis.Redis, keys: Sequence[str]) -> int:
    """UNLINK ``keys`` in chunks (on a cluster, per hash slot); returns how many existed."""
    return _per_chunk(client, keys, "UNLINK")


def count_existing(client: redis.Redis, keys: Sequence[str]) -> int:
    """How many of ``keys`` exist (EXISTS in chunks; on a cluster, per hash slot)."""
    return _per_chunk(client, keys, "EXISTS")


def disconnect(client: redis.Redis) -> None:
    """Drop every connection of ``client`` (of each node's pool on a cluster), so that the
    next command starts on a fresh one."""
    if is_cluster(client):
        for node in client.get_nodes():
            client.get_redis_connection(node).connection_pool.disconnect()
    else:
        client.connection_pool.disconnect()


@dataclass
class Keyspace:
    """The growing dataset on one server, and what each query must find in it.

    Records come from :func:`rp_toolkit.synth.iter_request_records` over one UTC day, one
    seed per growth step; with a ``marker`` their keys are marked by :func:`mark_key`.
    """

    client: redis.Redis
    day: date
    seed: int
    marker: str
    ttl: int | None
    track: bool
    size: int = 0
    noise_keys: int = 0
    steps: int = 0
    request_id: str = ""
    matches: dict[str, int] = field(default_factory=dict)
    written: list[Sequence[str]] = field(default_factory=list)
    renewed_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        controller = self.marker + QUERY_CONTROLLER
        self.patterns = {
            "day": REQUESTS.pattern({"format": self.marker} if self.marker else {}, day=self.day),
            "controller": REQUESTS.pattern({"controller": controller}),
        }
        self._regexes = {name: glob_regex(p) for name, p in self.patterns.items()}
        self.matches = dict.fromkeys(self.patterns, 0)
        midnight = datetime(self.day.year, self.day.month, self.day.day, tzinfo=timezone.utc)
        self._day_end = midnight + timedelta(days=1)

    def grow(self, size: int, noise: float) -> None:
        """Add records up to ``size`` and noise keys up to ``noise × size``."""
        if size > self.size:
            self.steps += 1
            batches = iter_request_records(
                size - self.size, seed=self.seed * 1000 + self.steps, end=self._day_end, hours=24
            )
            for number, batch in enumerate(batches):
                keys = batch.keys
                if self.marker:
                    keys = [mark_key(key, self.marker) for key in keys]
                if number == 0:  # an existing id for the request_id query
                    self.request_id = keys[len(keys) // 2].split("|")[-3]
                for name, regex in self._regexes.items():
                    self.matches[name] += sum(1 for key in keys if regex.fullmatch(key))
                self._write(keys, batch.values)
                self.size += len(keys)
        target = int(round(noise * size))
        for start in range(self.noise_keys, target, NOISE_STEP):
            stop = min(target, start + NOISE_STEP)
            self._write(*noise_batch(start, stop, self.marker))
            self.noise_keys = stop

    def _write(self, keys: list[str], values: list[str]) -> None:
        if self.track:
            if count_existing(self.client, keys):
                raise BenchmarkError(
                    "A key the benchmark meant to write already exists; nothing was "
                    "overwritten, and it will not be deleted."
                )
            self.written.append(keys)  # before writing: a write cut short is cleaned up too
        written = write_records(self.client, keys, values, self.ttl)
        if written != len(keys):
            raise BenchmarkError(f"Only {written} of {len(keys)} benchmark keys were new.")

    def keep_alive(self) -> int:
        """Renew the expiry of every key written once a third of ``ttl`` has passed (tracked
        runs only): keys on a server the benchmark does not own expire within minutes of a
        run that died without cleaning up, yet not during a long run. EXPIREs, pipelined; how
        many keys were renewed (0 when not due)."""
        if not (self.track and self.ttl and self.written):
            return 0
        now = time.monotonic()
        if now - self.renewed_at < self.ttl / 3:
            return 0
        renewed = 0
        for keys in self.written:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.expire(key, self.ttl)
            renewed += sum(map(bool, pipe.execute()))
        self.renewed_at = now
        return renewed

    def remove(self) -> int:
        """UNLINK every key written (tracked runs only); how many existed."""
        # A run cut short by a signal may leave a pipeline's replies unread on a connection:
        # start from fresh connections so no stale reply is taken for an answer.
        disconnect(self.client)
        removed = 0
        while self.written:
            removed += unlink_keys(self.client, self.written[-1])
            self.written.pop()
        return removed

    def queries(self, names: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{query: (pattern, records it must find)}`` for the current size."""
        result = {}
        for name in names:
            if name == "request_id":
                result[name] = (REQUESTS.pattern({"request_id": self.request_id}), 1)
            elif name in self.patterns:
                result[name] = (self.patterns[name], self.matches[name])
            else:
                raise BenchmarkError(f"Unknown query {name!r}; known: {', '.join(QUERIES)}.")
        return result
