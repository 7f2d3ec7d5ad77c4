"""Shared by the archive's tests: the records to archive (synthetic, odd and hostile), RDB
snapshots of them, and frame comparisons that ignore row order only."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from rp_toolkit import synth
from rp_toolkit.bench import redis_family_binary
from rp_toolkit.exceptions import BenchmarkError
from rp_toolkit.kinds import KINDS, TABULAR_KINDS
from tests.entry.test_hostile_records import hostile_records

KEYS: dict[str, list[str]] = {
    "requests": ["datetime", "controller", "action", "format", "status", "method", "path",
                 "request_id"],
    "sidekiq": ["datetime", "queue", "worker", "jid", "status"],
    "delayed_job": ["datetime", "jid", "source_type", "class_name", "method_name", "status"],
    "grape": ["datetime", "format", "path", "status", "method", "request_id"],
    "rake": ["datetime", "task", "status"],
    "custom": ["datetime", "tag_name", "namespace_name", "status"],
    "resources": ["server", "context", "role", "datetime"],
}  # fmt: skip
"""The columns that identify a record of each kind (its key's fields)."""

assert set(KEYS) == set(TABULAR_KINDS), "a new kind: say which columns identify its records"


def redis_binary() -> str:
    """A Redis (not Valkey) binary, for snapshots the RDB reader reads; or skip."""
    try:
        return redis_family_binary()
    except BenchmarkError as error:
        pytest.skip(str(error))


def save_snapshot(client: redis.Redis, target: Path) -> Path:
    """SAVE on the server and copy its RDB file to ``target``."""
    client.save()
    written = Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(written, target)
    return target


def sortable(value: Any) -> str:
    return (
        json.dumps(value, sort_keys=True, default=str)
        if isinstance(value, (dict, list))
        else str(value)
    )


def canonical(frame: pd.DataFrame, key: Iterable[str]) -> pd.DataFrame:
    """``frame`` sorted by the columns that identify a record (then every column as text)."""
    key = list(key)
    rest = [c for c in frame.columns if c not in key]
    text = pd.DataFrame({c: frame[c].map(sortable) for c in [*key, *rest]}, index=frame.index)
    order = text.sort_values([*key, *rest]).index
    return frame.loc[order].reset_index(drop=True)


def assert_same(live: pd.DataFrame, archived: pd.DataFrame, kind: str) -> None:
    """Same columns, dtypes, categories and rows (row order aside)."""
    assert list(archived.columns) == list(live.columns)
    assert dict(archived.dtypes.astype(str)) == dict(live.dtypes.astype(str))
    a, b = canonical(live, KEYS[kind]), canonical(archived, KEYS[kind])
    for column in live.columns:
        if str(live[column].dtype) == "category":
            assert list(a[column].cat.categories) == list(b[column].cat.categories), column
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def minute(at: datetime) -> dict[str, Any]:
    return {"datetime": f"{at:%Y%m%dT%H%M}", "datetimei": int(at.timestamp())}


def odd_records(at: datetime) -> dict[str, str | bytes]:
    """Gem-format keys and values the loaders must keep as they are: ``|``, glob characters and
    unicode in free fields, a byte that is not UTF-8, custom_data that is not JSON (kept as
    text), missing and null values, NaN durations, backtraces, a malformed key."""
    out: dict[str, str | bytes] = {}

    def request(n: int, value: Any, **fields: Any) -> None:
        base = {"controller": "Ödd::HomeController", "action": "índex", "format": "html",
                "status": 200, **minute(at - timedelta(minutes=n)), "method": "GET",
                "path": f"/a|b*[c]?/ü/{n}", "request_id": f"odd-{n}"}  # fmt: skip
        out[KINDS["requests"].format_key({**base, **fields})] = (
            value if isinstance(value, str) else json.dumps(value)
        )

    request(1, {"duration": 5.5, "custom_data": "{not json"})
    request(2, {"duration": None, "custom_data": json.dumps({"user": "ü", "n": [1, 2]})})
    request(3, {})
    request(4, "null")
    request(5, "not json at all")
    request(6, {"duration": "fast", "view_runtime": 1.0})
    request(7, {"duration": 9.0, "exception": "Boom|x", "backtrace": ["a.rb:1", "b|c.rb:2", "ü"]})
    request(8, {"duration": 1.0}, format="", status=500)
    request(9, {"duration": 2.0}, path="/x?q=1|2|3|4")
    out[f"performance|controller|Broken|datetime|{minute(at)['datetime']}|END|1.0.2"] = "{}"
    bad = KINDS["requests"].format_key(
        {
            "controller": "Bin",
            "action": "a",
            "format": "html",
            "status": 200,
            **minute(at),
            "method": "GET",
            "path": "/x",
            "request_id": "bin",
        }
    )
    out[bad.encode().replace(b"/x", b"/\xff")] = b'{"duration": 3}'  # type: ignore[index]
    for n in range(3):
        when = at - timedelta(minutes=n)
        epoch = minute(when)["datetimei"]
        out[KINDS["sidekiq"].format_key(
            {"queue": "q|1", "worker": "Wörker", "jid": f"j{n}", **minute(when),
             "enqueued_ati": epoch, "start_timei": epoch, "status": "success"}
        )] = json.dumps({"duration": None if n == 0 else 3.0, "message": "m|ü"})  # fmt: skip
        out[KINDS["custom"].format_key(
            {"tag_name": "t|ü", "namespace_name": "n", **minute(when), "status": "ok"}
        )] = "{}" if n == 0 else json.dumps({"duration": 1.5})  # fmt: skip
        out[KINDS["resources"].format_key(
            {"server": f"web|{n}", "context": "rails", "role": "web", **minute(when)}
        )] = json.dumps({"cpu": {"one_min": 0.5}, "memory": None})  # fmt: skip
    return out


def write_odd(client: redis.Redis, at: datetime) -> None:
    """The odd records and the hostile ones of every kind (issue 19) at ``at``."""
    records: dict[Any, Any] = dict(odd_records(at))
    for keys, values in hostile_records().values():
        records.update(zip(keys, values, strict=True))
    pipe = client.pipeline(transaction=False)
    for key, value in records.items():
        pipe.set(
            *(
                t.encode("utf-8", "surrogateescape") if isinstance(t, str) else t
                for t in (key, value)
            )
        )
    pipe.execute()


def now_minute() -> datetime:
    return datetime.now(timezone.utc).replace(second=0, microsecond=0)


def write_synth(url: str, *, hours: float = 2, rps: float = 0.5, seed: int = 3, end: Any = None):
    return synth.write(url, hours=hours, rps=rps, seed=seed, end=end, progress=False)
