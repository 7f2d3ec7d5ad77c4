"""The streaming load returns exactly what the sequential path returns: the same frame, the
same problems, the same counts, on a tricky keyspace, with keys expiring mid-stream; and its
batch interface (``rp.iter_load``, streaming export) gives the same data in bounded pieces."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.export import export_batches
from rp_toolkit.frames import key_text
from rp_toolkit.frames._values import printable
from rp_toolkit.kinds import REQUESTS
from rp_toolkit.local import RedisServer
from tests.support import MgetTrip, fill_keyspace, on_mget_trips, run_cli

load_module = importlib.import_module("rp_toolkit.frames._load")  # the module, not rp.load

END = pd.Timestamp("2026-11-28 23:00", tz="UTC")
START = END - timedelta(hours=30)  # two UTC days


def request_key(at: pd.Timestamp, **fields: Any) -> str:
    base = {
        "controller": "HomeController",
        "action": "index",
        "format": "html",
        "status": 200,
        "datetime": at.strftime("%Y%m%dT%H%M"),
        "datetimei": int(at.timestamp()),
        "method": "GET",
        "path": "/",
        "request_id": "r",
    }
    return REQUESTS.format_key({**base, **fields})


def tricky_keyspace() -> dict[bytes, bytes]:
    """Regular records over two days and outside the window, and the odd ones: a path with
    '|' and glob characters, one with a line break, bytes that are not UTF-8, a malformed
    key, values that are not JSON, a JSON null, a field of the wrong type."""
    records: dict[bytes, bytes] = {}
    for i in range(6000):
        at = END - timedelta(minutes=i * 0.5)  # also before START: outside the window
        key = request_key(at, request_id=f"r{i:05d}", path=f"/p/{i % 37}",
                          controller=["A", "B", "C"][i % 3] + "Controller")  # fmt: skip
        records[key.encode()] = json.dumps({"duration": i % 500 + 0.5, "db_runtime": 1.0}).encode()
    at = END - timedelta(hours=1)
    odd = {
        request_key(at, request_id="pipe", path="/a|b*[c]?").encode(): b'{"duration": 1}',
        request_key(at, request_id="nl", path="/x\ny").encode(): b'{"duration": 2}',
        request_key(at, request_id="bin", path="/x").encode().replace(b"/x", b"/\xff"): b"{}",
        b"performance|controller|Broken|datetime|20261128T2200|datetimei|x|END|1.0.2": b"{}",
        request_key(at, request_id="notjson").encode(): b"not json",
        request_key(at, request_id="null").encode(): b"null",
        request_key(at, request_id="str").encode(): b'{"duration": "fast"}',
    }
    return {**records, **odd}


@pytest.fixture(scope="module")
def tricky() -> Iterator[RedisServer]:
    with RedisServer() as server:
        admin = redis.Redis.from_url(server.url)
        fill_keyspace(admin, tricky_keyspace(), batch=2000)
        yield server


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse 997 records at a time: a few thousand records make many batches."""
    monkeypatch.setattr(load_module, "BATCH_ROWS", 997)


