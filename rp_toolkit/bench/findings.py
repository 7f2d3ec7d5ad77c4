"""What a benchmark run found, as sentences computed from its results (pure: no I/O).

The benchmark notebook shows these next to its charts, so every claim a reader sees is about the
run above it: when SCAN did not stay near the probe's idle latency, the sentence says so, with the
figures. Each function takes the frame :func:`rp_toolkit.bench.run` returns (or
:func:`rp_toolkit.bench.load_results` reads) and returns Markdown.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..markup import markdown_text
from ._markdown import format_ms, format_ratio, server_text

__all__ = [
    "adaptive",
    "auto_slower",
    "blocking",
    "count_costs",
    "gem_mget",
    "headline_query",
    "overhead_by_count",
    "overhead_by_size",
    "scan_calls",
    "target",
]

NEAR_IDLE_MS = 1.0
"""A fetch "stays near idle" when the probe's slowest PING during it is within this many
milliseconds of the probe's slowest PING with nothing running (or below it)."""
GAIN_THRESHOLD = 0.10
"""Overhead against COUNT: larger COUNTs "stop helping" once they gain less than this share."""
QUERY_PREFERENCE = ("day", "controller", "request_id")


def headline_query(results: pd.DataFrame) -> str | None:
    """The query the sentences describe: the day query (the dashboard's), else the first run."""
    queries = [str(q) for q in results["query"].dropna().unique()]
    for query in QUERY_PREFERENCE:
        if query in queries:
            return query
    return queries[0] if queries else None


def _rows(results: pd.DataFrame, query: str, method: str, size: int | None = None) -> pd.DataFrame:
    rows = results[(results["query"] == query) & (results["method"] == method)]
    if size is not None:
        rows = rows[rows["size"] == size]
    return rows[rows["error"].isna()] if "error" in rows else rows


def _fixed_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """SCAN rows with a fixed numeric COUNT, sorted by COUNT."""
    fixed = rows[rows["count"].astype("string").str.fullmatch(r"\d+").fillna(False)]
    return fixed.assign(_count=fixed["count"].astype(int)).sort_values("_count")


def _finite(value: Any) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def _sizes(results: pd.DataFrame) -> list[int]:
    return sorted(int(s) for s in results["size"].dropna().unique())


def _no_data(what: str) -> str:
    return f"*{what}: not measured in this run.*"


def overhead_by_size(results: pd.DataFrame, query: str | None = None) -> str:
    """Which COUNT came closest to KEYS at the largest size, what auto-tune cost, and what the
    smallest COUNT cost at the smallest size (round trips dominate there)."""
    query = query or headline_query(results)
    if query is None:
        return _no_data("Overhead")
    sizes = _sizes(results)
    sentences = []
    largest = _fixed_counts(_rows(results, query, "SCAN", sizes[-1])).dropna(subset=["overhead"])
    if largest.empty:
        return _no_data(f"SCAN with a fixed COUNT ({query} query)")
    best = largest.loc[largest["overhead"].idxmin()]
    sentences.append(
        f"At {sizes[-1]:,} records ({query} query), the fastest fixed COUNT was "
        f"{int(best['_count']):,}: SCAN took {format_ratio(best['overhead'])} KEYS's time."
    )
    auto = _rows(results, query, "SCAN", sizes[-1])
    auto = auto[auto["count"] == "auto"]
    if len(auto) and _finite(auto.iloc[0]["overhead"]):
        row = auto.iloc[0]
        sentences.append(
            f"Auto-tune chose COUNT {int(row['scan_count']):,} and took "
            f"{format_ratio(row['overhead'])}."
        )
    if len(sizes) > 1:
        smallest = _fixed_counts(_rows(results, query, "SCAN", sizes[0])).dropna(
            subset=["overhead"]
        )
        if len(smallest):
            low = smallest.iloc[0]
            sentences.append(
                f"At {sizes[0]:,} records, COUNT {int(low['_count']):,} took "
                f"{format_ratio(low['overhead'])} ({int(low['scan_calls']):,} SCAN calls for one "
                "KEYS): small keyspaces pay for round trips."
            )
    return " ".join(sentences)


