"""Least-privilege access: the Redis ACL an analysis user needs, and nothing more.

``ACL SETUSER rp_reader reset on >PASSWORD <analysis_acl_rules()>`` creates a user that can
list and read the gem's records but cannot write, delete, flush, expire or reconfigure. The
production guide (docs/PRODUCTION.md) shows the same rules (a test checks that they agree); the
key patterns come from the kinds' prefixes.

Redis 6.2 has no read-only key permissions (``%R~`` came in Redis 7), so writes are denied by
granting no write command at all: ``-@all`` first, then only the read commands below.
"""

from __future__ import annotations

from .kinds import KINDS, escape_glob

#: Each command the analysis user may run, and why rp_toolkit (or redis-py) needs it.
ANALYSIS_COMMANDS: dict[str, str] = {
    "scan": "lists keys when use_scan is on (the safe default for production)",
    "keys": "lists keys when use_scan is off (the gem's own default)",
    "mget": "reads values, in pipelined chunks of mget_chunk keys",
    "get": "reads one trace (rp.load_trace, slowest_trace)",
    "type": "tells what an unexpected key holds when investigating skipped records",
    "ping": "checks the connection before a report runs",
    "info": "server version and keyspace figures (RedisServer.version, the benchmark)",
    "dbsize": "sizes the progress bar of a SCAN",
    "select": "redis-py selects the database named in the URL (/1, /2...) on connect",
    "memory|usage": "measures a sample of the gem's keys (rp-toolkit memory); no other MEMORY "
    "subcommand",
}

#: The gem's key prefixes, one per kind (:attr:`rp_toolkit.kinds.RecordKind.prefix`): every
#: record kind, traces, resources and deploy events.
ANALYSIS_KEY_PATTERNS: tuple[str, ...] = tuple(
    escape_glob(kind.prefix) + "*" for kind in KINDS.values()
)

DEFAULT_USER = "rp_reader"


def analysis_acl_rules() -> list[str]:
    """The ACL rules of a read-only analysis user (without ``on`` and the password).

    ``resetkeys``/``resetchannels``/``-@all`` start from nothing (no keys, no Pub/Sub, no
    commands), then grant :data:`ANALYSIS_COMMANDS` on :data:`ANALYSIS_KEY_PATTERNS`. AUTH and
    HELLO need no grant (Redis lets every client run them). redis-py's ``CLIENT SETINFO`` is
    refused and redis-py ignores the refusal (it shows in ``ACL LOG``).
    """
    return [
        "resetkeys",
        "resetchannels",
        "-@all",
        *(f"+{command}" for command in ANALYSIS_COMMANDS),
        *(f"~{pattern}" for pattern in ANALYSIS_KEY_PATTERNS),
    ]


def acl_setuser_args(user: str = DEFAULT_USER, password: str = "PASSWORD") -> list[str]:
    """``ACL SETUSER`` arguments creating (or resetting) the analysis user, for
    ``client.execute_command(*acl_setuser_args(user, password))``."""
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", *analysis_acl_rules()]
