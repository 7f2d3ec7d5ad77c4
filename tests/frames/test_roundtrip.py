"""Synthetic writer -> real Redis -> rp.load: the same records come back, for every kind,
and the reports on loaded frames equal the gem's formulas applied to the raw values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import reports, synth
from rp_toolkit.kinds import KINDS, TABULAR_KINDS

END = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
HOURS, RPS, SEED = 1.0, 2.0, 11


@pytest.fixture(scope="module")
def seeded(redis_server) -> str:
    """One synthetic hour in db 5 of the session's server (its own db: other tests flush 0)."""
    url = redis_server.url.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    synth.write(url, hours=HOURS, rps=RPS, seed=SEED, end=END, progress=False)
    return url


def generated(kind: str) -> dict[str, dict]:
    """What the writer wrote for ``kind``: key -> decoded value."""
    out = {}
    for batch in synth.generate(hours=HOURS, rps=RPS, seed=SEED, kinds=[kind], end=END):
        for key, value in zip(batch.keys, batch.values, strict=True):
            out[key] = json.loads(value)
    return out


@pytest.mark.parametrize("kind", TABULAR_KINDS)
@pytest.mark.parametrize("use_scan", [False, True])
def test_every_kind_round_trips(seeded: str, kind: str, use_scan: bool) -> None:
    expected = generated(kind)
    with rp.setup(use_scan=use_scan):
        df = rp.load(kind, seeded, start=END - timedelta(hours=24), end=END)
    info = df.attrs["rp"]
    assert info.problems.empty
    assert len(df) == len(expected) > 0
    template = KINDS[kind]
    # Rebuild every key from the frame's columns: all key fields survived, typed.
    rebuilt = []
    for row in df.to_dict("records"):
        fields = {name: row[name] for name in template.key_fields if name != "datetime"}
        fields["datetime"] = row["minute"].strftime("%Y%m%dT%H%M")
        if kind == "rake":
            fields["task"] = synth.ruby_json(row["task"].split(", "))
        rebuilt.append(template.format_key(fields))
    assert sorted(rebuilt) == sorted(expected)
    by_key = dict(zip(rebuilt, df.to_dict("records"), strict=True))
    for key, value in expected.items():
        row = by_key[key]
        for name, wanted in value.items():
            if isinstance(wanted, dict):  # resources: cpu / disk, flattened
                for child, number in wanted.items():
                    assert row[f"{name}_{child}"] == pytest.approx(number)
            elif name == "custom_data":
                assert row[name] == (None if wanted == "null" else json.loads(wanted))
            elif name == "backtrace":
                assert row[name] == wanted
            elif wanted is None:
                assert pd.isna(row[name]), (key, name)
            else:
                assert (
                    row[name] == pytest.approx(wanted)
                    if isinstance(wanted, float)
                    else (row[name] == wanted)
                ), (key, name)


def test_traces_and_events_round_trip(seeded: str) -> None:
    traces = generated("trace")
    some_key = sorted(traces)[0]
    request_id = some_key.split("|")[1]
    steps = rp.load_trace(request_id, seeded)
    assert steps["group"].tolist() == [s["group"] for s in traces[some_key]]
    events = generated("events")
    loaded = rp.load_events(seeded)
    assert sorted(loaded["name"]) == sorted(v["name"] for v in events.values())


def test_reports_on_loaded_frame_match_the_gem_formulas(seeded: str) -> None:
    df = rp.load("requests", seeded, start=END - timedelta(hours=HOURS), end=END)
    values = generated("requests")
    table = reports.requests(df)
    assert table["count"].sum() == len(values)
    top = table.iloc[0]
    durations = [
        v["duration"]
        for k, v in values.items()
        if f"|controller|{top['controller']}|action|{top['action']}|format|{top['format']}|" in k
    ]
    assert top["count"] == len(durations)
    for p in (50, 95, 99):
        assert top[f"duration_p{p}"] == pytest.approx(np.percentile(durations, p), abs=1e-9)
    cards = reports.percentiles(df)
    every = [v["duration"] for v in values.values()]
    assert cards["p99"] == pytest.approx(np.percentile(every, 99), abs=1e-9)
    series = reports.throughput(df, now=END, duration=pd.Timedelta(hours=HOURS))
    # the gem's window starts at now + 1 min - duration: the first minute falls out
    first = pd.Timestamp(END) + pd.Timedelta(minutes=1) - pd.Timedelta(hours=HOURS)
    assert series.index[0] == first
    assert series["count"].sum() == int((df["minute"] >= first).sum())
    assert series["count"].iloc[-2:].tolist() == [0, 0]  # END and END + 1 min: no records
    crashes = reports.crashes(df)
    assert len(crashes) == sum("|status|500|" in k for k in values)
