"""Archiving is idempotent: a second run over the same records adds none and leaves the files
as they were; snapshots that overlap, archived in either order, store every record once; the
manifest records each run (source, window, counts, the snapshot's identity)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.archives import ARCHIVED_KINDS
from rp_toolkit.kinds import TABULAR_KINDS
from rp_toolkit.local import RedisServer

from .conftest import assert_same, now_minute, redis_binary, save_snapshot, write_synth

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

ALL = {"start": pd.Timestamp("2000-01-01", tz="UTC")}


def data_files(root: Path) -> dict[str, str]:
    """Every file outside ``_manifest`` and the lock, with its content's hash."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).parts[0] not in ("_manifest", "_lock")
    }


def test_a_second_run_adds_nothing_and_changes_no_file(redis_url: str, tmp_path: Path) -> None:
    write_synth(redis_url, hours=1, rps=0.5)
    first = rp.archive(redis_url, tmp_path / "a")
    before = data_files(tmp_path / "a")
    second = rp.archive(redis_url, tmp_path / "a")
    assert first.added > 1000 and first.already_archived == 0
    assert second.added == 0
    assert second.already_archived == first.added
    assert second.files == []
    for kind in ARCHIVED_KINDS:
        assert second.kinds[kind].already_archived == first.kinds[kind].added, kind
    assert data_files(tmp_path / "a") == before
    assert len(list((tmp_path / "a" / "_manifest").glob("*.json"))) == 2


@dataclass
class Snapshots:
    a: Path
    b: Path


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Snapshots]:
    """A: records of hours 0-2; B: those and the records of hours 2-4 (written after A)."""
    folder = tmp_path_factory.mktemp("overlap")
    end = now_minute()
    with RedisServer(binary=redis_binary()) as server:
        client = redis.Redis.from_url(server.url)
        write_synth(server.url, hours=2, rps=0.3, seed=5, end=end - timedelta(hours=2))
        a = save_snapshot(client, folder / "a" / "dump.rdb")
        write_synth(server.url, hours=2, rps=0.3, seed=6, end=end)
        b = save_snapshot(client, folder / "b" / "dump.rdb")
        client.close()
        yield Snapshots(a, b)


def counts(root: Path) -> dict[str, tuple[int, int]]:
    """Per kind: rows stored, distinct record ids stored."""
    archive = rp.open_archive(root)
    out = {}
    for kind in ARCHIVED_KINDS:
        ((rows, ids),) = archive.sql(
            f'select count(*), count(distinct record_id) from "{kind}"'
        ).itertuples(index=False)
        out[kind] = (int(rows), int(ids))
    return out


@pytest.mark.parametrize("order", ["a then b", "b then a"])
def test_overlapping_snapshots_store_every_record_once(
    snapshots: Snapshots, tmp_path: Path, order: str
) -> None:
    first, second = (
        (snapshots.a, snapshots.b) if order == "a then b" else (snapshots.b, snapshots.a)
    )
    root = tmp_path / "archive"
    run1 = rp.archive(first, root, app="app")
    run2 = rp.archive(second, root, app="app")
    whole = rp.Snapshot(snapshots.b)  # holds every record of both
    stored = counts(root)
    for kind in TABULAR_KINDS:
        expected = rp.load(kind, whole, **ALL)
        assert stored[kind] == (len(expected), len(expected)), kind
        assert_same(expected, rp.open_archive(root).load(kind, **ALL), kind)
    assert stored["events"][0] == stored["events"][1] == len(rp.load_events(whole))
    assert stored["trace"][0] == stored["trace"][1] > 0
    assert run1.already_archived == 0
    assert run2.already_archived > 0 and run2.added + run2.already_archived > 0
    if order == "b then a":
        assert run2.added == 0  # A's records are all in B
    else:
        assert run2.added > 0


def test_the_manifest_records_each_run(snapshots: Snapshots, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    runs = [rp.archive(snapshots.a, root, app="app"), rp.archive(snapshots.b, root, app="app")]
    on_disk = sorted((root / "_manifest").glob("*.json"))
    assert [path.stem for path in on_disk] == sorted(run.run for run in runs)
    read_back = rp.open_archive(root).runs
    assert [run.run for run in read_back] == [run.run for run in runs]
    for run, back, snapshot in zip(runs, read_back, (snapshots.a, snapshots.b), strict=True):
        record = json.loads((root / "_manifest" / f"{run.run}.json").read_text())
        assert back.as_dict() == run.as_dict() == record
        opened = rp.Snapshot(snapshot)
        assert back.source == opened.describe()
        assert back.snapshot == opened.identity()
        assert back.snapshot["crc64"] and back.snapshot["path"] == str(snapshot)
        assert back.source_now == opened.created.isoformat() == back.window_end
        assert back.window_start is None
        assert back.app == "app" and back.format == rp.archives.FORMAT
        assert set(back.kinds) == set(ARCHIVED_KINDS)
        for kind, count in back.kinds.items():
            assert count.read == count.added + count.already_archived, kind
        assert sum(f["rows"] for f in back.files) == back.added
        for entry in back.files:
            assert (root / entry["path"]).is_file()
    assert rp.open_archive(root).now() == rp.Snapshot(snapshots.b).created
