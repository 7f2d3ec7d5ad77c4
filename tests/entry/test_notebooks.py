"""Notebooks and the CLI, end to end: papermill runs on a real Redis, tables equal the API's."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import redis

import rp_toolkit as rp
from rp_toolkit import reports, synth
from rp_toolkit.bench import findings
from rp_toolkit.local import RedisServer
from tests.support import ROOT, run_cli

END = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
PASSWORD = "n0t-in-any-output-7f3a"


cli = run_cli


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs_and_a_parameters_cell(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert any("parameters" in cell.metadata.get("tags", []) for cell in code)


@pytest.fixture(scope="module")
def protected() -> tuple[str, RedisServer]:
    """A password-protected server holding one synthetic hour ending at END."""
    with RedisServer({"requirepass": PASSWORD}) as server:
        url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
        synth.write(url, hours=1, rps=2, seed=5, end=END, progress=False)
        yield url, server


def without_rp_variables(**variables: str) -> dict[str, str]:
    """This process's environment without REDIS_URL and RP_* (but RP_REDIS_SERVER), plus
    ``variables``: what a user's shell would hold."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name == "RP_REDIS_SERVER" or not (name.startswith("RP_") or name == "REDIS_URL")
    }
    return {**env, **variables}


def shown_text(book: nbformat.NotebookNode) -> str:
    """Every text and Markdown output of an executed notebook."""
    return "".join(
        str(output.get("data", {}).get("text/markdown", "")) + str(output.get("text", ""))
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_report_tables_equal_the_api_follow_the_flags_and_never_show_the_password(
    protected, tmp_path
) -> None:
    url, _ = protected
    run = cli(
        "report",
        "--redis-url",
        url,
        "--out",
        str(tmp_path),
        "--notebooks",
        "request_performance",
        "-p",
        "end",
        END.isoformat(),
        "-p",
        "hours",
        "1",
        "-p",
        "use_scan",
        "True",  # a parameter given wins over RP_USE_SCAN=false
        "--scan-count",
        "500",  # flags given win over RP_SCAN_COUNT and RP_SCAN_COUNT_AUTO_TUNE
        "--no-scan-count-auto-tune",
        "--no-progress",
        env=without_rp_variables(
            RP_USE_SCAN="false", RP_SCAN_COUNT="50", RP_SCAN_COUNT_AUTO_TUNE="true"
        ),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    executed = tmp_path / "request_performance.ipynb"
    html = tmp_path / "request_performance.html"
    book = nbformat.read(executed, as_version=4)
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
    # The report says how it listed the keys: SCAN (-p), COUNT 500 without auto-tune (flags).
    listing = "Keys listed with SCAN, COUNT 500 (fixed: `scan_count`, auto-tune off)"
    assert listing in shown_text(book)
    assert "Keys listed with SCAN, COUNT 500 (fixed: <code>scan_count</code>" in html.read_text()
    assert "[DEPRECATION] Using KEYS command" not in html.read_text()
    # Every artifact and message is free of the password.
    for text in (executed.read_text(), html.read_text(), run.stdout, run.stderr):
        assert PASSWORD not in text
    # The tables the notebook wrote equal what rp_toolkit computes directly.
    tables = tmp_path / "request_performance"
    df = rp.load("requests", url, start=pd.Timestamp(END) - pd.Timedelta(hours=1), end=END)
    expected = reports.requests(df)
    written = pd.read_csv(tables / "requests_table.csv")
    assert written["group"].tolist() == expected["group"].tolist()
    pd.testing.assert_series_equal(
        written["duration_p95"],
        expected["duration_p95"].reset_index(drop=True),
        check_names=False,
    )
    cards = pd.read_csv(tables / "percentiles.csv").iloc[0].to_dict()
    assert cards == pytest.approx(reports.percentiles(df))
    throughput = pd.read_csv(tables / "throughput.csv")
    direct = reports.throughput(df)  # the whole minutes of the loaded window
    assert throughput["count"].tolist() == direct["count"].tolist()
    assert pd.to_datetime(throughput["minute"]).tolist() == direct.index.tolist()


def test_report_stops_at_bad_parameters_with_the_cells_error(protected, tmp_path) -> None:
    url, _ = protected
    run = cli(
        "report",
        "--redis-url",
        url,
        "--out",
        str(tmp_path),
        "--notebooks",
        "request_performance",
        "-p",
        "scan_count",
        "0",
        "--no-progress",
    )
    assert run.returncode != 0
    assert "scan_count must be at least 1" in run.stderr
    assert PASSWORD not in run.stderr + run.stdout


def test_report_refuses_a_url_as_notebook_parameter(tmp_path) -> None:
    run = cli("report", "--out", str(tmp_path), "-p", "redis_url", "redis://x:1/0")
    assert run.returncode == 2 and "--redis-url" in run.stderr


def test_demo_without_a_url_runs_on_a_throwaway_redis(tmp_path) -> None:
    run = cli(
        "demo",
        "--out",
        str(tmp_path),
        "--notebooks",
        "request_performance",
        "-p",
        "hours",
        "0.25",
        "-p",
        "synthetic_rps",
        "2",
        "--no-progress",
        env=without_rp_variables(RP_USE_SCAN="false"),  # the gem's KEYS, from the environment
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "without encryption" not in run.stderr  # the kernel is reached over unix sockets
    html = (tmp_path / "request_performance.html").read_text()
    assert len(html) > 10_000
    book = nbformat.read(tmp_path / "request_performance.ipynb", as_version=4)
    assert "Keys listed with KEYS (`use_scan` off" in shown_text(book)  # the kernel inherited it
    summary = pd.read_csv(tmp_path / "request_performance" / "requests_table.csv")
    assert summary["count"].sum() > 0
    # The report lists keys with KEYS several times (one walk per day and kind, the trace):
    # its notice is shown once, pointing at the notebook's cell, not at rp_toolkit's internals.
    assert html.count("[DEPRECATION] Using KEYS command") == 1
    assert "rp_toolkit/" not in html.split("[DEPRECATION]")[0].rsplit("<pre>", 1)[-1]


def test_export_and_seed_commands(redis_url: str, tmp_path) -> None:
    run = cli(
        "seed",
        "--redis-url",
        redis_url,
        "--hours",
        "0.5",
        "--rps",
        "2",
        "--seed",
        "3",
        "--kinds",
        "requests",
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    written = json.loads(run.stdout)
    assert written["counts"]["requests"] == redis.Redis.from_url(redis_url).dbsize() == 3600
    out = tmp_path / "table.parquet"
    run = cli(
        "export",
        "requests",
        "--redis-url",
        redis_url,
        "--report",
        "requests",
        "--out",
        str(out),
        "--use-scan",
        "--no-progress",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["method"] == "SCAN"
    direct = reports.requests(rp.load("requests", redis_url))
    # The flags: given wins, else the environment variable, else the default.
    for flags, variables, expected in [
        ([], {"RP_SCAN_COUNT": "500", "RP_SCAN_COUNT_AUTO_TUNE": "false"}, ("SCAN", 500, "fixed")),
        (["--scan-count", "200"], {"RP_SCAN_COUNT": "500", "RP_SCAN_COUNT_AUTO_TUNE": "false"},
         ("SCAN", 200, "fixed")),
        (["--use-scan"], {"RP_USE_SCAN": "false"}, ("SCAN", 1000, "auto-tune")),
        ([], {"RP_USE_SCAN": "false"}, ("KEYS", None, None)),
        ([], {}, ("SCAN", 1000, "auto-tune")),
    ]:  # fmt: skip
        done = cli(
            "export", "requests", "--redis-url", redis_url, "--out", str(tmp_path / "x.csv"),
            "--no-progress", *flags, env=without_rp_variables(**variables),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        info = json.loads(done.stdout)
        assert (info["method"], info["scan_count"], info["scan_count_rule"]) == expected
    pd.testing.assert_frame_equal(
        pd.read_parquet(out).reset_index(drop=True),
        direct.reset_index(drop=True),
        check_dtype=False,
        check_categorical=False,
    )


def test_scan_benchmark_notebook_measures_and_plots(tmp_path) -> None:
    run = cli(
        "report",
        "--out",
        str(tmp_path),
        "--notebooks",
        "scan_benchmark",
        "-p",
        "sizes",
        "[200, 2000]",
        "-p",
        "repeats",
        "1",
        "-p",
        "counts",
        '[10, "auto"]',
        "--scan-budget-ms",
        "2.5",  # the flag reaches the benchmark's kernel and wins over its variable
        "--no-progress",
        env=without_rp_variables(RP_SCAN_BUDGET_MS="9"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    book = nbformat.read(tmp_path / "scan_benchmark.ipynb", as_version=4)
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 4
    results = rp.bench.load_results(tmp_path / "scan_benchmark" / "bench.json")
    table = pd.read_csv(tmp_path / "scan_benchmark" / "bench.csv")
    assert len(table) == len(results)
    assert results.attrs["environment"]["parameters"]["scan_budget_ms"] == 2.5
    scan = results[results["method"] == "SCAN"]
    assert set(zip(scan["size"], scan["count"].astype(str), strict=True)) == {
        (size, count) for size in (200, 2000) for count in ("10", "auto")
    }
    # the tables are bench.to_markdown's for its results, shown rendered, not as source
    shown = "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)
    assert rp.bench.to_markdown(results).splitlines()[0] in shown
    html = (tmp_path / "scan_benchmark.html").read_text()
    assert "<table>" in html and "|---:|" not in html
    assert '<th style="text-align:right">SCAN auto</th>' in html
    # every finding shown is the one computed from this run's results (no fixed claims)
    for make in (
        findings.target,
        findings.overhead_by_size,
        findings.blocking,
        findings.scan_calls,
        findings.adaptive,
        findings.auto_slower,
    ):
        assert make(results) in shown, make.__name__
    assert "not measured in this run" in findings.adaptive(results)  # counts had no adaptive
    # the raw environment is an appendix after every chart; the server is named before them
    images = [i for i, o in enumerate(outputs) if "image/png" in o.get("data", {})]
    dump = [
        i for i, o in enumerate(outputs) if "redis_py" in o.get("data", {}).get("text/plain", "")
    ]
    assert dump and min(dump) > max(images)
    assert min(i for i, o in enumerate(outputs) if findings.target(results) in str(o)) < min(images)


def test_benchmark_notebook_refuses_an_existing_server_unless_allowed(redis_url, tmp_path):
    run = cli(
        "report",
        "--redis-url",
        redis_url,
        "--out",
        str(tmp_path),
        "--notebooks",
        "scan_benchmark",
        "-p",
        "use_redis_url",
        "true",
        "--no-progress",
    )
    assert run.returncode != 0 and "Refusing to benchmark" in run.stderr
    assert redis.Redis.from_url(redis_url).dbsize() == 0
