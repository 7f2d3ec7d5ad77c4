"""Typed fetch statistics: :meth:`FetchStats.absorb` folds a stage's figures into a total
without touching the stage's, and ``extra`` is the same plain-dict view it always was."""

from __future__ import annotations

import copy
import json

import pytest

import rp_toolkit as rp
from rp_toolkit import store
from rp_toolkit.exceptions import InvalidArgumentError, RenamedParameterWarning
from rp_toolkit.store import (
    FetchStats,
    NodeFigures,
    Restart,
    ScanCounts,
    ServerIdentity,
    SnapshotFacts,
)


def a_stage(name: str, calls: int, count: int) -> FetchStats:
    stage = FetchStats("SCAN", "p|*", name, scan_calls=calls, keys_found=calls * 2, retries=1)
    stage.slowest_call_seconds = calls / 10
    stage.scan_counts = ScanCounts(adaptive=False, budget_ms=None, start=count, loops=1)
    for _ in range(calls):
        stage.scan_counts.record(count, over_budget=False)
    facts = stage.server_facts(name)
    facts.identity, facts.software = ServerIdentity(run_id=f"id-{name}"), "redis 7.0.15"
    before, after = ServerIdentity(run_id="a"), ServerIdentity(run_id="b")
    stage.restart_events.append(Restart(name, "SCAN", before, after, "recorded"))
    stage.restarts = 1
    return stage


def test_absorb_sums_counts_keeps_the_longest_and_gathers_facts() -> None:
    one, two = a_stage("n1", 3, 10), a_stage("n2", 5, 40)
    kept = copy.deepcopy((one, two))
    total = FetchStats("SCAN", "p|*", "cluster")
    total.absorb(one)
    total.absorb(two)
    assert (one, two) == kept  # nothing taken from the stages
    assert (total.scan_calls, total.keys_found, total.retries, total.restarts) == (8, 16, 2, 2)
    assert total.slowest_call_seconds == 0.5
    counts = total.scan_counts
    assert counts is not None and counts is not one.scan_counts
    assert (counts.calls, counts.loops, counts.min, counts.max) == (8, 2, 10, 40)
    assert counts.mean == (3 * 10 + 5 * 40) / 8 and counts.start == 10
    assert set(total.servers) == {"n1", "n2"}
    assert [event.server for event in total.restart_events] == ["n1", "n2"]


def test_extra_is_the_old_plain_dict_view() -> None:
    total = FetchStats("SCAN", "p|*", "cluster")
    total.absorb(a_stage("n1", 2, 10))
    total.nodes["n1"] = NodeFigures(mget_calls=3, values_read=30, keys_found=4)
    extra = total.extra
    assert set(extra) == {"servers", "software", "restarts", "counts", "nodes"}
    assert extra["servers"]["n1"]["run_id"] == "id-n1"
    assert extra["software"] == {"n1": "redis 7.0.15"}
    assert extra["restarts"][0]["before"]["run_id"] == "a"
    assert extra["counts"]["calls"] == 2 and extra["counts"]["budget_ms"] is None
    assert extra["nodes"]["n1"] == {
        "mget_calls": 3,
        "values_read": 30,
        "values_seconds": 0.0,
        "slots": 0,
        "keys_found": 4,
    }
    json.dumps(total.as_dict())  # plain values throughout
    assert total.as_dict()["extra"] == extra
    assert "servers" not in total.as_dict()  # the typed fields show through extra only
    total.extra["counts"] = None  # a copy: changing it changes nothing
    assert total.extra["counts"]["calls"] == 2
    total.snapshot = SnapshotFacts({"path": "dump.rdb"}, {"keys_found": 1})
    assert total.extra["snapshot"] == {"path": "dump.rdb", "keys_found": 1}


def test_the_fetchers_still_take_client_with_a_warning(tmp_path) -> None:
    """``client=`` was renamed ``source=``: the old name works, and says so."""
    with pytest.warns(RenamedParameterWarning, match="source"), pytest.raises(rp.SettingsError):
        store.fetch_keys("p|*", client="nope://x")
    with pytest.raises(InvalidArgumentError):
        store.fetch_keys("p|*", client="a", source="b")


def test_a_source_of_parsed_records_need_not_give_raw_ones() -> None:
    """A subclass of Source that holds parsed records (the archive) defines only what it is;
    asking it for raw records is a clear argument error, and open_source hands it on."""

    class Parsed(store.Source):
        def describe(self) -> str:
            return "parsed records"

        def now(self):  # type: ignore[no-untyped-def]
            return None

        def place_name(self) -> str:
            return "parsed"

    parsed = Parsed()
    assert store.open_source(parsed) is parsed
    assert parsed.options == rp.config.current_options() and parsed.snapshot_identity() is None
    with pytest.raises(InvalidArgumentError, match="parsed records"):
        parsed.batches("p|*", FetchStats("x", "p|*", "y"))
