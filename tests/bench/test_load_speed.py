"""``rp-toolkit load-speed``: every method reads every record, the child's peak memory is its
own, and the probe and SLOWLOG figures are there for both settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import rp_toolkit as rp
from rp_toolkit.bench import speed


@pytest.mark.slow
def test_load_speed_smoke() -> None:
    frame = speed.load_speed(3000, repeats=1, progress=False)
    assert set(frame["method"]) == {
        "naive_transfer",
        "rp_load",
        "rp_iter_load",
        "gem_read_path_python_emulation",
    }
    assert (frame["found"] == 3000).all()
    summary = speed.load_speed_summary(frame)
    assert summary["all_found"] and summary["records"] == 3000
    assert 50 < summary["iter_load_peak_rss_mib"] < 1024
    for name in ("auto", "low_impact"):
        assert summary[f"{name}_probe_max_ms"] > 0
        assert f"{name}: no command over 2 ms in SLOWLOG" in summary["targets"]
    assert frame.attrs["environment"]["gem_path"].startswith(("ruby", "python emulation"))


def test_a_childs_peak_memory_is_its_own(redis_url: str) -> None:
    """Fails with ``ru_maxrss``, which Linux keeps across exec: a child forked from a process
    holding 1 GiB reported 1 GiB (how a load was once measured at 1.77 GiB)."""
    ballast = bytearray(1 << 30)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    with rp.setup(use_scan=True):
        peak = speed.peak_rss(redis_url, datetime(2026, 11, 28, tzinfo=timezone.utc), batches=True)
    assert 20 * 2**20 < peak < 600 * 2**20
    del ballast
