"""How much Redis the gem needs: a live profile's bytes per record agree with MEMORY USAGE over
every key, a snapshot's sizes are exactly its keys and values (and the Redis 7 layout derived
from them matches that server's MEMORY USAGE), the projection's arithmetic, bad arguments,
the ACL, and the command (table, --json, no credential)."""

from __future__ import annotations

import json
import math
import random
import re
import shlex
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit import access, synth
from rp_toolkit.cli import build_parser, cmd_memory
from rp_toolkit.exceptions import InvalidArgumentError, RedisUnavailableError
from rp_toolkit.local import RedisServer
from rp_toolkit.memory import (
    DEFAULT_SAMPLE,
    KEYSPACE_OVERHEAD_BYTES,
    Reservoir,
    parse_duration,
    parse_rate,
    size_class,
)
from tests.frames.test_snapshot_load import redis_binary
from tests.support import ROOT, run_cli

END = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def usage_by_kind(client: redis.Redis) -> dict[str, list[int]]:
    """MEMORY USAGE of every key, per kind."""
    keys = list(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key)
    out: dict[str, list[int]] = {}
    prefixes = {b"performance": "requests", b"resource": "resources"}
    prefixes[b"rails_performance"] = "events"
    for key, usage in zip(keys, pipe.execute(), strict=True):
        head = key.split(b"|")[0].split(b":")[0]
        out.setdefault(prefixes.get(head, head.decode()), []).append(usage)
    return out


def test_live_bytes_per_record_agree_with_memory_usage_of_every_key(redis_url, client) -> None:
    synth.write(redis_url, hours=0.5, rps=2, seed=5, end=END, progress=False)
    truth = usage_by_kind(client)
    # Every key measured (a sample larger than any kind): the mean over every key, exactly.
    whole = rp.memory_profile(redis_url, sample=10**6).kinds.set_index("kind")
    for kind, usages in truth.items():
        assert whole.at[kind, "sampled"] == len(usages)
        assert whole.at[kind, "bytes_per_record"] == pytest.approx(np.mean(usages), rel=1e-9)
    profile = rp.memory_profile(redis_url, sample=300)
    frame = profile.kinds.set_index("kind")
    assert profile.method == "MEMORY USAGE"
    assert set(frame.index) == set(truth)
    assert profile.keys_walked == sum(len(usages) for usages in truth.values())
    for kind, usages in truth.items():
        n, taken = len(usages), min(len(usages), 300)
        assert frame.at[kind, "records"] == n
        assert frame.at[kind, "sampled"] == taken
        # A uniform sample's mean: within 5 standard errors of the mean over every key (the
        # finite-population correction makes it exact when every key is taken).
        error = (
            0.0
            if taken >= n
            else np.std(usages, ddof=1) / np.sqrt(taken) * np.sqrt((n - taken) / (n - 1))
        )
        assert abs(frame.at[kind, "bytes_per_record"] - np.mean(usages)) <= 5 * error + 1e-6, kind
    exact = sum(sum(usages) for usages in truth.values())
    overhead = profile.keys_walked * KEYSPACE_OVERHEAD_BYTES
    assert profile.bytes == pytest.approx(exact + overhead, rel=0.05)
    # Rates over the span the keys' times cover: synth writes 2 requests a second.
    assert frame.at["requests", "records_per_minute"] == pytest.approx(120, rel=0.02)
    assert frame.at["resources", "ttl_seconds"] == 24 * 3600
    assert math.isnan(frame.at["events", "records_per_minute"])
    assert client.dbsize() == profile.keys_walked  # nothing written


