"""Regenerate the figures of the guides from committed benchmark results.

``docs/SCAN_MIGRATION.md``, ``docs/SNAPSHOTS.md`` and ``docs/PRODUCTION.md`` hold generated
blocks between ``<!-- generated:NAME:start -->`` and ``<!-- generated:NAME:end -->``;
:func:`render_guide` rewrites them (and the plots) from the runs ``make guide-measure`` saves
under ``docs/bench/``: ``rp-toolkit bench`` per server family (``valkey/``, ``redis/``),
``load-speed`` (``load_speed/<family>/``), ``snapshot-speed`` (``snapshot/``) and
``cluster-bench`` (``cluster/valkey.json``). Every sentence in a block that states a measured
relation is computed here or in :mod:`rp_toolkit.bench.findings`, so no figure is typed by
hand; text outside the blocks states no measured figure (``tests/entry/test_docs.py``
checks both). ``rp-toolkit docs`` runs it; ``--check`` only reports whether a guide is current.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from . import bench
from .bench import findings
from .bench.markdown import server_text
from .files import atomic_files
from .markup import code_span
from .reports import plots

GUIDE = Path("docs/SCAN_MIGRATION.md")
GUIDES = (GUIDE, Path("docs/SNAPSHOTS.md"), Path("docs/PRODUCTION.md"))
RESULTS = Path("docs/bench")
IMAGES = Path("docs/images")
SERVERS = ("valkey", "redis")
"""The server families measured, in the order the guides show them; the first is the default
embedded server and the one the plots and the per-query findings describe."""
LOAD_SPEED = Path("load_speed")
SNAPSHOT_SPEED = Path("snapshot/snapshot_speed.json")
CLUSTER = Path("cluster/valkey.json")
MEASURE = "`make guide-measure`"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w-]+):start -->\n)(?P<body>.*?)(<!-- generated:(?P=name):end -->)",
    re.DOTALL,
)


def block_names(text: str) -> list[str]:
    """The generated blocks a guide holds, in order."""
    return [match["name"] for match in _BLOCK.finditer(text)]


def outside_blocks(text: str) -> str:
    """A guide's text with every generated block's body removed (what is typed by hand)."""
    return _BLOCK.sub(lambda match: match.group(1) + match.group(4), text)


def _row(results: pd.DataFrame, size: int, query: str, method: str, count: str | None = None):
    rows = results[
        (results["size"] == size) & (results["query"] == query) & (results["method"] == method)
    ]
    if count is not None:
        rows = rows[rows["count"] == count]
    return rows.iloc[0] if len(rows) else None


def _ms(value: float) -> str:
    return "not measured" if pd.isna(value) else f"{value:,.1f} ms"


def _server(results: pd.DataFrame) -> str:
    return server_text(results.attrs.get("environment", {}))


def key_figures(results: pd.DataFrame) -> str:
    """The overview's bullets for one server: blocking, slowest command, overhead, values."""
    size = int(results["size"].max())
    lines = []
    keys = _row(results, size, "day", "KEYS")
    scan = _row(results, size, "day", "SCAN", "auto")
    if keys is not None and scan is not None:
        lines.append(
            f"* **Blocking, {size:,} records, day query.** While `KEYS` ran "
            f"({keys['wall_median_s']:.2f} s), another client's PING waited up to "
            f"{_ms(keys['probe_max_ms'])}; while `SCAN` with auto-tuned COUNT "
            f"({scan['scan_count']}) ran, at most {_ms(scan['probe_max_ms'])} (idle: "
            f"{_ms(scan['probe_idle_max_ms'])})."
        )
        slowest_keys = keys["slowlog_max_us"] / 1000
        slowest_scan = scan["slowlog_max_us"] / 1000
        lines.append(
            f"* **Slowest single command** (Redis `SLOWLOG`): KEYS {_ms(slowest_keys)}; SCAN "
            + (
                f"{_ms(slowest_scan)}."
                if not pd.isna(slowest_scan)
                else f"none above the {scan['slowlog_threshold_us'] / 1000:g} ms threshold."
            )
        )
    overheads = []
    for each in sorted(results["size"].unique()):
        row = _row(results, int(each), "day", "SCAN", "auto")
        if row is not None and int(each) >= 10_000:
            overheads.append(f"{row['overhead']:.2f}× at {int(each):,}")
    if overheads:
        lines.append(
            "* **Overhead**, SCAN with auto-tune over KEYS (day query): "
            + ", ".join(overheads)
            + "."
        )
    gem = _row(results, size, "day", "gem_keys_mget")
    ours = _row(results, size, "day", "scan_chunked_mget")
    if gem is not None and ours is not None:
        lines.append(
            f"* **Keys and values** ({size:,} records): the gem's KEYS + one MGET took "
            f"{gem['wall_median_s']:.2f} s and kept another client waiting up to "
            f"{_ms(gem['probe_max_ms'])}; rp_toolkit's SCAN + chunked MGETs took "
            f"{ours['wall_median_s']:.2f} s ({ours['overhead']:.2f}×), waiting at most "
            f"{_ms(ours['probe_max_ms'])}."
        )
    return "\n".join(lines) + "\n"


