"""Days and apps: a load reads only its window's partitions (a corrupt file of another day does
not matter; the corrupt day's load is a clear error); the app names a partition (from the
server's host and database or the snapshot's name by default; any other text is refused before
anything is written); an archive of several apps asks which; SQL and the per-endpoint days
agree with the loads."""

from __future__ import annotations

import re
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit.archives import check_app
from rp_toolkit.exceptions import ArchiveError, InvalidArgumentError
from rp_toolkit.local import RedisServer

from .conftest import (
    assert_same,
    now_minute,
    redis_binary,
    save_snapshot,
    write_odd,
    write_synth,
)

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")


@dataclass
class Days:
    url: str
    root: Path
    end: pd.Timestamp


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        yield started


@pytest.fixture(scope="module")
def days(server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Days:
    """About 50 hours of records (three UTC days or more), archived at once."""
    end = now_minute()
    write_synth(server.url, hours=50, rps=0.02, seed=8, end=end)
    with redis.Redis.from_url(server.url) as client:
        write_odd(client, end - timedelta(minutes=20))  # null durations and endpoint parts
    root = tmp_path_factory.mktemp("days") / "archive"
    rp.archive(server.url, root)
    return Days(server.url, root, pd.Timestamp(end))


def day_window(day) -> dict[str, pd.Timestamp]:
    start = pd.Timestamp(day).tz_localize("UTC")
    return {"start": start, "end": start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)}


