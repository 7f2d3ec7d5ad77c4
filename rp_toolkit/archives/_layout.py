"""Where an archive keeps what: paths, app names and the manifest. Pure paths and small
JSON files; the writer (:mod:`._write`) and the reader (:mod:`._read`) share them.

::

    DIR/_archive.json                          the format version
    DIR/<kind>/app=<app>/date=<YYYY-MM-DD>/part-<run>.parquet
    DIR/_manifest/<run>.json                   what each run added (the commit record)
    DIR/_staging/<run>/...                     a run's files until it commits (never read)
    DIR/_lock                                  held by the run writing

Names starting with ``_`` are not data: Spark, DuckDB globs over ``DIR/<kind>`` and Hive
ignore them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from ..exceptions import ArchiveError, InvalidArgumentError
from ._schema import ARCHIVED_KINDS, FORMAT

FORMAT_FILE = "_archive.json"
MANIFEST_DIR = "_manifest"
STAGING_DIR = "_staging"
LOCK_FILE = "_lock"

_APP = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def check_app(app: str) -> str:
    """``app`` if it can name a partition (letters, digits, ``.``, ``_``, ``-``; at most
    128, not starting with a punctuation mark), else a clear error."""
    if not isinstance(app, str) or not _APP.fullmatch(app):
        raise InvalidArgumentError(
            f"app={app!r} cannot name an archive partition: use letters, digits, '.', '_' and "
            "'-' (at most 128, starting with a letter or digit)."
        )
    return app


def app_from(place: str) -> str:
    """A partition-safe app name made from a place's name (a host, a file name)."""
    name = _UNSAFE.sub("-", place).strip("-._")[:128]
    return name or "app"


def partition(root: Path, kind: str, app: str, day: date) -> Path:
    return root / kind / f"app={app}" / f"date={day.isoformat()}"


def part_name(run: str) -> str:
    return f"part-{run}.parquet"


def apps(root: Path) -> list[str]:
    """The apps with files in the archive, any kind."""
    found = {
        directory.name[len("app=") :]
        for kind in ARCHIVED_KINDS
        if (root / kind).is_dir()
        for directory in (root / kind).iterdir()
        if directory.name.startswith("app=")
    }
    return sorted(found)


def days(root: Path, kind: str, app: str) -> list[date]:
    """The days of ``kind`` the archive holds for ``app``."""
    base = root / kind / f"app={app}"
    if not base.is_dir():
        return []
    found = (_DATE_DIR.match(d.name) for d in base.iterdir())
    return sorted(date.fromisoformat(m.group(1)) for m in found if m)


def files(root: Path, kind: str, app: str, chosen: Iterable[date] | None = None) -> list[Path]:
    """The Parquet files of ``kind`` for ``app`` on the ``chosen`` days (every day: None);
    only those partitions' directories are listed."""
    wanted = days(root, kind, app) if chosen is None else sorted(set(chosen))
    out: list[Path] = []
    for day in wanted:
        directory = partition(root, kind, app, day)
        if directory.is_dir():
            out.extend(sorted(directory.glob("part-*.parquet")))
    return out


def check_format(root: Path) -> dict[str, Any]:
    """The archive's format record, or a clear error when ``root`` is not an archive this
    version reads."""
    marker = root / FORMAT_FILE
    if not marker.is_file():
        raise ArchiveError(f"{root} is not an rp_toolkit archive (no {FORMAT_FILE}).")
    try:
        record = json.loads(marker.read_text())
        version = int(record["format"])
    except (ValueError, KeyError, TypeError) as error:
        raise ArchiveError(f"{marker} is not readable: {error}") from None
    if version > FORMAT:
        raise ArchiveError(
            f"{root} is an archive of format {version}; this rp_toolkit reads format {FORMAT} "
            "and older: upgrade rp_toolkit."
        )
    return record


def manifest(root: Path) -> list[dict[str, Any]]:
    """Every committed run's record, oldest first."""
    directory = root / MANIFEST_DIR
    if not directory.is_dir():
        return []
    runs = [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]
    return sorted(runs, key=lambda run: (run["started"], run["run"]))
