"""rp-toolkit archive, and report/export reading an archive (--archive DIR), end to end."""

from __future__ import annotations

import json
import re

import pandas as pd
import redis

import rp_toolkit as rp
from rp_toolkit import reports
from tests.support import run_cli


def _archive(url: str, out) -> dict:
    run = run_cli("archive", "--redis-url", url, "--out", str(out), "--no-progress")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_archive_then_report_and_export_from_it(redis_url: str, tmp_path) -> None:
    rp.synth.write(redis_url, hours=1, rps=2, seed=5, progress=False)
    keys = redis.Redis.from_url(redis_url).dbsize()
    first = _archive(redis_url, tmp_path / "archive")
    assert first["added"] == sum(kind["read"] for kind in first["kinds"].values()) == keys
    again = _archive(redis_url, tmp_path / "archive")
    assert (again["added"], again["already_archived"]) == (0, first["added"])

    # export --archive: the report rp.load gives from the server, from the files.
    out = tmp_path / "requests.csv"
    exported = run_cli(
        "export", "requests", "--archive", str(tmp_path / "archive"), "--report", "requests",
        "--start", "2000-01-01", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    live = reports.requests(rp.load("requests", redis_url, start="2000-01-01"))
    pd.testing.assert_frame_equal(
        pd.read_csv(out), live.reset_index(drop=True), check_dtype=False, check_categorical=False
    )

    # export --archive without a report: the records, batch by batch, as rp.load gives them.
    frame_out = tmp_path / "requests.parquet"
    exported = run_cli(
        "export", "requests", "--archive", str(tmp_path / "archive"), "--start", "2000-01-01",
        "--out", str(frame_out), "--no-progress",
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    records = pd.read_parquet(frame_out)
    assert sorted(records["request_id"]) == sorted(
        rp.load("requests", redis_url, start="2000-01-01")["request_id"]
    )

    # report --archive: the history section appears, its daily counts are the archive's.
    report = run_cli(
        "report", "--archive", str(tmp_path / "archive"), "-p", "days", "30",
        "--out", str(tmp_path / "reports"), "--no-progress",
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "reports" / "request_performance.html").read_text()
    assert "History: days and weeks" in html
    # A page people read: its title, no prompt, no Python repr, no script from the network.
    assert "<title>Request performance (rp_toolkit)</title>" in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "https://cdn" not in html
    visible = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    assert "Out[" not in visible and "In&nbsp;[" not in visible
    assert "&#x27;No problems.&#x27;" not in visible and "'No problems.'" not in visible
    assert "adds this section" not in html
    per_day = pd.read_csv(tmp_path / "reports" / "request_performance" / "requests_per_day.csv")
    assert per_day["count"].sum() == first["kinds"]["requests"]["added"]
    written = re.search(r"<strong>([\d,]+) requests</strong> (?:on|over)", html)
    assert written and int(written.group(1).replace(",", "")) == per_day["count"].sum()


def test_archive_flags_that_do_not_go_together(redis_url: str, tmp_path) -> None:
    both = run_cli(
        "export", "requests", "--archive", str(tmp_path), "--redis-url", redis_url,
        "--out", str(tmp_path / "x.csv"),
    )  # fmt: skip
    assert both.returncode != 0 and "--archive DIR" in both.stderr
    app = run_cli("export", "requests", "--app", "shop", "--out", str(tmp_path / "x.csv"))
    assert app.returncode != 0 and "--app" in app.stderr
    missing = run_cli("report", "--archive", str(tmp_path / "nothing"), "--out", str(tmp_path))
    assert missing.returncode != 0 and "No archive" in missing.stderr
    bad_app = run_cli("archive", "--redis-url", redis_url, "--out", str(tmp_path / "a"),
                      "--app", "no/slashes")  # fmt: skip
    assert bad_app.returncode != 0 and "cannot name an archive partition" in bad_app.stderr
    assert not (tmp_path / "a").exists()
