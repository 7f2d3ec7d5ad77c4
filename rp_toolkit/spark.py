"""The archive with Apache Spark: the daily per-endpoint percentile report as a Spark job.

The archive (``rp.archive``) is laid out as Spark reads it: ``DIR/<kind>/app=<app>/
date=YYYY-MM-DD/part-*.parquet``, so ``spark.read.parquet(DIR + "/requests")`` finds every
file and turns ``app`` and ``date`` into columns (partition discovery). This module adds what
a report needs on top (docs/SPARK.md):

* :func:`session`: a SparkSession for local use (``local[2]``) or a cluster (``master=``),
  UTC, no UI, nothing written into the working directory;
* :func:`read_kind`: one kind's dataset, ``app`` and ``date`` as text columns;
* :func:`endpoint_days`: the daily per-endpoint percentiles as a Spark DataFrame, and
  :func:`endpoint_days_frame` the same as pandas (:func:`frame_of` collects one), exactly
  the frame of the one definition shared with pandas and DuckDB (see :func:`endpoint_days`);
* :func:`stop`: the session stopped and the JVM that pyspark started ended.

Only this module imports pyspark (the optional extra ``rp_toolkit[spark]``); importing
``rp_toolkit`` never does.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pandas as pd

from .exceptions import InvalidArgumentError, SparkSetupError
from .kinds import get_kind, window_bound

try:
    import pyspark
    from pyspark import SparkContext
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError as error:  # pragma: no cover - the test skips without pyspark
    raise ImportError(
        "rp_toolkit.spark needs pyspark (Apache Spark's Python API): "
        "pip install 'rp_toolkit[spark]'"
    ) from error

__all__ = [
    "COLUMNS",
    "PERCENTILES",
    "endpoint_days",
    "endpoint_days_frame",
    "find_java",
    "frame_of",
    "read_kind",
    "session",
    "stop",
]

PERCENTILES = (50, 95, 99)
"""The percentiles of the report (the dashboard's)."""

COLUMNS = [
    "date",
    "group",
    "controller",
    "action",
    "format",
    "count",
    *(f"duration_p{p}" for p in PERCENTILES),
]
"""The report's columns, in order."""

_DTYPES = {
    "date": "datetime64[ns, UTC]",
    "group": "string",
    "controller": "string",
    "action": "string",
    "format": "string",
    "count": "int64",
    **{f"duration_p{p}": "float64" for p in PERCENTILES},
}

_PARTITION_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"
_APP = re.compile(r"[A-Za-z0-9._-]+")
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


# --------------------------------------------------------------------------- the session


def _required_java() -> int:
    """The oldest Java the installed Spark runs on: 17 for Spark 4, 8 before."""
    major = int(pyspark.__version__.split(".")[0])
    return 17 if major >= 4 else 8


def _java_major(java: str) -> int | None:
    """The major version of the ``java`` binary (``1.8`` is 8), or None if it does not run."""
    try:
        done = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = _JAVA_VERSION.search(done.stderr + done.stdout)
    if done.returncode != 0 or not found:
        return None
    first = int(found.group(1))
    return int(found.group(2) or 0) if first == 1 else first


def find_java() -> str:
    """The ``JAVA_HOME`` Spark will use: ``$JAVA_HOME`` if its ``bin/java`` runs and is recent
    enough, else the directory of ``java`` on ``PATH``. A :class:`SparkSetupError` saying what
    to install otherwise (Spark 4 needs Java 17 or newer)."""
    needed = _required_java()
    candidates: list[tuple[str, str]] = []
    home = os.environ.get("JAVA_HOME")
    if home:
        candidates.append((home, os.path.join(home, "bin", "java")))
    on_path = shutil.which("java")
    if on_path:
        binary = os.path.realpath(on_path)
        candidates.append((os.path.dirname(os.path.dirname(binary)), binary))
    seen: list[str] = []
    for java_home, binary in candidates:
        major = _java_major(binary)
        if major is not None and major >= needed:
            return java_home
        seen.append(f"{binary}: " + (f"Java {major}" if major else "does not run"))
    found = "; ".join(seen) if seen else "no JAVA_HOME and no java on PATH"
    raise SparkSetupError(
        f"Spark {pyspark.__version__} needs Java {needed} or newer ({found}). Install a JDK "
        f"(e.g. apt-get install openjdk-{max(needed, 17)}-jre-headless) or set JAVA_HOME."
    )


def _local_defaults(master: str) -> dict[str, str]:
    """Small settings for one machine (a cluster keeps its own): a shuffle partition per core,
    the driver on the loopback address, the warehouse and Derby's files (Hive only) in a
    temporary directory, removed when Python exits."""
    scratch = tempfile.mkdtemp(prefix="rp_toolkit-spark-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    cores = re.fullmatch(r"local\[(\d+)\]", master)
    count = cores.group(1) if cores else str(1 if master == "local" else os.cpu_count() or 2)
    return {
        "spark.sql.shuffle.partitions": count,
        "spark.default.parallelism": count,
        "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse"),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.extraJavaOptions": (
            f"-Duser.timezone=UTC -Dderby.system.home={os.path.join(scratch, 'derby')}"
        ),
    }