def sequential(url: str, expire: list[bytes] = ()) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The reference: the gem's KEYS and one MGET per pattern (``expire`` gone in between),
    one parse of everything, the window kept. Returns frame, problems, keys listed."""
    client = redis.Redis.from_url(url)
    keys = [
        key
        for pattern in REQUESTS.patterns(START.to_pydatetime(), END.to_pydatetime())
        for key in client.keys(pattern)
    ]
    for key in expire:
        client.pexpire(key, 1)
    while any(client.exists(key) for key in expire):
        pass
    values = client.mget(keys)
    frame, problems = rp.parse("requests", keys, values)
    frame = frame[frame["datetime"].between(START, END)]
    return frame, problems, len(keys)


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["request_id", "path"]).reset_index(drop=True)


def same_problems(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.sort_values(["key", "reason"]).reset_index(drop=True),
        b.sort_values(["key", "reason"]).reset_index(drop=True),
        check_dtype=False,
    )


@pytest.mark.parametrize("use_scan", [True, False], ids=["SCAN", "KEYS"])
def test_the_streaming_load_equals_the_sequential_path(tricky, small_batches, use_scan) -> None:
    reference, problems, listed = sequential(tricky.url)
    with rp.setup(use_scan=use_scan, mget_chunk=50, pipeline_depth=2, progress=False):
        frame = rp.load("requests", tricky.url, start=START, end=END)
    info = frame.attrs["rp"]
    pd.testing.assert_frame_equal(ordered(frame), ordered(reference), check_categorical=False)
    assert list(frame["controller"].cat.categories) == sorted(set(frame["controller"]))
    same_problems(info.problems, problems)
    summary = info.summary()
    assert summary["keys_listed"] == listed
    assert summary["records"] == len(reference) > 3000
    assert summary["outside_window"] == listed - len(reference) - int((~problems["kept"]).sum())
    assert summary["values_missing"] == 0 and summary["duplicates_dropped"] == 0
    assert summary["walks"] == (1 if use_scan else 2)
    assert not problems.empty and set(problems["kept"]) == {True, False}


class ExpiringOnFirstTrip(redis.Redis):
    """A real client that, just before its first MGET round trip, lets the first ``victims``
    keys of that trip expire (PEXPIRE 1 ms, then waits until Redis no longer has them)."""

    victims = 40
    expired: list[bytes] = []
    admin_url = ""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> ExpiringOnFirstTrip:  # type: ignore[override]
        client = super().from_url(url, **kwargs)
        return on_mget_trips(client, client.expire_first_keys)  # type: ignore[return-value]

    def expire_first_keys(self, commands: MgetTrip) -> None:
        if self.expired:
            return
        keys = commands[0][1:][: self.victims]  # (MGET, keys...)
        admin = redis.Redis.from_url(self.admin_url)
        for key in keys:
            admin.pexpire(key, 1)
        while any(admin.exists(key) for key in keys):
            pass
        admin.close()
        self.expired.extend(keys)


def test_keys_expiring_mid_stream_are_missing_values_as_in_the_sequential_path() -> None:
    with RedisServer() as server:
        fill_keyspace(redis.Redis.from_url(server.url), tricky_keyspace(), batch=2000)
        ExpiringOnFirstTrip.admin_url = server.url
        client = ExpiringOnFirstTrip.from_url(server.url)
        with rp.setup(use_scan=True, mget_chunk=50, pipeline_depth=2, progress=False):
            frame = rp.load("requests", client, start=START, end=END)
        expired = list(client.expired)
        assert len(expired) == ExpiringOnFirstTrip.victims
        # The reference, on the same keyspace with the same keys expired between its steps.
        fill_keyspace(redis.Redis.from_url(server.url), tricky_keyspace(), batch=2000)
        reference, problems, listed = sequential(server.url, expire=expired)
    info = frame.attrs["rp"]
    pd.testing.assert_frame_equal(ordered(frame), ordered(reference), check_categorical=False)
    same_problems(info.problems, problems)
    assert info.summary()["values_missing"] == len(expired)
    assert info.summary()["keys_listed"] == listed
    missing = problems[problems["reason"] == rp.frames.MISSING_VALUE]
    # A victim whose key is malformed is reported as such (Redis's random hash seed decides
    # whether the first trip holds one of the keyspace's malformed keys).
    malformed = set(problems.loc[problems["reason"].str.startswith(("malformed", "schema")), "key"])
    victims = {printable(key_text(key)) for key in expired} - malformed
    assert set(missing["key"]) == victims and len(missing) == len(victims) > 0


def test_iter_load_gives_the_load_in_bounded_batches(tricky) -> None:
    with rp.setup(use_scan=True, progress=False):
        whole = rp.load("requests", tricky.url, start=START, end=END)
        batches = rp.iter_load("requests", tricky.url, start=START, end=END, batch_rows=500)
        frames = list(batches)
    assert all(len(frame) <= 500 for frame in frames)
    assert len(frames) >= len(whole) // 500
    joined = rp.concat_batches("requests", frames, batches.info)
    pd.testing.assert_frame_equal(ordered(joined), ordered(whole))
    same_problems(batches.info.problems, whole.attrs["rp"].problems)
    mine, theirs = batches.info.summary(), whole.attrs["rp"].summary()
    for name in ("keys_listed", "records", "outside_window", "skipped", "kept_with_problems",
                 "values_missing", "duplicates_dropped", "walks", "scan_calls"):  # fmt: skip
        assert mine[name] == theirs[name], name
    with pytest.raises(RuntimeError, match="once"):
        list(batches)


def test_iter_load_of_nothing_is_one_empty_typed_frame(redis_url) -> None:
    batches = rp.iter_load("requests", redis_url, start=START, end=END)
    [frame] = list(batches)
    pd.testing.assert_frame_equal(frame, rp.frames.empty_frame("requests"))
    assert batches.info.summary()["records"] == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_iter_load_refuses_a_bad_batch_size_before_any_read(bad) -> None:
    with pytest.raises(ValueError, match="batch_rows"):
        rp.iter_load("requests", "redis://127.0.0.1:1/0", batch_rows=bad)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_streaming_export_writes_what_export_of_the_load_writes(tricky, tmp_path, suffix) -> None:
    with rp.setup(use_scan=True, progress=False):
        whole = rp.load("requests", tricky.url, start=START, end=END)
        batches = rp.iter_load("requests", tricky.url, start=START, end=END, batch_rows=700)
        streamed = export_batches(batches, tmp_path / f"streamed{suffix}", REQUESTS)
    [written] = rp.export.export(whole, tmp_path / f"whole{suffix}")
    read = pd.read_parquet if suffix == ".parquet" else pd.read_csv
    a, b = read(streamed), read(written)
    for frame in (a, b):
        for name in frame.select_dtypes("category"):
            frame[name] = frame[name].astype(str)
    pd.testing.assert_frame_equal(ordered(a), ordered(b))


def test_the_export_command_streams_to_parquet(tricky, tmp_path) -> None:
    out = tmp_path / "requests.parquet"
    done = run_cli("export", "requests", "--redis-url", tricky.url, "--use-scan",
                   "--start", START.isoformat(), "--end", END.isoformat(),
                   "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    frame = pd.read_parquet(out)
    assert len(frame) == summary["records"] > 3000
    assert summary["walks"] == 1
