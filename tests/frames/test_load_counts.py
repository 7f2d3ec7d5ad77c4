"""Counts say why: every listed key is accounted for once, as a record, outside the window,
left out by a filter (named) or skipped, on a real server, through ``load``, ``iter_load``
and ``load_many``; a filter that matches nothing is named in ``summary()`` and in the
report's sentence (its value escaped), instead of "N listed keys fell outside the window"."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit.kinds import REQUESTS
from rp_toolkit.local import RedisServer
from rp_toolkit.reports import findings
from tests.support import fill_keyspace, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

END = pd.Timestamp("2026-11-27 12:00", tz="UTC")
START = END - pd.Timedelta(hours=2)
CONTROLLERS = ["HomeController", "UsersController", "Api::OrdersController"]
ACTIONS = ["index", "show"]


def request_key(at: pd.Timestamp, request_id: str, controller: str, action: str) -> str:
    return REQUESTS.format_key(
        {"controller": controller, "action": action, "format": "html", "status": 200,
         "datetime": at.strftime("%Y%m%dT%H%M"), "datetimei": int(at.timestamp()),
         "method": "GET", "path": "/", "request_id": request_id}
    )  # fmt: skip


def keyspace() -> dict[str, str]:
    """600 records: 400 in the window (by controller and action in turn), 200 before it on
    the same day (listed by the day's pattern, outside the window)."""
    records = {}
    for i in range(600):
        at = END - pd.Timedelta(minutes=i * 0.3) if i < 400 else START - pd.Timedelta(minutes=i)
        key = request_key(at, f"r{i}", CONTROLLERS[i % 3], ACTIONS[i % 2])
        records[key] = json.dumps({"duration": 1.0 + i})
    return records


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        yield started


@pytest.fixture
def filled(server: RedisServer) -> str:
    with redis.Redis.from_url(server.url) as client:
        client.flushdb()
        fill_keyspace(client, keyspace())
    return server.url


def accounted(info: rp.LoadInfo) -> int:
    """What the counts add up to: each listed key once."""
    return info.records + info.outside_window + sum(info.filtered_out.values()) + len(info.skipped)


@pytest.mark.parametrize("use_scan", [True, False], ids=["SCAN", "KEYS"])
def test_a_filter_matching_nothing_is_named_not_counted_as_outside(
    filled: str, use_scan: bool
) -> None:
    with rp.setup(use_scan=use_scan):
        frame = rp.load("requests", filled, start=START, end=END, controller="NoSuchController")
    info = frame.attrs["rp"]
    # The filter is in the pattern: no key is listed, so none is outside the window.
    assert (info.records, info.keys_listed, info.outside_window) == (0, 0, 0)
    assert info.filtered_out == {"controller": 0} and info.filter_matches == {"controller": 0}
    summary = info.summary()
    assert summary["notes"] == ["no record in the window matched controller='NoSuchController'"]
    assert summary["filtered_out"] == {"controller": 0}
    assert findings.loaded(summary).endswith(
        "No record in the window matched the filter controller = `NoSuchController`. Every "
        "record could be read."
    )


@pytest.mark.parametrize("streamed", [False, True], ids=["load", "iter_load"])
def test_load_and_iter_load_count_exactly_with_filters_in_the_pattern(
    filled: str, streamed: bool
) -> None:
    """The filters are in the pattern: the keys listed are the filters' own, those before the
    window are outside it, and the filters left nothing out; batch by batch, the same."""
    window = {"start": START, "end": END, "controller": "HomeController", "action": "show"}
    if streamed:
        batches = rp.iter_load("requests", filled, batch_rows=7, **window)
        rows = sum(len(frame) for frame in batches)
        info = batches.info
    else:
        frame = rp.load("requests", filled, **window)
        rows, info = len(frame), frame.attrs["rp"]
    home_show = [i for i in range(600) if i % 6 == 3]
    in_window = [i for i in home_show if i < 400]
    assert info.keys_listed == len(home_show)
    assert info.outside_window == len(home_show) - len(in_window)
    assert info.records == len(in_window) == rows
    assert info.filtered_out == {"controller": 0, "action": 0}
    assert info.filter_matches == {"controller": len(in_window), "action": len(in_window)}
    assert info.notes() == [] and accounted(info) == info.keys_listed


def test_load_many_names_the_filter_that_dropped_every_record(filled: str) -> None:
    """The report's path: one walk for every kind, the filter applied to the parsed records,
    so the whole window is listed and the filter, not the window, leaves it all out."""
    filters = {"controller": "NoSuchController"}
    loaded = rp.load_many(["requests", "events"], filled, start=START, end=END,
                          filters={"requests": filters})  # fmt: skip
    info = loaded["requests"].attrs["rp"]
    assert info.keys_listed == 600 and info.records == 0
    assert info.outside_window == 200  # the true number, not 600
    assert info.filtered_out == {"controller": 400}
    assert info.filter_matches == {"controller": 0}
    assert accounted(info) == 600
    summary = info.summary()
    assert summary["notes"] == ["no record in the window matched controller='NoSuchController'"]
    text = findings.loaded(summary)
    assert "200 listed keys fell outside the window and are left out." in text
    assert (
        "400 listed keys in the window did not match the filter controller = "
        "`NoSuchController` and are left out. No record in the window matched the filter "
        "controller = `NoSuchController` (filters match exact values: check the spelling)."
    ) in text


def test_filters_that_each_match_but_never_together_say_so(filled: str) -> None:
    loaded = rp.load_many(["requests"], filled, start=START, end=END,
                          filters={"requests": {"controller": "HomeController",
                                                "action": "nothing"}})  # fmt: skip
    info = loaded["requests"].attrs["rp"]
    assert info.notes() == ["no record in the window matched action='nothing'"]
    loaded = rp.load_many(["requests"], filled, start=START, end=END,
                          filters={"requests": {"controller": "HomeController",
                                                "action": "index"}})  # fmt: skip
    assert loaded["requests"].attrs["rp"].notes() == []  # matched together
    with redis.Redis.from_url(filled) as client:  # every Home record is an index one
        client.flushdb()
        at = END - pd.Timedelta(minutes=5)
        client.set(request_key(at, "a", "HomeController", "index"), "{}")
        client.set(request_key(at, "b", "UsersController", "show"), "{}")
    loaded = rp.load_many(["requests"], filled, start=START, end=END,
                          filters={"requests": {"controller": "HomeController",
                                                "action": "show"}})  # fmt: skip
    info = loaded["requests"].attrs["rp"]
    assert info.filter_matches == {"controller": 1, "action": 1} and info.records == 0
    assert info.notes() == [
        "no record in the window matched all the filters at once "
        "(controller='HomeController', action='show'), though each matched some"
    ]
    assert info.filtered_out == {"controller": 1, "action": 1}  # each counted at its first
    assert "none matched all of them at once" in findings.loaded(info.summary())


RECORD = st.tuples(
    st.integers(-300, 300),  # minutes from END: before, inside and after the window
    st.sampled_from(CONTROLLERS + ["Odd*[x]?Controller"]),
    st.sampled_from(ACTIONS),
    st.sampled_from(["good", "good", "good", "not json", "malformed key"]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    records=st.lists(RECORD, max_size=60),
    controller=st.sampled_from([None, "HomeController", "Odd*[x]?Controller", "Nope"]),
    action=st.sampled_from([None, "index", "nope"]),
    use_scan=st.booleans(),
    many=st.booleans(),
)
def test_every_listed_key_is_counted_once(
    server: RedisServer,
    records: list[tuple[int, str, str, str]],
    controller: str | None,
    action: str | None,
    use_scan: bool,
    many: bool,
) -> None:
    """records + outside_window + sum(filtered_out) + skipped == keys listed, whatever the
    keyspace and filters, for load and load_many; and the counts are the true ones."""
    filters = {k: v for k, v in {"action": action, "controller": controller}.items() if v}
    keys = {}
    for index, (minutes, name, verb, shape) in enumerate(records):
        key = request_key(END + pd.Timedelta(minutes=minutes), f"r{index}", name, verb)
        if shape == "malformed key":
            key = key.replace("|datetimei|", "|datetimei|x")
        keys[key] = "not json" if shape == "not json" else json.dumps({"duration": 1.0})
    with redis.Redis.from_url(server.url) as client:
        client.flushdb()
        fill_keyspace(client, keys)
    with rp.setup(use_scan=use_scan):
        if many:
            frame = rp.load_many(["requests"], server.url, start=START, end=END,
                                 filters={"requests": filters})["requests"]  # fmt: skip
        else:
            frame = rp.load("requests", server.url, start=START, end=END, **filters)
    info = frame.attrs["rp"]
    assert accounted(info) == info.keys_listed
    readable = [r for r in records if r[3] != "malformed key"]
    in_window = [r for r in readable if -120 <= r[0] <= 0]
    kept = [r for r in in_window if all(field(r, n) == v for n, v in filters.items())]
    assert info.records == len(frame) == len(kept)
    walked = many and use_scan  # one walk of the window's day, the filters applied after it
    assert info.filters_in_pattern == (bool(filters) and not walked)
    if walked or not filters:
        matches = {n: sum(field(r, n) == v for r in in_window) for n, v in filters.items()}
        assert info.keys_listed == len(records)  # all on the window's day
        assert info.outside_window == len(readable) - len(in_window)
    else:  # only keys matching every filter are listed
        matches = dict.fromkeys(filters, len(kept))
        assert info.filtered_out == dict.fromkeys(filters, 0)
    assert info.filter_matches == matches
    unmatched = [name for name in filters if not matches[name]]
    together = ", ".join(f"{n}={v!r}" for n, v in filters.items())
    if kept or not filters:
        expected = []
    elif not walked and len(filters) > 1:
        expected = [f"no record in the window matched all the filters at once ({together})"]
    elif unmatched:
        expected = [f"no record in the window matched {n}={filters[n]!r}" for n in unmatched]
    else:
        expected = [
            f"no record in the window matched all the filters at once ({together}), though "
            "each matched some"
        ]
    assert info.notes() == expected
    assert info.summary()["notes"] == expected


def field(record: tuple[int, str, str, str], name: str) -> str:
    return {"controller": record[1], "action": record[2]}[name]


def test_the_report_names_the_filter_and_escapes_its_value(tmp_path: Path) -> None:
    """``rp-toolkit report -p controller VALUE`` with a value that matches nothing and holds
    HTML and Markdown: the report says the filter matched nothing, names it, and shows the
    value as text."""
    value = "<img src=x onerror=alert(1)>*_`"
    with RedisServer() as started:
        with redis.Redis.from_url(started.url) as client:
            fill_keyspace(client, keyspace())
        done = run_cli("report", "--redis-url", started.url, "--out", str(tmp_path),
                       "-p", "controller", value, "-p", "start", START.isoformat(),
                       "-p", "end", END.isoformat(), "--no-progress",
                       env={**os.environ})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    html = (tmp_path / "request_performance.html").read_text()
    assert "fell outside the window" in html  # the 200 truly outside it
    assert "400 listed keys in the window did not match the filter controller = " in html
    assert "No record in the window matched the filter controller = " in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;*_`" in html