def environment_text(results: pd.DataFrame) -> str:
    env = results.attrs.get("environment", {})
    parts = [
        _server(results),
        f"redis-py {env.get('redis_py', '?')}",
        f"hiredis {env.get('hiredis', '?')}",
        f"Python {env.get('python', '?')}",
        f"{env.get('cpu_count', '?')} CPUs",
        f"load average {env.get('load_average_start', '?')} at the start",
        str(env.get("platform", "?")),
        f"run on {env.get('date', '?')}",
    ]
    params = env.get("parameters", {})
    return "* " + ", ".join(parts) + f". Repeats: {params.get('repeats', '?')}.\n"


def _per_server(
    runs: dict[str, pd.DataFrame], render: Callable[[pd.DataFrame], str], heading: str = "**"
) -> str:
    """``render`` for each server's run, each under the server's name."""
    parts = []
    for results in runs.values():
        name = _server(results)
        title = f"#### {name}\n\n" if heading == "####" else f"**{name}.**\n"
        parts.append(title + render(results).rstrip("\n") + "\n")
    return "\n".join(parts)


def choosing_count(results: pd.DataFrame) -> str:
    """The "Choosing COUNT" findings of the default server's run, one bullet per query."""
    lines = [f"Measured on {_server(results)}:", ""]
    for query in ("day", "controller", "request_id"):
        if query in set(results["query"]):
            lines.append(f"* **{query}**: {findings.overhead_by_size(results, query)}")
    lines.append(f"* **COUNT against the probe**: {findings.count_costs(results, 'day')}")
    return "\n".join(lines) + "\n"


def request_id_count(runs: dict[str, pd.DataFrame]) -> str:
    """Why auto-tune's COUNT for a request-id lookup is 1000 here, from every server's run."""
    parts = []
    for results in runs.values():
        size = int(results["size"].max())
        gem = _row(results, size, "request_id", "SCAN", "10")
        auto = _row(results, size, "request_id", "SCAN", "auto")
        keys = _row(results, size, "request_id", "KEYS")
        if gem is None or auto is None or keys is None:
            continue
        parts.append(
            f"on {_server(results)} at {size:,} records, the gem's COUNT 10 took "
            f"{gem['wall_median_s']:.2f} s in {int(gem['scan_calls']):,} SCAN calls (longest "
            f"wait {_ms(gem['probe_max_ms'])}), COUNT {int(auto['scan_count']):,} "
            f"{auto['wall_median_s']:.2f} s in {int(auto['scan_calls']):,} calls (longest wait "
            f"{_ms(auto['probe_max_ms'])}; KEYS {keys['wall_median_s']:.2f} s, longest wait "
            f"{_ms(keys['probe_max_ms'])})"
        )
    if not parts:
        return "*Request-id lookups were not measured with COUNT 10 and auto-tune.*\n"
    return "Measured: " + "; ".join(parts) + ".\n"


