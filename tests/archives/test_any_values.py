"""Request records whose values and free key fields are of any shape are archived as the live
load reads them: the archive's frame equals the live one, problems included in the rows kept
(values that are not JSON, fields of the wrong type, custom_data of any kind, odd paths)."""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rp_toolkit as rp
from rp_toolkit.kinds import REQUESTS
from rp_toolkit.local import RedisServer

from .conftest import assert_same, minute, now_minute

pytestmark = pytest.mark.filterwarnings("ignore::rp_toolkit.KeysDeprecationWarning")

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False), TEXT
)
JSONISH = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
FIELDS = ("duration", "view_runtime", "db_runtime", "http_referer", "custom_data",
          "exception", "backtrace")  # fmt: skip
DOCUMENT = st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=len(FIELDS))
VALUE = st.one_of(
    DOCUMENT.map(json.dumps),
    st.fixed_dictionaries(
        {"duration": st.floats(0, 1e6), "custom_data": JSONISH.map(json.dumps)}
    ).map(json.dumps),
    TEXT,
)
RECORD = st.tuples(TEXT, st.sampled_from(["GET", "POST", ""]), st.integers(100, 599), VALUE)

SERIAL = itertools.count()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORD, min_size=1, max_size=6))
def test_values_of_any_shape_are_archived_as_they_load(url: str, records: list[Any]) -> None:
    at = now_minute() - timedelta(minutes=5)
    with redis.Redis.from_url(url) as client:
        for path, method, status, value in records:
            fields = {"controller": "AnyController", "action": "show", "format": "json",
                      "status": status, **minute(at), "method": method, "path": "/" + path,
                      "request_id": f"any-{next(SERIAL)}"}  # fmt: skip
            client.set(REQUESTS.format_key(fields).encode(), value.encode())
    window = {"start": pd.Timestamp(at) - pd.Timedelta(hours=1), "end": pd.Timestamp.now("UTC")}
    with tempfile.TemporaryDirectory() as folder:
        rp.archive(url, Path(folder) / "a", kinds=["requests"])
        archived = rp.open_archive(Path(folder) / "a").load("requests", **window)
    live = rp.load("requests", url, **window)
    assert len(live) > 0
    assert_same(live, archived, "requests")