def overhead_by_count(results: pd.DataFrame, query: str | None = None) -> str:
    """The COUNT past which larger COUNTs gained less than :data:`GAIN_THRESHOLD` (largest size)."""
    query = query or headline_query(results)
    if query is None:
        return _no_data("Overhead against COUNT")
    size = _sizes(results)[-1]
    fixed = _fixed_counts(_rows(results, query, "SCAN", size)).dropna(subset=["overhead"])
    if len(fixed) < 2:
        return _no_data(f"Two or more fixed COUNTs at {size:,} records")
    overheads = fixed["overhead"].to_numpy()
    counts = fixed["_count"].to_numpy()
    best = float(overheads.min())
    enough = next(i for i, value in enumerate(overheads) if value <= best * (1 + GAIN_THRESHOLD))
    tail = (
        f"larger COUNTs gained less than {GAIN_THRESHOLD:.0%} over it"
        if enough < len(counts) - 1
        else "no smaller COUNT came within that"
    )
    return (
        f"At {size:,} records, COUNT {int(counts[enough]):,} came within {GAIN_THRESHOLD:.0%} "
        f"of the fastest fixed COUNT ({format_ratio(overheads[enough])} against "
        f"{format_ratio(best)}); {tail}. Overhead from COUNT {int(counts[0]):,} to "
        f"{int(counts[-1]):,}: " + ", ".join(format_ratio(v) for v in overheads) + "."
    )


def blocking(results: pd.DataFrame, query: str | None = None, count: str = "auto") -> str:
    """How long another client waited during KEYS and during SCAN, against the idle probe, and
    whether SCAN stayed near idle in this run (within :data:`NEAR_IDLE_MS`)."""
    query = query or headline_query(results)
    if query is None:
        return _no_data("Blocking")
    sizes = _sizes(results)
    keys = _rows(results, query, "KEYS").set_index("size")["probe_max_ms"]
    scan = _rows(results, query, "SCAN")
    scan = scan[scan["count"] == count].set_index("size")
    if keys.dropna().empty or scan["probe_max_ms"].dropna().empty:
        return _no_data("The probe (probe=False, or no KEYS and SCAN rows)")
    size = sizes[-1]
    keys_max, scan_max = keys.get(size), scan["probe_max_ms"].get(size)
    idle = scan["probe_idle_max_ms"].get(size)
    sentences = [
        f"At {size:,} records, while KEYS ran another client's PING waited up to "
        f"{format_ms(keys_max)}; while SCAN (COUNT {count}) ran, up to {format_ms(scan_max)}; "
        f"with nothing running, up to {format_ms(idle)}."
    ]
    if _finite(scan_max) and _finite(idle):
        if scan_max - idle <= NEAR_IDLE_MS:
            sentences.append(
                f"SCAN stayed within {NEAR_IDLE_MS:g} ms of the idle probe in this run."
            )
        else:
            sentences.append(
                f"SCAN did not stay near the idle probe in this run: "
                f"{format_ms(scan_max - idle)} above it. A SCAN call's own time shows in the "
                "SLOWLOG column of the table; on a shared or busy machine the probe also "
                "measures its own scheduling."
            )
    measured = [s for s in sizes if _finite(keys.get(s))]
    if len(measured) > 1:
        first, last = keys.get(measured[0]), keys.get(measured[-1])
        trend = "grew" if last > first else "did not grow"
        sentences.append(
            f"KEYS's longest wait {trend} with the keyspace: {format_ms(first)} at "
            f"{measured[0]:,} records, {format_ms(last)} at {measured[-1]:,}."
        )
    return " ".join(sentences)


def _fixed_at_largest(
    results: pd.DataFrame, query: str | None
) -> tuple[str, int, pd.DataFrame | str]:
    """The query, the largest size and its SCAN rows with a fixed COUNT, or, in their place,
    the sentence that says they were not measured."""
    query = query or headline_query(results)
    if query is None:
        return "", 0, _no_data("SCAN")
    size = _sizes(results)[-1]
    fixed = _fixed_counts(_rows(results, query, "SCAN", size))
    if fixed.empty:
        return query, size, _no_data(f"SCAN with a fixed COUNT at {size:,} records")
    return query, size, fixed