def test_a_corrupt_file_of_another_day_does_not_matter(days: Days, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    __import__("shutil").copytree(days.root, root)
    archive = rp.open_archive(root)
    held = archive.days("requests")
    assert len(held) >= 3
    first, last = held[0], held[-1]
    expected = archive.load("requests", **day_window(last))
    assert len(expected) > 0
    (bad,) = (root / "requests").glob(f"app=*/date={first.isoformat()}/*.parquet")
    bad.write_bytes(b"not a parquet file" * 100)
    again = rp.open_archive(root)
    assert_same(expected, again.load("requests", **day_window(last)), "requests")
    assert again.load("sidekiq", **day_window(first)).shape[0] > 0  # another kind, same day
    with pytest.raises(ArchiveError, match=bad.name):
        again.load("requests", **day_window(first))
    files = sorted(root.rglob("*.parquet"))
    with pytest.raises(ArchiveError, match=bad.name):  # a run that would add to that day
        rp.archive(days.url, root, app=again.apps[0])
    assert sorted(root.rglob("*.parquet")) == files and not any((root / "_staging").iterdir())


def test_loads_by_day_equal_the_live_loads(days: Days) -> None:
    archive = rp.open_archive(days.root)
    for day in archive.days("requests"):
        window = day_window(day)
        for kind in ("requests", "resources", "grape"):
            assert_same(rp.load(kind, days.url, **window), archive.load(kind, **window), kind)
        assert_same(
            rp.load("sidekiq", days.url, on=day), archive.load("sidekiq", on=day), "sidekiq"
        )


def test_sql_has_app_and_date_and_counts_equal_the_loads(days: Days) -> None:
    archive = rp.open_archive(days.root)
    (app,) = archive.apps
    counted = archive.sql(
        "select app, date, count(*) as n from requests group by app, date order by date"
    )
    assert set(counted["app"]) == {app}
    assert [d.date() for d in pd.to_datetime(counted["date"])] == archive.days("requests")
    for day, n in zip(pd.to_datetime(counted["date"]), counted["n"], strict=True):
        assert n == len(archive.load("requests", **day_window(day.date())))
    every = archive.load("requests", start=pd.Timestamp("2000-01-01", tz="UTC"))
    assert counted["n"].sum() == len(every)
    (total,) = archive.sql("select count(*) from resources where app = ?", [app]).iloc[0]
    assert total == len(archive.load("resources", start=pd.Timestamp("2000-01-01", tz="UTC")))


def endpoint_days_numpy(frame: pd.DataFrame) -> pd.DataFrame:
    """The documented definition, computed independently."""
    parts = {name: frame[name].astype(object).where(frame[name].notna(), "").astype(str)
             for name in ("controller", "action", "format")}  # fmt: skip
    table = pd.DataFrame(parts)
    table["date"] = frame["datetime"].dt.floor("D").astype("datetime64[ns, UTC]")
    table["group"] = table["controller"] + "#" + table["action"] + "|" + table["format"]
    table["duration"] = frame["duration"].to_numpy()
    rows = []
    for (date, group), part in table.groupby(["date", "group"], sort=True):
        durations = part["duration"].dropna().to_numpy()
        row = {"date": date, "group": group, **{k: part[k].iloc[0] for k in parts},
               "count": len(part)}  # fmt: skip
        for p in (50, 95, 99):
            row[f"duration_p{p}"] = (
                float(np.percentile(durations, p, method="linear")) if len(durations) else np.nan
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["count"] = out["count"].astype("int64")
    for name in ("group", "controller", "action", "format"):
        out[name] = out[name].astype("string")
    return out.sort_values(["date", "group"], ignore_index=True)


def test_endpoint_days_follow_the_definition(days: Days) -> None:
    archive = rp.open_archive(days.root)
    every = archive.load("requests", start=pd.Timestamp("2000-01-01", tz="UTC"))
    got = archive.endpoint_days()
    expected = endpoint_days_numpy(every)
    assert every["duration"].isna().any() and (expected["format"] == "").any()
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(got, rp.reports.endpoint_days(every), rtol=1e-9)
    last = archive.days("requests")[-1]
    window = day_window(last)
    one_day = archive.endpoint_days(**window)
    assert set(one_day["date"].dt.date) == {last}
    pd.testing.assert_frame_equal(
        one_day, endpoint_days_numpy(archive.load("requests", **window)), rtol=1e-9
    )


# ---------------------------------------------------------------------------------- apps


def test_the_default_app_is_the_host_with_its_database(server: RedisServer, tmp_path: Path) -> None:
    url3 = server.url.rsplit("/", 1)[0] + "/3"
    write_synth(url3, hours=0.2, rps=0.2, seed=2)
    assert rp.archive(server.url, tmp_path / "a", kinds=["events"]).app == "127.0.0.1"
    run = rp.archive(url3, tmp_path / "b")
    assert run.app == "127.0.0.1-db3"
    assert rp.open_archive(tmp_path / "b").apps == ["127.0.0.1-db3"]
    assert (tmp_path / "b" / "requests" / "app=127.0.0.1-db3").is_dir()


def test_the_default_app_of_a_snapshot_is_its_file_name(tmp_path: Path) -> None:
    with RedisServer(binary=redis_binary()) as server:
        write_synth(server.url, hours=0.2, rps=0.2, seed=2)
        client = redis.Redis.from_url(server.url)
        dump = save_snapshot(client, tmp_path / "shop eu (copy).rdb")
        client.close()
    run = rp.archive(dump, tmp_path / "archive")
    assert run.app == "shop-eu-copy"
    assert rp.open_archive(tmp_path / "archive").apps == ["shop-eu-copy"]


PORTABLE = re.compile(r"[A-Za-z0-9._-]+")
"""The characters a file name has everywhere (POSIX's portable set)."""


@settings(max_examples=100, deadline=None)
@example("app\n")
@example("..")
@example("a" * 128)
@given(
    st.text(max_size=140) | st.text(string.ascii_letters + string.digits + "._-\n/=", max_size=12)
)
def test_any_app_names_a_partition_or_is_refused_first(days: Days, text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "archive"
        try:
            name = check_app(text)
        except InvalidArgumentError:
            with pytest.raises(InvalidArgumentError, match="cannot name an archive partition"):
                rp.archive(days.url, root, kinds=["events"], app=text)
            assert not root.exists()  # refused before anything was written
            return
        assert name == text and 1 <= len(name) <= 128
        assert PORTABLE.fullmatch(text) and text[0] not in "._-"  # any file system, Hive, Spark
        rp.archive(days.url, root, kinds=["events"], app=text)
        (partition,) = (root / "events").iterdir()
        assert partition.name == f"app={text}"  # one directory, named exactly
        assert rp.open_archive(root).apps == [text]
        assert len(rp.open_archive(root, app=text).load_events()) > 0


def test_an_invalid_app_writes_nothing(days: Days, tmp_path: Path) -> None:
    for bad in ("", "a/b", "../x", "app\n", "x=y", "a" * 129, "-lead", " "):
        with pytest.raises(InvalidArgumentError, match="cannot name an archive partition"):
            rp.archive(days.url, tmp_path / "new", app=bad)
        assert not (tmp_path / "new").exists()


def test_several_apps_in_one_archive(days: Days, tmp_path: Path) -> None:
    root = tmp_path / "apps"
    window = {"start": days.end - timedelta(hours=3), "end": days.end}
    rp.archive(days.url, root, app="shop", **window)
    rp.archive(days.url, root, app="blog", kinds=["requests"], **window)
    archive = rp.open_archive(root)
    assert archive.apps == ["blog", "shop"]
    for run, app in zip(archive.runs, ("shop", "blog"), strict=True):
        assert run.app == app and run.snapshot is None
        assert run.window_start == window["start"].isoformat()
        assert run.window_end == window["end"].isoformat()
        assert run.source.startswith("redis ") or "127.0.0.1" in run.source
    with pytest.raises(ArchiveError, match="blog, shop"):
        archive.load("requests", **window)
    live = rp.load("requests", days.url, **window)
    assert len(live) > 0
    assert_same(live, rp.open_archive(root, app="shop").load("requests", **window), "requests")
    assert_same(live, archive.load("requests", app="blog", **window), "requests")
    assert rp.open_archive(root, app="blog").load("sidekiq", **window).empty
    counts = archive.sql("select app, count(*) as n from requests group by app order by app")
    assert counts["n"].tolist() == [len(live), len(live)]
