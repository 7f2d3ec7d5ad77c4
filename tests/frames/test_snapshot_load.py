"""Loading from an RDB snapshot gives exactly what loading from the live server that wrote it
gives: every record kind's frame, problems and counts, several kinds at once, events, the
slowest trace, the dashboard's tables, and the fetchers, on the synthetic app's data plus the
odd keys the live path handles. Windows relative to "now" mean the snapshot's time."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import reports, synth
from rp_toolkit.bench import redis_family_binary
from rp_toolkit.exceptions import BenchmarkError, RedisCommandError, SettingsError, SnapshotError
from rp_toolkit.kinds import KINDS, REQUESTS, TRACE
from rp_toolkit.local import RedisServer
from tests.support import fill_keyspace, run_cli

KINDS_TO_LOAD = [name for name in KINDS if name not in ("trace", "events")]


@dataclass
class Saved:
    url: str
    dump: Path
    start: pd.Timestamp
    end: pd.Timestamp


def redis_binary() -> str:
    """A Redis (not Valkey: rdb-py reads Redis's RDB format only) server binary, or skip."""
    try:
        return redis_family_binary()
    except BenchmarkError as error:
        pytest.skip(str(error))


def odd_records(at: pd.Timestamp) -> dict[bytes, bytes]:
    """The odd keys the live path handles: glob characters and '|' in a path, bytes that are
    not UTF-8, a malformed key, values that are not JSON, null, a field of the wrong type."""

    def key(**fields: object) -> str:
        base = {"controller": "HomeController", "action": "index", "format": "html",
                "status": 200, "datetime": at.strftime("%Y%m%dT%H%M"),
                "datetimei": int(at.timestamp()), "method": "GET", "path": "/",
                "request_id": "r"}  # fmt: skip
        return REQUESTS.format_key({**base, **fields})

    stamp = at.strftime("%Y%m%dT%H%M")
    return {
        key(request_id="pipe", path="/a|b*[c]?").encode(): b'{"duration": 1}',
        key(request_id="bin", path="/x").encode().replace(b"/x", b"/\xff"): b"{}",
        f"performance|controller|Broken|datetime|{stamp}|datetimei|x|END|1.0.2".encode(): b"{}",
        key(request_id="notjson").encode(): b"not json",
        key(request_id="null").encode(): b"null",
        key(request_id="str").encode(): b'{"duration": "fast"}',
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Saved]:
    folder = tmp_path_factory.mktemp("snapshot")
    with RedisServer(binary=redis_binary()) as server:
        client = redis.Redis.from_url(server.url)
        synth.write(client, hours=2, rps=2, seed=11, progress=False)
        now = pd.Timestamp.now(tz="UTC")
        fill_keyspace(client, odd_records(now - timedelta(minutes=30)))
        hash_key = REQUESTS.format_key(
            {"controller": "HashController", "action": "index", "format": "html",
             "status": 200, "datetime": now.strftime("%Y%m%dT%H%M"),
             "datetimei": int(now.timestamp()), "method": "GET", "path": "/",
             "request_id": "hash"}
        )  # fmt: skip
        client.hset(hash_key, "not", "a string")  # listed by KEYS, read as nil by MGET
        client.rpush(TRACE.format_key({"request_id": "listtrace"}), "not a trace")
        client.save()  # "dir" is protected from CONFIG SET on Redis 7: copy the file
        written = (
            Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
        )
        client.close()
        dump = folder / "dump.rdb"
        shutil.copyfile(written, dump)
        snapshot = rp.Snapshot(dump)
        end = snapshot.created.floor("min")
        yield Saved(server.url, dump, end - timedelta(hours=2), end)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    order = frame.astype(str).sort_values(list(frame.columns)).index
    return frame.loc[order].reset_index(drop=True)


def same_frames(live: pd.DataFrame, snapshot: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(canonical(live), canonical(snapshot), check_categorical=False)
    a, b = live.attrs["rp"], snapshot.attrs["rp"]
    pd.testing.assert_frame_equal(
        canonical(a.problems), canonical(b.problems), check_dtype=False, check_categorical=False
    )
    for count in ("keys_listed", "records", "outside_window", "filtered_out", "filter_matches"):
        assert getattr(a, count) == getattr(b, count), count
    assert a.notes() == b.notes()
    live_summary, file_summary = a.summary(), b.summary()
    for name in ("skipped", "kept_with_problems", "values_missing", "records"):
        assert live_summary[name] == file_summary[name], name


@pytest.mark.parametrize("kind", KINDS_TO_LOAD)
def test_every_kind_loads_from_the_snapshot_as_from_the_server(saved: Saved, kind: str) -> None:
    window = {"start": saved.start, "end": saved.end}
    live = rp.load(kind, saved.url, **window)
    from_file = rp.load(kind, saved.dump, **window)
    assert len(live) > 0, kind  # the comparison is not vacuous
    same_frames(live, from_file)
    summary = from_file.attrs["rp"].summary()
    assert summary["method"] == "RDB" and summary["walks"] == 1
    assert summary["source"].startswith("snapshot dump.rdb (Redis ")
    assert summary["server"] == live.attrs["rp"].server  # the Redis that wrote the file
    assert summary["server"].startswith("redis ")


def test_the_odd_keys_are_the_same_rows_and_problems(saved: Saved) -> None:
    window = {"start": saved.start, "end": saved.end}
    live = rp.load("requests", saved.url, **window)
    from_file = rp.load("requests", str(saved.dump), **window)
    problems = from_file.attrs["rp"].problems
    assert {"pipe", "str", "null"} <= set(from_file["request_id"].astype(str))
    assert len(problems) >= 5  # the malformed key, non-JSON, null, a wrong type, the hash
    assert problems["key"].str.contains("HashController").any()  # read as nil, as live
    same_frames(live, from_file)


@pytest.mark.parametrize("controller", ["busiest", "NoSuchController"])
def test_filter_counts_from_the_file_equal_the_live_ones(saved: Saved, controller: str) -> None:
    """What the window and the filter each left out, from one walk of the file as live."""
    window = {"start": saved.start, "end": saved.end}
    if controller == "busiest":
        controller = str(rp.load("requests", saved.url, **window)["controller"].mode()[0])
    filters = {"requests": {"controller": controller}}
    live = rp.load_many(["requests"], saved.url, filters=filters, **window)["requests"]
    from_file = rp.load_many(["requests"], saved.dump, filters=filters, **window)["requests"]
    same_frames(live, from_file)
    info = from_file.attrs["rp"]
    assert info.filtered_out["controller"] > 0
    listed = info.keys_listed
    assert listed == info.records + info.outside_window + info.filtered_out["controller"] + len(
        info.skipped
    )
    assert (info.records == 0) == (controller == "NoSuchController")


def test_load_many_events_and_the_trace_match(saved: Saved) -> None:
    window = {"start": saved.start, "end": saved.end}
    kinds = ["requests", "sidekiq", "resources", "events"]
    live = rp.load_many(kinds, saved.url, **window)
    from_file = rp.load_many(kinds, rp.Snapshot(saved.dump), **window)
    for kind in kinds:
        if kind == "events":
            pd.testing.assert_frame_equal(live[kind], from_file[kind])
        else:
            same_frames(live[kind], from_file[kind])
    pd.testing.assert_frame_equal(rp.load_events(saved.url), rp.load_events(saved.dump))
    requests = live["requests"]
    trace_live = rp.slowest_trace(requests, saved.url)
    trace_file = rp.slowest_trace(requests, saved.dump)
    assert trace_live[0] is not None and trace_live[0] == trace_file[0]
    pd.testing.assert_frame_equal(trace_live[1], trace_file[1])
    pd.testing.assert_frame_equal(
        rp.load_trace(trace_live[0], saved.url), rp.load_trace(trace_live[0], saved.dump)
    )
    assert rp.load_trace("no-such-request", saved.dump).empty
    pd.testing.assert_frame_equal(
        reports.requests(requests), reports.requests(from_file["requests"])
    )


def test_the_fetchers_read_the_snapshot(saved: Saved) -> None:
    pattern = "performance|*"
    assert rp.fetch_keys(pattern, saved.dump) == rp.fetch_keys(pattern, saved.url)
    live, from_file = (
        rp.fetch_from_redis(pattern, saved.url),
        rp.fetch_from_redis(pattern, saved.dump),
    )
    assert from_file.keys == live.keys and from_file.values == live.values
    assert from_file.stats.method == "RDB" and from_file.stats.keys_found == len(live.keys)
    assert from_file.stats.extra["snapshot"]["complete"] is True


def test_now_is_when_the_snapshot_was_taken(saved: Saved) -> None:
    snapshot = rp.Snapshot(saved.dump)
    frame = rp.load("requests", saved.dump, start=timedelta(hours=-1))
    info = frame.attrs["rp"]
    assert info.end == snapshot.created and info.start == snapshot.created - timedelta(hours=1)
    expected = rp.load("requests", saved.url, start=info.start, end=info.end)
    same_frames(expected, frame)
    events = rp.load_events(saved.dump, start=timedelta(hours=-2))
    assert (events["datetime"] >= snapshot.created - timedelta(hours=2)).all()


def test_strings_are_snapshots_only_when_they_name_an_rdb_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="scheme"):  # a URL missing its scheme, as before
        rp.load("requests", "localhost:6379")
    with pytest.raises(SnapshotError, match="no such file") as caught:
        rp.load("requests", tmp_path / "missing.rdb")
    assert "\n" not in str(caught.value)
    with pytest.raises(SnapshotError, match="no such file"):
        rp.load("requests", str(tmp_path / "missing.rdb"))
    text = tmp_path / "notes.txt"
    text.write_text(json.dumps({"not": "an rdb"}))
    with pytest.raises(SnapshotError, match="not an RDB file"):
        rp.fetch_keys("*", str(text))  # an existing file is read as a snapshot


def test_a_trace_of_another_type_is_an_error_in_both(saved: Saved) -> None:
    with pytest.raises(RedisCommandError, match="WRONGTYPE"):
        rp.load_trace("listtrace", saved.url)
    with pytest.raises(SnapshotError, match="WRONGTYPE"):
        rp.load_trace("listtrace", saved.dump)


def test_export_and_report_read_the_snapshot(saved: Saved, tmp_path: Path) -> None:
    window = ["--start", saved.start.isoformat(), "--end", saved.end.isoformat()]
    for source, out in ((["--rdb", str(saved.dump)], "file"), (["--redis-url", saved.url], "live")):
        done = run_cli("export", "requests", *source, *window, "--out",
                       str(tmp_path / f"{out}.parquet"), "--no-progress")  # fmt: skip
        assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # the live one; and the file's says where it came from
    assert summary["method"] != "RDB"
    file_rows = pd.read_parquet(tmp_path / "file.parquet")
    live_rows = pd.read_parquet(tmp_path / "live.parquet")
    pd.testing.assert_frame_equal(
        canonical(file_rows), canonical(live_rows), check_categorical=False
    )

    out = tmp_path / "report"
    done = run_cli(
        "report",
        "--rdb",
        str(saved.dump),
        "--out",
        str(out),
        "-p",
        "hours",
        "2",
        "--no-progress",
        timeout=600,
        env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"},
    )
    assert done.returncode == 0, done.stderr[-3000:]  # $REDIS_URL (unreachable) is not used
    html = (out / "request_performance.html").read_text()
    assert "without touching any server" in html and "snapshot dump.rdb (Redis " in html
    written = pd.read_csv(out / "request_performance" / "requests_table.csv")
    frame = rp.load("requests", saved.dump, start=timedelta(hours=-2))
    assert written["count"].tolist() == reports.requests(frame)["count"].tolist()

    refused = run_cli("report", "--rdb", str(saved.dump), "--notebooks", "scan_benchmark",
                      "--out", str(out))  # fmt: skip
    assert refused.returncode == 2 and "live server" in refused.stderr
    both = run_cli("export", "requests", "--rdb", str(saved.dump), "--redis-url", saved.url,
                   "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr
