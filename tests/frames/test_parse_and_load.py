"""rp.load / rp.parse against a real Redis: typed frames, robust parsing, nothing lost silently."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import store
from rp_toolkit.exceptions import InvalidArgumentError, RenamedParameterWarning
from rp_toolkit.kinds import KINDS, REQUESTS, SIDEKIQ
from rp_toolkit.local import binary_version

NOW = pd.Timestamp("2026-11-27 12:00:00", tz="UTC")


def request_key(**fields) -> str:
    when = pd.Timestamp(fields.pop("at", NOW))
    base = {
        "controller": "HomeController",
        "action": "index",
        "format": "html",
        "status": 200,
        "datetime": when.strftime("%Y%m%dT%H%M"),
        "datetimei": int(when.timestamp()),
        "method": "GET",
        "path": "/",
        "request_id": "r1",
    }
    base.update(fields)
    return REQUESTS.format_key(base)


def value(duration=10.0, **extra) -> str:
    document = {
        "view_runtime": None,
        "db_runtime": 1.5,
        "duration": duration,
        "http_referer": None,
        "custom_data": "null",
        **extra,
    }
    return json.dumps(document)


def test_load_types_and_values(client: redis.Redis, redis_url: str) -> None:
    client.set(request_key(request_id="a", status=200), value(12.5))
    client.set(
        request_key(request_id="b", status=500, at=NOW - pd.Timedelta(minutes=3)),
        value(
            99,
            exception="NoMethodError",
            backtrace=["a.rb:1", "b.rb:2"],
            custom_data=json.dumps({"user_id": 42}),
        ),
    )
    df = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW)
    df = df.sort_values("datetime", ignore_index=True)
    assert list(df["request_id"]) == ["b", "a"]
    assert df["status"].dtype == "int64" and list(df["status"]) == [500, 200]
    assert isinstance(df["controller"].dtype, pd.CategoricalDtype)
    assert str(df["datetime"].dt.tz) == "UTC"
    assert df["datetime"].iloc[1] == NOW
    assert df["minute"].iloc[0] == (NOW - pd.Timedelta(minutes=3)).floor("min")
    assert df["duration"].tolist() == [99.0, 12.5]
    assert df["view_runtime"].isna().all()
    assert df["custom_data"].iloc[0] == {"user_id": 42}
    assert df["custom_data"].iloc[1] is None
    assert df["backtrace"].iloc[0] == ["a.rb:1", "b.rb:2"]
    assert df["exception"].iloc[0] == "NoMethodError"
    info = df.attrs["rp"]
    assert info.patterns == ["performance|*datetime|20261127*|*|END|1.0.2"]
    assert info.records == 2 and info.problems.empty


def test_path_with_pipes_and_glob_characters_parses_and_filters(client, redis_url) -> None:
    awkward = "/search?q=a|b*c?[x]\\y é"
    client.set(request_key(request_id="odd", path=awkward), value(1))
    client.set(request_key(request_id="plain", path="/search"), value(2))
    # a sibling whose path would match the filter if '*' or '?' were left unescaped
    client.set(request_key(request_id="sibling", path="/search?q=aXbYcZ[x]\\y é"), value(3))
    df = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW, path=awkward)
    assert df["request_id"].tolist() == ["odd"]
    assert df["path"].tolist() == [awkward]
    every = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW)
    assert sorted(every["path"]) == sorted([awkward, "/search", "/search?q=aXbYcZ[x]\\y é"])


@pytest.mark.parametrize("use_scan", [False, True])
def test_filters_in_key_order_and_flags_apply(client, redis_url, use_scan) -> None:
    client.set(request_key(request_id="1", controller="A", action="x"), value())
    client.set(request_key(request_id="2", controller="A", action="y"), value())
    client.set(request_key(request_id="3", controller="B", action="x"), value())
    with rp.setup(use_scan=use_scan):
        df = rp.load("requests", redis_url, end=NOW, action="x", controller="A")
    info = df.attrs["rp"]
    assert df["request_id"].tolist() == ["1"]
    assert info.patterns[-1] == (
        "performance|*controller|A|*action|x|*datetime|20261127*|*|END|1.0.2"
    )
    assert info.fetches[0].method == ("SCAN" if use_scan else "KEYS")


def test_window_spanning_midnight_uses_one_pattern_per_day_with_keys(client, redis_url) -> None:
    rp.setup(use_scan=False)  # the gem's KEYS path: one command per day
    midnight = pd.Timestamp("2026-11-27 00:00", tz="UTC")
    client.set(request_key(request_id="before", at=midnight - pd.Timedelta(minutes=30)), value())
    client.set(request_key(request_id="after", at=midnight + pd.Timedelta(minutes=30)), value())
    client.set(request_key(request_id="old", at=midnight - pd.Timedelta(hours=5)), value())
    df = rp.load("requests", redis_url, end=midnight + pd.Timedelta(hours=2))
    assert sorted(df["request_id"]) == ["after", "before"]
    info = df.attrs["rp"]
    assert [p.split("|")[2] for p in info.patterns] == ["20261126*", "20261127*"]
    assert info.outside_window == 1  # "old" was listed (same day) but is outside the window


def test_malformed_keys_and_values_are_counted_not_lost(client, redis_url) -> None:
    client.set(request_key(request_id="good"), value(5))
    client.set(request_key(request_id="bad-json"), "not json{")
    client.set(request_key(request_id="wrong-type"), json.dumps({"duration": "slow"}))
    client.set(request_key(request_id="array"), "[1, 2]")
    client.set(request_key(request_id="v101").replace("|1.0.2", "|1.0.1"), value())
    client.set(request_key(request_id="x").replace("|request_id|x", ""), value())  # truncated
    client.set(request_key(request_id="bad-status", status="OK"), value())
    df = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW)
    # bad values keep their key's dimensions; bad keys are skipped, with reasons
    assert sorted(df["request_id"]) == ["array", "bad-json", "good", "wrong-type"]
    assert (
        df.set_index("request_id").loc["bad-json", "duration"]
        != df.set_index("request_id").loc["bad-json", "duration"]
    )  # NaN
    problems = df.attrs["rp"].problems
    reasons = dict(
        zip(
            problems["key"].str.extract(r"request_id\|([^|]+)")[0].fillna("trunc"),
            problems["reason"],
            strict=True,
        )
    )
    assert reasons["bad-json"] == "value is not JSON"
    assert reasons["wrong-type"] == "value field 'duration' has the wrong type"
    assert reasons["array"] == "value is JSON but not an object"
    assert reasons["trunc"].startswith("malformed key")
    assert reasons["bad-status"] == "malformed key: status is not a whole number"
    assert "v101" not in reasons  # the gem's pattern (…|END|1.0.2) does not list it
    assert df.attrs["rp"].summary()["skipped"] == 2
    assert len(df.attrs["rp"].skipped) == 2


def test_parse_reports_other_schema_versions() -> None:
    keys = [request_key(request_id="new"), request_key(request_id="old").replace("1.0.2", "1.0.1")]
    frame, problems = rp.parse("requests", keys, [value(), value()])
    assert frame["request_id"].tolist() == ["new"]
    assert problems["reason"].tolist() == ["schema version '1.0.1', expected '1.0.2'"]


def test_expired_key_is_counted_as_missing(client, redis_url) -> None:
    keys = [request_key(request_id=str(i)) for i in range(5)]
    for key in keys:
        client.set(key, value())
    fetched_keys = rp.fetch_keys("performance|*", redis_url)
    client.delete(keys[2])  # expires between listing and reading
    values = store.read_values(
        store.open_source(redis_url), fetched_keys, rp.FetchStats("SCAN", "p", "s")
    )
    df, problems = rp.parse("requests", fetched_keys, values)
    assert len(df) == 4 and "2" not in set(df["request_id"])
    assert problems["reason"].tolist() == [rp.frames.MISSING_VALUE]
    assert problems["kept"].tolist() == [False]


def test_non_utf8_key_is_kept_with_visible_escapes(client, redis_url) -> None:
    raw_key = request_key(request_id="bin", path="/x").encode().replace(b"/x", b"/\xff")
    client.set(raw_key, value(7))
    df = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW)
    assert df["path"].tolist() == ["/\\xff"]
    assert df["duration"].tolist() == [7.0]


def test_empty_window_gives_empty_typed_frame(redis_url) -> None:
    df = rp.load("requests", redis_url, start=NOW - pd.Timedelta(hours=1), end=NOW)
    assert len(df) == 0
    assert "duration" in df and "controller" in df and "datetime" in df
    assert df.attrs["rp"].records == 0


def test_the_old_parameter_name_client_still_works_with_a_warning(redis_url) -> None:
    window = {"start": NOW - pd.Timedelta(hours=1), "end": NOW}
    with pytest.warns(RenamedParameterWarning, match="source"):
        df = rp.load("requests", client=redis_url, **window)
    pd.testing.assert_frame_equal(df, rp.load("requests", source=redis_url, **window))
    with pytest.raises(InvalidArgumentError, match="both source= and"):
        rp.load("requests", client=redis_url, source=redis_url, **window)


def test_every_tabular_kind_has_an_empty_frame_with_its_fields() -> None:
    for name in rp.kinds.TABULAR_KINDS:
        frame = rp.frames.empty_frame(name)
        kind = KINDS[name]
        for field in kind.key_fields:
            assert ("minute" if field == "datetime" else field) in frame


def test_unknown_kind_and_filter_are_clear_errors(redis_url) -> None:
    with pytest.raises(ValueError, match="Unknown record kind 'nope'"):
        rp.load("nope", redis_url)
    with pytest.raises(ValueError, match="cannot be filtered by \\['colour'\\]"):
        rp.load("requests", redis_url, colour="red")


def test_sidekiq_kind_parses_epochs_and_status(client, redis_url) -> None:
    when = NOW - pd.Timedelta(minutes=1)
    key = SIDEKIQ.format_key(
        {
            "queue": "default",
            "worker": "MailerJob",
            "jid": "j1",
            "datetime": when.strftime("%Y%m%dT%H%M"),
            "datetimei": int(when.timestamp()),
            "enqueued_ati": int(when.timestamp()) - 5,
            "start_timei": int(when.timestamp()) - 1,
            "status": "exception",
        }
    )
    client.set(key, json.dumps({"duration": 12.0, "message": "boom"}))
    df = rp.load("sidekiq", redis_url, end=NOW, status="exception")
    assert df["worker"].tolist() == ["MailerJob"]
    assert df["enqueued_ati"].tolist() == [int(when.timestamp()) - 5]
    assert df["message"].tolist() == ["boom"] and df["duration"].tolist() == [12.0]


def test_load_trace_and_events(client, redis_url) -> None:
    steps = [
        {"group": "db", "duration": 1.5, "sql": "SELECT 1", "time": 1},
        {"group": "view", "message": "Rendered x", "time": 2},
    ]
    client.set("trace|req-1|END|1.0.2", json.dumps(steps))
    trace = rp.load_trace("req-1", redis_url)
    assert trace["group"].tolist() == ["db", "view"]
    assert trace["duration"].iloc[0] == 1.5
    assert rp.load_trace("gone", redis_url).empty
    epoch = int(NOW.timestamp())
    client.set(
        f"rails_performance:records:events:{epoch}|1.0.0",
        json.dumps(
            {"name": "deploy", "datetime": "x", "datetimei": epoch, "options": {"sha": "abc"}}
        ),
    )
    client.set(f"rails_performance:records:events:{epoch + 60}|1.0.0", "garbage")
    events = rp.load_events(redis_url)
    assert events["name"].tolist()[0] == "deploy"
    assert events["options"].iloc[0] == {"sha": "abc"}
    assert events["datetime"].iloc[0] == NOW
    assert events.attrs["rp"].problems["reason"].tolist() == ["value is not JSON"]


def test_part_index_anchors_fields_after_the_free_field_at_the_end() -> None:
    key = request_key(path="/a|b|c", request_id="rid", controller="C", format="json")
    parts = key.split("|")
    assert parts[REQUESTS.part_index("controller")] == "C"
    assert parts[REQUESTS.part_index("format")] == "json"
    assert parts[REQUESTS.part_index("path")] == "/a"  # the free field's first piece
    assert parts[REQUESTS.part_index("request_id")] == "rid"


def test_the_load_information_names_the_server_by_what_it_is(redis_server, redis_url) -> None:
    """``valkey 9.1.2`` on Valkey (not the Redis version it is compatible with, 7.2.4),
    ``redis 7.0.15`` on Redis."""
    rp.synth.write(redis_url, hours=0.1, rps=1, seed=2, progress=False)
    frame = rp.load("requests", redis_url, start=timedelta(hours=-1))
    name, version = binary_version(redis_server.binary)
    assert frame.attrs["rp"].summary()["server"] == f"{name} {version}"


@pytest.mark.parametrize("kind", [name for name in KINDS if name not in ("trace", "events")])
def test_every_column_of_a_parsed_frame_can_be_written(kind: str) -> None:
    """A frame is the caller's to change: no column is an array Arrow lent read-only (the
    Spark tests' fixture failed so when the frame was built without a copy)."""
    keys, values = [], []
    for batch in rp.synth.generate(kinds=[kind], hours=2, rps=5, seed=2):
        keys += batch.keys
        values += batch.values
    frame, _ = rp.frames.parse(kind, keys, values)
    assert len(frame)
    for name in frame.columns:
        last = frame[name].iloc[-1]  # a decoded document or list: set as None (not a scalar)
        frame.loc[frame.index[0], name] = None if isinstance(last, (dict, list)) else last
    frame.iloc[0, 0] = frame.iloc[-1, 0]
