"""Exports are all or nothing: a real ``rp-toolkit export`` stopped by SIGINT or SIGTERM while
it writes, or whose Redis is killed under it, leaves no file at ``--out`` (a file already there
byte for byte as it was), no temporary file beside it, and says so in one line; the library's
writers do the same when the frames they are given stop with an error.

The moment is not guessed with a sleep: the signal (or the kill) comes once the temporary file
beside ``--out`` holds data, that is while the export is writing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.export import export, export_batches
from rp_toolkit.files import atomic_files
from rp_toolkit.kinds import REQUESTS
from rp_toolkit.local import RedisServer
from tests.support import ROOT, fill_keyspace, run_cli

END = pd.Timestamp("2026-11-28 12:00", tz="UTC")
RECORDS = 200_000
OLD = b"an earlier export, not to be touched\n"


def request_records(n: int, *, end: pd.Timestamp = END) -> dict[str, str]:
    """``n`` request records over the two hours before ``end``."""
    records = {}
    for i in range(n):
        at = end - pd.Timedelta(seconds=(i * 7200) / n)
        key = REQUESTS.format_key(
            {"controller": f"C{i % 40}Controller", "action": "index", "format": "html",
             "status": 200, "datetime": at.strftime("%Y%m%dT%H%M"),
             "datetimei": int(at.timestamp()), "method": "GET", "path": f"/items/{i % 997}",
             "request_id": f"r{i:07d}"}
        )  # fmt: skip
        records[key] = json.dumps({"duration": i % 900 + 0.5, "view_runtime": 1.5})
    return records


@pytest.fixture(scope="module")
def big() -> Iterator[RedisServer]:
    """A server of its own holding 200,000 request records: an export of them takes seconds."""
    with RedisServer() as server, redis.Redis.from_url(server.url) as client:
        fill_keyspace(client, request_records(RECORDS), batch=5000)
        yield server


def start_export(url: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rp_toolkit", "export", "requests", "--redis-url", url,
         "--start", (END - pd.Timedelta(hours=3)).isoformat(), "--end", END.isoformat(),
         "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "RP_PROGRESS": "false"},
    )  # fmt: skip


def temporaries(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.tmp-*"))


def wait_until_writing(process: subprocess.Popen[str], out: Path, timeout: float = 120) -> Path:
    """The export's temporary file, once it holds data (the first batch is being written)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        found = temporaries(out)
        if found and found[0].stat().st_size > 0:
            return found[0]
        time.sleep(0.005)
    raise AssertionError("the export wrote nothing within the timeout")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout, stderr


@pytest.mark.parametrize(
    ("signum", "status", "said", "suffix"),
    [
        (signal.SIGINT, 130, "interrupted", ".parquet"),
        (signal.SIGTERM, 143, "stopped by SIGTERM", ".csv"),
        (signal.SIGINT, 130, "interrupted", ".csv"),
        (signal.SIGTERM, 143, "stopped by SIGTERM", ".parquet"),
    ],
    ids=["SIGINT-parquet", "SIGTERM-csv", "SIGINT-csv", "SIGTERM-parquet"],
)
def test_a_signal_mid_write_leaves_nothing_and_the_old_file_untouched(
    big: RedisServer, tmp_path: Path, signum: int, status: int, said: str, suffix: str
) -> None:
    out = tmp_path / f"requests{suffix}"
    out.write_bytes(OLD)
    process = start_export(big.url, out)
    writing = wait_until_writing(process, out)
    process.send_signal(signum)
    code, stdout, stderr = finish(process)
    assert code == status, stderr
    assert out.read_bytes() == OLD  # the earlier file, untouched
    assert not writing.exists() and temporaries(out) == []
    assert sorted(tmp_path.iterdir()) == [out]
    [line] = stderr.splitlines()  # one line, no traceback
    assert line == (
        f"rp-toolkit: {said}; nothing was written to {out} (the file already there is unchanged)"
    )
    assert stdout == ""


