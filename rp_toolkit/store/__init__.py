"""Everything that talks to Redis for reading: connections, SCAN/KEYS, cluster, fetchers.

Private modules inside, each importing only those before it: ``_fetch`` (the public fetchers,
all on :class:`FetchStream`), ``sources`` (a package: one face, :class:`Source`, for a server
(``_live``) or a snapshot (``_snapshot``), and :func:`open_source`, the one conversion),
``_stream`` (the stages, overlapped) and ``_snapshot`` (an RDB file, read without any server),
``_cluster`` (every primary, per-slot reads: :class:`ClusterTopology`), ``_node`` (one server:
walk and read; :class:`ServerTopology`), ``_scan`` (COUNT choice and the SCAN loop on one
node), ``_identity`` (readiness, restarts), ``_stats`` (what a fetch did, typed; the timed and
retried round trip) and ``_connection`` (clients from URLs, redaction, error translation,
cluster detection). Other packages import the names below from ``rp_toolkit.store``, never
from a private module.

Each public call takes the options in force once, when it starts, and passes them down
(:class:`~rp_toolkit.config.Options`); nothing here reads ``rp.settings``. Nothing here writes
to Redis.
"""

from ._cluster import ClusterNode, ClusterTopology, in_parallel
from ._connection import (
    ACL_EXTRA,
    CLUSTER_SCHEMES,
    PASSWORD_ON_COMMAND_LINE,
    ClientLike,
    describe_server,
    get_client,
    has_secret,
    is_cluster,
    redact_url,
    translate_errors,
    with_password_file,
)
from ._fetch import FetchStream, fetch_from_redis, fetch_keys, list_keys
from ._node import Node, ServerTopology
from ._scan import (
    ADAPTIVE_MAX_COUNT,
    ADAPTIVE_MIN_COUNT,
    AdaptiveCount,
    determine_scan_count,
    quiet_keys_notices,
    scan_batches,
    scan_match,
)
from ._snapshot import Snapshot, SnapshotStats
from ._stats import (
    PROGRESS_DELAY_S,
    FetchResult,
    FetchStats,
    NodeFigures,
    Restart,
    ScanCounts,
    ServerIdentity,
    SnapshotFacts,
    progress_bar,
    timed_call,
)
from ._stream import STAGE_QUEUE_TRIPS, SeenKeys
from .sources import (
    LiveSource,
    SnapshotSource,
    Source,
    SourceLike,
    open_source,
    read_values,
)

__all__ = [
    # where records come from
    "LiveSource",
    "Snapshot",
    "SnapshotSource",
    "SnapshotStats",
    "Source",
    "SourceLike",
    "open_source",
    # fetching, and what a fetch did
    "FetchResult",
    "FetchStats",
    "FetchStream",
    "NodeFigures",
    "Restart",
    "ScanCounts",
    "ServerIdentity",
    "SnapshotFacts",
    "fetch_from_redis",
    "fetch_keys",
    "list_keys",
    "read_values",
    # servers and clusters
    "ACL_EXTRA",
    "CLUSTER_SCHEMES",
    "PASSWORD_ON_COMMAND_LINE",
    "ClientLike",
    "ClusterNode",
    "ClusterTopology",
    "Node",
    "ServerTopology",
    "describe_server",
    "get_client",
    "has_secret",
    "in_parallel",
    "is_cluster",
    "redact_url",
    "translate_errors",
    "with_password_file",
    # SCAN, the stages, the round trip
    "ADAPTIVE_MAX_COUNT",
    "ADAPTIVE_MIN_COUNT",
    "AdaptiveCount",
    "PROGRESS_DELAY_S",
    "STAGE_QUEUE_TRIPS",
    "SeenKeys",
    "determine_scan_count",
    "progress_bar",
    "quiet_keys_notices",
    "scan_batches",
    "scan_match",
    "timed_call",
]
