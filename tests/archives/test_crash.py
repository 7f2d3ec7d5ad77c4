"""A run killed at any point (SIGKILL) leaves an archive readers read: the records it held, or
those plus whole partitions; every data file a reader can see is a complete Parquet file; the
next run finishes or discards what was left and ends with the archive an uninterrupted run
makes. A run that fails (its server killed mid-walk) leaves the archive as it was. Two runs
never write at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.archives import ARCHIVED_KINDS, _write
from rp_toolkit.exceptions import ArchiveError
from rp_toolkit.local import RedisServer

from .conftest import now_minute, redis_binary, save_snapshot, write_synth
from .test_idempotent import data_files

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

ALL = {"start": pd.Timestamp("2000-01-01", tz="UTC")}


@dataclass
class Big:
    dump: Path
    reference: Path  # an uninterrupted run's archive
    seconds: float  # how long that run's process took


SLOW_RENAMES = """
import os, time
_replace = os.replace
def _slow(a, b, **kw):
    time.sleep(0.03)
    return _replace(a, b, **kw)
os.replace = _slow
"""
"""Makes each rename of the run take a moment, so a kill can land between two of them (the
archive's code runs unchanged)."""


def archive_process(dump: Path, root: Path, *, slow: bool = False) -> subprocess.Popen[bytes]:
    """``rp.archive(dump, root)`` in a new process; it writes a row group every 2,000 records
    (staged files appear while it walks) and with ``slow`` renames slowly."""
    code = (
        (SLOW_RENAMES if slow else "")
        + "import rp_toolkit as rp\nfrom rp_toolkit.archives import _write\n"
        + "_write.BUFFER_ROWS = 2000\n"
        + f"rp.archive({str(dump)!r}, {str(root)!r}, app='big')\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)


def holds_lock(process: subprocess.Popen[bytes], root: Path) -> bool:
    lock = root / "_lock"
    if not lock.exists():
        return False
    try:
        fds = list(Path(f"/proc/{process.pid}/fd").iterdir())
        return any(os.path.realpath(fd) == str(lock.resolve()) for fd in fds)
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        assert process.poll() is None, "the run ended before the point to kill it at"
        assert time.monotonic() < deadline
        time.sleep(0.0005)


def visible_files(root: Path) -> bool:
    return any(root.glob("requests/app=*/date=*/*.parquet")) or any(
        root.glob("*/app=*/date=*/*.parquet")
    )


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Big]:
    """A snapshot of about 50,000 records over two UTC days, and its uninterrupted archive."""
    folder = tmp_path_factory.mktemp("big")
    end = now_minute().replace(hour=2)  # the window crosses midnight: several partitions a kind
    with RedisServer(binary=redis_binary()) as server:
        write_synth(server.url, hours=4, rps=2.5, seed=9, end=end)
        client = redis.Redis.from_url(server.url)
        dump = save_snapshot(client, folder / "big.rdb")
        client.close()
    started = time.perf_counter()
    process = archive_process(dump, folder / "reference")
    _, error = process.communicate(timeout=300)
    assert process.returncode == 0, error.decode()
    yield Big(dump, folder / "reference", time.perf_counter() - started)


def record_ids(root: Path) -> dict[str, dict[str, set[int]]]:
    """Per kind, per visible partition (not ``_staging``): the record ids of its files, each
    file read whole by pyarrow (a partial file fails here)."""
    out: dict[str, dict[str, set[int]]] = {}
    for kind in ARCHIVED_KINDS:
        for path in sorted((root / kind).rglob("*")) if (root / kind).is_dir() else []:
            if path.is_file():
                assert path.name.startswith("part-") and path.suffix == ".parquet", path
                table = pq.read_table(path)  # complete, or this raises
                ids = set(table.column("record_id").to_pylist())
                out.setdefault(kind, {}).setdefault(str(path.parent.relative_to(root)), set())
                out[kind][str(path.parent.relative_to(root))] |= ids
    return out


def same_archive(root: Path, reference: Path) -> None:
    assert record_ids(root) == record_ids(reference)
    mine, theirs = rp.open_archive(root), rp.open_archive(reference)
    for kind in ("requests", "resources"):
        pd.testing.assert_frame_equal(mine.load(kind, **ALL), theirs.load(kind, **ALL))


POINTS = ["0.3 s", "40% of a run", "walking", "staged", "committed", "published"]


@pytest.mark.parametrize("point", POINTS)
def test_a_run_killed_at_any_point_leaves_a_readable_archive(
    big: Big, tmp_path: Path, point: str
) -> None:
    root = tmp_path / "archive"
    reference = record_ids(big.reference)
    process = archive_process(big.dump, root, slow=point in ("committed", "published"))
    if point == "0.3 s":
        time.sleep(0.3)
    elif point == "40% of a run":
        time.sleep(big.seconds * 0.4)
    elif point == "walking":
        wait_for(process, lambda: holds_lock(process, root))
    elif point == "staged":
        wait_for(process, lambda: any((root / "_staging").rglob("*.parquet")))
    elif point == "committed":
        wait_for(process, lambda: any((root / "_manifest").glob("*.json")))
    else:
        wait_for(process, lambda: visible_files(root))
    process.send_signal(signal.SIGKILL)
    process.wait()
    if not (root / "_archive.json").exists():
        return  # killed before it made anything
    archive = rp.open_archive(root)  # readable
    seen = record_ids(root)  # every visible file complete
    for kind, partitions in seen.items():
        for partition, ids in partitions.items():
            assert ids == reference[kind][partition], (kind, partition)  # whole partitions
    if point in ("walking", "staged"):
        assert not archive.runs and seen == {}  # not committed: nothing to see
    if point in ("committed", "published"):
        assert len(archive.runs) == 1  # committed: its partitions appear, whole, one by one
        assert sum(map(len, seen.values())) < sum(map(len, reference.values()))
    if point == "published":
        assert seen
    frame = archive.load("requests", **ALL, app="big")
    assert len(frame) == sum(len(ids) for ids in seen.get("requests", {}).values())
    run = rp.archive(big.dump, root, app="big")  # recovers, then adds what is missing
    assert not (root / "_staging").exists() or not any((root / "_staging").iterdir())
    if archive.runs:
        assert run.added == 0  # the committed run's files were moved into place
    assert run.added + run.already_archived == sum(
        len(ids) for partitions in reference.values() for ids in partitions.values()
    )
    same_archive(root, big.reference)


def test_a_second_run_while_one_writes_is_refused(big: Big, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    process = archive_process(big.dump, root)
    wait_for(process, lambda: holds_lock(process, root))
    with pytest.raises(ArchiveError, match="Another archive run"):
        rp.archive(big.dump, root, app="big")
    _, error = process.communicate(timeout=300)
    assert process.returncode == 0, error.decode()
    same_archive(root, big.reference)


def test_a_run_whose_server_dies_mid_walk_leaves_the_archive_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "archive"
    with RedisServer() as server:
        write_synth(server.url, hours=2, rps=3, seed=4)
        rp.archive(server.url, root, kinds=["resources", "events"])  # an archive to keep
        before = data_files(root)
        runs = len(rp.open_archive(root).runs)
        monkeypatch.setattr(_write, "BUFFER_ROWS", 500)  # staged files appear early

        def kill_when_staging() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                staging = root / "_staging"
                if staging.is_dir() and any(staging.rglob("*.parquet")):
                    break
                time.sleep(0.001)
            assert server.process is not None
            server.process.kill()

        killer = threading.Thread(target=kill_when_staging)
        killer.start()
        try:
            with pytest.raises(Exception) as raised:  # noqa: PT011 (whatever the client raises)
                rp.archive(server.url, root)
        finally:
            killer.join()
    assert not isinstance(raised.value, AssertionError)
    assert data_files(root) == before  # _staging emptied, nothing published
    assert len(rp.open_archive(root).runs) == runs