def scan_calls(results: pd.DataFrame, query: str | None = None) -> str:
    """SCAN calls per fetch at the largest size against keys in the database / COUNT."""
    query, size, fixed = _fixed_at_largest(results, query)
    if isinstance(fixed, str):
        return fixed
    parts = [
        f"COUNT {int(row['_count']):,}: {int(row['scan_calls']):,} calls "
        f"(database/COUNT = {int(row['dbsize']) / int(row['_count']):,.0f})"
        for _, row in fixed.iterrows()
    ]
    keys_found = int(fixed.iloc[0]["keys_found"])
    return (
        f"At {size:,} records ({int(fixed.iloc[0]['dbsize']):,} keys in the database, "
        f"{keys_found:,} matching the {query} query): " + "; ".join(parts) + "."
    )


def adaptive(results: pd.DataFrame) -> str:
    """The adaptive COUNT against the best fixed COUNT of the same run, when it was measured."""
    rows = results[(results["method"] == "SCAN") & (results["count"] == "adaptive")]
    rows = rows.dropna(subset=["vs_best_fixed"])
    if rows.empty:
        return '*The adaptive COUNT was not measured in this run (add `"adaptive"` to `counts`).*'
    size = int(rows["size"].max())
    at_size = rows[rows["size"] == size]
    parts = []
    for _, row in at_size.iterrows():
        parts.append(
            f"{row['query']} query: {format_ratio(row['vs_best_fixed'])} the time of the best "
            f"fixed COUNT ({int(row['best_fixed_count']):,}), longest wait "
            f"{format_ms(row['probe_max_ms'])}"
        )
    budget = at_size["scan_budget_ms"].dropna()
    budget_text = f" (budget {float(budget.iloc[0]):g} ms per call)" if len(budget) else ""
    return f"Adaptive COUNT{budget_text} at {size:,} records: " + "; ".join(parts) + "."


def target(results: pd.DataFrame) -> str:
    """What was measured (one server or a cluster) and which methods could not run there."""
    environment = results.attrs.get("environment", {})
    server = server_text(environment)
    if environment.get("cluster"):
        text = (
            f"This run measured a Redis Cluster of {environment.get('primaries')} primaries "
            f"({server}): KEYS and SCAN ran on every primary, and the probe PINGed "
            f"{markdown_text(environment.get('probe_node') or 'one primary')}."
        )
    else:
        text = f"This run measured one server ({server})."
    if "error" in results:
        refused = results.dropna(subset=["error"]).drop_duplicates("method")
        for _, row in refused.iterrows():
            text += f" `{row['method']}` could not run here: {markdown_text(row['error'])}"
            text += "" if str(row["error"]).endswith(".") else "."
    return text


def count_costs(results: pd.DataFrame, query: str | None = None) -> str:
    """What each fixed COUNT cost other clients at the largest size: the slowest SCAN call
    SLOWLOG logged and the probe's longest wait, against the idle probe."""
    query, size, fixed = _fixed_at_largest(results, query)
    if isinstance(fixed, str):
        return fixed
    parts = []
    for _, row in fixed.iterrows():
        slowest = row["slowlog_max_us"]
        logged = (
            f"slowest call {format_ms(slowest / 1000)}"
            if _finite(slowest)
            else f"no call over {format_ms(row['slowlog_threshold_us'] / 1000)}"
        )
        parts.append(
            f"COUNT {int(row['_count']):,}: {logged}, longest wait {format_ms(row['probe_max_ms'])}"
        )
    idle = fixed.iloc[0]["probe_idle_max_ms"]
    return (
        f"At {size:,} records ({query} query), per COUNT: " + "; ".join(parts) + f" (idle "
        f"probe: {format_ms(idle)})."
    )


