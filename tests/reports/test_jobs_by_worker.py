"""The job kinds per worker and their failed records: reports, sentences and tables.

Frames come from rp.synth's generators parsed by rp.parse (the gem's keys, no Redis) or are
built by hand (tests.reports.test_reports.frame); expectations from a plain loop over records.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

import rp_toolkit as rp
from rp_toolkit import markup, reports, units
from rp_toolkit.kinds import KINDS
from rp_toolkit.reports import _jobs, findings, tables
from tests.reports.test_reports import frame
from tests.reports.test_tables import CELL_PX, PAGE_PX, _Cells, cells, headers, width_px
from tests.support import Page

END = pd.Timestamp("2026-02-04 12:00", tz="UTC")
DURATIONS = ["duration_p50", "duration_p95", "duration_p99"]
HOSTILE = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror=alert(1)>',
    "$x$ `tick` | *bold* [a](javascript:alert(1))",
    "line\nbreak\ttab",
]


@cache
def _synthetic() -> dict[str, pd.DataFrame]:
    keys: dict[str, list] = defaultdict(list)
    values: dict[str, list] = defaultdict(list)
    for batch in rp.synth.generate(
        kinds=list(reports.JOB_KINDS), hours=2, rps=4, end=END.to_pydatetime(), seed=3
    ):
        keys[batch.kind.name] += batch.keys
        values[batch.kind.name] += batch.values
    jobs = {}
    for kind in keys:
        df, problems = rp.parse(kind, keys[kind], values[kind])
        assert len(df) and not len(problems)
        jobs[kind] = df
    return jobs


def synthetic() -> dict[str, pd.DataFrame]:
    """Every job kind over 2 hours from rp.synth, parsed from the gem's keys (a fresh copy)."""
    return {kind: df.copy() for kind, df in _synthetic().items()}


# --------------------------------------------------------------------------- the definition


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def loop_name(kind: str, record: dict) -> str:
    if kind == "sidekiq":
        return _text(record["worker"])
    if kind == "delayed_job":
        return f"{_text(record['class_name'])}#{_text(record['method_name'])}"
    if kind == "custom":
        return f"{_text(record['namespace_name'])}/{_text(record['tag_name'])}"
    if kind == "rake":
        return _text(record["task"])
    segments = _text(record["path"]).split("?")[0].split("/")
    path = "/".join(
        ":id" if s.isdigit() and s.isascii() and i else s for i, s in enumerate(segments)
    )
    return f"{_text(record['method'])} {path}"


def loop_failed(kind: str, record: dict) -> bool:
    status = record["status"]
    if kind == "grape":
        return not pd.isna(status) and 500 <= int(status) <= 599
    return _text(status).strip().lower() in {
        "exception",
        "error",
        "errored",
        "failed",
        "failure",
        "fail",
    }


def gem_percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    lower, upper = ordered[math.floor(rank)], ordered[math.ceil(rank)]
    return lower + (upper - lower) * (rank - math.floor(rank))


def by_loop(jobs: dict[str, pd.DataFrame]) -> dict[tuple[str, str], dict]:
    """Per (system, name): count, failures and the gem's percentiles, record by record."""
    out: dict[tuple[str, str], dict] = {}
    for kind, df in jobs.items():
        if kind not in reports.JOB_KINDS:
            continue
        field = "endpoint_run.grape" if kind == "grape" else "duration"
        groups: dict[str, dict] = {}
        for record in df.to_dict("records"):
            group = groups.setdefault(loop_name(kind, record), {"n": 0, "bad": 0, "d": []})
            group["n"] += 1
            group["bad"] += loop_failed(kind, record)
            if not pd.isna(record[field]):
                group["d"].append(float(record[field]))
        for name, g in groups.items():
            out[(kind, name)] = {
                "count": g["n"],
                "failures": g["bad"],
                "failure_rate": g["bad"] / g["n"],
                **{f"duration_p{p}": gem_percentile(g["d"], p) for p in (50, 95, 99)},
            }
    return out