def session(
    master: str | None = "local[2]",
    *,
    app_name: str = "rp_toolkit",
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """A SparkSession for the archive: UTC session time zone, no UI, no console progress bar,
    partition values read as text.

    ``master``: ``local[N]`` (the default, 2 cores: small shuffle settings, and the warehouse
    and Derby's files in a temporary directory, so nothing is written in the working
    directory) or a cluster's URL (``spark://host:7077``, ``yarn``, ``k8s://...``: its own
    settings otherwise); None under ``spark-submit``, which chooses the master. ``config`` adds or
    overrides settings. Finds Java as :func:`find_java` does. An existing active session is
    reused by Spark (its settings that cannot change at run time stay as they were); end it
    with :func:`stop`.
    """
    os.environ["JAVA_HOME"] = find_java()
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        _PARTITION_INFERENCE: "false",
    }
    if master is not None and master.startswith("local"):
        settings.update(_local_defaults(master))
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings.update(config or {})
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop(spark: SparkSession) -> None:
    """Stop ``spark`` and end the JVM pyspark started for it (the next :func:`session`
    starts a new one), so no Java process outlives its use."""
    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):
        gateway.shutdown()
    if process is not None:
        with contextlib.suppress(Exception):
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None


# --------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _partition_values_as_text(spark: SparkSession) -> Iterator[None]:
    """Partition values stay text while a dataset is opened (an app named ``007`` is not 7,
    a date not a DATE); the session's own setting is restored after."""
    before = spark.conf.get(_PARTITION_INFERENCE, "true")
    spark.conf.set(_PARTITION_INFERENCE, "false")
    try:
        yield
    finally:
        spark.conf.set(_PARTITION_INFERENCE, before)


def read_kind(
    spark: SparkSession, path: str | os.PathLike[str], kind: str = "requests"
) -> DataFrame:
    """The archive's ``kind`` dataset under ``path`` (the archive's directory, local or any
    URL Spark reads, ``s3a://...``): the files' columns plus ``app`` and ``date`` (text,
    ``YYYY-MM-DD``) from the partition directories. Filters on ``app`` and ``date`` prune
    partitions: only the matching directories are read."""
    name = get_kind(kind).name
    root = str(path).rstrip("/") + "/" + name
    with _partition_values_as_text(spark):
        frame = spark.read.option("basePath", root).parquet(root)
    return frame


# --------------------------------------------------------------------------- the report


def _day(value: Any, name: str) -> str:
    """A start/end bound as its UTC day, ``YYYY-MM-DD``."""
    if isinstance(value, (timedelta, pd.Timedelta)):
        raise InvalidArgumentError(
            f"{name}={value!r}: pass a day (a date, 'YYYY-MM-DD' or a time, its UTC day), "
            "not a duration."
        )
    return window_bound(value, name=name).strftime("%Y-%m-%d")


def _apps(app: str | Iterable[str]) -> list[str]:
    apps = [app] if isinstance(app, str) else list(app)
    for one in apps:
        if not isinstance(one, str) or not _APP.fullmatch(one):
            raise InvalidArgumentError(f"app={one!r} is not an app name ([A-Za-z0-9._-]+).")
    return apps


def _text(column: str) -> Column:
    return F.coalesce(F.col(column).cast("string"), F.lit(""))