def test_projection_arithmetic(redis_url) -> None:
    synth.write(redis_url, hours=0.5, rps=2, seed=5, end=END, progress=False)
    profile = rp.memory_profile(redis_url, sample=200)
    measured = profile.kinds.set_index("kind")
    rpm = measured.at["requests", "records_per_minute"]
    base = profile.projection().set_index("kind")
    # Steady state: rate × TTL records, each with the keyspace overhead.
    per = measured.at["sidekiq", "bytes_per_record"] + KEYSPACE_OVERHEAD_BYTES
    held = measured.at["sidekiq", "records_per_minute"] * 240
    assert base.at["sidekiq", "bytes"] == pytest.approx(held * per)
    assert base.at["events", "records"] == measured.at["events", "records"]
    assert profile.needed_bytes() == round(base["bytes"].sum())
    doubled = profile.projection(duration=timedelta(hours=8), rate=2 * rpm).set_index("kind")
    # Duration: the duration kinds double, traces (60 min) and resources (24 h) do not.
    assert doubled.at["sidekiq", "records"] == pytest.approx(2 * base.at["sidekiq", "records"])
    assert doubled.at["resources", "records"] == pytest.approx(base.at["resources", "records"])
    # Rate: requests scale with it (and the duration), traces with it alone.
    assert doubled.at["requests", "records"] == pytest.approx(4 * base.at["requests", "records"])
    assert doubled.at["trace", "records"] == pytest.approx(2 * base.at["trace", "records"])
    assert profile.needed_bytes("8h", f"{2 * rpm / 60}/s") == profile.needed_bytes(28800, 2 * rpm)


@pytest.mark.parametrize(
    ("duration", "rate"),
    [(0, None), (-5, None), ("soon", None), (True, None), (float("inf"), None),
     (None, -1), (None, "fast"), (None, "5/fortnight"), (None, float("nan")), (None, False)],
)  # fmt: skip
def test_bad_duration_or_rate_is_a_clear_error(duration, rate) -> None:
    with pytest.raises(InvalidArgumentError, match="duration=|rate="):
        parse_duration(duration)
        parse_rate(rate)


@given(st.one_of(st.none(), st.text(max_size=12), st.floats(), st.integers(), st.booleans()))
def test_any_rate_or_duration_is_a_value_or_a_clear_error(value) -> None:
    for parse in (parse_rate, parse_duration):
        try:
            result = parse(value)
        except InvalidArgumentError as error:
            assert "rate=" in str(error) or "duration=" in str(error)
        else:
            assert result is None or (math.isfinite(result) and result >= 0)


@pytest.mark.parametrize("sample", [0, -1, 1.5, True, "10"])
def test_bad_sample_is_a_clear_error(redis_url, sample) -> None:
    with pytest.raises(InvalidArgumentError, match="sample must be"):
        rp.memory_profile(redis_url, sample=sample)


def test_a_rate_without_requests_to_scale_is_a_clear_error(redis_url) -> None:
    synth.write(redis_url, hours=0.2, rps=1, seed=2, end=END, kinds=("sidekiq",), progress=False)
    profile = rp.memory_profile(redis_url)
    assert profile.needed_bytes() > 0
    with pytest.raises(InvalidArgumentError, match="no requests records"):
        profile.needed_bytes(rate=100)


def test_the_reservoir_is_a_uniform_sample() -> None:
    hits = [0] * 100
    for trial in range(300):
        reservoir = Reservoir(10, random.Random(trial))
        for start in range(0, 100, 7):
            reservoir.add(list(range(start, min(start + 7, 100))))
        assert len(set(reservoir.items)) == 10 and reservoir.seen == 100
        for item in reservoir.items:
            hits[item] += 1
    # Each of 100 items is taken with probability 1/10: 30 times in 300 trials, give or take.
    assert min(hits) > 10 and max(hits) < 55
    assert sum(hits[:50]) == pytest.approx(sum(hits[50:]), rel=0.15)


def test_jemalloc_size_classes() -> None:
    got = [size_class(n) for n in (1, 8, 9, 24, 128, 129, 160, 161, 257, 1025)]
    assert got == [8, 8, 16, 32, 128, 160, 160, 192, 320, 1280]


@pytest.fixture(scope="module")
def snapshot_and_truth(tmp_path_factory) -> Iterator[tuple[Path, dict, dict[str, tuple]]]:
    """An RDB file of synthetic records from a Redis (not Valkey), with each kind's exact
    (keys, key+value bytes) and its MEMORY USAGE sums on that server."""
    folder = tmp_path_factory.mktemp("memory")
    with RedisServer(binary=redis_binary()) as server:
        client = redis.Redis.from_url(server.url)
        synth.write(client, hours=0.5, rps=2, seed=9, progress=False)
        usage = {kind: (len(v), sum(v)) for kind, v in usage_by_kind(client).items()}
        sizes: dict[str, list[int]] = {}
        for key in client.scan_iter(count=1000):
            head = key.split(b"|")[0].split(b":")[0].decode()
            sizes.setdefault(head, []).append(len(key) + len(client.get(key)))
        client.save()
        written = (
            Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
        )
        client.close()
        dump = folder / "dump.rdb"
        shutil.copyfile(written, dump)
        names = {"performance": "requests", "resource": "resources", "rails_performance": "events"}
        yield dump, {names.get(k, k): v for k, v in sizes.items()}, usage