def assert_matches_loop(table: pd.DataFrame, jobs: dict[str, pd.DataFrame]) -> None:
    want = by_loop(jobs)
    assert list(table.columns) == reports.WORKER_COLUMNS
    got = {(r["system"], r["name"]): r for r in table.to_dict("records")}
    assert len(got) == len(table) and set(got) == set(want)
    for key, row in want.items():
        for column, value in row.items():
            assert got[key][column] == pytest.approx(value, rel=1e-12, nan_ok=True), (key, column)
    # ordered by system (JOB_KINDS order), then p95 descending (NaN last)
    systems = [reports.JOB_KINDS.index(s) for s in table["system"]]
    assert systems == sorted(systems)
    for _, rows in table.groupby("system", sort=False):
        p95 = rows["duration_p95"].to_numpy()
        known = p95[~np.isnan(p95)]
        assert (np.diff(known) <= 0).all() and not np.isnan(p95[: len(known)]).any()


# --------------------------------------------------------------------------- reports


def test_jobs_by_worker_of_synthetic_jobs_is_the_loop() -> None:
    jobs = synthetic()
    before = {kind: df.copy() for kind, df in jobs.items()}
    table = reports.jobs_by_worker(jobs)
    assert_matches_loop(table, jobs)
    for kind, df in jobs.items():
        pd.testing.assert_frame_equal(df, before[kind])  # inputs untouched
    assert list(dict.fromkeys(table["system"])) == list(reports.JOB_KINDS)
    assert [str(t) for t in table.dtypes] == ["string", "string", "int64", "int64"] + [
        "float64"
    ] * 4
    # every failure counted: the gem's own statuses of each kind
    sidekiq = jobs["sidekiq"]
    assert (
        table.loc[table["system"] == "sidekiq", "failures"].sum()
        == (sidekiq["status"] == "exception").sum()
        > 0
    )
    for kind in ("delayed_job", "rake", "custom"):
        statuses = jobs[kind]["status"].astype(str)
        assert set(statuses) <= {"success", "error"}
        failed = table.loc[table["system"] == kind, "failures"].sum()
        assert failed == (statuses == "error").sum()
    grape = table[table["system"] == "grape"]
    assert grape["failures"].sum() == (jobs["grape"]["status"] >= 500).sum() > 0
    assert "GET /api/v2/products/:id" in set(grape["name"])  # one row per route
    assert not any("?" in name for name in grape["name"])
    # the slowest worker of the catalogue is first, and its p95 in seconds
    assert table.iloc[0]["name"] == "ReportGenerationWorker"
    assert table.iloc[0]["duration_p95"] > 10_000


def test_failed_jobs_newest_first_with_whole_messages() -> None:
    jobs = synthetic()
    failed = reports.failed_jobs(jobs)
    assert list(failed.columns) == reports.FAILED_JOB_COLUMNS
    assert len(failed) == reports.jobs_by_worker(jobs)["failures"].sum()
    assert failed["datetime"].is_monotonic_decreasing
    assert str(failed["datetime"].dtype) == "datetime64[ns, UTC]"
    sidekiq = jobs["sidekiq"][jobs["sidekiq"]["status"] == "exception"]
    mine = failed[failed["system"] == "sidekiq"]
    assert sorted(mine["jid"]) == sorted(sidekiq["jid"])
    by_jid = sidekiq.set_index("jid")
    for row in mine.head(50).to_dict("records"):
        record = by_jid.loc[row["jid"]]
        assert row["message"] == record["message"]  # whole, not cut
        assert row["queue"] == record["queue"] and row["name"] == record["worker"]
        assert row["duration"] == record["duration"]
        assert row["datetime"] == record["datetime"]
    others = failed[failed["system"] != "sidekiq"]
    assert (others["queue"] == "").all() and (others["message"] == "").all()
    assert (failed.loc[failed["system"].isin(["rake", "custom"]), "jid"] == "").all()
    grape = failed[failed["system"] == "grape"]
    assert set(grape["status"]) <= {"500", "501", "502", "503", "504"} and len(grape)
    assert (grape["jid"].str.len() > 0).all()  # the request id
    limited = reports.failed_jobs(jobs, limit=7)
    pd.testing.assert_frame_equal(limited, failed.head(7))


