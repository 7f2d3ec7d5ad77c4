"""Writing the archive: :func:`archive` reads a source once and adds the records the archive
does not hold yet, as whole files that appear all at once.

How a run goes (``docs/ARCHIVE.md``):

1. It takes ``DIR/_lock`` (one run writes at a time) and finishes what a killed run left:
   a committed run's files still in ``_staging`` are moved into place, an uncommitted run's
   are deleted.
2. It reads every kind in one walk (:class:`rp_toolkit.frames.StoredBatches`), batch by
   batch. Each record goes to its partition (kind, app, UTC day of its time; a trace, which
   has no time, to the day its source was read). A record whose ``record_id`` (the identity
   of its key) the partition already holds is counted, not written: runs over overlapping
   windows or snapshots store each record once. Traces live an hour in Redis, so a trace
   is also looked up in the days beside its own.
3. New records are written to one file per partition under ``_staging/<run>/``, in row
   groups, holding at most :data:`BUFFER_ROWS` records in memory.
4. The manifest record ``_manifest/<run>.json`` is written (whole, then renamed): the run
   is committed. Then its files are renamed into their partitions.

A run killed before 4 leaves the archive as it was; after, with whole partitions added (and
the next run moves the rest). Readers never look in ``_staging``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..exceptions import ArchiveError
from ..files import atomic_files
from ..frames import RecordsLike, StoredBatches
from ..kinds import get_kind
from ..store import progress_bar
from ..version import __version__
from ._layout import (
    FORMAT_FILE,
    LOCK_FILE,
    MANIFEST_DIR,
    STAGING_DIR,
    app_from,
    check_app,
    check_format,
    files,
    part_name,
    partition,
)
from ._schema import ARCHIVED_KINDS, FORMAT, stored_schema, to_table

ROW_GROUP_ROWS = 100_000
"""Records per Parquet row group (large groups compress better; a reader skips whole ones)."""
BUFFER_ROWS = 100_000
"""Records a run holds in memory before writing a row group, over all partitions."""
COMPRESSION = "zstd"
NS_PER_DAY = 86_400 * 10**9
EPOCH = date(1970, 1, 1)


@dataclass
class KindCounts:
    """One kind in one run: records read from the source, added to the archive, already in
    it, and keys left out with a problem (not a record of the kind, no value)."""

    read: int = 0
    added: int = 0
    already_archived: int = 0
    problems: int = 0


@dataclass
class ArchiveRun:
    """What one :func:`archive` run did: its manifest record (``DIR/_manifest/<run>.json``)."""

    run: str
    app: str
    source: str
    source_now: str
    window_start: str | None
    window_end: str
    started: str
    finished: str = ""
    format: int = FORMAT
    rp_toolkit: str = __version__
    snapshot: dict[str, Any] | None = None
    kinds: dict[str, KindCounts] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(counts.added for counts in self.kinds.values())

    @property
    def already_archived(self) -> int:
        return sum(counts.already_archived for counts in self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ArchiveRun:
        kinds = {name: KindCounts(**counts) for name, counts in record.get("kinds", {}).items()}
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{**{k: v for k, v in record.items() if k in known}, "kinds": kinds})


class PartitionWriter:
    """The new records of one partition in one run: written to one staged file, row group by
    row group; records whose id is in ``known`` (the partition's, before the run) are not."""

    def __init__(self, kind: str, day: date, staged: Path, relative: Path, known: np.ndarray):
        self.kind, self.day, self.staged, self.relative = kind, day, staged, relative
        self.known = known  # sorted uint64
        self.buffered: list[pa.Table] = []
        self.buffered_rows = 0
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def add(self, frame: pd.DataFrame) -> tuple[int, int]:
        """Keep the records of ``frame`` the partition does not hold: ``(added, already)``."""
        ids = frame["record_id"].to_numpy(dtype=np.uint64)
        held = contains(self.known, ids)
        already = int(held.sum())
        if already:
            frame = frame[~held]
        if len(frame):
            table = to_table(frame, self.kind)
            self.buffered.append(table)
            self.buffered_rows += table.num_rows
        return len(frame), already

    def flush(self) -> None:
        if not self.buffered:
            return
        table = pa.concat_tables(self.buffered)
        self.buffered, self.buffered_rows = [], 0
        if self._writer is None:
            self.staged.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.staged, table.schema, compression=COMPRESSION, use_dictionary=True
            )
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.rows += table.num_rows

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def by_day(frame: pd.DataFrame) -> list[tuple[date, pd.DataFrame]]:
    """``frame``'s rows by the UTC day of their ``datetime`` (a batch mostly holds one)."""
    numbers = frame["datetime"].array.asi8 // NS_PER_DAY
    first = numbers[0]
    if (numbers == first).all():
        return [(EPOCH + timedelta(days=int(first)), frame)]
    return [
        (EPOCH + timedelta(days=int(number)), frame[numbers == number])
        for number in np.unique(numbers)
    ]


