"""An archive gives what the server it was made from gives: every tabular kind's frame (columns,
dtypes, categories, rows) for the same window and filters, events, traces and the slowest
trace, on the synthetic app's records plus odd and hostile keys and values; and every loader
reads an :class:`rp.Archive` it is handed."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import rp_toolkit as rp
from rp_toolkit.frames import concat_batches
from rp_toolkit.kinds import TABULAR_KINDS
from rp_toolkit.local import RedisServer

from .conftest import assert_same, now_minute, write_odd, write_synth

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")


@dataclass
class Made:
    url: str
    path: Path
    run: rp.ArchiveRun
    window: dict[str, pd.Timestamp]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    """A server holding 2 hours of synthetic records and the odd ones, archived."""
    end = now_minute()
    with RedisServer() as server:
        write_synth(server.url, hours=2, rps=0.5, end=end)
        write_odd(__import__("redis").Redis.from_url(server.url), end - timedelta(minutes=20))
        path = tmp_path_factory.mktemp("archive") / "a"
        run = rp.archive(server.url, path)
        window = {
            "start": pd.Timestamp(end - timedelta(hours=3)),
            "end": pd.Timestamp.now(tz="UTC"),
        }
        yield Made(server.url, path, run, window)


@pytest.mark.parametrize("kind", TABULAR_KINDS)
def test_every_kind_loads_from_the_archive_as_from_the_server(made: Made, kind: str) -> None:
    live = rp.load(kind, made.url, **made.window)
    archived = rp.open_archive(made.path).load(kind, **made.window)
    assert len(live) > 0
    assert_same(live, archived, kind)
    assert made.run.kinds[kind].added >= len(live)


def test_the_odd_records_survive_as_text_lists_and_nans(made: Made) -> None:
    archived = rp.open_archive(made.path).load("requests", **made.window)
    odd = archived[archived["request_id"].astype(str).str.startswith("odd-")]
    by_id = odd.set_index(odd["request_id"].astype(str))
    assert by_id.loc["odd-1", "custom_data"] == "{not json"  # kept as the text it was
    assert by_id.loc["odd-2", "custom_data"] == {"user": "ü", "n": [1, 2]}
    assert pd.isna(by_id.loc["odd-2", "duration"]) and pd.isna(by_id.loc["odd-6", "duration"])
    assert list(by_id.loc["odd-7", "backtrace"]) == ["a.rb:1", "b|c.rb:2", "ü"]
    assert by_id.loc["odd-1", "path"] == "/a|b*[c]?/ü/1"
    assert (archived["path"].astype(str) == "/\\xff").sum() == 1  # a byte that is not UTF-8
    problems = archived.attrs["rp"].problems
    assert len(problems) >= 1  # the custom_data that is not JSON, recorded


def test_filters_and_a_filter_matching_nothing(made: Made) -> None:
    archive = rp.open_archive(made.path)
    live_all = rp.load("requests", made.url, **made.window)
    controller = str(live_all["controller"].mode()[0])
    for filters in (
        {"controller": controller},
        {"controller": controller, "status": 200},
        {"status": 500},
        {"controller": "NoSuchController"},
        {"path": "/a|b*[c]?/ü/1"},
    ):
        live = rp.load("requests", made.url, **made.window, **filters)
        archived = archive.load("requests", **made.window, **filters)
        assert_same(live, archived, "requests")
        assert archived.attrs["rp"].notes() == live.attrs["rp"].notes(), filters
    nothing = archive.load("requests", **made.window, controller="NoSuchController")
    assert nothing.empty and nothing.attrs["rp"].notes()


def test_the_loaders_read_an_archive(made: Made) -> None:
    archive = rp.open_archive(made.path)
    for kind in ("requests", "resources"):
        live = rp.load(kind, made.url, **made.window)
        assert_same(live, rp.load(kind, archive, **made.window), kind)
        batches = list(rp.iter_load(kind, archive, **made.window, batch_rows=500))
        assert len(batches) > 1 or len(live) <= 500
        for batch in batches:
            assert dict(batch.dtypes.astype(str)) == dict(live.dtypes.astype(str))
        assert_same(live, concat_batches(kind, batches), kind)
    kinds = ["requests", "sidekiq", "grape", "events"]
    filters = {"requests": {"status": 500}, "grape": {"status": 404}}
    live_many = rp.load_many(kinds, made.url, **made.window, filters=filters)
    archived_many = rp.load_many(kinds, archive, **made.window, filters=filters)
    assert len(live_many["requests"]) > 0
    for kind in kinds[:-1]:
        assert_same(live_many[kind], archived_many[kind], kind)
    pd.testing.assert_frame_equal(
        live_many["events"].reset_index(drop=True), archived_many["events"].reset_index(drop=True)
    )


def test_events_and_traces(made: Made) -> None:
    archive = rp.open_archive(made.path)
    live = rp.load_events(made.url)
    assert len(live) >= 2  # the deploys and the hostile one
    pd.testing.assert_frame_equal(live, rp.load_events(archive))
    middle = live["datetime"].iloc[len(live) // 2]
    before = middle - timedelta(seconds=1)
    for window in ({"start": middle}, {"end": before}, {"start": middle, "end": middle}):
        part = rp.load_events(made.url, **window)
        assert len(part) > 0
        pd.testing.assert_frame_equal(part, rp.load_events(archive, **window))
    requests = rp.load("requests", made.url, start=made.window["end"] - timedelta(minutes=30))
    live_id, live_steps = rp.slowest_trace(requests, made.url)
    archived_id, archived_steps = rp.slowest_trace(requests, archive)
    assert live_id is not None and archived_id == live_id
    pd.testing.assert_frame_equal(live_steps, archived_steps)
    for request_id in requests["request_id"].astype(str).head(20):
        pd.testing.assert_frame_equal(
            rp.load_trace(request_id, made.url), rp.load_trace(request_id, archive)
        )
    assert rp.load_trace("no-such-request", archive).empty


def test_window_bounds_with_nanoseconds(made: Made) -> None:
    """Parquet keeps microseconds; a bound between a record's time and the next microsecond
    leaves the record out as the live load does (and no pandas warning)."""
    live_all = rp.load("requests", made.url, **made.window)
    at = live_all["datetime"].iloc[len(live_all) // 2]
    window = {"start": at + pd.Timedelta(nanoseconds=1), "end": at + pd.Timedelta(minutes=30)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        archived = rp.open_archive(made.path).load("requests", **window)
    live = rp.load("requests", made.url, **window)
    assert not (live["datetime"] == at).any()
    assert_same(live, archived, "requests")
    ending = {"start": at - pd.Timedelta(minutes=30), "end": at - pd.Timedelta(nanoseconds=1)}
    assert_same(
        rp.load("requests", made.url, **ending),
        rp.open_archive(made.path).load("requests", **ending),
        "requests",
    )
