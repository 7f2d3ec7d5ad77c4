"""Resource samples: CPU load, memory and disk of every server, one sample a minute.

Memory grows slowly and starts again from its base after every deploy (a restart), so the
samples agree with the deploy events of :mod:`._events`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from ..kinds import RESOURCES
from ._encoding import RecordBatch, ruby_json
from ._events import deploy_times
from ._timeline import Window, minute_text, remaining_ttls, stream_rng


def _server_role(server: str) -> tuple[str, str]:
    """``(context, role)`` as the gem's monitors name them: rails/web or sidekiq/worker."""
    return ("sidekiq", "worker") if "worker" in server or "sidekiq" in server else ("rails", "web")


_GIB = 1024**3
_MIB = 1024**2


def _cpu_loads(
    rng: np.random.Generator, diurnal: np.ndarray, worker: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 1-, 5- and 15-minute load averages: a daily curve plus autocorrelated noise."""
    n = len(diurnal)
    noise = np.zeros(n)
    shocks = rng.standard_normal(n) * 0.15
    for m in range(1, n):
        noise[m] = 0.8 * noise[m - 1] + shocks[m]
    one = np.maximum(0.02, (1.4 if worker else 0.7) * diurnal + noise)
    five, fifteen = np.empty(n), np.empty(n)
    a5, a15 = 1 - math.exp(-1 / 5), 1 - math.exp(-1 / 15)
    five[0], fifteen[0] = one[0], one[0]
    for m in range(1, n):
        five[m] = five[m - 1] + a5 * (one[m] - five[m - 1])
        fifteen[m] = fifteen[m - 1] + a15 * (one[m] - fifteen[m - 1])
    return one, five, fifteen


def _memory_bytes(rng: np.random.Generator, since_deploy: np.ndarray, worker: bool) -> np.ndarray:
    """Memory in use: a base that grows slowly from the last deploy, with noise."""
    base = (780 if worker else 520) * _MIB
    noise = rng.normal(0, 6 * _MIB, size=len(since_deploy))
    return (base + since_deploy / 60 * 0.25 * _MIB + noise).astype(np.int64)


def _disk_used(rng: np.random.Generator, n: int, total: int) -> np.ndarray:
    """Disk bytes used, growing by up to 2 MiB a minute, in whole 4 KiB blocks."""
    used0 = int(total * rng.uniform(0.35, 0.6))
    used = used0 + np.cumsum(rng.integers(0, 2 * _MIB, size=n))
    return (used // 4096 * 4096).astype(np.int64)


def _server_batch(
    server: str,
    rng: np.random.Generator,
    minutes: np.ndarray,
    since_deploy: np.ndarray,
    window: Window,
) -> RecordBatch:
    """One server's samples, one a minute."""
    context, role = _server_role(server)
    worker = role == "worker"
    hour = (minutes % 86400) / 3600.0
    diurnal = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
    one, five, fifteen = _cpu_loads(rng, diurnal, worker)
    memory = _memory_bytes(rng, since_deploy, worker)
    total = (200 if worker else 100) * _GIB
    used = _disk_used(rng, len(minutes), total)
    keys, values = [], []
    rows = zip(
        minute_text(minutes),
        minutes.tolist(),
        np.round(one, 2).tolist(),
        np.round(five, 2).tolist(),
        np.round(fifteen, 2).tolist(),
        memory.tolist(),
        used.tolist(),
        strict=True,
    )
    for minute, epoch, c1, c5, c15, mem, disk_used in rows:
        fields = {"server": server, "context": context, "role": role}
        keys.append(RESOURCES.format_key(fields | {"datetime": minute, "datetimei": epoch}))
        cpu = {"one_min": c1, "five_min": c5, "fifteen_min": c15}
        disk = {"available": total - disk_used, "total": total, "used": disk_used}
        values.append(ruby_json({"cpu": cpu, "memory": mem, "disk": disk}))
    return RecordBatch(RESOURCES, keys, values, remaining_ttls(RESOURCES, minutes, window.end))


def resource_batches(window: Window, seed: int, servers: Sequence[str]) -> Iterator[RecordBatch]:
    """One batch per server: a sample at every whole minute of ``window``."""
    first = -(-window.start // 60) * 60
    minutes = np.arange(first, window.end, 60, dtype=np.int64)
    if not len(minutes) or not servers:
        return
    deploys, _ = deploy_times(window, seed)
    since_deploy = minutes - first
    for deploy in deploys:  # memory starts again from the base after every deploy (restart)
        since_deploy = np.where(minutes >= deploy, minutes - deploy, since_deploy)
    for number, server in enumerate(servers):
        rng = stream_rng(seed, "resources", number + 1)
        yield _server_batch(server, rng, minutes, since_deploy, window)