def _value(summary: dict[str, Any], name: str, unit: str, digits: int = 1) -> str:
    value = summary.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f} {unit}"


def _gem_sentence(summary: dict[str, Any], ours: str) -> str:
    """The gem's read path as measured in the same run: its Ruby when the machine had Ruby with
    the redis gem, else the Python emulation (said so); no figure from elsewhere."""
    if "gem_read_path_ruby_s" in summary:
        return (
            f"the gem's own read path in Ruby (Debian's ruby and ruby-redis): "
            f"{_value(summary, 'gem_read_path_ruby_s', 's')}, "
            f"{summary['gem_read_path_ruby_s'] / summary[ours]:.1f}x"
        )
    return (
        "the gem's read path emulated in Python (the machine had no Ruby with the redis gem): "
        f"{_value(summary, 'gem_read_path_python_emulation_s', 's')}, "
        f"{summary['gem_read_path_python_emulation_s'] / summary[ours]:.1f}x"
    )


def _server_of(summary: dict[str, Any]) -> str:
    return summary.get("server") or f"INFO redis_version {summary.get('redis_version', '?')}"


def load_speed_text(measured: dict[str, Any]) -> str:
    """The read path's figures (``rp-toolkit load-speed``) as a table and two sentences."""
    summary, environment = measured["summary"], measured["environment"]
    rows = [
        ("naive transfer: SCAN COUNT 1000, then MGETs of 1,000 keys, no parsing",
         _value(summary, "naive_transfer_s", "s", 2), ""),
        ("`rp.load` (typed frame)", _value(summary, "rp_load_s", "s", 2),
         _value(summary, "load_peak_rss_gib", "GiB", 2)),
        ("`rp.iter_load` (frames of 10,000)", _value(summary, "rp_iter_load_s", "s", 2),
         _value(summary, "iter_load_peak_rss_mib", "MiB", 0)),
    ]  # fmt: skip
    table = "| read | time (median) | peak memory |\n|---|---:|---:|\n" + "".join(
        f"| {what} | {seconds} | {memory} |\n" for what, seconds, memory in rows
    )
    slowest = {
        name: (
            f"{summary[f'{name}_slowlog_max_command']}, "
            f"{_value({'v': summary[f'{name}_slowlog_max_us'] / 1000}, 'v', 'ms')}"
            if summary.get(f"{name}_slowlog_max_command")
            else "none logged"
        )
        for name in ("auto", "low_impact")
    }
    return (
        f"{environment['records']:,} request records, {_server_of(summary)}, "
        f"{environment['cpu_count']} CPUs, {environment['date']}.\n\n"
        + table
        + f"\n`rp.load` takes {summary['load_over_naive_transfer']:.2f}x the naive transfer; "
        f"{_gem_sentence(summary, 'rp_load_s')} `rp.load`'s time. While `rp.load` ran, "
        f"another client's longest PING wait was {_value(summary, 'auto_probe_max_ms', 'ms')} "
        f"with the auto-tuned COUNT (slowest command: {slowest['auto']}) and "
        f"{_value(summary, 'low_impact_probe_max_ms', 'ms')} with an adaptive COUNT and MGETs "
        f"of 250 (slowest command: {slowest['low_impact']}); idle: "
        f"{_value(summary, 'probe_idle_max_ms', 'ms')}."
        + (
            f" Parsing alone (`rp.load`'s parser on one core, batches of 50,000) cost "
            f"{_value(summary, 'parse_cpu_s_per_1m', 's', 2)} of CPU per million records."
            if summary.get("parse_cpu_s_per_1m") is not None
            else ""
        )
        + "\n"
        + _scan_cost_sentence(summary)
    )


