"""Clear errors for what is not an archive this version reads or writes, and no password in
anything an archive run writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.exceptions import ArchiveError, InvalidArgumentError
from rp_toolkit.local import RedisServer

from .conftest import write_synth

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

SECRET = "Pw-9c1e-not/in#the@manifest"
ENCODED = "Pw-9c1e-not%2Fin%23the%40manifest"


def test_open_archive_on_what_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a directory"):
        rp.open_archive(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    with pytest.raises(ArchiveError, match="is not an rp_toolkit archive"):
        rp.open_archive(tmp_path / "plain")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArchiveError, match="not a directory"):
        rp.open_archive(tmp_path / "file")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "_archive.json").write_text("{not json")
    with pytest.raises(ArchiveError, match="not readable"):
        rp.open_archive(tmp_path / "broken")


def test_a_newer_format_is_refused_by_readers_and_writers(redis_url: str, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    write_synth(redis_url, hours=0.2, rps=0.2)
    rp.archive(redis_url, root, kinds=["requests"])
    (root / "_archive.json").write_text(json.dumps({"format": rp.archives.FORMAT + 1}))
    with pytest.raises(ArchiveError, match=f"format {rp.archives.FORMAT + 1}.*upgrade"):
        rp.open_archive(root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(ArchiveError, match="upgrade"):
        rp.archive(redis_url, root, kinds=["requests"])
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_archive_into_a_directory_that_is_not_an_archive(redis_url: str, tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="not empty and not an rp_toolkit archive"):
        rp.archive(redis_url, tmp_path / "other")
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["keep.txt"]
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(ArchiveError, match="not a directory"):
        rp.archive(redis_url, tmp_path / "a-file")
    assert (tmp_path / "a-file").read_text() == "mine"


def test_a_run_killed_while_creating_the_archive_does_not_block_the_next(
    redis_url: str, tmp_path: Path
) -> None:
    """What a kill while the format file was written leaves: its temporary, alone."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "._archive.json.tmp-4242-0a1b2c3d").write_text("")
    write_synth(redis_url, hours=0.2, rps=0.2)
    run = rp.archive(redis_url, root, kinds=["requests"])
    assert run.added > 0
    assert len(rp.open_archive(root).load("requests")) == run.added


@pytest.fixture(scope="module")
def secret_url() -> Iterator[str]:
    with RedisServer({"requirepass": SECRET}) as server:
        url = f"redis://:{ENCODED}@127.0.0.1:{server.port}/0"
        write_synth(url, hours=0.3, rps=0.3)
        yield url


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_no_password_in_the_archive(secret_url: str, tmp_path: Path, form: str) -> None:
    url = secret_url
    if form == "query":
        port = url.rsplit(":", 1)[1].split("/")[0]
        url = f"redis://127.0.0.1:{port}/0?password={ENCODED}"
    root = tmp_path / "archive"
    run = rp.archive(url, root)
    assert run.added > 0 and run.app == "127.0.0.1"
    archive = rp.open_archive(root)
    texts = [run.source, repr(run), archive.describe(), repr(archive)]
    texts += [
        path.read_bytes().decode("utf-8", "replace") for path in root.rglob("*") if path.is_file()
    ]
    for text in texts:
        assert SECRET not in text and ENCODED not in text
    manifest = json.loads(next((root / "_manifest").glob("*.json")).read_text())
    assert manifest["source"] == run.source and SECRET not in json.dumps(manifest)
    with redis.Redis.from_url(secret_url) as client:
        assert client.dbsize() > 0  # the run read a server that needed the password


def test_an_archive_is_a_source_without_raw_records(redis_url: str, tmp_path: Path) -> None:
    """The one conversion hands an archive on as is; asking it for the gem's raw keys is a
    clear error naming the archive, while the loaders read it."""
    root = tmp_path / "archive"
    write_synth(redis_url, hours=0.2, rps=0.2)
    rp.archive(redis_url, root, kinds=["requests"])
    archive = rp.open_archive(root)
    assert rp.store.open_source(archive) is archive
    assert isinstance(archive, rp.store.Source)
    assert archive.place_name() == archive.apps[0]
    with pytest.raises(InvalidArgumentError, match=f"archive {root.name}.*parsed records"):
        next(iter(archive.batches("performance|*", archive.new_stats("performance|*"))))
    assert len(rp.load("requests", archive)) == len(rp.load("requests", redis_url))
