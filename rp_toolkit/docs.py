"""Regenerate the figures of ``docs/SCAN_MIGRATION.md`` from committed benchmark results.

The guide holds generated blocks between ``<!-- generated:NAME:start -->`` and
``<!-- generated:NAME:end -->``; :func:`render_guide` rewrites them (and the plots) from
``docs/bench/bench.json`` (and the read path's speed from
``docs/bench/load_speed/load_speed.json``), so no figure in the guide is typed by hand.
``rp-toolkit docs`` runs it; ``--check`` only reports whether the guide is current.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from . import bench, plots

GUIDE = Path("docs/SCAN_MIGRATION.md")
RESULTS = Path("docs/bench")
IMAGES = Path("docs/images")
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[\w-]+):start -->\n)(?P<body>.*?)(<!-- generated:(?P=name):end -->)",
    re.DOTALL,
)


def _row(results: pd.DataFrame, size: int, query: str, method: str, count: str | None = None):
    rows = results[
        (results["size"] == size) & (results["query"] == query) & (results["method"] == method)
    ]
    if count is not None:
        rows = rows[rows["count"] == count]
    return rows.iloc[0] if len(rows) else None


def _ms(value: float) -> str:
    return "not measured" if pd.isna(value) else f"{value:,.1f} ms"


def key_figures(results: pd.DataFrame) -> str:
    """The overview's bullet list: blocking and overhead at the measured sizes."""
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
        f"Redis {env.get('redis_version', '?')}",
        f"redis-py {env.get('redis_py', '?')}",
        f"hiredis {env.get('hiredis', '?')}",
        f"Python {env.get('python', '?')}",
        f"{env.get('cpu_count', '?')} CPUs",
        str(env.get("platform", "?")),
        f"run on {env.get('date', '?')}",
    ]
    params = env.get("parameters", {})
    return (
        "Measured on: " + ", ".join(parts) + f". Repeats: {params.get('repeats', '?')}; "
        "command: `rp-toolkit bench --out docs/bench --markdown`.\n"
    )


LOAD_SPEED = Path("load_speed/load_speed.json")


def load_speed_text(measured: dict[str, Any]) -> str:
    """The read path's figures (``rp-toolkit load-speed``) as a table and two sentences."""
    summary, environment = measured["summary"], measured["environment"]

    def ms(name: str) -> str:
        value = summary.get(name)
        return "n/a" if value is None or math.isnan(value) else f"{value:.1f} ms"

    gem = (
        f"the gem's own read path in Ruby: {summary['gem_read_path_ruby_s']:.1f} s"
        if "gem_read_path_ruby_s" in summary
        else f"the gem's read path emulated in Python (no Ruby here): "
        f"{summary['gem_read_path_python_emulation_s']:.1f} s; the gem's Ruby, measured "
        f"apart on this kind of machine: {summary['gem_ruby_reference_s']:.1f} s"
    )
    rows = [
        ("naive transfer: SCAN COUNT 1000, then MGETs of 1,000 keys, no parsing",
         f"{summary['naive_transfer_s']:.2f} s", ""),
        ("`rp.load` (typed frame)", f"{summary['rp_load_s']:.2f} s",
         f"{summary['load_peak_rss_gib']:.2f} GiB"),
        ("`rp.iter_load` (frames of 10,000)", f"{summary['rp_iter_load_s']:.2f} s",
         f"{summary['iter_load_peak_rss_mib']:.0f} MiB"),
    ]  # fmt: skip
    table = "| read | time (median) | peak memory |\n|---|---:|---:|\n" + "".join(
        f"| {what} | {seconds} | {memory} |\n" for what, seconds, memory in rows
    )
    return (
        f"{environment['records']:,} request records, Redis {summary['redis_version']}, "
        f"{environment['cpu_count']} CPUs, {environment['date']}; "
        "command: `rp-toolkit load-speed --out docs/bench/load_speed`.\n\n"
        + table
        + f"\n`rp.load` takes {summary['load_over_naive_transfer']:.2f}x the naive transfer; "
        f"{gem}. While `rp.load` ran, another client's longest PING wait was "
        f"{ms('auto_probe_max_ms')} with the gem's COUNT and "
        f"{ms('low_impact_probe_max_ms')} with an adaptive COUNT and MGETs of 250 "
        f"(idle: {ms('probe_idle_max_ms')}).\n"
    )


def blocks(results: pd.DataFrame, results_path: Path = RESULTS) -> dict[str, str]:
    generated = {
        "key-figures": key_figures(results),
        "environment": environment_text(results),
        "bench-table": bench.to_markdown(results),
    }
    speed = results_path / LOAD_SPEED
    if speed.exists():
        generated["load-speed"] = load_speed_text(json.loads(speed.read_text()))
    return generated


def render_guide(
    guide: Path = GUIDE, results_path: Path = RESULTS, images: Path | None = IMAGES
) -> str:
    """The guide's text with every generated block rewritten; writes the plots to ``images``."""
    results = bench.load_results(results_path)
    generated = blocks(results, results_path)
    text = guide.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in generated:
            raise ValueError(f"{guide}: unknown generated block {name!r}.")
        return f"{match.group(1)}{generated[name]}{match.group(4)}"

    text = _BLOCK.sub(replace, text)
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        for name, figure in (
            ("overhead_vs_size", plots.overhead_vs_size(results, query="day")),
            ("overhead_vs_count", plots.overhead_vs_count(results, query="day")),
            ("blocking", plots.blocking(results)),
        ):
            figure.savefig(images / f"{name}.png", dpi=90, metadata={"Software": None})
    return text