def _scan_cost_sentence(summary: dict[str, Any]) -> str:
    """One SCAN call's cost inside Redis with the gem's pattern and with the one sent (runs
    from before ``scan_cost`` was measured have none: no sentence)."""
    if "scan_gem_usec_per_call" not in summary:
        return ""
    return (
        f"\nOne SCAN call of COUNT 1000 cost Redis "
        f"{_value(summary, 'scan_gem_usec_per_call', 'µs', 0)} on average with the gem's pattern "
        f"{code_span(summary['scan_gem_pattern'])} (slowest "
        f"{_value(summary, 'scan_gem_slowlog_max_us', 'µs', 0)}) and "
        f"{_value(summary, 'scan_sent_usec_per_call', 'µs', 0)} with the pattern `rp.load` sends, "
        f"{code_span(summary['scan_sent_pattern'])} (slowest "
        f"{_value(summary, 'scan_sent_slowlog_max_us', 'µs', 0)}): "
        f"{summary['scan_sent_over_gem']:.2f}x.\n"
    )


def live_commands_text(measured: dict[str, Any]) -> str:
    """The cost of a live load to the server, for the snapshot guide's comparison."""
    summary = measured["summary"]
    command = summary.get("auto_slowlog_max_command")
    slowest = (
        f"the slowest command was {command}, {summary['auto_slowlog_max_us'] / 1000:.1f} ms "
        f"({int(summary.get('auto_slowlog_entries') or 0):,} commands over "
        f"{summary.get('slowlog_threshold_us', 0) / 1000:g} ms)"
        if command
        else "no command was slow enough for SLOWLOG"
    )
    return (
        f"A live load of {measured['environment']['records']:,} request records with SCAN "
        f"({_server_of(summary)}, `rp-toolkit load-speed`): {slowest}; another client's "
        f"longest PING wait was {_value(summary, 'auto_probe_max_ms', 'ms')} (idle: "
        f"{_value(summary, 'probe_idle_max_ms', 'ms')}).\n"
    )


def snapshot_speed_text(measured: dict[str, Any]) -> str:
    """``rp-toolkit snapshot-speed``: the file against the live server and the gem."""
    summary, environment = measured["summary"], measured["environment"]
    snapshot = summary.get("snapshot", {})
    return (
        f"{environment['records']:,} request records, {snapshot.get('describe', '?')}, "
        f"{environment['cpu_count']} CPUs, {environment['date']}: `rp.load` from the file "
        f"took {_value(summary, 'rp_load_snapshot_s', 's', 2)} (peak memory "
        f"{_value(summary, 'snapshot_peak_rss_gib', 'GiB', 2)}), from the live server that "
        f"wrote it {_value(summary, 'rp_load_live_s', 's', 2)} (peak "
        f"{_value(summary, 'live_peak_rss_gib', 'GiB', 2)}); "
        f"{_gem_sentence(summary, 'rp_load_snapshot_s')} the snapshot load's time.\n"
    )


