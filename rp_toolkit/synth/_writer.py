"""Writing synthetic records to Redis: the only module here that does I/O.

Writing uses ``SET key value EX ttl NX``: existing keys are never modified (not even their TTL)
and nothing is ever deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import redis
from tqdm.auto import tqdm

from ..exceptions import InvalidArgumentError
from ..kinds import RecordKind, encode_key
from ..store import ClientLike, describe_server, get_client, translate_errors
from ._catalogue import DEFAULT_SERVERS
from ._encoding import RecordBatch
from ._plan import ALL_KINDS, generate, kind_names, planned_counts
from ._timeline import Window, check_seed, utc_datetime

PIPELINE_BATCH = 10_000
"""Commands per pipeline round trip."""


@dataclass
class SynthSummary:
    """What :func:`write` did."""

    counts: dict[str, int]
    """Records generated and sent, per kind name."""
    written: int
    """Keys newly set (``counts`` minus keys that already existed and were left alone)."""
    seconds: float
    end: datetime
    start: datetime
    seed: int
    server: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_keys(self) -> int:
        """Records generated and sent, all kinds."""
        return sum(self.counts.values())

    @property
    def total(self) -> int:
        """Same as :attr:`total_keys`."""
        return self.total_keys

    @property
    def skipped_existing(self) -> int:
        """Keys that existed already and were not touched."""
        return self.total_keys - self.written

    @property
    def records_per_second(self) -> float:
        return self.total_keys / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """Plain values (datetimes as ISO text), for JSON output."""
        return {
            "counts": dict(self.counts),
            "total_keys": self.total_keys,
            "written": self.written,
            "skipped_existing": self.skipped_existing,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "seed": self.seed,
            "server": self.server,
            **self.extra,
        }

    def __str__(self) -> str:
        per_kind = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        skipped = f" ({self.skipped_existing:,} existed already)" if self.skipped_existing else ""
        return (
            f"{self.total_keys:,} records in {self.seconds:.1f} s "
            f"({self.records_per_second:,.0f}/s){skipped}, "
            f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC: {per_kind}"
        )


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def write_records(
    client: ClientLike,
    keys: Sequence[str | bytes],
    values: Sequence[str | bytes],
    ttls: int | Sequence[int | None] | None = None,
    *,
    overwrite: bool = False,
    batch_size: int = PIPELINE_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """``SET key value [EX ttl] NX`` for every pair, pipelined ``batch_size`` commands a trip.

    ``ttls``: one TTL in seconds for all, one per key, or ``None``; ``None`` or 0 means no
    expiry. Existing keys are left alone unless ``overwrite`` (then plain ``SET``, which also
    replaces their TTL). Nothing is ever deleted. Returns how many keys were set;
    ``on_progress(n)`` is called after each round trip with the commands it carried.

    redis-py's pipeline (``execute_command``, no transaction) does about 150,000 SETs a second
    here, so the RESP is not hand-encoded.
    """
    if len(keys) != len(values):
        raise InvalidArgumentError(f"{len(keys)} keys but {len(values)} values.")
    if ttls is None or isinstance(ttls, (int, np.integer)):
        ttl_list: Sequence[int | None] = [ttls] * len(keys)
    else:
        ttl_list = ttls
        if len(ttl_list) != len(keys):
            raise InvalidArgumentError(f"{len(keys)} keys but {len(ttl_list)} TTLs.")
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be at least 1, not {batch_size}.")
    redis_client = get_client(client)
    tail = () if overwrite else (b"NX",)
    written = 0
    with translate_errors(redis_client, "writing synthetic records"):
        for offset in range(0, len(keys), batch_size):
            pipe = redis_client.pipeline(transaction=False)
            stop = min(offset + batch_size, len(keys))
            for index in range(offset, stop):
                ttl = ttl_list[index]
                if ttl:
                    pipe.execute_command(
                        "SET",  # str: a cluster pipeline routes by command name
                        encode_key(keys[index]),
                        _as_bytes(values[index]),
                        b"EX",
                        int(ttl),
                        *tail,
                    )
                else:
                    pipe.execute_command(
                        "SET", encode_key(keys[index]), _as_bytes(values[index]), *tail
                    )
            written += sum(1 for reply in pipe.execute() if reply)
            if on_progress is not None:
                on_progress(stop - offset)
    return written


def _progress_bar(total: int, progress: bool) -> tqdm:
    """The bar :func:`write` advances per round trip (hidden unless ``progress``)."""
    return tqdm(
        total=total,
        desc="synthetic records",
        unit="records",
        unit_scale=True,
        disable=not progress,
        leave=False,
    )


def _write_batches(
    redis_client: redis.Redis,
    batches: Iterable[RecordBatch],
    counts: dict[str, int],
    on_progress: Callable[[int], None],
    *,
    overwrite: bool,
) -> int:
    """Write every batch (counting its records into ``counts`` by kind); the keys newly set."""
    written = 0
    for batch in batches:
        counts[batch.kind.name] += len(batch.keys)
        written += write_records(
            redis_client,
            batch.keys,
            batch.values,
            batch.ttls,
            overwrite=overwrite,
            on_progress=on_progress,
        )
    return written


def write(
    client: redis.Redis | str,
    *,
    hours: float = 4.0,
    rps: float = 20.0,
    seed: int = 1,
    kinds: Iterable[str | RecordKind] = ALL_KINDS,
    end: datetime | float | None = None,
    servers: Sequence[str] = DEFAULT_SERVERS,
    progress: bool = True,
    overwrite: bool = False,
) -> SynthSummary:
    """Write synthetic rails_performance data spanning ``[end - hours, end)`` to ``client``.

    ``client``: a ``redis.Redis`` or a URL (required: this writes, so it never falls back to
    a configured default). ``end``: a datetime (naive means UTC) or epoch seconds, default now;
    floored to the minute. Rates: ``rps`` requests a second, sidekiq ``rps/4``, delayed_job
    ``rps/20``, grape ``rps/5``, rake 2 and custom 4 a minute, one resource sample a minute per
    server, traces for the requests of the last 60 minutes, a deploy event every 2 hours.

    Every record gets the TTL the gem would still leave it at ``end`` (at least 60 s); events
    never expire. Existing keys are never modified and nothing is deleted (see
    :func:`write_records`). Same arguments, same keys and values, byte for byte.
    """
    if client is None:
        raise InvalidArgumentError(
            "write() needs a client: a redis.Redis or a redis:// URL to write to."
        )
    redis_client = get_client(client)
    window = Window.of(end, hours)
    seed = check_seed(seed)
    names = kind_names(kinds)
    planned = planned_counts(
        hours=hours, rps=rps, seed=seed, kinds=names, end=window.end, servers=servers
    )
    counts = dict.fromkeys(names, 0)
    started = time.perf_counter()
    batches = generate(
        hours=hours, rps=rps, seed=seed, kinds=names, end=window.end, servers=servers
    )
    with _progress_bar(sum(planned.values()), progress) as bar:
        written = _write_batches(redis_client, batches, counts, bar.update, overwrite=overwrite)
    return SynthSummary(
        counts=counts,
        written=written,
        seconds=time.perf_counter() - started,
        end=utc_datetime(window.end),
        start=utc_datetime(window.start),
        seed=seed,
        server=describe_server(redis_client),
        extra={"hours": hours, "rps": rps, "servers": list(servers)},
    )