def test_a_signal_mid_write_with_no_earlier_file_leaves_no_file(
    big: RedisServer, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "requests.csv"
    process = start_export(big.url, out)
    wait_until_writing(process, out)
    process.send_signal(signal.SIGTERM)
    code, _, stderr = finish(process)
    assert code == 143
    assert not out.exists() and list(out.parent.iterdir()) == []
    assert stderr.strip() == f"rp-toolkit: stopped by SIGTERM; nothing was written to {out}"


def test_a_redis_killed_mid_export_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    out.write_bytes(OLD)
    with RedisServer() as server:
        with redis.Redis.from_url(server.url) as client:
            fill_keyspace(client, request_records(100_000), batch=5000)
        process = start_export(server.url, out)
        wait_until_writing(process, out)
        assert server.process is not None
        server.process.kill()  # kill -9: the connection is lost mid-stream
        code, stdout, stderr = finish(process)
    assert code == 2, stderr
    assert out.read_bytes() == OLD
    assert sorted(tmp_path.iterdir()) == [out]
    *retries, line = stderr.splitlines()  # the retries are logged as they happen
    assert all("retrying" in retry for retry in retries)
    assert line.startswith("rp-toolkit: error: Could not talk to Redis")
    assert line.endswith(f"; nothing was written to {out} (the file already there is unchanged)")
    assert f"127.0.0.1:{server.port}" in line  # which server went away
    assert stdout == ""


def test_a_complete_export_replaces_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    out = tmp_path / "requests.parquet"
    out.write_bytes(OLD)
    with RedisServer() as server:
        with redis.Redis.from_url(server.url) as client:
            fill_keyspace(client, request_records(3000))
        done = run_cli("export", "requests", "--redis-url", server.url,
                       "--start", (END - pd.Timedelta(hours=3)).isoformat(),
                       "--end", END.isoformat(), "--out", str(out), "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(out)) == json.loads(done.stdout)["records"] == 3000
    assert sorted(tmp_path.iterdir()) == [out]


# -- the library's writers ------------------------------------------------------------------


def frames_then(error: BaseException, frames: int = 3) -> Iterator[pd.DataFrame]:
    """``frames`` frames of requests, then ``error``: a stream that stops mid-way."""
    for n in range(frames):
        yield pd.DataFrame({"request_id": [f"r{n}-{i}" for i in range(100)], "duration": 1.0})
    raise error


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    "error",
    [KeyboardInterrupt(), rp.RedisUnavailableError("Redis at 127.0.0.1:1 went away")],
    ids=["ctrl-c", "server lost"],
)
def test_export_batches_keeps_nothing_of_a_stream_that_stops(
    tmp_path: Path, suffix: str, error: BaseException
) -> None:
    out = tmp_path / f"requests{suffix}"
    out.write_bytes(OLD)
    with pytest.raises(type(error)):
        export_batches(frames_then(error), out, REQUESTS)
    assert out.read_bytes() == OLD and sorted(tmp_path.iterdir()) == [out]
    missing = tmp_path / f"other{suffix}"
    with pytest.raises(type(error)):
        export_batches(frames_then(error), missing, REQUESTS)
    assert sorted(tmp_path.iterdir()) == [out]


def test_export_of_several_frames_writes_all_or_none(tmp_path: Path) -> None:
    """A report of several frames: one that Parquet cannot hold (complex numbers) leaves none
    of them, and the earlier file of the first as it was."""
    good = pd.DataFrame({"a": [1, 2]})
    target = tmp_path / "jobs.parquet"
    first = tmp_path / "jobs.first.parquet"
    first.write_bytes(OLD)
    with pytest.raises(pa.ArrowNotImplementedError):
        export({"first": good, "second": pd.DataFrame({"z": [1 + 2j]})}, target)
    assert sorted(tmp_path.iterdir()) == [first] and first.read_bytes() == OLD
    written = export({"first": good, "second": good}, target)
    assert written == [first, tmp_path / "jobs.second.parquet"]
    assert sorted(tmp_path.iterdir()) == written
    assert pd.read_parquet(first)["a"].tolist() == [1, 2]


def test_atomic_files_gives_new_files_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    with atomic_files(tmp_path / "a.csv") as (temporary,):
        assert temporary.parent == tmp_path and temporary.name.startswith(".a.csv.tmp-")
        assert str(os.getpid()) in temporary.name
        temporary.write_text("x")
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o666 & ~umask