def contains(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in the sorted array ``known``: one binary search each."""
    if not len(known) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(known, ids), len(known) - 1)
    return known[at] == ids


def held_ids(paths: Sequence[Path]) -> np.ndarray:
    """The sorted record ids in ``paths`` (only that column is read)."""
    parts = []
    for path in paths:
        try:
            parts.append(pq.read_table(path, columns=["record_id"]).column(0).to_numpy())
        except (pa.ArrowInvalid, OSError) as error:
            raise ArchiveError(
                f"The archive file {path} cannot be read (damaged, or not Parquet): {error}"
            ) from None
    ids = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    return np.sort(ids.astype(np.uint64, copy=False))


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold ``DIR/_lock`` for the block (released when the process ends, however it ends)."""
    handle = open(root / LOCK_FILE, "a+b")  # noqa: SIM115 (held for the block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ArchiveError(
                f"Another archive run is writing to {root}; try again later."
            ) from None
        yield
    finally:
        handle.close()


def recover(root: Path) -> list[str]:
    """Finish what killed runs left in ``_staging``: a committed run's files moved into
    place, an uncommitted run's deleted. Returns what was done, one line per run."""
    staging = root / STAGING_DIR
    done: list[str] = []
    if not staging.is_dir():
        return done
    for run_dir in sorted(staging.iterdir()):
        record = root / MANIFEST_DIR / f"{run_dir.name}.json"
        if record.is_file():
            moved = publish(root, run_dir, json.loads(record.read_text())["files"])
            done.append(f"run {run_dir.name}: committed; {moved} file(s) moved into place")
        else:
            done.append(f"run {run_dir.name}: not committed; its staged files deleted")
        shutil.rmtree(run_dir, ignore_errors=True)
    return done


def publish(root: Path, run_dir: Path, files: list[dict[str, Any]]) -> int:
    """Rename a committed run's staged files into their partitions (each rename whole)."""
    moved = 0
    for entry in files:
        staged, final = run_dir / entry["path"], root / entry["path"]
        if staged.is_file() and not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            moved += 1
    return moved


def start_archive(root: Path) -> None:
    """Create ``root`` as an archive, or check it is one this version writes."""
    if root.exists() and not root.is_dir():
        raise ArchiveError(f"{root} is not a directory: choose an empty or new directory.")
    root.mkdir(parents=True, exist_ok=True)
    marker = root / FORMAT_FILE
    if not marker.exists():
        # Not data: the temporary a run killed while writing the format file leaves, and the
        # format file a run starting at the same time may just have written.
        leftover = f".{FORMAT_FILE}.tmp-"
        names = (p.name for p in root.iterdir())
        if any(n != FORMAT_FILE and not n.startswith(leftover) for n in names):
            raise ArchiveError(
                f"{root} is not empty and not an rp_toolkit archive: choose an empty or new "
                "directory."
            )
        with atomic_files(marker) as (temporary,):
            temporary.write_text(json.dumps({"format": FORMAT}) + "\n")
    record = check_format(root)
    if int(record["format"]) != FORMAT:
        raise ArchiveError(
            f"{root} is an archive of format {record['format']}; this writes {FORMAT}."
        )


