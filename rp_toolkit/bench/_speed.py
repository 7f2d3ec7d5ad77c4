"""How fast ``rp.load`` is, in one run on one server, against:

* the **naive transfer** it stands on: SCAN (COUNT 1000) to the end, then one pipeline of
  MGETs of 1,000 keys, in plain redis-py, with no de-duplication and no parsing;
* the **gem's read path**: KEYS, one MGET, then each record split and JSON-parsed one by one.
  The gem's own Ruby is used when ``ruby`` with the ``redis`` gem is on PATH; otherwise the
  same steps done in Python, labelled as an emulation (Python's C JSON parser makes it
  faster than the gem's Ruby, so the target against the gem is judged on the Ruby only);
* and what ``rp.load`` costs: peak memory of a fresh process doing one load (and one
  ``rp.iter_load``), and, while it runs, another client's longest PING wait against its idle
  maximum, and the slowest command in SLOWLOG;
* and what one SCAN call costs Redis with the gem's pattern and with the one ``rp.load``
  sends (:func:`rp_toolkit.store.scan_match`): ``usec_per_call`` from INFO commandstats and
  the slowest call in SLOWLOG, over a whole walk at COUNT 1000 each (:func:`scan_cost`).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
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
from ..frames import BATCH_ROWS, iter_load, load, parse, parse_key
from ..kinds import REQUESTS, decode_key
from ..local import RedisServer
from ..store import scan_match
from ..synth import iter_request_records, write_records
from ..version import server_label
from ._probe import Probe, ProbeStats
from ._server_stats import ServerStats

SLOWLOG_THRESHOLD_US = 1000
"""Commands slower than this are logged while ``rp.load`` runs (the target is 2 ms)."""
PROBE_IDLE_S = 2.0

RUBY_GEM_PATH = r"""
require "redis"
require "json"
redis = Redis.new(url: ARGV[0])
keys = redis.keys(ARGV[1])
values = keys.empty? ? [] : redis.mget(*keys)
parsed = 0
keys.zip(values).each do |key, value|
  next if value.nil?
  items = key.split("|")
  record = {
    controller: items[2], action: items[4], format: items[6], status: items[8],
    datetime: items[10], datetimei: items[12].to_i, method: items[14], path: items[16],
    request_id: items[18], value: JSON.parse(value)
  }
  parsed += 1 if record[:value].is_a?(Hash)
end
puts parsed
"""
"""The gem's read path as the gem writes it (``RailsPerformance::Utils.fetch_from_redis`` and
``RequestRecord.from_db``), without Rails."""


def scan_then_mget(client: redis.Redis, pattern: str) -> tuple[list[bytes], list[list[Any]]]:
    """SCAN COUNT 1000 to the end, then one pipeline of MGETs of 1,000 keys: the keys and
    the MGETs' replies, in plain redis-py."""
    keys: list[bytes] = []
    cursor = 0
    while True:
        cursor, batch = client.scan(cursor, match=pattern, count=1000)
        keys += batch
        if int(cursor) == 0:
            break
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(keys), 1000):
        pipe.mget(keys[start : start + 1000])
    return keys, pipe.execute()


def naive_transfer(client: redis.Redis, pattern: str) -> int:
    """The naive transfer (:func:`scan_then_mget`): how many values it read."""
    return sum(len(reply) for reply in scan_then_mget(client, pattern)[1])


def parse_cpu_per_million(client: redis.Redis, pattern: str) -> float:
    """CPU seconds per million records of parsing alone (:func:`rp_toolkit.frames.parse` in
    batches of :data:`~rp_toolkit.frames.BATCH_ROWS`, as ``rp.load`` parses them, in this
    thread), the records read first as :func:`naive_transfer` reads them."""
    keys, replies = scan_then_mget(client, pattern)
    values = [value for reply in replies for value in reply]
    gc.collect()
    started = time.process_time()
    for start in range(0, len(keys), BATCH_ROWS):
        parse(REQUESTS, keys[start : start + BATCH_ROWS], values[start : start + BATCH_ROWS])
    seconds = time.process_time() - started
    return seconds * 1_000_000 / max(len(keys), 1)


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


