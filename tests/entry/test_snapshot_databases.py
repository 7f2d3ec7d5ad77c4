"""A snapshot whose records are in another database than 0: ``--db N`` (export and report)
and the notebook's ``snapshot_db`` read them, and reading database 0 says where they are (a
warning naming the database and its keys, on the command line's stderr too) instead of a
silent "0 records". The snapshot is a real SAVE of a Redis server holding the records in
database 3."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import synth
from rp_toolkit.bench import redis_family_binary
from rp_toolkit.exceptions import BenchmarkError, SnapshotDatabaseWarning
from rp_toolkit.local import RedisServer
from tests.support import run_cli


@dataclass
class InThree:
    dump: Path
    url: str
    """Database 3 of the server that wrote the file (still running)."""
    keys: int
    """Keys in database 3."""


@pytest.fixture(scope="module")
def in_three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InThree]:
    try:
        binary = redis_family_binary()  # Valkey writes an RDB format the reader cannot read
    except BenchmarkError as error:
        pytest.skip(str(error))
    with RedisServer(binary=binary) as server:
        url = server.url.rsplit("/", 1)[0] + "/3"
        synth.write(url, hours=1, rps=1, seed=5, progress=False)
        with redis.Redis.from_url(url) as client:
            client.save()
            keys = client.dbsize()
        dump = tmp_path_factory.mktemp("in-three") / "dump.rdb"
        shutil.copyfile(Path(server.directory or ".") / "dump.rdb", dump)
        yield InThree(dump, url, keys)


def matching(in_three: InThree, pattern: str) -> int:
    """String keys of database 3 matching ``pattern``, as the live server lists them."""
    with redis.Redis.from_url(in_three.url) as client:
        return sum(client.type(key) == b"string" for key in client.keys(pattern))


def test_the_library_reads_db_3_and_points_at_it_from_db_0(in_three: InThree) -> None:
    snapshot = rp.Snapshot(in_three.dump)
    window = {"start": snapshot.created - pd.Timedelta(hours=2), "end": snapshot.created}
    live = rp.load("requests", in_three.url, **window)
    assert len(live) > 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error", SnapshotDatabaseWarning)
        three = rp.load("requests", rp.Snapshot(in_three.dump, db=3), **window)
    assert len(three) == len(live)
    with pytest.warns(SnapshotDatabaseWarning) as caught:
        frames = rp.load_many(["requests", "sidekiq", "events"], snapshot, **window)
    [warned] = caught  # one walk, one warning
    text = str(warned.message)
    pattern = frames["requests"].attrs["rp"].patterns[0]
    assert text == (
        f"database 0 of dump.rdb holds no key matching {pattern!r}; database 3 holds "
        f"{matching(in_three, pattern):,} of them (of its {in_three.keys:,} keys): read it "
        "with --db 3 (rp.Snapshot(path, db=3))."
    )
    assert all(len(frame) == 0 for frame in frames.values())


def test_export_reads_the_database_db_names_and_warns_on_the_wrong_one(
    in_three: InThree, tmp_path: Path
) -> None:
    live = rp.load("requests", in_three.url, start=rp.Snapshot(in_three.dump).created
                   - pd.Timedelta(hours=4), end=rp.Snapshot(in_three.dump).created)  # fmt: skip
    done = run_cli("export", "requests", "--rdb", str(in_three.dump), "--db", "3",
                   "--out", str(tmp_path / "three.parquet"), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout)["records"] == len(live) > 1000
    assert len(pd.read_parquet(tmp_path / "three.parquet")) == len(live)

    zero = run_cli("export", "requests", "--rdb", str(in_three.dump),
                   "--out", str(tmp_path / "zero.csv"), "--no-progress")  # fmt: skip
    assert zero.returncode == 0, zero.stderr
    assert json.loads(zero.stdout)["records"] == 0
    [line] = zero.stderr.splitlines()
    assert line.startswith("rp-toolkit: warning: database 0 of dump.rdb holds no key matching ")
    pattern = json.loads(zero.stdout)["patterns"][0]
    assert line == (
        f"rp-toolkit: warning: database 0 of dump.rdb holds no key matching {pattern!r}; "
        f"database 3 holds {matching(in_three, pattern):,} of them (of its "
        f"{in_three.keys:,} keys): read it with --db 3 (rp.Snapshot(path, db=3))."
    )

    alone = run_cli("export", "requests", "--db", "3", "--redis-url", in_three.url,
                    "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert alone.returncode == 2
    assert "--db chooses a database of the --rdb snapshot" in alone.stderr
    negative = run_cli("export", "requests", "--rdb", str(in_three.dump), "--db", "-1",
                       "--out", str(tmp_path / "x.csv"))  # fmt: skip
    assert negative.returncode == 2 and "db must be a database number" in negative.stderr
    assert not (tmp_path / "x.csv").exists()


def test_the_report_reads_db_3_with_db_and_warns_without(in_three: InThree, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}  # never used with --rdb
    created = rp.Snapshot(in_three.dump).created
    live = rp.load("requests", in_three.url, start=created - pd.Timedelta(hours=2), end=created)
    done = run_cli("report", "--rdb", str(in_three.dump), "--db", "3", "--out",
                   str(tmp_path / "three"), "-p", "hours", "2", "--no-progress",
                   env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warning" not in done.stderr
    html = (tmp_path / "three" / "request_performance.html").read_text()
    read = f"Read {len(live):,} request records. Keys read from the <code>snapshot dump.rdb, db 3 ("
    assert read in html

    zero = run_cli("report", "--rdb", str(in_three.dump), "--out", str(tmp_path / "zero"),
                   "-p", "hours", "2", "--no-progress", env=env)  # fmt: skip
    assert zero.returncode == 0, zero.stderr[-3000:]
    warned = [line for line in zero.stderr.splitlines() if "warning" in line]
    assert len(warned) == 1
    assert warned[0].startswith(
        "rp-toolkit: warning: request_performance: database 0 of dump.rdb holds no key matching"
    )
    assert "read it with --db 3" in warned[0]

    refused = run_cli("report", "--rdb", str(in_three.dump), "-p", "snapshot_db", "3",
                      "--out", str(tmp_path / "x"))  # fmt: skip
    assert refused.returncode == 2 and "--db N" in refused.stderr