def test_statuses_that_mean_failure_and_names_from_their_parts() -> None:
    statuses = ["success", "exception", "Error", " FAILED ", "failure", "retry", None, "ok"]
    rows = [
        {"at": f"11:00:{i:02d}", "status": s, "duration": 10.0 * (i + 1), "worker": "W"}
        for i, s in enumerate(statuses)
    ]
    jobs = {"sidekiq": frame("sidekiq", rows)}
    table = reports.jobs_by_worker(jobs)
    assert table[["count", "failures"]].values.tolist() == [[8, 4]]
    assert table["failure_rate"].iloc[0] == 0.5
    dj = frame(
        "delayed_job",
        [
            {"at": "11:00:00", "class_name": "User", "method_name": "remind", "duration": 5.0},
            {"at": "11:00:01", "class_name": None, "method_name": "x", "duration": None},
        ],
    )
    custom = frame(
        "custom", [{"at": "11:00:00", "namespace_name": "ns", "tag_name": "t", "duration": 1.0}]
    )
    grape = frame(
        "grape",
        [
            {"at": "11:00:00", "method": "GET", "path": "/a/12/b?q=1", "status": 503},
            {"at": "11:00:01", "method": "GET", "path": "/a/7/b", "status": 404},
            {"at": "11:00:02", "method": "GET", "path": "/a12/b", "status": 200},
        ],
    )
    jobs = {"delayed_job": dj, "custom": custom, "grape": grape}
    table = reports.jobs_by_worker(jobs)
    assert list(table["name"]) == ["User#remind", "#x", "ns/t", "GET /a/:id/b", "GET /a12/b"]
    assert list(table["failures"]) == [0, 0, 0, 1, 0]
    assert math.isnan(table.loc[1, "duration_p95"])  # a name with no duration
    assert_matches_loop(table, jobs)


def test_empty_frames_missing_kinds_and_other_kinds_give_empty_results() -> None:
    empty_sidekiq = frame("sidekiq", [])
    for jobs in ({}, {"sidekiq": empty_sidekiq}, {"requests": frame("requests", [])}):
        table = reports.jobs_by_worker(jobs)
        assert list(table.columns) == reports.WORKER_COLUMNS and not len(table)
        failed = reports.failed_jobs(jobs)
        assert list(failed.columns) == reports.FAILED_JOB_COLUMNS and not len(failed)
        assert findings.jobs_by_worker(table).startswith("No background job")
        assert findings.failed_jobs(failed).startswith("No job")
        assert cells(tables.jobs_by_worker(table)) == []
        assert cells(tables.failed_jobs(failed)) == []
    only = {"rake": synthetic()["rake"], "sidekiq": pd.DataFrame()}
    table = reports.jobs_by_worker(only)
    assert set(table["system"]) == {"rake"}
    ok = frame("sidekiq", [{"at": "11:00:00", "duration": 1.0}])
    assert not len(reports.failed_jobs({"sidekiq": ok}))
    assert findings.failed_jobs(
        reports.failed_jobs({"sidekiq": ok}), by_worker=reports.jobs_by_worker({"sidekiq": ok})
    ) == ("No job, rake task, custom block or Grape request failed.")


def test_the_reports_are_public() -> None:
    for name in ("jobs_by_worker", "failed_jobs", "JOB_LABELS", "FAILED_STATUSES"):
        assert name in reports.__all__ and getattr(rp.reports, name) is not None
    for name in ("jobs_by_worker", "failed_jobs"):
        assert name in findings.__all__ and name in tables.__all__


def test_what_differs_per_kind_is_read_from_its_record_kind() -> None:
    """The duration field, whether a status is an HTTP one and the record's id come from the
    kind's RecordKind, not from comparing its name."""
    for kind in reports.JOB_KINDS:
        facts = KINDS[kind]
        assert _jobs.duration_field(kind) == facts.duration_field
        assert _jobs.http_status(kind) == (facts.key_types["status"] == "int")
    assert _jobs.duration_field("grape") == "endpoint_run.grape"
    assert [k for k in reports.JOB_KINDS if _jobs.http_status(k)] == ["grape"]
    assert _jobs.duration_field("not-a-kind") == "duration"
    assert not _jobs.http_status("not-a-kind")


