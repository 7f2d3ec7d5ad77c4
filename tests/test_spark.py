"""rp_toolkit.spark: the daily per-endpoint percentiles of an archive, computed by Spark
(local[2]) over the archive's own layout, equal numpy's (method="linear") per group, DuckDB's
``quantile_cont`` and the dashboard's own percentile; the app and date filters give the right
subset and prune the partitions (a pruned directory's file is never opened).

Skipped, saying why, without pyspark or without a Java that the installed Spark runs on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

try:
    import duckdb
except ImportError:  # the DuckDB cross-check is skipped without it
    duckdb = None

from rp_toolkit import reports, synth
from rp_toolkit.exceptions import InvalidArgumentError, SparkSetupError
from rp_toolkit.frames import parse

rp_spark = pytest.importorskip(
    "rp_toolkit.spark", reason="pyspark is not installed: pip install 'rp_toolkit[spark]'"
)

pytestmark = [
    pytest.mark.slow,
    # pyspark warns about pandas 3 once imported; rp_toolkit.spark never hands it a pandas frame.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

APPS = {"shop": 1, "007": 2, "admin_ui.v-2": 3}
"""The archived apps and their synthetic seeds (``007`` must stay text, not the number 7)."""
END = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
PS = [50, 95, 99]
DTYPES = {
    "date": "datetime64[ns, UTC]",
    "group": "string",
    "controller": "string",
    "action": "string",
    "format": "string",
    "count": "int64",
    "duration_p50": "float64",
    "duration_p95": "float64",
    "duration_p99": "float64",
}


# --------------------------------------------------------------------------- the archive


def app_records(app: str, seed: int) -> pd.DataFrame:
    """About three days of one app's requests, as ``rp.load`` returns them, with what the
    report must handle: null durations, a null format, an endpoint without any duration and
    one with a single record."""
    batch = synth.request_records(120, seed=seed, end=END, hours=60)
    frame, problems = parse("requests", batch.keys, batch.values)
    assert problems.empty
    frame = frame.sort_values("datetime", kind="stable").reset_index(drop=True)
    frame.loc[frame.index % 7 == 3, "duration"] = np.nan
    frame["format"] = frame["format"].astype("object")
    frame.loc[frame.index % 11 == 5, "format"] = None
    odd = frame.iloc[[0, 1, 2]].copy()
    odd["controller"] = ["NoDurationController", "NoDurationController", f"Only{seed}Controller"]
    odd["duration"] = [np.nan, np.nan, 12.5]
    return pd.concat([frame, odd], ignore_index=True)


def archive_table(frame: pd.DataFrame, keys: list[str]) -> pa.Table:
    """``frame`` as the archive stores it: categories as plain text, timestamps in µs UTC,
    ``custom_data`` as JSON text, ``backtrace`` a list of text, plus ``record_id``."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.CategoricalDtype) or name == "format":
            columns[name] = pa.array(values.astype("object"), pa.string(), from_pandas=True)
        elif name in {"minute", "datetime"}:
            columns[name] = pa.array(values).cast(pa.timestamp("us", tz="UTC"))
        elif name == "custom_data":
            texts = [None if v is None else json.dumps(v) for v in values]
            columns[name] = pa.array(texts, pa.string())
        elif name == "backtrace":
            columns[name] = pa.array(values, pa.list_(pa.string()), from_pandas=True)
        elif values.dtype.kind in "OUT" or str(values.dtype) in {"str", "string"}:
            columns[name] = pa.array(values.astype("object"), pa.string(), from_pandas=True)
        else:
            columns[name] = pa.array(values, from_pandas=True)
    ids = [int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "big") for k in keys]
    columns["record_id"] = pa.array(ids, pa.uint64())
    return pa.table(columns)


