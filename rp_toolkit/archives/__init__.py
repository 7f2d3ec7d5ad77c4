"""The archive: the gem's records kept beyond Redis's TTL as hive-partitioned Parquet
(``DIR/<kind>/app=<app>/date=<day>/``), written by :func:`archive` (idempotent, crash-safe,
streaming) and read with DuckDB through :func:`open_archive`. ``docs/ARCHIVE.md`` describes
the layout, the schemas and the guarantees."""

from .layout import check_app
from .read import Archive, ArchiveBatches, open_archive
from .schema import ARCHIVED_KINDS, FORMAT, SCHEMAS, stored_schema, to_frame, to_table
from .write import ArchiveRun, KindCounts, archive, recover

__all__ = [
    "ARCHIVED_KINDS",
    "FORMAT",
    "SCHEMAS",
    "Archive",
    "ArchiveBatches",
    "ArchiveRun",
    "KindCounts",
    "archive",
    "check_app",
    "open_archive",
    "recover",
    "stored_schema",
    "to_frame",
    "to_table",
]
