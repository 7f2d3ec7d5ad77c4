"""The archive: the gem's records kept beyond Redis's TTL as hive-partitioned Parquet
(``DIR/<kind>/app=<app>/date=<day>/``), written by :func:`archive` (idempotent, crash-safe,
streaming) and read with DuckDB through :func:`open_archive`. ``docs/ARCHIVE.md`` describes
the layout, the schemas and the guarantees."""

from ._layout import check_app
from ._read import Archive, open_archive
from ._schema import ARCHIVED_KINDS, FORMAT, SCHEMAS, schema_table
from ._write import ArchiveRun, archive

__all__ = [
    "ARCHIVED_KINDS",
    "FORMAT",
    "SCHEMAS",
    "Archive",
    "ArchiveRun",
    "archive",
    "check_app",
    "open_archive",
    "schema_table",
]