def write_archive(root: Path) -> pd.DataFrame:
    """The requests of every app written in the archive's layout under ``root``
    (``requests/app=<app>/date=YYYY-MM-DD/part-*.parquet``); returns them with ``app``."""
    frames = []
    for app, seed in APPS.items():
        frame = app_records(app, seed)
        keys = [f"{app}-{i}" for i in range(len(frame))]
        days = frame["datetime"].dt.strftime("%Y-%m-%d")
        for n, day in enumerate(sorted(days.unique())):
            rows = np.flatnonzero((days == day).to_numpy())
            folder = root / "requests" / f"app={app}" / f"date={day}"
            folder.mkdir(parents=True)
            parts = np.array_split(rows, 2 if n == 0 else 1)  # one partition in two files
            for i, part in enumerate(parts):
                table = archive_table(frame.iloc[part], [keys[r] for r in part])
                pq.write_table(table, folder / f"part-{i}.parquet")
            # A writer's unfinished temporary file (rp_toolkit.files) must be ignored.
            (folder / ".part-9.parquet.tmp-1-abcd").write_bytes(b"not parquet")
        frames.append(frame.assign(app=app))
    (root / "_manifest").mkdir()
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("archive")
    return root, write_archive(root)


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One local[2] session for the module, started from an empty directory that must stay
    empty (no spark-warehouse, no derby.log); its JVM has exited after the module."""
    try:
        rp_spark.find_java()
    except SparkSetupError as error:
        pytest.skip(str(error))
    cwd = tmp_path_factory.mktemp("spark-cwd")
    here = os.getcwd()
    os.chdir(cwd)
    try:
        session = rp_spark.session("local[2]")
        jvm = rp_spark.SparkContext._gateway.proc
        yield session
    finally:
        os.chdir(here)
    rp_spark.stop(session)
    assert jvm.poll() is not None, "the JVM is still running after stop()"
    assert list(cwd.iterdir()) == [], "Spark wrote into its working directory"


# --------------------------------------------------------------------------- expectations


def expected(records: pd.DataFrame) -> pd.DataFrame:
    """The definition, computed independently with pandas and numpy."""
    parts = records[["controller", "action", "format"]].astype("object").fillna("")
    parts["date"] = records["datetime"].dt.floor("D")
    parts["duration"] = records["duration"]
    rows = []
    for (day, controller, action, fmt), group in parts.groupby(
        ["date", "controller", "action", "format"], sort=False
    ):
        durations = group["duration"].dropna().to_numpy()
        found = np.percentile(durations, PS, method="linear") if len(durations) else [np.nan] * 3
        rows.append(
            {
                "date": day,
                "group": f"{controller}#{action}|{fmt}",
                "controller": controller,
                "action": action,
                "format": fmt,
                "count": len(group),
                **{f"duration_p{p}": v for p, v in zip(PS, found, strict=True)},
            }
        )
    frame = pd.DataFrame(rows, columns=list(DTYPES)).astype(DTYPES)
    return frame.sort_values(["date", "group"], kind="stable").reset_index(drop=True)


DUCKDB_SQL = """
SELECT CAST(timezone('UTC', datetime) AS DATE) AS date,
       coalesce(controller, '') || '#' || coalesce(action, '') || '|' || coalesce(format, '')
           AS "group",
       coalesce(controller, '') AS controller,
       coalesce(action, '') AS action,
       coalesce(format, '') AS format,
       count(*) AS count,
       quantile_cont(duration, 0.50) AS duration_p50,
       quantile_cont(duration, 0.95) AS duration_p95,
       quantile_cont(duration, 0.99) AS duration_p99
FROM read_parquet($files, hive_partitioning = true, hive_types_autocast = false)
WHERE ($app IS NULL OR app = $app) AND ($first IS NULL OR date >= $first)
      AND ($last IS NULL OR date <= $last)
GROUP BY ALL
ORDER BY date, "group"
"""
"""The same report in DuckDB SQL (the archive's own engine will hold it as
``Archive.endpoint_days``)."""


def assert_duckdb_agrees(wanted: pd.DataFrame, root: Path, **where: str | None) -> None:
    """DuckDB's answer is ``wanted`` too (checked when duckdb is importable)."""
    if duckdb is not None:
        assert_same(duckdb_days(root, **where), wanted)


