"""rp_toolkit.synth: synthetic data in the gem's exact format, written to a real Redis."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import redis

from rp_toolkit import synth
from rp_toolkit.exceptions import InvalidArgumentError
from rp_toolkit.kinds import EVENTS, KINDS, REQUESTS, RESOURCES, SIDEKIQ, TRACE, RecordKind
from rp_toolkit.local import RedisServer

END = datetime(2026, 2, 4, 12, 0, tzinfo=timezone.utc)
END_EPOCH = int(END.timestamp())
HOURS, RPS, SEED = 2.0, 3.0, 7
SNAPSHOT_DB = 3
MINUTE = re.compile(r"^\d{8}T\d{4}$")
BACKTRACE_LINE = re.compile(r"^[\w/]+\.rb:\d+:in `\w+'$")
AWKWARD = re.compile(r"[|*\[\]\\ ]|[^\x00-\x7f]")


# --------------------------------------------------------------------------------------------
# Helpers: parse keys by the templates in kinds.py, check values against the value schemas
# --------------------------------------------------------------------------------------------


def parse_key(kind: RecordKind, key: str) -> dict[str, str]:
    """The key's fields, splitting on ``|`` and anchoring both ends around the free field."""
    parts = key.split("|")
    template = kind.parts
    if kind.free_field is None:
        assert len(parts) == len(template), key
        pairs = list(zip(template, parts, strict=True))
    else:
        free = next(i for i, part in enumerate(template) if part.field == kind.free_field)
        after = len(template) - free - 1
        assert len(parts) >= len(template), key
        stop = len(parts) - after
        pairs = (
            list(zip(template[:free], parts[:free], strict=True))
            + [(template[free], "|".join(parts[free:stop]))]
            + list(zip(template[free + 1 :], parts[stop:], strict=True))
        )
    fields = {}
    for part, text in pairs:
        if part.field is None:
            assert text == part.literal, (key, part.literal, text)
        else:
            assert text.startswith(part.literal), (key, part.literal, text)
            fields[part.field] = text[len(part.literal) :]
    assert set(fields) == set(kind.key_fields)
    return fields