def ruby_with_redis() -> str | None:
    """``ruby`` if it is on PATH and has the ``redis`` gem, else None."""
    ruby = shutil.which("ruby")
    if ruby is None:
        return None
    done = subprocess.run([ruby, "-e", 'require "redis"'], capture_output=True, check=False)
    return ruby if done.returncode == 0 else None


def ruby_gem_read_path(ruby: str, url: str, pattern: str) -> int:
    done = subprocess.run(
        [ruby, "-e", RUBY_GEM_PATH, url, pattern], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def gem_methods(
    ruby: str | None, gem_path: bool, client: redis.Redis, url: str, pattern: str
) -> dict[str, Callable[[], int]]:
    """The gem's read path against ``client``: its Ruby when ``ruby`` has the redis gem, else
    (with ``gem_path``) the Python emulation; no method without ``gem_path``."""
    if ruby is not None:
        return {"gem_read_path_ruby": lambda: ruby_gem_read_path(ruby, url, pattern)}
    if gem_path:
        return {"gem_read_path_python_emulation": lambda: gem_read_path(client, pattern)}
    return {}


def time_methods(
    methods: dict[str, Callable[[], int]],
    repeats: int,
    records: int,
    *,
    progress: bool,
    desc: str,
) -> list[dict[str, Any]]:
    """Time each method ``repeats`` times, interleaved (noise hits every method alike): one
    row per repeat and method, with what it found."""
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=repeats * len(methods), disable=not progress, desc=desc)
    for repeat in range(repeats):
        for method, call in methods.items():
            gc.collect()
            started = time.perf_counter()
            found = call()
            seconds = time.perf_counter() - started
            rows.append(
                {"records": records, "repeat": repeat, "method": method, "seconds": seconds,
                 "found": found}
            )  # fmt: skip
            bar.update()
    bar.close()
    return rows


def load_speed(
    records: int = 1_000_000,
    *,
    repeats: int = 3,
    seed: int = 1,
    gem_path: bool = True,
    probe: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """``rp.load`` against the naive transfer and the gem's read path, on a throwaway server.

    Writes ``records`` synthetic request records for one UTC day, then per repeat (methods
    interleaved) times each method; returns one row per repeat and method. The attrs hold
    the environment, the peak memory of a fresh process doing one ``rp.load`` and one
    ``rp.iter_load`` (``*_peak_rss_bytes``), and ``during_load``: the probe's idle and
    during-load PING waits and the SLOWLOG of one more ``rp.load``.
    """
    end = datetime.combine(date.today(), datetime.min.time(), tzinfo=timezone.utc) + timedelta(
        hours=23, minutes=59
    )
    start = end - timedelta(days=1)
    pattern = REQUESTS.pattern(day=end.date())
    ruby = ruby_with_redis() if gem_path else None
    rows: list[dict[str, Any]] = []
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        written = 0
        for batch in iter_request_records(records, seed=seed, end=end, hours=23.9):
            written += write_records(client, batch.keys, batch.values)
        methods: dict[str, Callable[[], int]] = {
            "naive_transfer": lambda: naive_transfer(client, pattern),
            "rp_load": lambda: len(load("requests", client, start=start, end=end)),
            "rp_iter_load": lambda: sum(
                len(frame) for frame in iter_load("requests", client, start=start, end=end)
            ),
        }
        methods.update(gem_methods(ruby, gem_path, client, server.url, pattern))
        with setup(use_scan=True, scan_count_auto_tune=True, progress=False):
            rows = time_methods(methods, repeats, written, progress=progress, desc="load speed")
            during = during_load(server.url, start, end) if probe else {}
            during.update(scan_cost(client, pattern) if probe else {})
        frame = pd.DataFrame(rows)
        frame.attrs["parse_cpu_s_per_1m"] = round(parse_cpu_per_million(client, pattern), 3)
        frame.attrs["load_peak_rss_bytes"] = peak_rss(server.url, end, batches=False)
        frame.attrs["iter_load_peak_rss_bytes"] = peak_rss(server.url, end, batches=True)
        frame.attrs["during_load"] = during
        frame.attrs["server"] = server_label(client.info("server"))
    frame.attrs["environment"] = {
        "records": written,
        "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "gem_path": (
            "ruby" if ruby else "python emulation (no ruby with the redis gem)" if gem_path else ""
        ),
    }
    return frame