# --------------------------------------------------------------------------- sentences


def _worker_rows(worker: str, durations: list[float], statuses: list[str] | None = None):
    statuses = statuses or ["success"] * len(durations)
    return [
        {"at": f"11:{i // 60:02d}:{i % 60:02d}", "worker": worker, "duration": d, "status": s}
        for i, (d, s) in enumerate(zip(durations, statuses, strict=True))
    ]


def test_sentences_carry_the_computed_numbers() -> None:
    slow = [1000.0 * (i + 1) for i in range(40)]  # p95 = 38,050 ms
    fast = [float(i + 1) for i in range(100)]  # p95 = 95.05 ms
    statuses = ["exception"] * 3 + ["success"] * 37
    rows = _worker_rows("Report<Gen>", slow, statuses) + _worker_rows("Mail", fast)
    for i, row in enumerate(rows[:3]):
        row["message"] = "Timeout" if i else "Deadlock"
    jobs = {"sidekiq": frame("sidekiq", rows)}
    table = reports.jobs_by_worker(jobs)
    p95_slow, p95_fast = gem_percentile(slow, 95), gem_percentile(fast, 95)
    text = findings.jobs_by_worker(table)
    assert text.startswith("**Sidekiq**: 2 workers, 140 jobs; ")
    assert (
        f"the highest p95 is `Report<Gen>`'s, {units.duration(p95_slow)} over 40 jobs, "
        f"{units.short(p95_slow / p95_fast)} × that of the next, `Mail` "
        f"({units.duration(p95_fast)})"
    ) in text
    assert "The highest failure rate: `Report<Gen>`, 7.5 % (3 of 40)." in text
    failed = reports.failed_jobs(jobs)
    said = findings.failed_jobs(failed, by_worker=table)
    assert said.startswith(
        "**3 Sidekiq jobs** ended in `exception` (2.1 % of 140); all from `Report<Gen>`."
    )
    assert "The commonest message (2): `Timeout`." in said
    # a second status and worker: both named, with their counts
    rows += _worker_rows("Mail", [1.0, 2.0], ["error", "exception"])
    said = findings.failed_jobs(reports.failed_jobs({"sidekiq": frame("sidekiq", rows)}))
    assert "**5 Sidekiq jobs** ended in `exception` (4) or `error` (1)" in said
    assert "the most from `Report<Gen>` (3, 60.0 %), then `Mail` (2)." in said


def test_a_close_second_is_compared_in_percent() -> None:
    rows = _worker_rows("A", [100.0] * 10) + _worker_rows("B", [80.0] * 10)
    text = findings.jobs_by_worker(reports.jobs_by_worker({"sidekiq": frame("sidekiq", rows)}))
    assert "`A`'s, 100 ms over 10 jobs, 25.0 % above the next, `B` (80 ms)" in text


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=3))
@example(HOSTILE)
def test_recorded_text_in_sentences_is_shown_as_text(texts) -> None:
    rows = []
    for i, text in enumerate(texts):
        row = {"at": f"11:00:{i:02d}", "worker": text, "duration": 10.0 + i}
        rows.append({**row, "status": "exception", "message": text, "queue": text})
    jobs = {"sidekiq": frame("sidekiq", rows)}
    table, failed = reports.jobs_by_worker(jobs), reports.failed_jobs(jobs)
    shown = set()
    for said in (findings.jobs_by_worker(table), findings.failed_jobs(failed, by_worker=table)):
        page = Page(markdown2html_mistune(said))
        assert set(page.tags) <= {"p", "strong", "code"} and page.attrs == []
        codes = re.findall(r"<code>(.*?)</code>", markdown2html_mistune(said), re.S)
        shown |= {Page(code).text.strip() for code in codes}
    top = table.iloc[0]["name"]  # the highest p95, named as it is
    assert markup.visible(top).strip() in shown


# --------------------------------------------------------------------------- tables


