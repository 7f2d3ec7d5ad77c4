"""Figures for notebooks and docs.

Every function takes a results frame, returns a :class:`matplotlib.figure.Figure` and uses
the object-oriented API only (no ``pyplot``, no ``show``), so it works under Agg, in
notebooks (display the returned figure) and in scripts (``fig.savefig("x.png")``). Each
function is self-contained. Recorded text (deploy labels, endpoints, server names, SQL,
request ids in a title) goes through :func:`rp_toolkit.markup.chart_text`: drawn as it is,
never as mathtext.

The private modules: ``_report`` (the request report's figures, of what
:mod:`rp_toolkit.reports` returns) and ``_bench`` (the benchmark's: ``rp_toolkit.bench.run``
results, or ``bench.load_results``). Imported when first used (``rp.plots``,
``rp.reports.plots``): matplotlib is heavy.
"""

from ._bench import (
    adaptive_vs_best_fixed,
    blocking,
    overhead_vs_count,
    overhead_vs_size,
    scan_calls_vs_count,
)
from ._report import (
    ANNOTATION_ROWS,
    ANNOTATION_WIDTH,
    LATENCY_EDGES_MS,
    daily_p95,
    job_page,
    job_pages,
    label_rows,
    latency_buckets,
    latency_heatmap,
    resources,
    response_time,
    throughput,
    top_endpoints,
    trace,
    view_durations,
    waterfall,
)

__all__ = [
    "ANNOTATION_ROWS",
    "ANNOTATION_WIDTH",
    "LATENCY_EDGES_MS",
    "adaptive_vs_best_fixed",
    "blocking",
    "daily_p95",
    "job_page",
    "job_pages",
    "label_rows",
    "latency_buckets",
    "latency_heatmap",
    "overhead_vs_count",
    "overhead_vs_size",
    "resources",
    "response_time",
    "scan_calls_vs_count",
    "throughput",
    "top_endpoints",
    "trace",
    "view_durations",
    "waterfall",
]