def archive(
    source: RecordsLike,
    path: str | os.PathLike[str],
    kinds: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    app: str | None = None,
) -> ArchiveRun:
    """Add the records of ``source`` (a Redis URL or client, a :class:`~rp_toolkit.Snapshot`,
    an RDB file's path) to the archive at ``path``, created if needed.

    ``kinds``: every kind the gem writes (the default), or some; ``start``/``end``: the
    window (by default every record the source holds, up to its now); ``app``: the
    application's name in the archive (default: the server's host, with ``-db<N>``, or the
    snapshot's file name). Idempotent: records already archived are counted, not written
    again (see the module). Returns the run's manifest record.
    """
    root = Path(path)
    chosen = list(ARCHIVED_KINDS) if kinds is None else [get_kind(k).name for k in kinds]
    read = StoredBatches(chosen, source, start=start, end=end)
    name = check_app(app) if app is not None else app_from(read.source.place_name())
    start_archive(root)
    with locked(root):
        recover(root)
        run = ArchiveRun(
            run=f"{pd.Timestamp.now(tz='UTC'):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            app=name,
            source=read.source.describe(),
            source_now=read.now.isoformat(),
            window_start=None if read.start is None else read.start.isoformat(),
            window_end=read.end.isoformat(),
            started=pd.Timestamp.now(tz="UTC").isoformat(),
            snapshot=read.source.snapshot_identity(),
            kinds={kind: KindCounts() for kind in chosen},
        )
        run_dir = root / STAGING_DIR / run.run
        try:
            writers = _write(root, run_dir, run, read)
            for writer in writers:
                if writer.rows:
                    run.files.append(
                        {
                            "path": writer.relative.as_posix(),
                            "kind": writer.kind,
                            "date": writer.day.isoformat(),
                            "rows": writer.rows,
                        }
                    )
            for kind, info in read.infos.items():
                run.kinds[kind].problems = int((~info.problems["kept"].astype(bool)).sum())
            run.finished = pd.Timestamp.now(tz="UTC").isoformat()
            (root / MANIFEST_DIR).mkdir(exist_ok=True)
            with atomic_files(root / MANIFEST_DIR / f"{run.run}.json") as (temporary,):
                temporary.write_text(json.dumps(run.as_dict(), indent=1) + "\n")
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # not committed: as if never run
            raise
        publish(root, run_dir, run.files)
        shutil.rmtree(run_dir, ignore_errors=True)
    return run


def _timeless(kind: str) -> bool:
    """Whether ``kind``'s records carry no time of their own (traces): they are filed under
    the day they were read, and looked for in the days around it."""
    return "datetimei" not in get_kind(kind).key_fields


def _write(
    root: Path, run_dir: Path, run: ArchiveRun, read: StoredBatches
) -> list[PartitionWriter]:
    """Read the source once, sending each record to its partition's writer."""
    writers: dict[tuple[str, date], PartitionWriter] = {}
    read_day = read.now.date()

    def writer_for(kind: str, day: date) -> PartitionWriter:
        writer = writers.get((kind, day))
        if writer is None:
            neighbours = (day - timedelta(days=1), day, day + timedelta(days=1))
            held = files(root, kind, run.app, neighbours if _timeless(kind) else [day])
            relative = partition(Path(), kind, run.app, day) / part_name(run.run)
            writer = PartitionWriter(kind, day, run_dir / relative, relative, held_ids(held))
            writers[(kind, day)] = writer
        return writer

    with progress_bar(0, "archiving", "records", read.source.options) as bar:
        for kind, frame in read:
            counts = run.kinds[kind]
            counts.read += len(frame)
            bar.update(len(frame))
            if not len(frame):
                continue
            for day, part in [(read_day, frame)] if _timeless(kind) else by_day(frame):
                added, already = writer_for(kind, day).add(part)
                counts.added += added
                counts.already_archived += already
            if sum(w.buffered_rows for w in writers.values()) >= BUFFER_ROWS:
                max(writers.values(), key=lambda w: w.buffered_rows).flush()
    for writer in writers.values():
        writer.close()
    for kind in run.kinds:
        stored_schema(kind)  # every kind asked for has a schema (a clear error otherwise)
    return sorted(writers.values(), key=lambda w: (w.kind, w.day))