def gem_mget(results: pd.DataFrame, query: str | None = None) -> str:
    """How long the gem's one MGET ran inside Redis (commandstats, median of the repeats),
    against its KEYS and the slowest command of rp_toolkit's chunked MGETs (largest size)."""
    query = query or headline_query(results)
    if query is None:
        return _no_data("The gem's MGET")
    size = _sizes(results)[-1]
    gem = _rows(results, query, "gem_keys_mget", size)
    ours = _rows(results, query, "scan_chunked_mget", size)
    if gem.empty or ours.empty or not _finite(gem.iloc[0]["redis_mget_usec"]):
        return _no_data(f"The gem's KEYS + MGET at {size:,} records")
    row, mine = gem.iloc[0], ours.iloc[0]
    slowest = mine["slowlog_max_us"]
    ours_text = (
        f"the slowest command of rp_toolkit's SCAN and MGETs of 1,000 keys was "
        f"{mine['slowlog_max_command']}, {format_ms(slowest / 1000)}"
        if _finite(slowest)
        else "no command of rp_toolkit's SCAN and MGETs of 1,000 keys reached "
        f"{format_ms(mine['slowlog_threshold_us'] / 1000)}"
    )
    return (
        f"At {size:,} records ({query} query), the gem's one MGET of "
        f"{int(row['keys_found']):,} values ran {format_ms(row['redis_mget_usec'] / 1000)} "
        f"inside Redis, its KEYS {format_ms(row['redis_keys_usec'] / 1000)}; "
        f"{ours_text}."
    )


def auto_slower(results: pd.DataFrame) -> str:
    """One sentence for every (size, query) where auto-tune took longer than a fixed COUNT:
    its time over KEYS's, the fixed COUNTs that were faster, and whether the gap to the
    fastest lies beyond the spread of the repeats (auto's fastest repeat slower than that
    COUNT's slowest) or within it (noise could explain it)."""
    scan = results[results["method"] == "SCAN"]
    if "error" in scan:
        scan = scan[scan["error"].isna()]
    scan = scan.dropna(subset=["overhead"])
    auto = scan[scan["count"] == "auto"]
    if auto.empty:
        return _no_data("Auto-tune (`scan_count_auto_tune`)")
    fixed = _fixed_counts(scan)
    keys = ["size", "query"]
    pairs = auto.merge(fixed, on=keys, suffixes=("", "_fixed"))
    pairs = pairs[pairs["overhead_fixed"] < pairs["overhead"]]
    if pairs.empty:
        return (
            "Auto-tune was as fast as the fastest fixed COUNT, or faster, at every size and query."
        )
    order = {query: index for index, query in enumerate(QUERY_PREFERENCE)}
    pairs = pairs.assign(_order=pairs["query"].map(order).fillna(len(order)))
    pairs = pairs.sort_values(["size", "_order", "query", "_count"])
    lines = []
    for (size, query), row_pairs in pairs.groupby(keys, sort=False):
        auto_row = row_pairs.iloc[0]
        best = row_pairs.loc[row_pairs["overhead_fixed"].idxmin()]
        faster = ", ".join(
            f"COUNT {int(count):,} ({format_ratio(value)})"
            for count, value in zip(row_pairs["_count"], row_pairs["overhead_fixed"], strict=True)
        )
        chosen = auto_row["scan_count"]
        chose = f" (COUNT {int(chosen):,})" if _finite(chosen) and chosen > 0 else ""
        spread = ""
        if _finite(auto_row.get("wall_min_s")) and _finite(best.get("wall_max_s_fixed")):
            spread = (
                ", beyond the spread of the repeats"
                if auto_row["wall_min_s"] > best["wall_max_s_fixed"]
                else ", within the spread of the repeats (noise could explain it)"
            )
        lines.append(
            f"- At {int(size):,} records ({markdown_text(str(query))} query), auto-tune{chose} "
            f"took {format_ratio(auto_row['overhead'])} KEYS's time; faster fixed COUNTs: "
            f"{faster}. Auto-tune took "
            f"{format_ratio(auto_row['overhead'] / best['overhead_fixed'])} the time of COUNT "
            f"{int(best['_count']):,}{spread}."
        )
    return "\n".join(lines)