def test_snapshot_sizes_are_the_keys_and_values_exactly(snapshot_and_truth) -> None:
    dump, sizes, usage = snapshot_and_truth
    profile = rp.memory_profile(rp.Snapshot(dump))
    frame = profile.kinds.set_index("kind")
    assert profile.method == "RDB" and profile.sample is None
    assert set(frame.index) == set(sizes)
    for kind, each in sizes.items():
        assert frame.at[kind, "records"] == frame.at[kind, "sampled"] == len(each)
        assert frame.at[kind, "data_bytes_per_record"] * len(each) == pytest.approx(sum(each))
        # The Redis 7 layout derived from the sizes: what that server's MEMORY USAGE said.
        assert frame.at[kind, "bytes"] == pytest.approx(usage[kind][1], rel=0.01), kind
    assert rp.memory_profile(str(dump)).kinds.equals(profile.kinds)  # a path works too


def test_the_command_on_a_snapshot_table_and_json(snapshot_and_truth) -> None:
    dump, sizes, _ = snapshot_and_truth
    table = run_cli("memory", "--rdb", str(dump), "--duration", "8h", "--rate", "20/s")
    assert table.returncode == 0, table.stderr
    assert "for duration 8 h at 1,200 requests a minute" in table.stdout
    assert "`rp-toolkit archive`" in table.stdout
    for kind in sizes:
        assert f"\n{kind} " in table.stdout
    as_json = run_cli("memory", "--rdb", str(dump), "--json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    profile = rp.memory_profile(dump)
    assert summary["needed_bytes"] == profile.needed_bytes()
    assert {row["kind"]: row["records"] for row in summary["kinds"]} == {
        kind: len(each) for kind, each in sizes.items()
    }
    bad = run_cli("memory", "--rdb", str(dump), "--duration", "never")
    assert bad.returncode == 2 and "duration='never' is not a duration" in bad.stderr


def test_the_command_never_shows_the_password_and_the_acl_user_measures() -> None:
    password = "memory-pw-not-in-outputs-7f3e"
    with RedisServer() as server:
        synth.write(server.url, hours=0.2, rps=1, seed=4, end=END, progress=False)
        admin = redis.Redis.from_url(server.url)
        admin.execute_command(*access.acl_setuser_args("rp_reader", password))
        rules = [r for r in access.analysis_acl_rules() if r != "+memory|usage"]
        admin.execute_command("ACL", "SETUSER", "old_reader", "reset", "on", f">{password}", *rules)
        admin.close()
        url = f"redis://rp_reader:{password}@127.0.0.1:{server.port}/0"
        result = run_cli("memory", "--json", env={"REDIS_URL": url, "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["needed_bytes"] > 0
        assert password not in result.stdout + result.stderr
        old = url.replace("rp_reader", "old_reader")
        with pytest.raises(RedisUnavailableError, match=r"refused MEMORY USAGE.*--rdb") as caught:
            rp.memory_profile(old)
        assert password not in str(caught.value)
        refused = run_cli("memory", "--redis-url", old)
        assert refused.returncode == 2 and "+memory|usage" in refused.stderr
        assert password not in refused.stdout + refused.stderr


def test_the_readme_section_shows_commands_the_parser_takes_and_the_real_default() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## How much Redis the gem needs") :]
    section = section[: section.index("\n## ")]
    commands = re.findall(r"^rp-toolkit (memory[^#\n]*)", section, re.MULTILINE)
    assert len(commands) == 3
    for command in commands:
        args = build_parser().parse_args(shlex.split(command))
        assert args.func is cmd_memory
        parse_duration(args.duration)
        parse_rate(args.rate)
    assert build_parser().parse_args(["memory"]).sample == DEFAULT_SAMPLE
    assert f"`--sample`, {DEFAULT_SAMPLE:,} by default" in section.replace("\n", " ")
    assert "KEYSPACE_OVERHEAD_BYTES" in section and "`rp-toolkit archive`" in section
