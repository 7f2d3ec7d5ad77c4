"""A catalogue of bad inputs a user can hand rp_toolkit, each with its exact outcome.

Arguments, URLs, environment values, command lines, keys and values: every one ends in a
one-line rp_toolkit error (or a ValueError saying what to pass) or in a recorded problem,
never in a traceback from redis-py, fewer records without a word, or a shown password.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import config, reports
from rp_toolkit.exceptions import (
    InvalidArgumentError,
    RedisCommandError,
    RedisUnavailableError,
    SettingsError,
)
from rp_toolkit.kinds import REQUESTS, TRACE
from rp_toolkit.local import RedisServer
from tests.support import run_cli

SECRET = "Zq-secret-91"


def outcome(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def assert_one_line(error: BaseException, kind: type[BaseException], *phrases: str) -> None:
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    text = str(error)
    assert "\n" not in text.strip(), text
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    shown = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert SECRET not in shown
    assert "During handling of the above exception" not in shown


# ---------------------------------------------------------------------------------- URLs

URLS = [
    ("http://host:6379/0", "the scheme must be one of"),
    ("", "the scheme must be one of"),
    ("127.0.0.1:6379", "the scheme must be one of"),
    ("redis://host:notaport/0", "the port must be a number"),
    ("redis://host:70000/0", "the port must be a number"),
    ("redis://host:6379/abc", "the database (the path after the port) must be a whole number"),
    ("redis://host:6379/-1", "the database (the path after the port) must be a whole number"),
    ("redis://host/0?db=x", "the db parameter must be a whole number"),
    (f"redis://:pa#{SECRET}@host:6379/0", "percent-encode it"),
    (f"redis://:{SECRET}/x@host:6379/0", "percent-encode it"),
    (f"redis://:{SECRET}@:6379/0", "the host is missing"),
    ("unix://", "a unix:// URL needs the socket's path"),
    (f"redis://:{SECRET}@host:6379/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
    (f"redis+cluster://:{SECRET}@127.0.0.1:1/3", "names a database other than 0"),
]


@pytest.mark.parametrize("url, phrase", URLS, ids=[f"url{i}" for i in range(len(URLS))])
def test_malformed_urls(url: str, phrase: str) -> None:
    error = outcome(lambda: rp.fetch_keys("x", url))
    assert_one_line(error, SettingsError, phrase)


def test_a_client_of_the_wrong_type() -> None:
    assert_one_line(outcome(lambda: rp.fetch_keys("x", 42)), SettingsError, "client must be")


@pytest.fixture(scope="module")
def locked_down() -> Any:
    """A password-protected server with SCAN renamed away and a tiny maxmemory."""
    options = {"requirepass": SECRET, "rename-command": ("SCAN", ""), "maxmemory": "3mb"}
    with RedisServer(options) as server:
        yield server


def test_a_database_out_of_range(locked_down: RedisServer) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{locked_down.port}/99"
    error = outcome(lambda: rp.fetch_keys("x", url))
    assert_one_line(error, RedisCommandError, "has no such database", "databases")


def test_a_renamed_scan(locked_down: RedisServer) -> None:
    url = f"redis://127.0.0.1:{locked_down.port}/0?password={SECRET}"
    with rp.setup(use_scan=True):
        error = outcome(lambda: rp.fetch_keys("x", url))
    assert_one_line(error, RedisCommandError, "does not know the command SCAN")


def test_out_of_memory_while_seeding(locked_down: RedisServer) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{locked_down.port}/1"
    error = outcome(lambda: rp.synth.write(url, hours=1, rps=50, progress=False))
    assert_one_line(error, RedisCommandError, "is out of memory", "maxmemory")


def test_a_wrong_password(locked_down: RedisServer) -> None:
    url = f"redis://:not-{SECRET}@127.0.0.1:{locked_down.port}/0"
    error = outcome(lambda: rp.fetch_keys("x", url))
    assert_one_line(error, RedisUnavailableError, "refused the credentials")


def test_tls_to_a_plain_text_port_fails_fast(locked_down: RedisServer) -> None:
    started = time.monotonic()
    url = f"rediss://:{SECRET}@127.0.0.1:{locked_down.port}/0"
    error = outcome(lambda: rp.fetch_keys("x", url))
    assert_one_line(error, RedisUnavailableError, "TLS handshake did not finish")
    assert time.monotonic() - started < 15


def test_a_trace_key_of_the_wrong_type(redis_url: str, client: redis.Redis) -> None:
    client.rpush(TRACE.format_key({"request_id": "r1"}), "x")
    error = outcome(lambda: rp.load_trace("r1", redis_url))
    assert_one_line(error, RedisCommandError, "WRONGTYPE", "trace of request 'r1'")


def test_a_trace_that_is_not_json(redis_url: str, client: redis.Redis) -> None:
    """A report must not stop at one corrupt trace: no steps, and the problem recorded."""
    client.set(TRACE.format_key({"request_id": "r2"}), b"\xff not json")
    steps = rp.load_trace("r2", redis_url)
    assert steps.empty
    problems = steps.attrs["problems"]
    assert problems["reason"].tolist() == ["value is not JSON"]


# ----------------------------------------------------------------------------- arguments

ARGUMENTS: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    ("unknown kind", lambda: rp.load("nope", "redis://h/0"), ValueError, "Unknown record kind"),
    ("trace via load", lambda: rp.load("trace", "redis://h/0"), ValueError, "rp.load_trace"),
    ("epoch as start", lambda: rp.load("requests", "redis://h/0", start=1795000000),
     ValueError, "start=1795000000 is not a time"),
    ("float as end", lambda: rp.load("requests", "redis://h/0", end=3.5),
     ValueError, "end=3.5 is not a time"),
    ("bool as start", lambda: rp.load("requests", "redis://h/0", start=True),
     ValueError, "start=True is not a time"),
    ("unreadable text", lambda: rp.load("requests", "redis://h/0", start="soonish"),
     ValueError, "is not a time pandas can read"),
    ("start after end", lambda: rp.load("requests", "redis://h/0", start="2026-11-28",
     end="2026-11-27"), ValueError, "The window starts"),
    ("on and start", lambda: rp.load("requests", "redis://h/0", on="2026-11-27",
     start="2026-11-27"), ValueError, "either on="),
    ("events with an epoch", lambda: rp.load_events("redis://h/0", start=0),
     ValueError, "start=0 is not a time"),
    ("unknown filter", lambda: rp.load("requests", "redis://h/0", colour="red"),
     ValueError, "cannot be filtered by ['colour']"),
    ("unknown setting", lambda: rp.setup(colour="red"), SettingsError, "Unknown setting"),
    ("use_scan as text", lambda: rp.setup(use_scan="yes"), SettingsError, "True or False"),
    ("scan_count 0", lambda: rp.setup(scan_count=0), SettingsError, "at least 1"),
    ("scan_count float", lambda: rp.setup(scan_count=2.5), SettingsError, "an integer"),
    ("mget_chunk 0", lambda: rp.setup(mget_chunk=0), SettingsError, "at least 1"),
    ("budget NaN", lambda: rp.setup(scan_budget_ms=math.nan), SettingsError, "positive number"),
    ("adaptive as a hint", lambda: rp.validate_scan_count("adaptive"),
     SettingsError, "a setting, not a COUNT hint"),
    ("export suffix", lambda: reports.export(pd.DataFrame({"a": [1]}), "out.txt"),
     InvalidArgumentError, "unknown suffix"),
    ("percentile 101", lambda: reports.percentile([1.0], 101), ValueError, "between 0 and 100"),
    ("no Redis at all", lambda: rp.fetch_keys("x"), SettingsError, "No Redis to read from"),
]  # fmt: skip


@pytest.mark.parametrize(
    "call, kind, phrase", [a[1:] for a in ARGUMENTS], ids=[a[0] for a in ARGUMENTS]
)
def test_bad_arguments(call: Callable[[], Any], kind: type[BaseException], phrase: str) -> None:
    with rp.setup(redis_url=None):
        assert_one_line(outcome(call), kind, phrase)


def test_a_timedelta_bound_is_relative_to_now(redis_url: str) -> None:
    frame = rp.load("requests", redis_url, start=pd.Timedelta(hours=-2))
    info = frame.attrs["rp"]
    assert pd.Timedelta(hours=1.99) < info.end - info.start < pd.Timedelta(hours=2.01)


# ------------------------------------------------------------------------- environment

ENVIRONMENT = [
    ({"RP_USE_SCAN": "maybe"}, "RP_USE_SCAN", "not a boolean"),
    ({"RP_SCAN_COUNT": "lots"}, "RP_SCAN_COUNT", "neither a whole number nor 'adaptive'"),
    ({"RP_SCAN_COUNT": "0"}, "RP_SCAN_COUNT", "at least 1"),
    ({"RP_MGET_CHUNK": "0"}, "RP_MGET_CHUNK", "at least 1"),
    ({"RP_SCAN_BUDGET_MS": "-1"}, "RP_SCAN_BUDGET_MS", "positive number"),
    ({"RP_ALLOW_STALE_REPLICA": "sometimes"}, "RP_ALLOW_STALE_REPLICA", "not a boolean"),
    ({"RP_PROGRESS": ""}, "RP_PROGRESS", "not a boolean"),
]


@pytest.mark.parametrize("environ, variable, phrase", ENVIRONMENT, ids=[e[1] for e in ENVIRONMENT])
def test_bad_environment_values(environ: dict[str, str], variable: str, phrase: str) -> None:
    error = outcome(lambda: config.settings_from_environment(environ))
    assert_one_line(error, SettingsError, f"Environment variable {variable}", phrase)


# ------------------------------------------------------------------------- command lines

COMMANDS = [
    (["export", "requests", "--out", "x.txt"], "unknown suffix"),
    (["export", "requests", "--out", "x.csv", "--filter", "controller"], "takes name=value"),
    (["export", "requests", "--out", "x.csv", "--start", "1795000000"], "is not a time"),
    (["export", "requests", "--out", "x.csv", "--report", "_private"], "Unknown report"),
    (["export", "requests", "--out", "x.csv", "--password-file", "/nonexistent/pw"],
     "Cannot read the password file"),
    (["seed", "--redis-url", "redis://h:1/x"], "must be a whole number"),
    (["report", "-p", "redis_url", "redis://x:1/0"], "not -p redis_url"),
]  # fmt: skip


@pytest.mark.parametrize("args, phrase", COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS])
def test_bad_command_lines(args: list[str], phrase: str, redis_url: str, tmp_path) -> None:
    if "--redis-url" not in args and args[0] != "report":
        args = [*args, "--redis-url", redis_url]
    done = run_cli(*args, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rp-toolkit: error: "), done.stderr
    assert phrase in lines[0]


# ---------------------------------------------------------------------------- keys, values


def request_key(**changes: Any) -> bytes:
    fields = {
        "controller": "HomeController",
        "action": "index",
        "format": "html",
        "status": 200,
        "datetime": "20261127T1000",
        "datetimei": int(pd.Timestamp("2026-11-27 10:00", tz="UTC").timestamp()),
        "method": "GET",
        "path": "/",
        "request_id": "r",
    }
    fields.update(changes)
    return REQUESTS.format_key(fields).encode("utf-8", "surrogateescape")


GOOD = json.dumps({"duration": 12.5, "view_runtime": 1.0, "db_runtime": 2.0}).encode()
RECORDS = [
    ("a path holding a carriage return", request_key(path="/a\rb"), GOOD, None),
    ("a path holding a newline", request_key(path="/a\nb"), GOOD, None),
    ("datetimei out of range", request_key(datetimei=10**17), GOOD, "datetimei"),
    ("a negative status", request_key(status=-1), GOOD, None),
    ("a minute that is no minute", request_key(datetime="2026-11-27"), GOOD, "datetime"),
    ("a truncated key", b"performance|controller|Home", GOOD, "malformed key"),
    ("another schema version", request_key().replace(b"1.0.2", b"9.9.9"), GOOD,
     "schema version"),
    ("a value that is not JSON", request_key(request_id="v1"), b"{oops", "not JSON"),
    ("a JSON array value", request_key(request_id="v2"), b"[1,2]", "not an object"),
    ("a bare null value (crashed pyarrow)", request_key(request_id="v10"), b"null",
     "not an object"),
    ("Infinity", request_key(request_id="v3"), b'{"duration": Infinity}', "duration"),
    ("NaN", request_key(request_id="v4"), b'{"duration": NaN}', "duration"),
    ("1e400", request_key(request_id="v5"), b'{"duration": 1e400}', "duration"),
    ("true as a duration", request_key(request_id="v6"), b'{"duration": true}', "duration"),
    ("text as a duration", request_key(request_id="v7"), b'{"duration": "12"}', "duration"),
    ("text as a backtrace", request_key(request_id="v8"),
     b'{"duration": 1, "backtrace": "app/x.rb:1"}', "backtrace"),
    ("a value of none of the fields", request_key(request_id="v9"), b'{"x": 1}',
     "none of the expected fields"),
]  # fmt: skip


@pytest.mark.parametrize("key, value, field", [r[1:] for r in RECORDS], ids=[r[0] for r in RECORDS])
def test_bad_records_are_accounted_for(key: bytes, value: bytes, field: str | None) -> None:
    """Mixed with a valid record: the load never raises, the valid record comes back, and the
    bad one is in the frame exactly or named in problems (with the field when ``field``)."""
    valid_key = request_key(request_id="valid")
    frame, problems = rp.parse("requests", [valid_key, key], [GOOD, value])
    assert "valid" in set(frame["request_id"])
    for column in frame.select_dtypes("number"):
        assert not frame[column].isin([math.inf, -math.inf]).any(), column
    text = key.decode("utf-8", "surrogateescape")
    if field is None:  # parsed exactly, no problem
        assert len(frame) == 2 and problems.empty, problems
        return
    rows = problems[
        problems["key"]
        == text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    ]
    assert len(rows) == 1, problems
    assert field in rows["reason"].iloc[0], rows["reason"].iloc[0]
    assert len(frame) == 1 + bool(rows["kept"].iloc[0])