def check_key_types(kind: RecordKind, fields: dict[str, str]) -> None:
    for name, text in fields.items():
        key_type = kind.key_types[name]
        assert text, (kind.name, name)
        if key_type in {"int", "epoch"}:
            assert str(int(text)) == text, (name, text)
        elif key_type == "minute":
            assert MINUTE.match(text), (name, text)
        elif key_type == "json_list":
            tasks = json.loads(text)
            assert isinstance(tasks, list) and tasks and all(isinstance(t, str) for t in tasks)
            assert synth.ruby_json(tasks) == text
    if "datetime" in fields and "datetimei" in fields:
        minute = datetime.fromtimestamp(int(fields["datetimei"]), tz=timezone.utc)
        assert minute.strftime("%Y%m%dT%H%M") == fields["datetime"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_field(dtype: pa.DataType, value: Any, where: str) -> None:
    if value is None:
        return
    if pa.types.is_floating(dtype):
        assert _is_number(value), where
    elif pa.types.is_integer(dtype):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif pa.types.is_string(dtype):
        assert isinstance(value, str), where
    elif pa.types.is_list(dtype):
        assert isinstance(value, list), where
        for item in value:
            check_field(dtype.value_type, item, where)
    elif pa.types.is_struct(dtype):
        assert isinstance(value, dict), where
        assert set(value) == {dtype.field(i).name for i in range(dtype.num_fields)}, where
        for i in range(dtype.num_fields):
            check_field(dtype.field(i).type, value[dtype.field(i).name], where)
    else:  # pragma: no cover - a schema type this test does not know yet
        raise AssertionError(f"unchecked type {dtype} at {where}")


OPTIONAL_FIELDS = {"requests": {"exception", "backtrace"}}


def check_value(kind: RecordKind, text: str) -> Any:
    value = json.loads(text)
    if kind is TRACE:
        assert isinstance(value, list) and value
        for step in value:
            if step["group"] == "db":
                assert list(step) == ["group", "duration", "sql", "time"]
                assert _is_number(step["duration"]) and isinstance(step["sql"], str)
            else:
                assert list(step) == ["group", "message", "time"] and step["group"] == "view"
                assert step["message"].startswith("Rendered ")
            assert isinstance(step["time"], int)
        return value
    assert isinstance(value, dict)
    if kind is EVENTS:  # kinds.EVENTS leaves its value to frames.load_events
        assert list(value) == ["name", "datetime", "datetimei", "options"]
        assert isinstance(value["name"], str) and isinstance(value["datetime"], str)
        assert isinstance(value["datetimei"], int) and isinstance(value["options"], dict)
        return value
    names = set(kind.value_schema.names)
    assert set(value) <= names, (kind.name, set(value))
    assert set(value) >= names - OPTIONAL_FIELDS.get(kind.name, set()), (kind.name, set(value))
    for schema_field in kind.value_schema:
        where = f"{kind.name}.{schema_field.name}"
        check_field(schema_field.type, value.get(schema_field.name), where)
    return value


def kind_of(key: str) -> RecordKind:
    for prefix, kind in (
        ("performance|", REQUESTS),
        ("trace|", TRACE),
        ("resource|", RESOURCES),
        ("rails_performance:records:events:", EVENTS),
    ):
        if key.startswith(prefix):
            return kind
    return KINDS[key.split("|", 1)[0]]


def snapshot(client: redis.Redis) -> dict[str, tuple[str, int]]:
    """Every key of the database: ``key -> (value, TTL in seconds, -1 for none)``."""
    keys = sorted({k.decode() for k in client.scan_iter(count=10_000)})
    out: dict[str, tuple[str, int]] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute()
        for i, key in enumerate(chunk):
            out[key] = (replies[2 * i].decode(), replies[2 * i + 1])
    return out


def db_url(url: str, db: int) -> str:
    return url.rsplit("/", 1)[0] + f"/{db}"


# --------------------------------------------------------------------------------------------
# One write of every kind, read back once for the shape tests
# --------------------------------------------------------------------------------------------


class Written:
    def __init__(
        self, summary: synth.SynthSummary, data: dict[str, tuple[str, int]], scanned: dict[str, int]
    ):
        self.summary = summary
        self.data = data
        self.scanned = scanned
        self.by_kind: dict[str, list[tuple[str, str, int]]] = {name: [] for name in KINDS}
        for key, (value, ttl) in data.items():
            self.by_kind[kind_of(key).name].append((key, value, ttl))

    def requests(self) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
        for key, value, _ in self.by_kind["requests"]:
            yield parse_key(REQUESTS, key), json.loads(value)


@pytest.fixture(scope="module")
def written(redis_server: RedisServer) -> Written:
    client = redis.Redis.from_url(db_url(redis_server.url, SNAPSHOT_DB))
    client.flushdb()  # the tests' own server
    summary = synth.write(client, hours=HOURS, rps=RPS, seed=SEED, end=END, progress=False)
    scanned = {
        name: len(set(client.scan_iter(match=kind.pattern(), count=10_000)))
        for name, kind in KINDS.items()
    }
    data = snapshot(client)
    client.close()
    return Written(summary, data, scanned)


def test_every_kind_is_written_and_counted(written: Written) -> None:
    planned = synth.planned_counts(hours=HOURS, rps=RPS, seed=SEED, end=END)
    assert set(written.summary.counts) == set(KINDS)
    for name in KINDS:
        assert written.scanned[name] > 0, name
        assert written.scanned[name] == written.summary.counts[name], name
        if name == "trace":  # an upper bound: requests without SQL or views have no trace
            assert 0.97 * planned[name] < written.scanned[name] <= planned[name]
        else:
            assert written.scanned[name] == planned[name], name
    assert written.summary.total_keys == len(written.data) == sum(written.scanned.values())
    assert written.summary.written == written.summary.total_keys
    assert written.summary.skipped_existing == 0
    assert written.summary.end == END
    assert written.summary.start == END - timedelta(hours=HOURS)
    counts = written.summary.counts
    assert counts["requests"] == round(RPS * HOURS * 3600)
    assert counts["sidekiq"] == round(RPS / 4 * HOURS * 3600)
    assert counts["resources"] == len(synth.DEFAULT_SERVERS) * HOURS * 60
    assert counts["events"] == 1
    assert str(written.summary).startswith(f"{written.summary.total_keys:,} records")
    as_dict = written.summary.as_dict()
    assert json.loads(json.dumps(as_dict))["total_keys"] == written.summary.total


def test_keys_follow_the_templates(written: Written) -> None:
    for name, rows in written.by_kind.items():
        kind = KINDS[name]
        for key, _, _ in rows:
            fields = parse_key(kind, key)
            check_key_types(kind, fields)
            assert kind.format_key(fields) == key
            if "datetimei" in fields:
                assert END_EPOCH - HOURS * 3600 <= int(fields["datetimei"]) < END_EPOCH


def test_values_follow_the_value_schemas(written: Written) -> None:
    for name, rows in written.by_kind.items():
        for _, value, _ in rows:
            check_value(KINDS[name], value)


def test_values_are_json_as_rails_writes_it(written: Written) -> None:
    escaped = 0
    for _, (value, _) in written.data.items():
        assert synth.ruby_json(json.loads(value)) == value  # compact, null, shortest floats
        assert not re.search(r"[<>&]", value)  # ActiveSupport escapes HTML entities
        escaped += "\\u0026" in value or "\\u003e" in value or "\\u003c" in value
    assert escaped > 0
    assert synth.ruby_json({"a": None, "b": [1.5, "é<&>"]}) == (
        '{"a":null,"b":[1.5,"é\\u003c\\u0026\\u003e"]}'
    )


def test_requests_look_like_a_rails_app(written: Written) -> None:
    rows = list(written.requests())
    n = len(rows)
    status = Counter(int(fields["status"]) for fields, _ in rows)
    assert status[200] / n > 0.6
    assert status[302] > 0
    assert 0.008 < status[404] / n < 0.025
    assert 0.002 < status[500] / n < 0.01
    assert {fields["format"] for fields, _ in rows} == {"html", "json"}
    assert {fields["method"] for fields, _ in rows} == {"GET", "POST", "PATCH", "DELETE"}
    for fields, value in rows:
        assert re.fullmatch(r"[0-9a-f]{32}", fields["request_id"])
        assert fields["path"].startswith("/")
        assert value["duration"] > 0
        assert (value["http_referer"] is not None) == (fields["status"] == "404")
        assert ("exception" in value) == ("backtrace" in value) == (fields["status"] == "500")
        if fields["status"] == "500":
            assert isinstance(value["exception"], str) and value["exception"]
            assert 1 <= len(value["backtrace"]) <= 3
            assert all(BACKTRACE_LINE.match(line) for line in value["backtrace"])
        parts = [value["db_runtime"], value["view_runtime"] or 0.0]
        assert sum(parts) <= value["duration"]
    custom = [json.loads(value["custom_data"]) for _, value in rows]
    assert 0.9 < sum(c is None for c in custom) / n < 0.99
    assert all(isinstance(c, dict) for c in custom if c is not None)
    assert any(value["view_runtime"] is None for _, value in rows)
    # ~15 endpoints of different popularity, long tails, and slow ones.
    durations: dict[str, list[float]] = {}
    for fields, value in rows:
        durations.setdefault(f"{fields['controller']}#{fields['action']}", []).append(
            value["duration"]
        )
    assert 12 <= len(durations) <= 20
    sizes = sorted((len(d) for d in durations.values()), reverse=True)
    assert sizes[0] > 5 * sizes[-1]
    p95 = {name: np.percentile(d, 95) for name, d in durations.items()}
    assert 2 <= sum(v > 500 for v in p95.values()) <= 3
    assert all(np.mean(d) > np.median(d) for d in durations.values() if len(d) > 100)


def test_some_paths_hold_pipes_globs_spaces_and_non_ascii(written: Written) -> None:
    paths = [fields["path"] for fields, _ in written.requests()]
    awkward = [p for p in paths if AWKWARD.search(p)]
    assert 0.002 < len(awkward) / len(paths) < 0.01
    for char in ("|", "*", "[", "]", " ", "\\"):
        assert any(char in p for p in awkward), char
    assert any("?" in p.split("?", 1)[1] for p in paths if "?" in p)  # a second "?"
    assert any(not p.isascii() for p in awkward)
    # Such a path shifts every later field of the gem's positional split: anchoring is needed.
    shifted = [
        key for key, _, _ in written.by_kind["requests"] if "|" in parse_key(REQUESTS, key)["path"]
    ]
    assert len(shifted) > 5
    assert all(len(key.split("|")) > len(REQUESTS.parts) for key in shifted)


def test_traces_cover_the_requests_of_the_last_hour(written: Written) -> None:
    requests = {fields["request_id"]: (fields, value) for fields, value in written.requests()}
    recent = {
        rid
        for rid, (fields, _) in requests.items()
        if int(fields["datetimei"]) >= END_EPOCH - TRACE.ttl_seconds
    }
    traced = {}
    for key, value, _ in written.by_kind["trace"]:
        traced[parse_key(TRACE, key)["request_id"]] = json.loads(value)
    assert set(traced) <= recent
    for rid in recent - set(traced):  # the gem saves no empty trace
        _, value = requests[rid]
        assert value["db_runtime"] == 0 and value["view_runtime"] is None
    assert len(recent - set(traced)) < 0.03 * len(recent)
    for rid, steps in traced.items():
        fields, value = requests[rid]
        db = sum(step["duration"] for step in steps if step["group"] == "db")
        assert db == pytest.approx(value["db_runtime"], abs=0.01 * len(steps) + 0.01)
        assert all(step["time"] == int(fields["datetimei"]) for step in steps)
        if value["view_runtime"] is None:
            assert all(step["group"] == "db" for step in steps)


def test_ttls_are_what_the_gem_would_have_left(written: Written) -> None:
    for name, rows in written.by_kind.items():
        kind = KINDS[name]
        for key, _, ttl in rows:
            if kind.ttl_seconds == 0:
                assert ttl == -1, key  # no expiry
                continue
            assert 0 < ttl <= kind.ttl_seconds, (key, ttl)
            fields = parse_key(kind, key)
            # When the gem wrote the record: as the job started (sidekiq), or its datetimei; a
            # trace's time is its request's (checked below).
            written_at = fields.get("start_timei", fields.get("datetimei"))
            if written_at is not None:
                age = END_EPOCH - int(written_at)
                expected = max(synth.MIN_TTL_SECONDS, kind.ttl_seconds - age)
                assert expected - 120 <= ttl <= expected, (key, ttl, expected)
    requests = {fields["request_id"]: int(fields["datetimei"]) for fields, _ in written.requests()}
    for key, _, ttl in written.by_kind["trace"]:
        age = END_EPOCH - requests[parse_key(TRACE, key)["request_id"]]
        expected = max(synth.MIN_TTL_SECONDS, TRACE.ttl_seconds - age)
        assert expected - 120 <= ttl <= expected


def test_sidekiq_times_and_statuses(written: Written) -> None:
    statuses = Counter()
    for key, value, _ in written.by_kind["sidekiq"]:
        fields = parse_key(SIDEKIQ, key)
        statuses[fields["status"]] += 1
        created, enqueued, started = (
            int(fields[f]) for f in ("datetimei", "enqueued_ati", "start_timei")
        )
        assert created <= enqueued <= started
        assert (
            datetime.fromtimestamp(started, tz=timezone.utc).strftime("%Y%m%dT%H%M")
            == fields["datetime"]
        )
        assert re.fullmatch(r"[0-9a-f]{24}", fields["jid"])
        message = json.loads(value)["message"]
        assert (message is not None) == (fields["status"] == "exception")
    assert set(statuses) == {"success", "exception"}
    for name in ("delayed_job", "rake", "custom"):
        found = {parse_key(KINDS[name], key)["status"] for key, _, _ in written.by_kind[name]}
        assert "success" in found and found <= {"success", "error"}


def test_resources_and_deploy_events(written: Written) -> None:
    per_server: Counter[str] = Counter()
    for key, value, _ in written.by_kind["resources"]:
        fields = parse_key(RESOURCES, key)
        per_server[fields["server"]] += 1
        assert int(fields["datetimei"]) % 60 == 0
        expected = (
            ("sidekiq", "worker") if fields["server"].startswith("worker") else ("rails", "web")
        )
        assert (fields["context"], fields["role"]) == expected
        sample = json.loads(value)
        disk = sample["disk"]
        assert disk["total"] == disk["available"] + disk["used"] and disk["used"] > 0
        assert 100 * 1024**2 < sample["memory"] < 4 * 1024**3
        assert all(0 <= load < 20 for load in sample["cpu"].values())
    assert per_server == dict.fromkeys(synth.DEFAULT_SERVERS, HOURS * 60)
    ((key, value, ttl),) = written.by_kind["events"]
    event = json.loads(value)
    epoch = int(parse_key(EVENTS, key)["datetimei"])
    assert event["name"] == "deploy" and event["datetimei"] == epoch
    assert datetime.fromisoformat(event["datetime"]) == datetime.fromtimestamp(epoch, timezone.utc)
    assert event["options"]["label"]["text"].startswith("Deploy ")


# --------------------------------------------------------------------------------------------
# Determinism, safety, the lower-level API
# --------------------------------------------------------------------------------------------

SMALL = {"hours": 0.5, "rps": 2.0, "end": END}


def test_same_seed_same_bytes_other_seed_other_bytes(redis_url: str) -> None:
    first = redis.Redis.from_url(db_url(redis_url, 1))
    second = redis.Redis.from_url(db_url(redis_url, 2))
    third = redis.Redis.from_url(db_url(redis_url, 4))
    synth.write(db_url(redis_url, 1), seed=3, progress=False, **SMALL)
    synth.write(second, seed=3, progress=False, **SMALL)
    synth.write(third, seed=4, progress=False, **SMALL)
    a, b, c = snapshot(first), snapshot(second), snapshot(third)
    assert len(a) > 1000
    assert {k: v for k, (v, _) in a.items()} == {k: v for k, (v, _) in b.items()}
    assert {k: v for k, (v, _) in a.items()} != {k: v for k, (v, _) in c.items()}
    assert all(key.startswith("resource|") for key in set(a) & set(c))  # keys without ids
    generated = {
        k: v for batch in synth.generate(seed=3, **SMALL) for k, v in zip(*batch, strict=True)
    }
    assert generated == {k: v for k, (v, _) in a.items()}
    for client in (first, second, third):
        client.close()


def test_kinds_are_independent_streams() -> None:
    def records(kinds: tuple[str, ...]) -> dict[str, str]:
        return {
            k: v
            for batch in synth.generate(seed=5, kinds=kinds, **SMALL)
            for k, v in zip(*batch, strict=True)
        }

    everything = records(synth.ALL_KINDS)
    for name in ("trace", "sidekiq", "resources", "events"):
        only = records((name,))
        assert only and all(kind_of(key).name == name for key in only)
        assert only.items() <= everything.items()


def test_existing_keys_are_never_touched(client: redis.Redis) -> None:
    client.set("unrelated:key", "keep me")
    client.set("unrelated:expiring", "keep me too", ex=5000)
    client.set("performance|controller|X|not|a|real|record", "odd")
    first_batch = next(synth.generate(seed=2, **SMALL))
    taken = first_batch.keys[3]
    client.set(taken, "sentinel")
    before = client.dbsize()

    summary = synth.write(client, seed=2, progress=False, **SMALL)

    assert client.get("unrelated:key") == b"keep me" and client.ttl("unrelated:key") == -1
    assert client.get("unrelated:expiring") == b"keep me too"
    assert 4990 < client.ttl("unrelated:expiring") <= 5000
    assert client.get("performance|controller|X|not|a|real|record") == b"odd"
    assert client.get(taken) == b"sentinel" and client.ttl(taken) == -1
    assert summary.skipped_existing == 1
    assert client.dbsize() == before + summary.written == before - 1 + summary.total_keys


def test_awkward_paths_are_found_by_escaped_patterns(client: redis.Redis) -> None:
    synth.write(client, kinds=["requests"], hours=1, rps=3, seed=11, end=END, progress=False)
    keys = [k.decode() for k in client.scan_iter(match=REQUESTS.pattern(), count=10_000)]
    parsed = [parse_key(REQUESTS, key) for key in keys]
    awkward = [fields for fields in parsed if AWKWARD.search(fields["path"])]
    assert len(awkward) > 20
    assert any("|" in f["path"] for f in awkward) and any("\\" in f["path"] for f in awkward)
    for fields in awkward[:25]:
        pattern = REQUESTS.pattern({"path": fields["path"], "request_id": fields["request_id"]})
        found = [k.decode() for k in client.scan_iter(match=pattern, count=10_000)]
        assert [parse_key(REQUESTS, k)["request_id"] for k in found] == [fields["request_id"]]


def test_request_records_gives_exact_sizes() -> None:
    for n in (0, 1, 100, 12_345):
        batch = synth.request_records(n, seed=9, end=END, hours=1)
        keys, values = batch
        assert len(keys) == len(values) == len(batch.ttls) == n
        assert len(set(keys)) == n
    # The same records write() sends for requests, given the same seed, end and span.
    n = round(SMALL["rps"] * SMALL["hours"] * 3600)
    batch = synth.request_records(n, seed=4, end=END, hours=SMALL["hours"])
    written = list(synth.generate(seed=4, kinds=["requests"], **SMALL))
    assert batch.keys == [k for b in written for k in b.keys]
    assert batch.values == [v for b in written for v in b.values]
    slices = list(synth.iter_request_records(50_000, seed=4, end=END, hours=2))
    assert len(slices) == 3 and all(len(s.keys) <= synth.CHUNK_RECORDS for s in slices)
    assert [k for s in slices for k in s.keys] == synth.request_records(
        50_000, seed=4, end=END, hours=2
    ).keys
    with pytest.raises(InvalidArgumentError):
        synth.request_records(-1)


def test_write_records(client: redis.Redis, redis_url: str) -> None:
    keys = [f"k{i}" for i in range(25)]
    values = [f"v{i}" for i in range(25)]
    ttls = [None if i % 5 == 0 else 100 + i for i in range(25)]
    assert synth.write_records(client, keys, values, ttls, batch_size=7) == 25
    assert client.ttl("k0") == -1 and 100 < client.ttl("k1") <= 101
    assert synth.write_records(redis_url, ["k1", "new"], ["changed", "x"], 50) == 1
    assert client.get("k1") == b"v1" and client.get("new") == b"x"
    assert synth.write_records(client, ["k1"], [b"changed"], overwrite=True) == 1
    assert client.get("k1") == b"changed" and client.ttl("k1") == -1
    seen = []
    synth.write_records(client, keys, values, batch_size=10, on_progress=seen.append)
    assert seen == [10, 10, 5]
    with pytest.raises(InvalidArgumentError):
        synth.write_records(client, ["a"], [])
    with pytest.raises(InvalidArgumentError):
        synth.write_records(client, ["a"], ["b"], [1, 2])


def test_end_is_floored_and_progress_bar_runs(client: redis.Redis) -> None:
    naive = datetime(2026, 2, 4, 11, 59, 42)  # naive: UTC
    summary = synth.write(
        client, kinds=("custom", "events"), hours=0.25, end=naive, seed=1, progress=True
    )
    assert summary.end == datetime(2026, 2, 4, 11, 59, tzinfo=timezone.utc)
    assert summary.counts == {"custom": 60, "events": 1}
    epochs = [
        int(parse_key(KINDS["custom"], k.decode())["datetimei"])
        for k in client.scan_iter(match="custom|*")
    ]
    end = int(summary.end.timestamp())
    assert all(end - 900 <= e < end for e in epochs)
    assert len(set(epochs)) == len(epochs)  # id-less keys: distinct seconds, no collisions


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"hours": 0}, InvalidArgumentError),
        ({"hours": -1}, InvalidArgumentError),
        ({"rps": -1}, InvalidArgumentError),
        ({"seed": -3}, InvalidArgumentError),
        ({"kinds": ["requests", "nope"]}, ValueError),
        ({"end": "yesterday"}, TypeError),
    ],
)
def test_bad_arguments(redis_url: str, kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        synth.write(redis_url, progress=False, **kwargs)
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_a_client_is_required() -> None:
    with pytest.raises(InvalidArgumentError, match="needs a client"):
        synth.write(None)  # type: ignore[arg-type]


def test_the_regression_ships_with_the_first_deploy(written: Written) -> None:
    """The demo has something for deploy impact to find: one endpoint slower from the first
    deploy on, the others as before (a report that finds nothing would show nothing)."""
    ((key, _, _),) = written.by_kind["events"]
    deploy = int(parse_key(EVENTS, key)["datetimei"])
    controller, action, factor = synth.REGRESSION
    medians: dict[tuple[bool, bool], list[float]] = {}
    for fields, value in written.requests():
        at = datetime.strptime(fields["datetime"], "%Y%m%dT%H%M").replace(tzinfo=timezone.utc)
        if abs(at.timestamp() - deploy) > 3600 or fields["status"] != "200":
            continue
        regressed = (fields["controller"], fields["action"]) == (controller, action)
        medians.setdefault((regressed, at.timestamp() >= deploy + 60), []).append(value["duration"])
    ratio = {
        regressed: np.median(medians[(regressed, True)]) / np.median(medians[(regressed, False)])
        for regressed in (True, False)
    }
    assert ratio[True] == pytest.approx(factor, rel=0.25)
    assert ratio[False] == pytest.approx(1.0, rel=0.15)