LOW_IMPACT = {"scan_count": "adaptive", "scan_budget_ms": 1.0, "mget_chunk": 250}
"""The settings of the second measured load: SCAN COUNT sized to 1 ms a call, MGETs of 250."""


def during_load(url: str, start: datetime, end: datetime) -> dict[str, Any]:
    """What another client and SLOWLOG see while ``rp.load`` runs: the probe's PING waits
    idle (for :data:`PROBE_IDLE_S`), then during one load with the gem's auto-tuned COUNT
    (``auto_*``) and one with :data:`LOW_IMPACT` (``low_impact_*``), and the slowest
    command of each."""
    admin = redis.Redis.from_url(url)
    stats = ServerStats(admin, owns_server=True, threshold_us=SLOWLOG_THRESHOLD_US)
    pinger = Probe(url)
    result: dict[str, Any] = {"slowlog_threshold_us": SLOWLOG_THRESHOLD_US}
    try:
        idle = pinger.idle(PROBE_IDLE_S)
        result.update(probe_idle_max_ms=idle.max_ms, probe_idle_p99_ms=idle.p99_ms)
        for name, flags in (("auto", {}), ("low_impact", LOW_IMPACT)):
            with setup(**flags):
                before = stats.before()
                started = time.perf_counter()
                with pinger.sampling() as collected:
                    load("requests", url, start=start, end=end)
                seconds = time.perf_counter() - started
            busy = ProbeStats.of(collected)
            slow = stats.after(before)
            result.update(
                {
                    f"{name}_load_s": round(seconds, 3),
                    f"{name}_probe_max_ms": busy.max_ms,
                    f"{name}_probe_p99_ms": busy.p99_ms,
                    f"{name}_slowlog_entries": slow["slowlog_entries"],
                    f"{name}_slowlog_max_us": slow["slowlog_max_us"],
                    f"{name}_slowlog_max_command": slow["slowlog_max_command"],
                }
            )
    finally:
        pinger.close()
        stats.restore()
        admin.close()
    return result


def scan_cost(client: redis.Redis, pattern: str, count: int = 1000) -> dict[str, Any]:
    """What one SCAN call of ``count`` costs Redis with ``pattern`` (``gem``) and with the
    pattern ``rp.load`` sends for it (``sent``, :func:`rp_toolkit.store.scan_match`): each a
    whole walk, ``scan_<which>_usec_per_call`` from INFO commandstats and
    ``scan_<which>_slowlog_max_us``, the slowest call (every call logged), and the ratio
    ``scan_sent_over_gem``."""
    stats = ServerStats(client, owns_server=True, threshold_us=0)
    result: dict[str, Any] = {"scan_gem_pattern": pattern}
    result["scan_sent_pattern"] = decode_key(scan_match(pattern))
    try:
        for which in ("gem", "sent"):
            before = stats.before()
            cursor = 0
            while True:
                cursor, _ = client.scan(cursor, match=result[f"scan_{which}_pattern"], count=count)
                if int(cursor) == 0:
                    break
            calls = stats.commandstats()["scan"][0] - before["scan"][0]
            slow = stats.after(before)
            result[f"scan_{which}_usec_per_call"] = round(slow["redis_scan_usec"] / calls, 1)
            result[f"scan_{which}_slowlog_max_us"] = slow["slowlog_max_us"]
    finally:
        stats.restore()
    result["scan_sent_over_gem"] = round(
        result["scan_sent_usec_per_call"] / result["scan_gem_usec_per_call"], 3
    )
    return result