def cluster_text(measured: dict[str, Any]) -> str:
    """``rp-toolkit cluster-bench``: one node against a local cluster, same records."""
    environment, rows = measured["environment"], measured["rows"]
    by = {(row["target"], row["operation"]): row for row in rows}
    lines = [
        f"{environment['records']:,} request records on one node and on a local cluster of "
        f"{environment['primaries']} primaries ({environment.get('server_software', '?')}, "
        f"{environment['cpu_count']} CPUs, {environment['date']}; medians of "
        f"{environment['repeats']} runs):",
        "",
        "| operation | one node | cluster | cluster / one node | MGETs (one node, cluster) "
        "| keys per MGET (one node, cluster) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for operation in dict.fromkeys(row["operation"] for row in rows):
        single, cluster = by.get(("single", operation)), by.get(("cluster", operation))
        if operation == "write" or single is None or cluster is None:
            continue
        if cluster.get("error") or single.get("error"):
            failed = cluster if cluster.get("error") else single
            lines.append(f"| {operation} | | fails: {failed['error']} | | | |")
            continue

        def per_mget(row: dict[str, Any]) -> str:
            calls = row.get("mget_calls") or 0
            return f"{row['keys'] / calls:,.0f}" if calls else "–"

        lines.append(
            f"| {operation} | {single['seconds']:.2f} s | {cluster['seconds']:.2f} s | "
            f"{cluster['seconds'] / single['seconds']:.2f}x | "
            f"{single.get('mget_calls') or 0:,}, {cluster.get('mget_calls') or 0:,} | "
            f"{per_mget(single)}, {per_mget(cluster)} |"
        )
    return "\n".join(lines) + "\n"


def load_runs(results_path: Path = RESULTS) -> dict[str, pd.DataFrame]:
    """Each server family's ``rp-toolkit bench`` results, in :data:`SERVERS` order."""
    runs = {}
    for family in SERVERS:
        if (results_path / family / "bench.json").exists():
            runs[family] = bench.load_results(results_path / family)
    if not runs:
        raise FileNotFoundError(
            f"No benchmark results under {results_path}/{{{','.join(SERVERS)}}}/: run "
            "make guide-measure."
        )
    return runs


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def blocks(results_path: Path = RESULTS) -> dict[str, str]:
    """Every generated block of every guide, from the results under ``results_path``."""
    runs = load_runs(results_path)
    main = next(iter(runs.values()))
    generated = {
        "key-figures": _per_server(runs, key_figures),
        "environment": "".join(environment_text(r) for r in runs.values())
        + f"\nCommand: {MEASURE} (`rp-toolkit bench --counts 10,100,1000,10000,auto,adaptive` "
        "once per server), then `rp-toolkit docs`.\n",
        "bench-table": _per_server(runs, bench.to_markdown, heading="####"),
        "gem-mget": _per_server(runs, findings.gem_mget),
        "count-costs": _per_server(runs, lambda r: findings.count_costs(r, "day")),
        "adaptive": _per_server(runs, findings.adaptive),
        "choosing-count": choosing_count(main),
        "request-id-count": request_id_count(runs),
        "scan-calls": _per_server(runs, lambda r: findings.scan_calls(r, "request_id")),
        "blocking": _per_server(runs, lambda r: findings.blocking(r, "day")),
    }
    speeds = {f: _json(results_path / LOAD_SPEED / f / "load_speed.json") for f in SERVERS}
    speeds = {family: measured for family, measured in speeds.items() if measured}
    if speeds:
        generated["load-speed"] = "\n".join(load_speed_text(m) for m in speeds.values())
        generated["live-commands"] = "".join(live_commands_text(m) for m in speeds.values())
    snapshot = _json(results_path / SNAPSHOT_SPEED)
    if snapshot:
        generated["snapshot-speed"] = snapshot_speed_text(snapshot)
    cluster = _json(results_path / CLUSTER)
    if cluster:
        generated["cluster"] = cluster_text(cluster)
    return generated


def render_guide(
    guide: Path = GUIDE,
    results_path: Path = RESULTS,
    images: Path | None = IMAGES,
    generated: dict[str, str] | None = None,
) -> str:
    """The guide's text with every generated block rewritten; writes the plots to ``images``."""
    generated = blocks(results_path) if generated is None else generated
    text = guide.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in generated:
            raise ValueError(f"{guide}: no results for the generated block {name!r}.")
        return f"{match.group(1)}{generated[name]}{match.group(4)}"

    text = _BLOCK.sub(replace, text)
    if images is not None:
        write_plots(next(iter(load_runs(results_path).values())), images)
    return text


def write_plots(results: pd.DataFrame, images: Path) -> None:
    """The guide's three plots of one run (the default server's)."""
    images.mkdir(parents=True, exist_ok=True)
    for name, figure in (
        ("overhead_vs_size", plots.overhead_vs_size(results, query="day")),
        ("overhead_vs_count", plots.overhead_vs_count(results, query="day")),
        ("blocking", plots.blocking(results)),
    ):
        with atomic_files(images / f"{name}.png") as (written,):
            figure.savefig(written, format="png", dpi=90, metadata={"Software": None})
