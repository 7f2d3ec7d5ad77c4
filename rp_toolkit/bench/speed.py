"""How fast ``rp.load`` is against the raw transfer it stands on, and the gem's read path."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import redis
from tqdm.auto import tqdm

from ..config import setup
from ..frames import load, parse_key
from ..kinds import REQUESTS
from ..local import RedisServer
from ..store import FetchStats, fetch_from_redis, read_values, scan_batches
from ..synth import iter_request_records, write_records

GEM_RUBY_READ_1M_S = 41.6  # KEYS + one MGET + per-record split and JSON.parse, 1M records
"""The gem's own read path in Ruby on a 2-core machine, 1M records (issue 3)."""


def gem_read_path(client: redis.Redis, pattern: str) -> int:
    """The gem's read path, done in Python: KEYS, ONE MGET, then split and JSON-parse each
    record one by one (what the gem's Ruby does per record). Returns the records parsed."""
    keys = client.keys(pattern)
    values = client.mget(keys) if keys else []
    parsed = 0
    for key, value in zip(keys, values, strict=True):
        if value is None:
            continue
        fields, _ = parse_key(REQUESTS, key.decode("utf-8", "backslashreplace"))
        document = json.loads(value)
        parsed += fields is not None and isinstance(document, dict)
    return parsed


def bare_transfer(client: redis.Redis, pattern: str) -> int:
    """SCAN (COUNT 1000) and chunked pipelined MGETs, nothing else; the values read."""
    keys = [
        key
        for batch in scan_batches(client, pattern.encode(), 1000, FetchStats("SCAN", pattern, ""))
        for key in batch
    ]
    return len(read_values(client, keys, FetchStats("SCAN", pattern, "")))


def load_speed(
    records: int = 1_000_000,
    *,
    repeats: int = 3,
    seed: int = 1,
    gem_path: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """``rp.load`` against the raw transfer it stands on, on a throwaway server.

    Writes ``records`` synthetic request records for one UTC day, then per repeat times: the
    bare transfer (SCAN with auto-tuned COUNT plus chunked pipelined MGETs, no sorting, no
    parsing), ``fetch_from_redis(raw=True)`` (the same plus de-duplication and sorting),
    ``rp.load`` (the same fetch plus parsing into a typed frame) and, with ``gem_path``, the
    gem's read path done in Python (KEYS, one MGET, per-record split and JSON parse). Returns
    one row per repeat and method, with the peak memory of this process in the attrs.
    """
    end = datetime.combine(date.today(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(
        hours=23, minutes=59
    )
    pattern = REQUESTS.pattern(day=end.date())
    rows: list[dict[str, Any]] = []
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        written = 0
        for batch in iter_request_records(records, seed=seed, end=end, hours=23.9):
            written += write_records(client, batch.keys, batch.values)
        methods: dict[str, Callable[[], int]] = {
            "bare_transfer": lambda: bare_transfer(client, pattern),
            "fetch_from_redis_raw": lambda: len(fetch_from_redis(pattern, client, raw=True).keys),
            "rp_load": lambda: len(
                load("requests", client, start=end - timedelta(days=1), end=end)
            ),
        }
        if gem_path:
            methods["gem_read_path_python"] = lambda: gem_read_path(client, pattern)
        with setup(use_scan=True, scan_count_auto_tune=True, progress=False):
            bar = tqdm(total=repeats * len(methods), disable=not progress, desc="load speed")
            for repeat in range(repeats):
                for method, call in methods.items():
                    gc.collect()
                    started = time.perf_counter()
                    found = call()
                    seconds = time.perf_counter() - started
                    rows.append(
                        {
                            "records": written,
                            "repeat": repeat,
                            "method": method,
                            "seconds": seconds,
                            "found": found,
                        }
                    )
                    bar.update()
            bar.close()
        frame = pd.DataFrame(rows)
        frame.attrs["load_peak_rss_bytes"] = load_peak_rss(server.url, end)
    frame.attrs["environment"] = {
        "records": written,
        "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return frame


def load_peak_rss(url: str, end: datetime) -> int:
    """Peak memory of a fresh process that does one ``rp.load`` of the day (bytes)."""
    script = (
        "import resource, sys, datetime as d\n"
        "import rp_toolkit as rp\n"
        "rp.setup(use_scan=True, progress=False)\n"
        "end = d.datetime.fromisoformat(sys.argv[2])\n"
        "df = rp.load('requests', sys.argv[1], start=end - d.timedelta(days=1), end=end)\n"
        "print(len(df), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, url, end.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    peak = int(done.stdout.split()[1])
    return peak if sys.platform == "darwin" else peak * 1024


def load_speed_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Median seconds per method and the ratios the docs quote."""
    medians = frame.groupby("method")["seconds"].median()
    summary: dict[str, Any] = {f"{m}_s": round(float(s), 3) for m, s in medians.items()}
    summary["load_over_bare_transfer"] = round(medians["rp_load"] / medians["bare_transfer"], 3)
    summary["load_over_fetch_raw"] = round(medians["rp_load"] / medians["fetch_from_redis_raw"], 3)
    if "gem_read_path_python" in medians:
        summary["gem_python_over_load"] = round(
            medians["gem_read_path_python"] / medians["rp_load"], 2
        )
    if int(frame["records"].iloc[0]) == 1_000_000:
        # The gem's own read path in Ruby on a 2-core machine, as reported in issue 3.
        summary["gem_ruby_reference_s"] = GEM_RUBY_READ_1M_S
        summary["gem_ruby_reference_over_load"] = round(GEM_RUBY_READ_1M_S / medians["rp_load"], 1)
    summary["load_peak_rss_gib"] = round(frame.attrs.get("load_peak_rss_bytes", 0) / 2**30, 2)
    summary["records"] = int(frame["records"].iloc[0])
    return summary