PEAK_RSS_SOURCE = """
def peak():
    try:  # the peak of this program's own memory (Linux): reset by exec
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss survives exec: after a fork it can be the parent's size (a lower bound here)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == 'darwin' else rss * 1024
"""
"""The child's peak memory. Not ``ru_maxrss`` alone: Linux keeps it across exec, so a child
forked from a large benchmark process reports the parent's size (this inflated the 1.77 GiB
that issue 12 quotes for one load)."""


def peak_rss(url: str, end: datetime, *, batches: bool) -> int:
    """Peak memory of a fresh process that does one ``rp.load`` of the day, or goes through
    its ``rp.iter_load`` batches (bytes)."""
    call = (
        "n = sum(len(f) for f in rp.iter_load('requests', url, start=start, end=end))"
        if batches
        else "n = len(rp.load('requests', url, start=start, end=end))"
    )
    script = (
        "import resource, sys, datetime as d\n"
        f"{PEAK_RSS_SOURCE}"
        "import rp_toolkit as rp\n"
        "rp.setup(use_scan=True, progress=False)\n"
        "url, end = sys.argv[1], d.datetime.fromisoformat(sys.argv[2])\n"
        "start = end - d.timedelta(days=1)\n"
        f"{call}\n"
        "print(n, peak())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, url, end.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[1])


def load_speed_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """Median seconds per method, the ratios the docs quote, and each target met or not."""
    medians = frame.groupby("method")["seconds"].median()
    load_s = medians["rp_load"]
    summary: dict[str, Any] = {f"{m}_s": round(float(s), 3) for m, s in medians.items()}
    summary["load_over_naive_transfer"] = round(load_s / medians["naive_transfer"], 3)
    summary["iter_load_over_load"] = round(medians["rp_iter_load"] / load_s, 3)
    for method in ("gem_read_path_ruby", "gem_read_path_python_emulation"):
        if method in medians:
            summary[f"{method}_over_load"] = round(medians[method] / load_s, 2)
    records = int(frame["records"].iloc[0])
    summary["load_peak_rss_gib"] = round(frame.attrs.get("load_peak_rss_bytes", 0) / 2**30, 3)
    summary["iter_load_peak_rss_mib"] = round(
        frame.attrs.get("iter_load_peak_rss_bytes", 0) / 2**20, 1
    )
    summary["parse_cpu_s_per_1m"] = frame.attrs.get("parse_cpu_s_per_1m")
    summary.update(frame.attrs.get("during_load", {}))
    summary["server"] = frame.attrs.get("server")
    summary["records"] = records
    summary["all_found"] = bool((frame["found"] == records).all())
    gem = summary.get("gem_read_path_ruby_over_load")  # the gem's own Ruby, measured here
    during = frame.attrs.get("during_load", {})
    parse_cpu = summary["parse_cpu_s_per_1m"]
    summary["targets"] = {  # issue 22's, and issue 12's memory bounds
        "load >= 12x the gem's read path (Ruby)": None if gem is None else bool(gem >= 12),
        "load <= 0.85x the naive transfer": bool(load_s <= 0.85 * medians["naive_transfer"]),
        "parse CPU <= 1 s per 1M records": None if parse_cpu is None else bool(parse_cpu <= 1.0),
        "load peak memory <= 1.2 GiB": summary["load_peak_rss_gib"] <= 1.2,
        "iter_load peak memory <= 300 MiB": summary["iter_load_peak_rss_mib"] <= 300,
    }
    for name in ("auto", "low_impact") if during else ():
        slowest = during[f"{name}_slowlog_max_us"]
        summary["targets"][f"{name}: no command over 2 ms in SLOWLOG"] = bool(not slowest > 2000)
        summary["targets"][f"{name}: PING wait within 1 ms of idle"] = bool(
            during[f"{name}_probe_max_ms"] <= during["probe_idle_max_ms"] + 1.0
        )
    return summary
