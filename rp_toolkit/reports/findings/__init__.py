"""What the report's numbers say, as sentences computed from this run's frames.

Every function takes what :mod:`rp_toolkit.reports` returns (and a few parameters of the
run) and returns Markdown: each figure in it comes from the frames given, rounded by
:mod:`rp_toolkit.units` as the tables are, and an empty frame gives an honest sentence
("no request took longer than 500 ms") rather than an error. The notebooks display them with
``IPython.display.Markdown``; fixed text there only explains what a section shows.

Recorded text (endpoints, paths, exceptions, deploy labels, SQL, request ids, server names)
appears only as code spans (:func:`rp_toolkit.markup.code_span`), so whatever it holds (HTML,
links, ``*``, ``|``, ``$...$``) is shown as it is, never rendered.

Every name is importable from here; the private modules: ``_glance`` (the first screen),
``_workers`` (the job kinds per worker and their failures) and ``_report`` (the other
sections).
"""

from ._glance import at_a_glance, deploy_regressions, traffic_and_latency
from ._report import (
    apdex,
    crashes,
    deploys,
    deploys_in_range,
    endpoints,
    errors,
    exception_groups,
    history,
    jobs,
    key_listing,
    loaded,
    overview,
    period_comparison,
    resources,
    slow_requests,
    slowest,
    time_split,
    trace,
)
from ._workers import failed_jobs, jobs_by_worker

__all__ = [
    "apdex",
    "at_a_glance",
    "crashes",
    "deploy_regressions",
    "deploys",
    "deploys_in_range",
    "endpoints",
    "errors",
    "exception_groups",
    "failed_jobs",
    "history",
    "jobs",
    "jobs_by_worker",
    "key_listing",
    "loaded",
    "overview",
    "period_comparison",
    "resources",
    "slow_requests",
    "slowest",
    "time_split",
    "traffic_and_latency",
    "trace",
]