def endpoint_days(
    spark: SparkSession,
    path: str | os.PathLike[str],
    *,
    start: Any = None,
    end: Any = None,
    app: str | Iterable[str] | None = None,
) -> DataFrame:
    """The daily per-endpoint percentiles of the archive at ``path``, as a Spark DataFrame.

    The one definition (pandas, DuckDB and Spark): requests records; ``date`` = the UTC day of
    ``datetime``; ``group`` = ``"Controller#action|format"`` (null parts as empty text, as
    :func:`rp_toolkit.reports.requests`); columns :data:`COLUMNS`: ``date`` (a DATE here),
    ``group``, ``controller``, ``action``, ``format``, ``count`` (records, null durations
    included), ``duration_p50``, ``duration_p95``, ``duration_p99`` (Spark's exact
    ``percentile``: linear interpolation between order statistics at rank p/100*(n-1), the
    gem's; nulls and NaN ignored; null when a group has none); sorted by date, then group.

    ``start``/``end``: the first and last UTC day reported, both included (a date,
    ``"YYYY-MM-DD"``, or a time: its UTC day). ``app``: one app or several. Both filter on the
    partition columns, so Spark reads only those directories.
    """
    requests = read_kind(spark, path, "requests")
    first = _day(start, "start") if start is not None else None
    last = _day(end, "end") if end is not None else None
    if first is not None and last is not None and first > last:
        raise InvalidArgumentError(f"start ({first}) is after end ({last}).")
    requests = _requests_between(requests, first, last, app)
    duration = F.col("duration").cast("double")
    kept = F.when(~F.isnan(duration), duration)
    rows = requests.select(
        F.to_date(F.col("datetime")).alias("date"),
        _text("controller").alias("controller"),
        _text("action").alias("action"),
        _text("format").alias("format"),
        kept.alias("duration"),
    )
    return _daily_percentiles(rows)


def _requests_between(
    requests: DataFrame, first: str | None, last: str | None, app: str | Iterable[str] | None
) -> DataFrame:
    """The requests of ``app`` from day ``first`` to day ``last`` (either None: open), kept by
    the partition columns first (Spark reads only those directories), then by their time."""
    if app is not None:
        requests = requests.where(F.col("app").isin(_apps(app)))
    if first is not None:
        requests = requests.where(F.col("date") >= F.lit(first))
    if last is not None:
        requests = requests.where(F.col("date") <= F.lit(last))
    day = F.to_date(F.col("datetime"))
    if first is not None:
        requests = requests.where(day >= F.to_date(F.lit(first)))
    if last is not None:
        requests = requests.where(day <= F.to_date(F.lit(last)))
    return requests


def _daily_percentiles(rows: DataFrame) -> DataFrame:
    """Rows of date, endpoint parts and duration as :data:`COLUMNS`: a count and the
    percentiles per day and endpoint, sorted."""
    ranks = F.array(*(F.lit(p / 100) for p in PERCENTILES))
    table = rows.groupBy("date", "controller", "action", "format").agg(
        F.count(F.lit(1)).alias("count"),
        F.percentile(F.col("duration"), ranks).alias("_percentiles"),
    )
    return table.select(
        "date",
        F.concat_ws("", "controller", F.lit("#"), "action", F.lit("|"), "format").alias("group"),
        "controller",
        "action",
        "format",
        "count",
        *(
            F.col("_percentiles")[i].cast("double").alias(f"duration_p{p}")
            for i, p in enumerate(PERCENTILES)
        ),
    ).orderBy("date", "group", "controller", "action", "format")


def endpoint_days_frame(
    spark: SparkSession,
    path: str | os.PathLike[str],
    *,
    start: Any = None,
    end: Any = None,
    app: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """:func:`endpoint_days` collected as pandas (see :func:`frame_of`)."""
    return frame_of(endpoint_days(spark, path, start=start, end=end, app=app))


def frame_of(days: DataFrame) -> pd.DataFrame:
    """An :func:`endpoint_days` result collected as pandas: ``date`` datetime64[ns, UTC]
    (midnight), ``group``/``controller``/``action``/``format`` string, ``count`` int64, the
    percentiles float64 (NaN when a group has no duration). One row per day and endpoint, so
    small; built from the collected rows (no pyspark pandas conversion)."""
    rows = days.collect()
    frame = pd.DataFrame.from_records([row.asDict() for row in rows], columns=COLUMNS)
    days = pd.to_datetime(frame["date"].astype("object")).dt.tz_localize("UTC")
    frame["date"] = days.astype(_DTYPES["date"])
    return frame.astype(_DTYPES)[COLUMNS]
