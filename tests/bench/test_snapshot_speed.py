"""``rp-toolkit snapshot-speed``: loads from a snapshot of the server it fills, against that
server, and finds every record both ways; its temporary file is gone afterwards."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from rp_toolkit.bench import snapshot_speed, snapshot_speed_summary
from rp_toolkit.exceptions import BenchmarkError


def test_snapshot_speed_measures_both_paths_on_the_same_records() -> None:
    before = set(Path(tempfile.gettempdir()).glob("rp-snapshot-bench-*"))
    try:
        frame = snapshot_speed(3000, repeats=2, gem_path=True, progress=False)
    except BenchmarkError as error:  # no Redis binary (only Valkey): said, not hidden
        pytest.skip(str(error))
    methods = set(frame["method"])
    assert {"rp_load_snapshot", "rp_load_live"} < methods
    assert len([m for m in methods if m.startswith("gem_read_path_")]) == 1
    assert (frame["found"] == 3000).all() and len(frame) == 2 * frame["method"].nunique()
    summary = snapshot_speed_summary(frame)
    assert summary["all_found"] and summary["records"] == 3000
    assert summary["snapshot"]["describe"].startswith("snapshot dump.rdb (Redis ")
    assert summary["rp_load_snapshot_s"] > 0 and summary["snapshot_peak_rss_gib"] > 0
    assert set(summary["targets"]) == {
        "snapshot load >= 25x the gem's read path",
        "snapshot load peak memory <= the live load's",
    }
    assert set(Path(tempfile.gettempdir()).glob("rp-snapshot-bench-*")) == before