def duckdb_days(
    root: Path, app: str | None = None, first: str | None = None, last: str | None = None
) -> pd.DataFrame:
    files = str(root / "requests" / "*" / "*" / "*.parquet")
    params = {"files": files, "app": app, "first": first, "last": last}
    frame = duckdb.connect().execute(DUCKDB_SQL, params).df()
    frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize("UTC")
    return frame.astype(DTYPES)


def assert_same(found: pd.DataFrame, wanted: pd.DataFrame) -> None:
    assert list(found.columns) == list(DTYPES)
    assert found.dtypes.astype(str).to_dict() == wanted.dtypes.astype(str).to_dict()
    pd.testing.assert_frame_equal(found, wanted, check_exact=False, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- the tests


def test_the_whole_archive_equals_numpy_duckdb_and_the_dashboard(archive, spark) -> None:
    root, records = archive
    found = rp_spark.endpoint_days_frame(spark, root)
    wanted = expected(records)
    assert len(wanted) > 20 and wanted["duration_p50"].isna().any()
    assert (wanted["format"] == "").any() and (wanted["count"] == 1).any()
    assert_same(found, wanted)
    assert_duckdb_agrees(wanted, root)
    # The dashboard's requests table gives the same percentiles, day by day.
    for day, one_day in records.groupby(records["datetime"].dt.floor("D")):
        table = reports.requests(one_day).set_index("group")
        mine = found[found["date"] == day].set_index("group")
        assert sorted(mine.index) == sorted(table.index)
        for p in PS:
            column = f"duration_p{p}"
            np.testing.assert_allclose(mine[column], table.loc[mine.index, column], rtol=1e-12)


def test_read_kind_gives_the_files_columns_and_text_partitions(archive, spark) -> None:
    root, records = archive
    frame = rp_spark.read_kind(spark, root, "requests")
    types = dict(frame.dtypes)
    assert types["app"] == "string" and types["date"] == "string"
    assert types["datetime"] == "timestamp" and types["duration"] == "double"
    assert types["status"] == "bigint" and types["controller"] == "string"
    apps = {row["app"] for row in frame.select("app").distinct().collect()}
    assert apps == set(APPS)
    assert frame.count() == len(records)
    first = frame.orderBy("datetime").first()
    assert first["date"] == first["datetime"].strftime("%Y-%m-%d")


def test_app_and_day_filters_give_the_subset(archive, spark) -> None:
    root, records = archive
    day = records["datetime"].dt.strftime("%Y-%m-%d")
    first, last = sorted(day.unique())[1:3]

    found = rp_spark.endpoint_days_frame(spark, root, app="007")
    assert_same(found, expected(records[records["app"] == "007"]))
    assert_duckdb_agrees(expected(records[records["app"] == "007"]), root, app="007")

    # A day given as a time within it (its UTC day), as text or as a date.
    late = datetime.fromisoformat(first + "T23:59:00+00:00")
    found = rp_spark.endpoint_days_frame(spark, root, start=late, end=date.fromisoformat(last))
    assert_same(found, expected(records[day.between(first, last)]))
    assert_duckdb_agrees(expected(records[day.between(first, last)]), root, first=first, last=last)

    apps = ["shop", "admin_ui.v-2"]
    found = rp_spark.endpoint_days_frame(spark, root, start=first, end=first, app=apps)
    assert_same(found, expected(records[records["app"].isin(apps) & (day == first)]))

    empty = rp_spark.endpoint_days_frame(spark, root, start="2001-01-01", end="2001-01-02")
    assert empty.empty and list(empty.columns) == list(DTYPES)
    assert empty.dtypes.astype(str).to_dict() == DTYPES

    with pytest.raises(InvalidArgumentError, match="after end"):
        rp_spark.endpoint_days(spark, root, start=last, end=first)
    with pytest.raises(InvalidArgumentError, match="not an app name"):
        rp_spark.endpoint_days(spark, root, app="x' OR 1=1")


def test_filters_prune_partitions(archive, spark, tmp_path: Path) -> None:
    """A directory outside the filter is never opened: its file, corrupted after the job was
    planned, breaks only the unfiltered job."""
    source, records = archive
    root = tmp_path / "archive"
    shutil.copytree(source, root)
    good = next((root / "requests" / "app=shop").glob("date=*/part-0.parquet"))
    decoys = [
        root / "requests" / "app=zzz" / "date=2026-11-26" / "part-0.parquet",
        root / "requests" / "app=shop" / "date=2099-01-01" / "part-0.parquet",
    ]
    for decoy in decoys:
        decoy.parent.mkdir(parents=True)
        shutil.copy(good, decoy)
    last = records["datetime"].max().strftime("%Y-%m-%d")
    pruned = rp_spark.endpoint_days(spark, root, app="shop", end=last)
    everything = rp_spark.endpoint_days(spark, root)
    for decoy in decoys:
        decoy.write_bytes(b"PAR1 this is not a Parquet file PAR1")
    assert_same(rp_spark.frame_of(pruned), expected(records[records["app"] == "shop"]))
    with pytest.raises(Exception, match="(?i)parquet"):
        everything.collect()


def test_java_is_found_on_path_whatever_java_home_says(monkeypatch) -> None:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on PATH")
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    home = rp_spark.find_java()
    assert Path(home, "bin", "java").resolve() == Path(java).resolve()
    monkeypatch.setenv("PATH", "")
    with pytest.raises(SparkSetupError, match=r"needs Java \d+ or newer.*does not run"):
        rp_spark.find_java()


def test_nothing_is_written_beside_the_session(spark) -> None:
    """A table saved without a location lands in the temporary warehouse (the fixture checks
    that the working directory stayed empty)."""
    spark.range(3).write.saveAsTable("rp_toolkit_probe")
    assert spark.table("rp_toolkit_probe").count() == 3
    spark.sql("DROP TABLE rp_toolkit_probe")


def test_rp_toolkit_does_not_import_pyspark() -> None:
    code = (
        "import sys, rp_toolkit, rp_toolkit.reports, rp_toolkit.frames;"
        "assert 'pyspark' not in sys.modules, 'pyspark imported'\n"
        "sys.modules['pyspark'] = None\n"
        "try:\n    import rp_toolkit.spark\nexcept ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'rp_toolkit[spark]'" in done.stdout


def test_an_archive_rp_archive_wrote_gives_the_same_days_in_spark_duckdb_and_pandas(
    redis_url: str, spark, tmp_path: Path
) -> None:
    """The archive as rp.archive lays it out is read by Spark as it is, and its report equals
    DuckDB's (Archive.endpoint_days) and pandas' (reports.endpoint_days of the loaded frame)."""
    import rp_toolkit as rp

    synth.write(redis_url, hours=3, rps=3, seed=11, progress=False)
    root = tmp_path / "archive"
    rp.archive(redis_url, root, app="shop")
    archive = rp.open_archive(root)
    frame = archive.load("requests", start="2000-01-01")
    assert len(frame) == 3 * 3600 * 3
    in_pandas = reports.endpoint_days(frame)
    in_duckdb = archive.endpoint_days()
    in_spark = rp_spark.endpoint_days_frame(spark, root)
    assert len(in_pandas) >= 10
    assert_same(in_duckdb, in_pandas)
    assert_same(in_spark, in_pandas)
    day = in_pandas["date"].iloc[-1]
    one_day = in_pandas[in_pandas["date"] == day].reset_index(drop=True)
    assert_same(archive.endpoint_days(start=day, end=day), one_day)
    assert_same(rp_spark.endpoint_days_frame(spark, root, start=day, end=day, app="shop"), one_day)
