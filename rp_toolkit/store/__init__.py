"""Everything that talks to Redis for reading: connections, SCAN/KEYS, cluster, fetchers.

Layers inside, each importing only those before it: :mod:`.connection` (clients from URLs,
redaction, error translation, cluster detection), :mod:`.stats` (what a fetch did, the timed
and retried round trip), :mod:`.identity` (readiness, restarts), :mod:`.scan` (COUNT choice
and the SCAN loop on one node), :mod:`.node` (one server: walk and read; ``ServerTopology``),
:mod:`.cluster` (the same for every primary, per-slot reads), :mod:`.stream` (the
stages, overlapped), :mod:`.snapshot` (an RDB file, read without any server),
:mod:`.sources` (a server or a snapshot behind one interface, chosen once) and :mod:`.fetch`
(the public fetchers).
Nothing here writes to Redis.
"""

from .cluster import MAX_THREADS, ClusterNode, ClusterTopology, in_parallel
from .connection import (
    ACL_EXTRA,
    CLUSTER_SCHEMES,
    PASSWORD_ON_COMMAND_LINE,
    ClientLike,
    check_url,
    describe_server,
    get_client,
    has_secret,
    is_cluster,
    is_tls_failure,
    redact_url,
    translate_errors,
    with_password_file,
)
from .fetch import FetchStream, fetch_from_redis, fetch_keys, list_keys
from .node import Node, ServerTopology
from .scan import (
    ADAPTIVE_MAX_COUNT,
    ADAPTIVE_MIN_COUNT,
    AUTO_COUNT_DAY_SCOPED,
    AUTO_COUNT_OTHER,
    AUTO_COUNT_REQUEST_ID,
    KEYS_DEPRECATION_NOTICE,
    AdaptiveCount,
    determine_scan_count,
    is_request_id_lookup,
    quiet_keys_notices,
    scan_batches,
    scan_count_rule,
    scan_match,
    warn_keys_deprecated,
)
from .snapshot import Snapshot, SnapshotStats
from .sources import (
    LiveSource,
    SnapshotSource,
    Source,
    SourceLike,
    open_source,
    read_values,
)
from .stats import (
    PROGRESS_DELAY_S,
    FetchResult,
    FetchStats,
    NodeFigures,
    Restart,
    ScanCounts,
    ServerFacts,
    ServerIdentity,
    SnapshotFacts,
    StaleReplica,
    progress_bar,
    timed_call,
)
from .stream import STAGE_QUEUE_TRIPS, SeenKeys, stream_batches

__all__ = [
    "LiveSource",
    "Snapshot",
    "SnapshotSource",
    "SnapshotStats",
    "Source",
    "SourceLike",
    "open_source",
    "ACL_EXTRA",
    "ADAPTIVE_MAX_COUNT",
    "ADAPTIVE_MIN_COUNT",
    "AUTO_COUNT_DAY_SCOPED",
    "AUTO_COUNT_OTHER",
    "AUTO_COUNT_REQUEST_ID",
    "CLUSTER_SCHEMES",
    "PASSWORD_ON_COMMAND_LINE",
    "KEYS_DEPRECATION_NOTICE",
    "MAX_THREADS",
    "PROGRESS_DELAY_S",
    "STAGE_QUEUE_TRIPS",
    "AdaptiveCount",
    "ClientLike",
    "ClusterNode",
    "ClusterTopology",
    "FetchResult",
    "FetchStats",
    "FetchStream",
    "Node",
    "ServerTopology",
    "NodeFigures",
    "Restart",
    "ScanCounts",
    "ServerFacts",
    "ServerIdentity",
    "SnapshotFacts",
    "StaleReplica",
    "SeenKeys",
    "check_url",
    "describe_server",
    "determine_scan_count",
    "fetch_from_redis",
    "fetch_keys",
    "get_client",
    "has_secret",
    "in_parallel",
    "is_cluster",
    "is_request_id_lookup",
    "is_tls_failure",
    "list_keys",
    "progress_bar",
    "quiet_keys_notices",
    "read_values",
    "redact_url",
    "scan_batches",
    "scan_count_rule",
    "scan_match",
    "stream_batches",
    "timed_call",
    "translate_errors",
    "warn_keys_deprecated",
    "with_password_file",
]
