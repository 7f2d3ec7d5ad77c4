"""The docs tables of benchmark results: times per method and COUNT, overheads, probe waits.

What the server said (its version, errors, SLOWLOG's command, a node's address) is escaped by
:func:`rp_toolkit.markup.markdown_text`: the tables are Markdown, rendered in the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..config import count_sort_key
from ..export import is_missing
from ..markup import markdown_text
from ._keyspace import QUERIES


def server_text(environment: dict[str, Any]) -> str:
    """The server a run measured, named by what it is: ``valkey 9.1.2``, ``redis 7.0.15``.
    Results saved before the name was recorded say ``redis_version`` only, which on Valkey is
    the Redis version it is compatible with: they read ``INFO redis_version 7.2.4``. Escaped
    for Markdown: the server said it."""
    if environment.get("server_software"):
        return markdown_text(str(environment["server_software"]))
    return f"INFO redis_version {markdown_text(str(environment.get('redis_version', '?')))}"


def format_seconds(seconds: float) -> str:
    """``12.3 ms`` or ``4.56 s`` (three significant digits); ``–`` when missing."""
    if is_missing(seconds):
        return "–"
    ms = seconds * 1000
    if ms >= 1000:
        return f"{seconds:.3g} s"
    return f"{ms:.3g} ms"


def format_ms(ms: float) -> str:
    """Milliseconds as :func:`format_seconds` writes them."""
    return "–" if is_missing(ms) else format_seconds(ms / 1000)


def format_ratio(ratio: float) -> str:
    """``1.23×``; ``–`` when missing."""
    return "–" if is_missing(ratio) else f"{ratio:.3g}×"


@dataclass
class Cells:
    """Writes the tables' cells, and remembers whether one had fewer repeats than wanted
    (``wanted``: the run's ``repeats``), for the notes."""

    wanted: int | None
    fewer: bool = False

    def cell(self, rows: pd.DataFrame, ratio: bool = False) -> tuple[str, pd.Series | None]:
        """``time (overhead×, COUNT n, k runs)`` for the first of ``rows``, and that row."""
        if rows.empty:
            return "–", None
        row = rows.iloc[0]
        if failed(row):
            return f"fails ({markdown_text(str(row['error']).split(' ', 1)[0])})", row
        notes = [format_ratio(row["overhead"])] if ratio and not is_missing(row["overhead"]) else []
        if not is_missing(row["count"]) and row["count"] == "auto":
            notes.append(f"COUNT {row['scan_count']}")
        if not is_missing(row["count"]) and row["count"] == "adaptive":
            notes.append(f"COUNT {row['scan_count_min']}–{row['scan_count_max']}")
        if self.wanted and row["repeats_done"] < self.wanted:
            notes.append(f"{row['repeats_done']} runs")
            self.fewer = True
        text = format_seconds(row["wall_median_s"])
        return (f"{text} ({', '.join(notes)})" if notes else text), row


def to_markdown(frame: pd.DataFrame) -> str:
    """The docs tables: times per method and COUNT, overheads, the probe's worst wait.

    Deterministic: the same results always give the same text.
    """
    environment = frame.attrs.get("environment", {})
    cells = Cells(environment.get("parameters", {}).get("repeats"))
    order = table_order(frame)
    text = count_table(frame, order, cells)
    text += full_fetch_table(frame, order, cells)
    text += adaptive_table(frame, order)
    return text + "\n" + "\n".join(notes_of(frame, environment, cells)) + "\n"


def table_order(frame: pd.DataFrame) -> list[tuple[Any, Any]]:
    """The (size, query) pairs of ``frame``: sizes ascending, queries as :data:`QUERIES`."""
    groups = frame.groupby(["size", "query"], sort=False)
    return sorted(
        groups.groups,
        key=lambda k: (int(k[0]), QUERIES.index(k[1]) if k[1] in QUERIES else 99, k[1]),
    )


def count_table(frame: pd.DataFrame, order: Sequence[tuple[Any, Any]], cells: Cells) -> str:
    """KEYS and SCAN at each COUNT per (size, query), with the probe's longest waits."""
    counts = sorted(
        set(frame.loc[frame["method"] == "SCAN", "count"].dropna()),
        key=count_sort_key,
    )
    lines = [
        "| records | query | KEYS | "
        + " | ".join(f"SCAN {c}" for c in counts)
        + " | probe max, KEYS | probe max, SCAN auto | idle probe max |",
        "|---:|---|---:|" + "---:|" * len(counts) + "---:|---:|---:|",
    ]
    groups = frame.groupby(["size", "query"], sort=False)
    for size, query in order:
        rows = groups.get_group((size, query))
        keys_text, keys_row = cells.cell(rows[rows["method"] == "KEYS"])
        parts = [f"{int(size):,}", str(query), keys_text]
        auto_row = None
        for count in counts:
            text, row = cells.cell(
                rows[(rows["method"] == "SCAN") & (rows["count"] == count)], ratio=True
            )
            if count == "auto":
                auto_row = row
            parts.append(text)
        parts.append(format_ms(keys_row["probe_max_ms"]) if keys_row is not None else "–")
        parts.append(format_ms(auto_row["probe_max_ms"]) if auto_row is not None else "–")
        parts.append(format_ms(rows["probe_idle_max_ms"].iloc[0]))
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def full_fetch_table(frame: pd.DataFrame, order: Sequence[tuple[Any, Any]], cells: Cells) -> str:
    """The gem's KEYS + one MGET against rp_toolkit's full fetch, per (size, query); empty
    when the results have no full fetches."""
    full = frame[frame["method"].isin(["gem_keys_mget", "scan_chunked_mget"])]
    if full.empty:
        return ""
    text = (
        "\n| records | query | gem: KEYS + one MGET | rp_toolkit: SCAN auto + chunked MGET "
        "| probe max, gem | probe max, rp_toolkit | slowest command, gem | "
        "slowest command, rp_toolkit |\n|---:|---|---:|---:|---:|---:|---:|---:|\n"
    )
    for size, query in order:
        rows = full[(full["size"] == size) & (full["query"] == query)]
        if rows.empty:
            continue
        gem_text, gem = cells.cell(rows[rows["method"] == "gem_keys_mget"])
        rp_text, rp = cells.cell(rows[rows["method"] == "scan_chunked_mget"], ratio=True)
        parts = [f"{int(size):,}", str(query), gem_text, rp_text]
        parts += [format_ms(r["probe_max_ms"]) if ran(r) else "–" for r in (gem, rp)]
        parts += [_slowest(r) for r in (gem, rp)]
        text += "| " + " | ".join(parts) + " |\n"
    return text


def notes_of(frame: pd.DataFrame, environment: dict[str, Any], cells: Cells) -> list[str]:
    """The notes under the tables: what the figures mean, the failures, where it ran."""
    notes = [
        "Times are medians of the repeats (wall clock around the call). n× is the time over "
        "the KEYS time of the same size and query (second table: over the gem's KEYS + MGET); "
        "COUNT n is what auto-tune chose. Probe max: the longest another client waited for a "
        "PING while the fetch ran (all repeats); idle: the same with nothing running. Slowest "
        "command: SLOWLOG's longest KEYS/SCAN/MGET (< threshold: none logged).",
    ]
    if (frame["count"] == "adaptive").any():
        notes.append(
            "SCAN adaptive: scan_count='adaptive' (COUNT min–max sent); third table: its time "
            "over the fastest fixed COUNT of the same run, and the probe's longest wait during "
            "each (target: at most the budget + 1 ms)."
        )
    if cells.fewer:
        notes.append(
            f"k runs: fewer than {cells.wanted} repeats fitted in the cell's time budget "
            f"({environment.get('parameters', {}).get('cell_budget_s')} s)."
        )
    errors = frame["error"].dropna().unique() if "error" in frame else []
    for error in sorted(errors):
        methods = ", ".join(sorted(set(frame.loc[frame["error"] == error, "method"])))
        notes.append(f"fails ({methods}): {markdown_text(error)}.")
    if environment.get("cluster"):
        notes.append(
            f"Redis Cluster of {environment.get('primaries')} primaries: KEYS and SCAN run on "
            "every primary at once, and the Redis-side figures (commandstats, SLOWLOG, "
            "DBSIZE) cover them all; the probe PINGs one primary "
            f"({markdown_text(environment.get('probe_node'))})."
        )
    if environment:
        notes.append(environment_note(environment))
    return notes


def environment_note(environment: dict[str, Any]) -> str:
    """Where the results were measured, in one sentence."""
    where = (
        f" (cluster, {environment.get('primaries')} primaries)"
        if environment.get("cluster")
        else ""
    )
    return (
        f"{server_text(environment)}{where}, "
        f"redis-py {environment.get('redis_py')}"
        f" (hiredis {environment.get('hiredis')}), Python {environment.get('python')}, "
        f"{environment.get('cpu_count')} CPUs, {environment.get('platform')}, "
        f"{environment.get('date')}."
    )


def adaptive_table(frame: pd.DataFrame, order: Sequence[tuple[Any, Any]]) -> str:
    """The adaptive COUNT against the best fixed COUNT of the same run, per (size, query) in
    ``order``; empty when the results have no adaptive rows."""
    adaptive = frame[(frame["method"] == "SCAN") & (frame["count"] == "adaptive")]
    if adaptive.empty:
        return ""
    text = (
        "\n| records | query | SCAN adaptive | best fixed COUNT | adaptive / best fixed "
        "| COUNT min / mean / max | probe max, adaptive | probe max, best fixed | budget |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for size, query in order:
        rows = adaptive[(adaptive["size"] == size) & (adaptive["query"] == query)]
        if rows.empty:
            continue
        row = rows.iloc[0]
        best = frame[
            (frame["size"] == size)
            & (frame["query"] == query)
            & (frame["method"] == "SCAN")
            & (frame["count"] == str(row["best_fixed_count"]))
        ]
        parts = [
            f"{int(size):,}",
            str(query),
            format_seconds(row["wall_median_s"]),
            "–" if is_missing(row["best_fixed_count"]) else f"{int(row['best_fixed_count']):,}",
            format_ratio(row["vs_best_fixed"]),
            f"{row['scan_count_min']} / {row['scan_count_mean']:.0f} / {row['scan_count_max']}",
            format_ms(row["probe_max_ms"]),
            format_ms(best["probe_max_ms"].iloc[0]) if not best.empty else "–",
            format_ms(row["scan_budget_ms"]),
        ]
        text += "| " + " | ".join(parts) + " |\n"
    return text


def failed(row: pd.Series) -> bool:
    """Whether ``row`` is a method that could not run on the server (see its ``error``)."""
    return "error" in row and not is_missing(row["error"])


def ran(row: pd.Series | None) -> bool:
    """Whether ``row`` exists and holds a measurement."""
    return row is not None and not failed(row)


def _slowest(row: pd.Series | None) -> str:
    if not ran(row) or is_missing(row["slowlog_threshold_us"]):
        return "–"
    if is_missing(row["slowlog_max_us"]):
        return f"< {format_ms(row['slowlog_threshold_us'] / 1000)}"
    return f"{format_ms(row['slowlog_max_us'] / 1000)} {markdown_text(row['slowlog_max_command'])}"
