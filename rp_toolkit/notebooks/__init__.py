"""The notebooks' entry point: run the bundled notebooks and check their parameters.

``_running`` executes a notebook with papermill and publishes it as HTML with nbconvert
(:func:`run_notebook`); ``_parameters`` checks what a notebook is given before any kernel starts
(:func:`route_parameters`, :func:`validate_request_parameters`,
:func:`validate_benchmark_parameters`, and :func:`check_reachable`, the one PING of a server
before a report or a benchmark); ``_target`` is what the request report analyses
(:class:`AnalysisTarget`: an archive, a snapshot, the user's Redis or the demo's throwaway
server). Each imports only those before it. This package re-exports what the CLI, the
notebooks and the tests use.
"""

from ._parameters import (
    SETTING_NAMES,
    check_reachable,
    notebook_parameters,
    route_parameters,
    validate_benchmark_parameters,
    validate_request_parameters,
)
from ._running import NOTEBOOKS, TITLES, run_notebook
from ._target import AnalysisTarget, previous_window

__all__ = [
    "NOTEBOOKS",
    "SETTING_NAMES",
    "TITLES",
    "AnalysisTarget",
    "check_reachable",
    "notebook_parameters",
    "previous_window",
    "route_parameters",
    "run_notebook",
    "validate_benchmark_parameters",
    "validate_request_parameters",
]
