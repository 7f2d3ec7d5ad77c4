"""The reports: plain functions of the loader's DataFrames, and what they say to people.

Every report function takes the frame :mod:`rp_toolkit.frames` builds for one record kind
(one row per record; key fields, then value fields; ``minute`` is the key's UTC minute,
``datetimei`` the epoch second and ``datetime`` its UTC timestamp) and returns a new DataFrame
(or a small dict / :class:`JobsReport`). Inputs are never modified, and an empty frame gives
an empty result rather than an error (per-minute charts: the window with every minute 0;
apdex: the overall row alone, with a count of 0). The numbers are the gem's
(rails_performance 1.6.x); every percentile is the gem's (:func:`percentile`), computed in one
place (``_groups``).

Inside, bottom up (each module imports only those before it):

* the report functions, pure functions of frames, in private modules: ``_groups`` (the
  percentile over many groups in one sort, each request's endpoint, the order-statistic
  comparison of two sets of groups), ``_deploys`` (events and what changed at them),
  ``_errors`` (exceptions grouped by class and endpoint, the slowest requests), ``_jobs``
  (the job kinds per worker or class, and their failed records), ``_history`` (reports over
  many days) and ``_dashboard`` (the dashboard's own reports); every name is re-exported
  here (``rp.reports.requests``, ``rp.reports.endpoint_days``);
* :mod:`.tables`: the frames as pandas Stylers for people;
* :mod:`.findings`: the frames as sentences (Markdown);
* :mod:`.plots`: the frames as matplotlib figures (and the benchmark's), imported when first
  used (``rp.reports.plots``, ``rp.plots``): matplotlib is heavy.

``tables``, ``findings`` and ``plots`` are independent of each other.
"""

from importlib import import_module as _import_module
from types import ModuleType as _ModuleType

from ..export import export
from . import findings, tables
from ._dashboard import (
    ALL_ENDPOINTS,
    JobsReport,
    annotations,
    apdex,
    crashes,
    custom,
    delayed_job,
    error_rate,
    grape,
    jobs_pages,
    jobs_summary,
    minute_window,
    rake,
    recent,
    requests,
    resources,
    response_time,
    sidekiq,
    slow,
    throughput,
    time_split,
    window_change,
)
from ._deploys import DEPLOY_WINDOW, deploy_impact, deploy_impact_by_endpoint, event_labels
from ._errors import (
    EXCEPTION_GROUP_COLUMNS,
    exception_classes,
    exception_groups,
    slowest,
    slowest_by_endpoint,
)
from ._groups import percentile, percentiles
from ._history import (
    deploys_in_range,
    endpoint_days,
    period_comparison,
    requests_per_day,
)
from ._jobs import (
    FAILED_JOB_COLUMNS,
    FAILED_STATUSES,
    JOB_KINDS,
    JOB_LABELS,
    WORKER_COLUMNS,
    failed_jobs,
    jobs_by_worker,
)

__all__ = [
    "findings",
    "plots",
    "tables",
    "ALL_ENDPOINTS",
    "DEPLOY_WINDOW",
    "EXCEPTION_GROUP_COLUMNS",
    "FAILED_JOB_COLUMNS",
    "FAILED_STATUSES",
    "JOB_KINDS",
    "JOB_LABELS",
    "WORKER_COLUMNS",
    "JobsReport",
    "annotations",
    "apdex",
    "crashes",
    "custom",
    "delayed_job",
    "deploy_impact",
    "deploy_impact_by_endpoint",
    "deploys_in_range",
    "endpoint_days",
    "error_rate",
    "event_labels",
    "exception_classes",
    "exception_groups",
    "export",
    "failed_jobs",
    "grape",
    "jobs_by_worker",
    "jobs_pages",
    "jobs_summary",
    "minute_window",
    "percentile",
    "percentiles",
    "period_comparison",
    "rake",
    "recent",
    "requests",
    "requests_per_day",
    "resources",
    "response_time",
    "sidekiq",
    "slow",
    "slowest",
    "slowest_by_endpoint",
    "throughput",
    "time_split",
    "window_change",
]


def __getattr__(name: str) -> _ModuleType:
    """``plots`` is imported when first used: it brings matplotlib (about 30 MiB)."""
    if name == "plots":
        return _import_module(".plots", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "plots"})