def test_tables_use_one_unit_from_the_data() -> None:
    jobs = synthetic()
    table = reports.jobs_by_worker(jobs)
    styler = tables.jobs_by_worker(table)
    assert headers(styler) == [
        "System",
        "Worker / class",
        "Runs",
        "Failed",
        "Failed (%)",
        "p50 (s)",
        "p95 (s)",
        "p99 (s)",
    ]
    first = cells(styler)[0]
    assert first[:2] == ["Sidekiq", "ReportGenerationWorker"]
    assert first[6] == units.short(table.iloc[0]["duration_p95"] / 1000)
    quick = table[table["duration_p99"] < 1000]
    styler = tables.jobs_by_worker(quick)
    assert [h for h in headers(styler) if "(" in h][1:] == ["p50 (ms)", "p95 (ms)", "p99 (ms)"]
    assert cells(styler)[0][6] == units.ms(quick.iloc[0]["duration_p95"])
    failed = reports.failed_jobs(jobs)
    styler = tables.failed_jobs(failed, n=None)
    unit = "s" if failed["duration"].max() >= 1000 else "ms"
    assert f"Duration ({unit})" in headers(styler) and len(cells(styler)) == len(failed)
    # fits 1280 px: the other columns as they are, the message at most WRAP_WIDTH (12 px em)
    others = tables.failed_jobs(failed.assign(message=""), n=None)
    message_px = float(tables.WRAP_WIDTH.removesuffix("em")) * 12 + CELL_PX
    assert width_px(others) + message_px < PAGE_PX
    assert width_px(tables.jobs_by_worker(table)) < PAGE_PX


def test_failed_jobs_table_shows_whole_messages_wrapped_and_escaped() -> None:
    message = "Net::ReadTimeout <b>bold</b> " + "word " * 100 + "$x$ `y` END"
    rows = _worker_rows("<script>alert(1)</script>", [50.0], ["exception"])
    rows[0] |= {"message": message, "queue": "<b>q</b>", "jid": "abc<def>"}
    failed = reports.failed_jobs({"sidekiq": frame("sidekiq", rows)})
    styler = tables.failed_jobs(failed)
    html = styler.to_html()
    page = _Cells(html)
    assert {tag for tag, _ in page.tags} <= {"style", "table", "thead", "tbody", "tr", "th", "td"}
    texts = [cell["text"] for cell in page.cells]
    assert markup.visible(message) in texts  # whole
    assert "<script>alert(1)</script>" in texts and "<b>q</b>" in texts
    assert "abc<def>" in texts
    column = headers(styler).index("Message")
    assert re.search(rf"td\.col{column} \{{[^}}]*white-space: pre-wrap;", html)
    assert "max-width" in html and markup.NO_MATH_CLASSES in html
    assert headers(styler)[5] == "Duration (ms)" and cells(styler)[0][5] == "50.0"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(reports.JOB_KINDS),
            st.sampled_from(["W", "V", HOSTILE[0], "", None]),
            st.sampled_from(["success", "exception", "error", "Failed", None]),
            st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False)),
            st.integers(0, 3599),
        ),
        max_size=40,
    )
)
def test_any_jobs_give_the_loop_and_render(records) -> None:
    per_kind: dict[str, list] = defaultdict(list)
    for kind, name, status, duration, second in records:
        at = f"11:{second // 60:02d}:{second % 60:02d}"
        row = {"at": at, "duration": duration, "endpoint_run.grape": duration}
        row |= {"worker": name, "class_name": name, "tag_name": name, "task": name, "path": name}
        row["status"] = (500 if status else 200) if kind == "grape" else status
        per_kind[kind].append(row)
    jobs = {kind: frame(kind, rows) for kind, rows in per_kind.items()}
    table = reports.jobs_by_worker(jobs)
    assert_matches_loop(table, jobs)
    failed = reports.failed_jobs(jobs)
    assert len(failed) == table["failures"].sum()
    assert failed["datetime"].is_monotonic_decreasing
    for styler in (tables.jobs_by_worker(table), tables.failed_jobs(failed, n=None)):
        assert "<script>" not in styler.to_html()
    for said in (findings.jobs_by_worker(table), findings.failed_jobs(failed)):
        assert set(Page(markdown2html_mistune(said)).tags) <= {"p", "strong", "code"}
