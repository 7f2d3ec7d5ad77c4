"""``rp-toolkit load-speed``: every method reads every record, the child's peak memory is its
own, and the probe and SLOWLOG figures are there for both settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import rp_toolkit as rp
from rp_toolkit.bench import _speed as speed
from rp_toolkit.kinds import REQUESTS


@pytest.mark.slow
def test_load_speed_smoke() -> None:
    frame = rp.bench.load_speed(3000, repeats=1, progress=False)
    gem = "gem_read_path_ruby" if speed.ruby_with_redis() else "gem_read_path_python_emulation"
    assert set(frame["method"]) == {"naive_transfer", "rp_load", "rp_iter_load", gem}
    assert (frame["found"] == 3000).all()
    summary = rp.bench.load_speed_summary(frame)
    assert summary["all_found"] and summary["records"] == 3000
    assert 50 < summary["iter_load_peak_rss_mib"] < 1024
    for name in ("auto", "low_impact"):
        assert summary[f"{name}_probe_max_ms"] > 0
        assert f"{name}: no command over 2 ms in SLOWLOG" in summary["targets"]
    assert frame.attrs["environment"]["gem_path"].startswith(("ruby", "python emulation"))


@pytest.mark.skipif(speed.ruby_with_redis() is None, reason="no ruby with the redis gem")
def test_the_gems_ruby_read_path_reads_what_its_emulation_reads(client, redis_url: str) -> None:
    """The gem's read path in Ruby (as Debian's ruby and ruby-redis run it) parses every
    record the Python emulation parses, also keys whose path holds ``|``."""
    rp.synth.write(redis_url, hours=1, rps=1, seed=3, progress=False)
    client.set(
        "performance|controller|A|action|b|format|html|status|200|datetime|20261127T1000|"
        "datetimei|1795780800|method|GET|path|/q?a=1|2|request_id|abc|END|1.0.2",
        '{"duration":1.5,"view_runtime":null,"db_runtime":0}',
    )
    pattern = REQUESTS.pattern({})
    expected = speed.gem_read_path(client, pattern)
    assert expected == 3601
    assert speed.ruby_gem_read_path(speed.ruby_with_redis(), redis_url, pattern) == expected


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


def test_scan_cost_measures_the_gems_pattern_and_the_one_sent(client, redis_url: str) -> None:
    """Both walks are measured from the server's own counters, and the one sent is the
    pattern's head (what ``rp.load`` sends)."""
    rp.synth.write(redis_url, hours=1, rps=1, seed=3, progress=False)
    pattern = REQUESTS.pattern(day=datetime.now(timezone.utc).date())
    result = speed.scan_cost(client, pattern, count=100)
    assert result["scan_gem_pattern"] == pattern
    assert result["scan_sent_pattern"] == "performance|*"
    for which in ("gem", "sent"):
        assert result[f"scan_{which}_usec_per_call"] > 0
        assert result[f"scan_{which}_slowlog_max_us"] > 0  # every call logged
    assert result["scan_sent_over_gem"] > 0
    assert client.config_get("slowlog-log-slower-than") != {"slowlog-log-slower-than": "0"}
