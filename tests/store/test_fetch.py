"""Key discovery (KEYS and SCAN) and chunked value reads, against a real Redis server.

Nothing here mocks Redis. Where a test must act at a precise moment of a fetch (between two
SCAN calls, between listing and reading), it passes the fetch a ``redis.Redis`` subclass that
talks to the real server as usual and runs the action from a second connection at that point.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

import rp_toolkit as rp
from rp_toolkit import store as fetching
from rp_toolkit.kinds import decode_key, encode_key, escape_glob
from rp_toolkit.local import RedisServer
from rp_toolkit.store import _scan as scan_module
from rp_toolkit.store import _stats as stats_module
from tests.support import fill_keyspace, on_mget_trips

ROOT = Path(__file__).resolve().parents[2]
DEPRECATION = "[DEPRECATION] Using KEYS command. Set use_scan = True"

# The first KEYS fetch of the process warns; which test does it first is chance. The tests
# that are about the warning record it themselves (pytest.warns resets the filters).
pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---------------------------------------------------------------------------------- helpers


def scan_with(count: int) -> Any:
    """Settings for a SCAN fetch with a fixed COUNT (auto-tune off)."""
    return rp.setup(use_scan=True, scan_count=count, scan_count_auto_tune=False)


def command_calls(client: redis.Redis, command: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


class HookedRedis(redis.Redis):
    """A real client (configured like rp_toolkit's own) that records each SCAN reply and can
    run ``on_scan(cursor_in, cursor_out, batch)`` after it."""

    on_scan: Callable[[int, int, list[bytes]], None] | None = None

    @classmethod
    def for_url(cls, url: str) -> HookedRedis:
        hooked = cls.from_url(url, decode_responses=False, retry=Retry(NoBackoff(), 0))
        hooked.scan_replies = []
        return hooked

    def scan(self, cursor=0, match=None, count=None, _type=None, **kwargs):  # noqa: D102
        cursor_out, batch = super().scan(cursor, match=match, count=count, _type=_type, **kwargs)
        self.scan_replies.append((int(cursor), int(cursor_out), list(batch)))
        if self.on_scan is not None:
            self.on_scan(int(cursor), int(cursor_out), batch)
        return cursor_out, batch

    def raw_scanned(self) -> list[bytes]:
        return [key for _in, _out, batch in self.scan_replies for key in batch]


# ------------------------------------------------------------------------------ escape_glob


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("*", "\\*"),
        ("?", "\\?"),
        ("[", "\\["),
        ("]", "\\]"),
        ("\\", "\\\\"),
        ("a*b?c[d]e\\f", "a\\*b\\?c\\[d\\]e\\\\f"),
        ("plain|text with spaces-é^", "plain|text with spaces-é^"),
        ("", ""),
    ],
)
def test_escape_glob(raw, escaped):
    assert escape_glob(raw) == escaped


GLOB_HEAVY_CHARS = st.one_of(
    st.sampled_from(list("|*?[]\\ ab^-!")),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
)


def _decoys(value: str) -> set[str]:
    """Values an unescaped (or wrongly escaped) ``value`` would also match as a glob."""
    return {
        value.replace("*", ""),
        value.replace("*", "zz*"),
        value.replace("?", "q"),
        value.replace("\\", ""),
        value.replace("[", "").replace("]", ""),
        value + "tail",
        "head" + value,
    } - {value}


@PROPERTY
@given(values=st.lists(st.text(GLOB_HEAVY_CHARS, max_size=8), min_size=1, max_size=4, unique=True))
def test_escaped_value_matches_only_its_own_key(redis_server, values):
    url = redis_server.url
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    all_values = set(values).union(*(_decoys(v) for v in values))
    fill_keyspace(raw, {encode_key(f"x|{v}|END"): b"1" for v in all_values})
    for value in values:
        pattern = "x|" + escape_glob(value) + "|END"
        expected = [f"x|{value}|END"]
        assert [decode_key(k) for k in raw.keys(encode_key(pattern))] == expected
        with rp.setup(use_scan=False):
            assert rp.fetch_keys(pattern, url) == expected
        with scan_with(10):
            assert rp.fetch_keys(pattern, url) == expected


# ------------------------------------------------------------------ KEYS and SCAN agree


KEY_ATOMS = [
    b"a",
    b"b",
    b"x",
    b"|",
    b"*",
    b"?",
    b"[",
    b"]",
    b"\\",
    b" ",
    b"-",
    b"^",
    "é".encode(),
    "日".encode(),
    b"\xff",
    b"\xfe",
    b"\x80",
    b"\xc3",
]
KEY_BYTES = st.lists(st.sampled_from(KEY_ATOMS), min_size=1, max_size=6).map(b"".join)


@st.composite
def keyspace_and_pattern(draw: Any) -> tuple[list[bytes], str]:
    keys = draw(st.lists(KEY_BYTES, unique=True, max_size=40))
    source = decode_key(draw(st.sampled_from(keys)) if keys else draw(KEY_BYTES))
    kind = draw(st.sampled_from(["fixed", "prefix", "infix", "literal", "question", "raw"]))
    if kind == "fixed":
        pattern = draw(st.sampled_from(["*", "*x*", "x*", "*|*", "*\\**", "[ab]*", "[^a]*", "?"]))
    elif kind == "prefix":
        pattern = escape_glob(source[: draw(st.integers(0, len(source)))]) + "*"
    elif kind == "infix":
        start = draw(st.integers(0, len(source)))
        end = draw(st.integers(start, len(source)))
        pattern = "*" + escape_glob(source[start:end]) + "*"
    elif kind == "literal":
        pattern = escape_glob(source)
    elif kind == "question":
        pattern = "?" * draw(st.integers(1, 4)) + draw(st.sampled_from(["", "*"]))
    else:  # an arbitrary, possibly odd glob (unbalanced brackets, trailing backslash...)
        pattern = decode_key(draw(KEY_BYTES))
    return keys, pattern


def value_for(key: bytes) -> bytes:
    return b"\x00\xff value of " + key  # distinct per key, and not UTF-8


@PROPERTY
@given(case=keyspace_and_pattern())
def test_keys_and_scan_return_the_same_sorted_list(redis_server, case):
    keys, pattern = case
    url = redis_server.url
    raw = redis.Redis.from_url(url)
    raw.flushdb()
    written = {key: value_for(key) for key in keys}
    if written:
        fill_keyspace(raw, written)

    truth = sorted(decode_key(k) for k in raw.keys(encode_key(pattern)))
    with rp.setup(use_scan=False):
        assert rp.fetch_keys(pattern, url) == truth
    for count in (1, 3, 1000):
        with scan_with(count):
            assert rp.fetch_keys(pattern, url) == truth, f"SCAN COUNT {count}"

    # Keys that are not UTF-8 round-trip, and their values are read back byte for byte.
    for key in keys:
        assert encode_key(decode_key(key)) == key
    with scan_with(3):
        found, values = rp.fetch_from_redis(pattern, url, raw=True)
    assert found == sorted(encode_key(k) for k in truth)  # raw: the key bytes, in byte order
    assert values == [written[k] for k in found]
    with rp.setup(use_scan=False):
        found, values = rp.fetch_from_redis(pattern, url)
    assert found == truth
    assert values == [written[encode_key(k)].decode("utf-8", "surrogateescape") for k in found]


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_decode_key_is_lossless(key):
    text = decode_key(key)
    assert isinstance(text, str)
    assert encode_key(text) == key
    assert decode_key(text) is text
    assert encode_key(key) is key


def test_non_utf8_keys_are_listed_and_read(client, redis_url):
    keys = {
        b"bin|\xff\xfe|END": b"\xff\x00\x01",
        b"bin|caf\xc3\xa9|END": "é".encode(),
        b"bin|\x80": b"",
    }
    fill_keyspace(client, keys)
    for use_scan in (False, True):
        with rp.setup(use_scan=use_scan):
            found, values = rp.fetch_from_redis("bin|*", redis_url, raw=True)
            assert found == sorted(keys)
            assert values == [keys[k] for k in found]
            found, values = rp.fetch_from_redis("bin|*", redis_url)
            assert found == sorted(decode_key(k) for k in keys)
            assert "bin|café|END" in found
            assert [encode_key(k) for k in found] == sorted(keys, key=decode_key)
            assert values == [keys[encode_key(k)].decode("utf-8", "surrogateescape") for k in found]


# ------------------------------------------------------------------------------- duplicates


def _is_valkey(client: redis.Redis) -> bool:
    return client.info("server").get("server_name") == "valkey"


def _main_table(client: redis.Redis) -> tuple[list[int], bool]:
    """Buckets of db 0's main hash table(s) and whether it is rehashing (DEBUG HTSTATS).
    Valkey (8.1 on, its own hash table) says how many entries fit, 7 to a bucket, and always
    has a "rehashing index" line (-1: not rehashing)."""
    text = client.execute_command("DEBUG", "HTSTATS", 0)
    main = (text.decode() if isinstance(text, bytes) else text).split("[Expires HT]")[0]
    per_bucket = 7 if _is_valkey(client) else 1
    sizes = [int(size) // per_bucket for size in re.findall(r"table size: (\d+)", main)]
    return sizes, bool(re.search(r"rehashing target|rehashing index: \d", main))


@pytest.fixture
def debug_server() -> Any:
    """A server of its own that accepts DEBUG (Redis 7 needs enable-debug-command)."""
    try:
        server = RedisServer({"enable-debug-command": "local"}).start()
    except rp.RPToolkitError:  # Redis 6 has no such option: DEBUG is always on there
        server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


def _wait_for_table(
    client: redis.Redis, size: int, timeout: float = 10.0, *, at_most: bool = False
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sizes, rehashing = _main_table(client)
        if not sizes:
            pytest.skip("this server's DEBUG HTSTATS shows no table sizes")
        settled = len(sizes) == 1 and not rehashing
        if settled and (sizes[0] <= size if at_most else sizes[0] == size):
            return
        time.sleep(0.01)
    pytest.fail(f"the keyspace table did not settle at {size} buckets: {_main_table(client)}")


def test_scan_duplicates_are_dropped(debug_server):
    """SCAN really returns keys twice when the table shrinks mid-scan; the fetch drops them.

    3000 keys fill a 4096-bucket table. Early in the scan (COUNT 1), when the n >= 3 keys
    returned so far all sit in buckets whose low bits are 0 (as does the cursor), every other
    key is deleted. Redis shrinks the table to S (4 or 8) buckets; the survivors all land in
    bucket 0, which the cursor (low bits 0) visits again: each is returned a second time.
    Valkey's table (512 buckets of 7) does the same; it shrinks while at most 13% full, so to
    at most S buckets with S * 7 * 13% < n.
    """
    url = debug_server.url
    admin = redis.Redis.from_url(url)
    valkey = _is_valkey(admin)
    names = [f"k:{i}".encode() for i in range(3000)]
    fill_keyspace(admin, dict.fromkeys(names, b"v"))
    _wait_for_table(admin, 512 if valkey else 4096)

    hooked = HookedRedis.for_url(url)
    kept: list[bytes] = []

    def shrink_once(_cursor_in: int, cursor_out: int, _batch: list[bytes]) -> None:
        returned = set(hooked.raw_scanned())
        size = max(4, 1 << (len(returned) - 1).bit_length())  # the table Redis shrinks to
        if valkey:  # the largest table Valkey stops shrinking at
            size = 1 << (((len(returned) * 100 - 1) // 91).bit_length() - 1)
        limit = 16 if valkey else 8  # a Valkey bucket can hold more than 8 keys
        if kept or len(returned) < 3 or size > limit or cursor_out == 0 or cursor_out % size:
            return
        kept.extend(sorted(returned))
        pipe = admin.pipeline(transaction=False)
        for name in set(names) - returned:
            pipe.unlink(name)
        pipe.execute()
        _wait_for_table(admin, size, at_most=valkey)

    hooked.on_scan = shrink_once
    with scan_with(1):
        result = rp.fetch_from_redis("k:*", hooked)

    assert kept, "the scan never reached the point where the table is shrunk"
    raw = hooked.raw_scanned()
    assert len(raw) - len(set(raw)) == len(kept), "the server did not return duplicates"
    assert result.keys == sorted(decode_key(k) for k in kept)
    assert len(set(result.keys)) == len(result.keys)
    assert result.values == ["v"] * len(kept)
    assert result.stats.duplicates_dropped == len(kept)
    assert result.stats.keys_found == len(kept)


def test_scan_while_the_keyspace_grows(client, redis_url):
    """Keys added from another connection during a COUNT 1 scan (the table grows and
    rehashes several times): the result is unique, sorted, and has every key that existed
    for the whole scan (SCAN's guarantee)."""
    old = {f"k:old:{i:05d}".encode(): b"old" for i in range(3000)}
    fill_keyspace(client, old)
    writer = redis.Redis.from_url(redis_url)
    added: list[bytes] = []
    calls = 0

    def grow(_cursor_in: int, _cursor_out: int, _batch: list[bytes]) -> None:
        nonlocal calls
        calls += 1
        if calls % 40 == 0 and len(added) < 12_000:
            new = {f"k:new:{len(added) + i:05d}".encode(): b"new" for i in range(600)}
            fill_keyspace(writer, new)
            added.extend(new)

    hooked = HookedRedis.for_url(redis_url)
    hooked.on_scan = grow
    with scan_with(1):
        keys = rp.fetch_keys("k:*", hooked)

    assert len(added) >= 3000, "the keyspace did not grow much during the scan"
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    assert {decode_key(k) for k in old} <= set(keys)
    assert set(keys) <= {decode_key(k) for k in old} | {decode_key(k) for k in added}
    raw = hooked.raw_scanned()
    assert set(keys) == {decode_key(k) for k in raw}


def test_duplicates_dropped_counts_what_scan_returned_twice(client, redis_url):
    fill_keyspace(client, {f"k:{i}": i for i in range(500)})
    hooked = HookedRedis.for_url(redis_url)
    with scan_with(7):
        result = rp.fetch_from_redis("k:*", hooked)
    raw = hooked.raw_scanned()
    assert result.stats.duplicates_dropped == len(raw) - len(set(raw))
    assert result.stats.scan_calls == len(hooked.scan_replies)
    assert result.keys == sorted(f"k:{i}" for i in range(500))


# -------------------------------------------------------------------------- fetch_from_redis


@pytest.mark.parametrize("use_scan", [False, True])
def test_fetch_unpacks_into_keys_and_aligned_values(client, redis_url, use_scan):
    fill_keyspace(client, {f"rec|{i:03d}|END": f"value-{i}" for i in range(120)})
    fill_keyspace(client, {f"other|{i}": "x" for i in range(30)})
    with rp.setup(use_scan=use_scan, mget_chunk=7):  # several MGETs, two pipelined trips
        result = rp.fetch_from_redis("rec|*|END", redis_url)
    keys, values = result
    assert isinstance(result, tuple) and len(result) == 2
    assert keys == [f"rec|{i:03d}|END" for i in range(120)]
    assert values == [f"value-{i}" for i in range(120)]
    assert result.stats.keys_found == 120


def test_stats_of_a_keys_fetch(client, redis_url):
    fill_keyspace(client, {f"k|{i}": i for i in range(50)})
    rp.setup(use_scan=False)
    result = rp.fetch_from_redis("k|*", redis_url)
    stats = result.stats
    assert isinstance(stats, rp.FetchStats)
    assert stats.method == "KEYS"
    assert stats.pattern == "k|*"
    assert stats.server == redis_url.removeprefix("redis://")
    assert stats.count is None
    assert stats.scan_calls == 0
    assert stats.keys_found == 50
    assert stats.mget_calls == 1
    assert stats.values_missing == 0
    assert stats.duplicates_dropped == 0
    assert stats.retries == 0
    assert stats.elapsed_seconds > 0
    assert stats.slowest_call_seconds > 0
    assert stats.keys_seconds > 0 and stats.values_seconds > 0
    assert stats.elapsed_seconds >= stats.keys_seconds
    assert stats.as_dict()["method"] == "KEYS"


REQUEST_KEY = (
    "performance|controller|{controller}|action|index|format|html|status|200|datetime|{day}T{hhmm}"
    "|datetimei|1795000000|method|GET|path|/|request_id|{request_id}|END|1.0.2"
)


def request_key(i: int, controller: str = "Home", day: str = "20261127", request_id: str = ""):
    return REQUEST_KEY.format(
        controller=controller, day=day, hhmm=f"{i % 2400:04d}", request_id=request_id or f"r{i:05d}"
    )


@pytest.mark.parametrize(
    "pattern, make_key, count",
    [
        ("performance|*controller|Home|*|END|1.0.2", lambda i: request_key(i), 100),
        (
            "performance|*datetime|20261127*|*|END|1.0.2",
            lambda i: request_key(i, controller=f"C{i}"),
            1000,
        ),
        ("performance|*|request_id|abc|*", lambda i: request_key(i, request_id="abc"), 1000),
    ],
)
def test_stats_of_a_scan_fetch_use_the_auto_tuned_count(
    client, redis_url, pattern, make_key, count
):
    matching = {make_key(i): i for i in range(250)}
    assert len(matching) == 250
    fill_keyspace(client, matching)
    fill_keyspace(client, {request_key(i, "Other", "20261126", f"n{i}"): i for i in range(1500)})
    client.config_resetstat()
    with rp.setup(use_scan=True):
        result = rp.fetch_from_redis(pattern, redis_url)
    stats = result.stats
    assert stats.method == "SCAN"
    assert stats.pattern == pattern
    assert stats.count == count
    assert result.keys == sorted(matching)
    assert stats.keys_found == 250
    assert stats.scan_calls > 1
    assert stats.scan_calls == command_calls(client, "scan")
    assert command_calls(client, "keys") == 0
    assert stats.elapsed_seconds > 0
    assert stats.slowest_call_seconds > 0


def test_scan_calls_grow_when_the_count_shrinks(client, redis_url):
    fill_keyspace(client, {f"k:{i}": i for i in range(400)})
    calls = {}
    for count in (1000, 10):
        with scan_with(count):
            calls[count] = rp.fetch_from_redis("k:*", redis_url).stats.scan_calls
    assert calls[1000] < calls[10]
    assert calls[10] > 400 / 10 / 2  # each call walks about COUNT buckets


def test_values_are_read_with_several_chunked_mgets(client, redis_url):
    fill_keyspace(client, {f"k:{i:03d}": i for i in range(100)})
    for use_scan in (False, True):
        client.config_resetstat()
        with rp.setup(use_scan=use_scan, mget_chunk=7):
            keys, values = result = rp.fetch_from_redis("k:*", redis_url)
        assert result.stats.mget_calls == 15
        assert command_calls(client, "mget") == 15  # seen by the server, not just counted
        assert values == [str(i) for i in range(100)]

    client.config_resetstat()
    result = rp.fetch_from_redis("k:*", redis_url)  # the default chunk is 1000
    assert result.stats.mget_calls == 1
    assert command_calls(client, "mget") == 1


def test_no_matches_reads_nothing(client, redis_url):
    fill_keyspace(client, {"a": 1})
    client.config_resetstat()
    for use_scan in (False, True):
        with rp.setup(use_scan=use_scan):
            result = rp.fetch_from_redis("nothing|*", redis_url)
        assert result == ([], [])
        assert result.stats.keys_found == 0
        assert result.stats.mget_calls == 0
    assert command_calls(client, "mget") == 0


def test_key_deleted_between_listing_and_reading_gives_none(client, redis_url):
    fill_keyspace(client, {f"k:{i}": f"v{i}" for i in range(10)})
    toolkit_client = rp.get_client(redis_url)
    keys, stats = fetching.list_keys("k:*", toolkit_client)
    assert keys == sorted(f"k:{i}" for i in range(10))
    client.delete("k:3")
    values = fetching.read_values(fetching.open_source(toolkit_client), keys, stats)
    gone = keys.index("k:3")
    assert values[gone] is None
    assert [v for i, v in enumerate(values) if i != gone] == [
        f"v{k[2:]}".encode() for i, k in enumerate(keys) if i != gone
    ]
    assert stats.values_missing == 1


def test_fetch_from_redis_reports_a_key_that_went_away(client, redis_url):
    """End to end: the key is deleted (from another connection) after SCAN listed it."""
    fill_keyspace(client, {f"k:{i}": f"v{i}" for i in range(10)})

    reading = on_mget_trips(HookedRedis.for_url(redis_url), lambda _trip: client.delete("k:7"))
    with rp.setup(use_scan=True):
        result = rp.fetch_from_redis("k:*", reading)
    assert "k:7" in result.keys
    assert result.values[result.keys.index("k:7")] is None
    assert sum(v is None for v in result.values) == 1
    assert result.stats.values_missing == 1


def test_fetch_uses_settings_redis_url(client, redis_url):
    fill_keyspace(client, {"k:1": "one"})
    with rp.setup(redis_url=redis_url):
        assert rp.fetch_from_redis("k:*") == (["k:1"], ["one"])
        assert rp.fetch_keys("k:*") == ["k:1"]


def test_fetch_without_any_redis_is_a_settings_error():
    with pytest.raises(rp.SettingsError, match="REDIS_URL"):
        rp.fetch_keys("k:*")


# ------------------------------------------------------------------- deprecation and debug


def _deprecations(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "rp_toolkit.keys"
        and r.levelno == logging.WARNING
        and r.getMessage().startswith(DEPRECATION)
    ]


def test_every_keys_fetch_logs_the_deprecation(client, redis_url, caplog):
    fill_keyspace(client, {"k:1": 1})
    caplog.set_level(logging.WARNING, logger="rp_toolkit")
    rp.setup(use_scan=False)
    rp.fetch_keys("k:*", redis_url)
    rp.fetch_from_redis("k:*", redis_url)
    rp.fetch_keys("other:*", redis_url)
    assert len(_deprecations(caplog)) == 3


def test_scan_fetches_log_no_deprecation(client, redis_url, caplog):
    fill_keyspace(client, {"k:1": 1})
    caplog.set_level(logging.DEBUG, logger="rp_toolkit")
    with rp.setup(use_scan=True):
        rp.fetch_keys("k:*", redis_url)
        rp.fetch_from_redis("k:*", redis_url)
    assert not any("DEPRECATION" in r.getMessage() for r in caplog.records)


def test_first_keys_fetch_warns_once(client, redis_url, monkeypatch):
    fill_keyspace(client, {"k:1": 1})
    monkeypatch.setattr(scan_module, "_keys_warning_issued", False)
    rp.setup(use_scan=False)
    assert issubclass(rp.KeysDeprecationWarning, FutureWarning)
    with pytest.warns(rp.KeysDeprecationWarning, match=re.escape(DEPRECATION)) as record:
        rp.fetch_keys("k:*", redis_url)
    assert len(record) == 1
    assert record[0].filename == __file__  # points at the caller, not at rp_toolkit
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        rp.fetch_keys("k:*", redis_url)
        rp.fetch_from_redis("k:*", redis_url)
    assert not [w for w in later if issubclass(w.category, rp.KeysDeprecationWarning)]


def test_scan_fetch_does_not_spend_the_one_warning(client, redis_url, monkeypatch):
    monkeypatch.setattr(scan_module, "_keys_warning_issued", False)
    with warnings.catch_warnings(record=True) as caught, rp.setup(use_scan=True):
        warnings.simplefilter("always")
        rp.fetch_from_redis("k:*", redis_url)
    assert not caught
    with pytest.warns(rp.KeysDeprecationWarning) as record, rp.setup(use_scan=False):
        rp.fetch_from_redis("k:*", redis_url)
    assert record[0].filename == __file__


SCRIPT = """\
import logging, os, sys
import rp_toolkit as rp
url = sys.argv[1]; logging.basicConfig(format="%(message)s") if os.environ.get("LOG") else None
rp.fetch_keys("k:*", url)
rp.fetch_from_redis("k:*", url)
rp.fetch_keys("k:*", url)
print("found", rp.fetch_keys("k:*", url))
"""


def _run_script(tmp_path: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "report.py"
    script.write_text(SCRIPT)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RP_")}
    environ.pop("PYTHONWARNINGS", None)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ.update(env)
    return subprocess.run(
        [sys.executable, str(script), url],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_script_shows_the_keys_notice_once(client, redis_url, tmp_path):
    fill_keyspace(client, {"k:1": 1, "k:2": 2})
    done = _run_script(tmp_path, redis_url, RP_USE_SCAN="false")
    assert done.returncode == 0, done.stderr
    assert "found ['k:1', 'k:2']" in done.stdout
    # Shown by Python's default filters (a FutureWarning), once, at the user's first call.
    assert done.stderr.count("KeysDeprecationWarning") == 1
    assert f"{tmp_path / 'report.py'}:4: KeysDeprecationWarning: {DEPRECATION}" in done.stderr
    # ... and nowhere else: the per-call log records do not reach stderr unless asked for.
    assert done.stderr.count(DEPRECATION) == 1


def test_an_application_that_configures_logging_gets_every_keys_call(client, redis_url, tmp_path):
    fill_keyspace(client, {"k:1": 1, "k:2": 2})
    done = _run_script(tmp_path, redis_url, RP_USE_SCAN="false", LOG="1")
    assert done.returncode == 0, done.stderr
    # Logged on every KEYS fetch, as the gem logs each to the Rails log.
    logged = [line for line in done.stderr.splitlines() if line.startswith(DEPRECATION)]
    assert len(logged) == 4


def test_scan_from_the_environment_gives_no_deprecation(client, redis_url, tmp_path):
    fill_keyspace(client, {"k:1": 1, "k:2": 2})
    done = _run_script(tmp_path, redis_url, RP_USE_SCAN="true")
    assert done.returncode == 0, done.stderr
    assert "found ['k:1', 'k:2']" in done.stdout
    assert "DEPRECATION" not in done.stderr
    assert "Warning" not in done.stderr


def test_debug_from_the_environment_prints_queries(client, redis_url, tmp_path):
    fill_keyspace(client, {"k:1": 1, "k:2": 2})
    done = _run_script(tmp_path, redis_url, RP_DEBUG="1", RP_USE_SCAN="1")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("[REDIS QUERY] k:*") == 4
    assert done.stderr.count("[FOUND] 2") == 4


@pytest.mark.parametrize("use_scan", [False, True])
def test_debug_logs_each_query_and_count(client, redis_url, caplog, use_scan):
    fill_keyspace(client, {"k:1": 1, "k:2": 2, "k:3": 3, "j:1": 1})
    caplog.set_level(logging.INFO, logger="rp_toolkit")
    with rp.setup(debug=True, use_scan=use_scan):
        rp.fetch_keys("k:*", redis_url)
        rp.fetch_from_redis("j:*", redis_url)
    messages = [r.getMessage() for r in caplog.records if r.name == "rp_toolkit"]
    assert [m for m in messages if m.startswith(("[REDIS QUERY]", "[FOUND]"))] == [
        "[REDIS QUERY] k:*",
        "[FOUND] 3",
        "[REDIS QUERY] j:*",
        "[FOUND] 1",
    ]


def test_no_debug_logs_without_debug(client, redis_url, caplog):
    fill_keyspace(client, {"k:1": 1})
    caplog.set_level(logging.DEBUG, logger="rp_toolkit")
    with rp.setup(use_scan=True):
        rp.fetch_from_redis("k:*", redis_url)
    assert not [r for r in caplog.records if "[REDIS QUERY]" in r.getMessage()]
    assert not [r for r in caplog.records if "[FOUND]" in r.getMessage()]


# --------------------------------------------------------------------------------- progress


def test_progress_bar_on_stderr(client, redis_url, capsys, monkeypatch):
    fill_keyspace(client, {f"k:{i}": i for i in range(300)})
    monkeypatch.setattr(stats_module, "PROGRESS_DELAY_S", 0)
    with rp.setup(progress=True, use_scan=True):
        keys = rp.fetch_keys("k:*", redis_url)
    assert len(keys) == 300
    out, err = capsys.readouterr()
    assert out == ""
    assert "SCAN k:*" in err
    assert "keys" in err
    assert "|" in err  # the bar itself


def test_progress_bar_covers_value_reads(client, redis_url, capsys, monkeypatch):
    fill_keyspace(client, {f"k:{i}": i for i in range(30)})
    monkeypatch.setattr(stats_module, "PROGRESS_DELAY_S", 0)
    with rp.setup(progress=True):
        rp.fetch_from_redis("k:*", redis_url)
    assert "MGET" in capsys.readouterr().err


def test_no_progress_bar_when_off(client, redis_url, capsys, monkeypatch):
    fill_keyspace(client, {f"k:{i}": i for i in range(300)})
    monkeypatch.setattr(stats_module, "PROGRESS_DELAY_S", 0)
    with rp.setup(progress=False, use_scan=True):
        rp.fetch_from_redis("k:*", redis_url)
    assert capsys.readouterr() == ("", "")


def test_no_progress_bar_for_a_fast_fetch(client, redis_url, capsys):
    fill_keyspace(client, {f"k:{i}": i for i in range(30)})
    assert fetching.PROGRESS_DELAY_S >= 0.5
    with rp.setup(progress=True, use_scan=True):
        rp.fetch_from_redis("k:*", redis_url)
    assert capsys.readouterr().err == ""
