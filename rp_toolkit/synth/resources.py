"""Resource samples: CPU load, memory and disk of every server, one sample a minute.

Memory grows slowly and starts again from its base after every deploy (a restart), so the
samples agree with the deploy events of :mod:`.events`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from ..kinds import RESOURCES
from .encoding import RecordBatch, ruby_json
from .events import deploy_times
from .timeline import Window, minute_text, remaining_ttls, stream_rng


def _server_role(server: str) -> tuple[str, str]:
    """``(context, role)`` as the gem's monitors name them: rails/web or sidekiq/worker."""
    return ("sidekiq", "worker") if "worker" in server or "sidekiq" in server else ("rails", "web")


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
    datetimes = minute_text(minutes)
    hour = (minutes % 86400) / 3600.0
    diurnal = 1.0 + 0.35 * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
    gib = 1024**3
    for number, server in enumerate(servers):
        rng = stream_rng(seed, "resources", number + 1)
        context, role = _server_role(server)
        worker = role == "worker"
        n = len(minutes)
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
        base = (780 if worker else 520) * 1024**2
        memory = (
            base + since_deploy / 60 * 0.25 * 1024**2 + rng.normal(0, 6 * 1024**2, size=n)
        ).astype(np.int64)
        total = (200 if worker else 100) * gib
        used0 = int(total * rng.uniform(0.35, 0.6))
        used = used0 + np.cumsum(rng.integers(0, 2 * 1024**2, size=n))
        used = (used // 4096 * 4096).astype(np.int64)
        keys, values = [], []
        rows = zip(
            datetimes,
            minutes.tolist(),
            np.round(one, 2).tolist(),
            np.round(five, 2).tolist(),
            np.round(fifteen, 2).tolist(),
            memory.tolist(),
            used.tolist(),
            strict=True,
        )
        for dt, epoch, c1, c5, c15, mem, disk_used in rows:
            keys.append(
                RESOURCES.format_key(
                    {
                        "server": server,
                        "context": context,
                        "role": role,
                        "datetime": dt,
                        "datetimei": epoch,
                    }
                )
            )
            values.append(
                ruby_json(
                    {
                        "cpu": {"one_min": c1, "five_min": c5, "fifteen_min": c15},
                        "memory": mem,
                        "disk": {"available": total - disk_used, "total": total, "used": disk_used},
                    }
                )
            )
        yield RecordBatch(RESOURCES, keys, values, remaining_ttls(RESOURCES, minutes, window.end))
