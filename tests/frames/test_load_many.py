"""One walk of the keyspace per question: a load over several days, and several kinds at once,
return exactly what the per-day, per-kind loads return."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit.kinds import REQUESTS, days_glob, utc_days
from rp_toolkit.local import RedisServer

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

END = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # the window spans a month's end
START = END - timedelta(hours=3)
KINDS = ["requests", "sidekiq", "delayed_job", "grape", "rake", "custom", "resources", "events"]


@pytest.fixture(scope="module")
def seeded() -> Iterator[str]:
    with RedisServer() as server:
        rp.synth.write(server.url, hours=4, rps=2, end=END, progress=False)
        yield server.url


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in ("datetimei", "request_id", "jid", "server", "name") if c in frame]
    return frame.sort_values(columns or list(frame.columns[:3])).reset_index(drop=True)


def walks(frame: pd.DataFrame) -> int:
    return frame.attrs["rp"].summary()["walks"]


@pytest.mark.parametrize(
    "days",
    [
        [date(2026, 11, 27)],
        [date(2026, 11, 27), date(2026, 11, 28)],
        [date(2026, 11, 30), date(2026, 12, 1)],
        [date(2026, 12, 31), date(2027, 1, 1)],
        [date(2026, 11, 20) + timedelta(days=n) for n in range(10)],
    ],
)
def test_days_glob_matches_every_day_it_covers(days: list[date], client: redis.Redis) -> None:
    """Checked by Redis itself: the glob matches each day's key and not a day far away."""
    for day in [*days, date(1999, 12, 31)]:
        client.set(f"d:{day:%Y%m%d}", 1)
    matched = {key.decode()[2:] for key in client.keys("d:" + days_glob(days))}
    assert {f"{day:%Y%m%d}" for day in days} <= matched
    assert "19991231" not in matched


def test_a_load_over_two_days_is_one_walk_with_the_same_frame(seeded: str) -> None:
    assert len(utc_days(START, END)) == 2
    with rp.setup(use_scan=False):
        gem = rp.load("requests", seeded, start=START, end=END)
    with rp.setup(use_scan=True):
        one = rp.load("requests", seeded, start=START, end=END)
    assert len(gem.attrs["rp"].patterns) == 2 and walks(gem) == 2  # the gem: KEYS per day
    assert one.attrs["rp"].patterns == [REQUESTS.covering_pattern(START, END)] and walks(one) == 1
    assert len(one) > 0
    pd.testing.assert_frame_equal(ordered(one), ordered(gem))


@pytest.mark.parametrize("use_scan", [True, False], ids=["SCAN", "KEYS"])
def test_load_many_equals_one_load_per_kind(seeded: str, use_scan: bool) -> None:
    filters = {"requests": {"controller": "ProductsController"}}
    with rp.setup(use_scan=use_scan):
        many = rp.load_many(KINDS, seeded, start=START, end=END, filters=filters)
        for kind in KINDS:
            if kind == "events":
                single = rp.load_events(seeded, start=START, end=END)
            else:
                single = rp.load(kind, seeded, start=START, end=END, **filters.get(kind, {}))
            assert len(many[kind]) == len(single) > 0, kind
            pd.testing.assert_frame_equal(ordered(many[kind]), ordered(single), obj=kind)
            info = many[kind].attrs["rp"]
            assert info.filters == filters.get(kind, {})
            assert info.problems.empty
    shared = {id(many[kind].attrs["rp"].fetches[0]) for kind in KINDS}
    if use_scan:
        assert len(shared) == 1 and walks(many["requests"]) == 1
        assert set(many["requests"]["controller"]) == {"ProductsController"}
    else:
        assert len(shared) == len(KINDS)


def test_load_many_windows_per_kind_and_clear_errors(seeded: str) -> None:
    day = (END - timedelta(hours=24), END)
    with rp.setup(use_scan=True):
        many = rp.load_many(["requests", "resources"], seeded, start=START, end=END,
                            windows={"resources": day})  # fmt: skip
        resources = rp.load("resources", seeded, start=day[0], end=day[1])
    pd.testing.assert_frame_equal(ordered(many["resources"]), ordered(resources))
    assert many["resources"].attrs["rp"].start == pd.Timestamp(day[0])
    with pytest.raises(ValueError, match="load_trace"):
        rp.load_many(["requests", "trace"], seeded)
    with pytest.raises(ValueError, match="cannot be filtered by"):
        rp.load_many(["requests"], seeded, filters={"requests": {"colour": "red"}})
    with pytest.raises(ValueError, match="not a record kind asked for"):
        rp.load_many(["requests"], seeded, filters={"sidekiq": {"queue": "default"}})
