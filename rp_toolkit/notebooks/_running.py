"""Running the bundled notebooks: papermill executes one, nbconvert publishes it as HTML.

Credentials never enter a notebook: a Redis URL reaches the kernel through the ``REDIS_URL``
environment variable, never as a papermill parameter (papermill writes parameters into the
executed notebook), and notebooks print only :func:`rp_toolkit.redact_url` of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import NotebookFailedError, RPToolkitWarning, SettingsError
from ..files import atomic_files

NOTEBOOKS = {
    "request_performance": "request_performance.ipynb",
    "scan_benchmark": "scan_benchmark.ipynb",
}


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of this checkout."""
    candidate = Path(__file__).resolve().parents[2] / "notebooks"
    if not candidate.is_dir():
        raise NotebookFailedError(
            f"No notebooks folder at {candidate}. Run rp-toolkit report from a clone of the "
            "rp_toolkit repository (pip install -e .)."
        )
    return candidate


@dataclass
class NotebookRun:
    name: str
    notebook: Path
    html: Path
    warnings: list[str] = field(default_factory=list)
    """rp_toolkit's warnings the kernel showed (:func:`notebook_warnings`)."""


def notebook_warnings(notebook: Any) -> list[str]:
    """The messages of rp_toolkit's warnings (:class:`RPToolkitWarning` and its subclasses)
    in an executed notebook's stderr outputs, in order, each once."""
    names = {RPToolkitWarning.__name__}
    pending = list(RPToolkitWarning.__subclasses__())
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending += cls.__subclasses__()
    shown = re.compile(r":\d+: (\w+): (.*)$")
    found: list[str] = []
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream" or output.get("name") != "stderr":
                continue
            for line in "".join(output.get("text", "")).splitlines():
                match = shown.search(line)
                if match and match.group(1) in names and match.group(2) not in found:
                    found.append(match.group(2))
    return found


def _clean_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    if "redis_url" in parameters and parameters["redis_url"] is not None:
        raise SettingsError(
            "Pass the Redis URL with redis_url= to run_notebook (or --redis-url), not as a "
            "notebook parameter: parameters are written into the executed notebook."
        )
    return dict(parameters)


def _local_kernel_manager(sockets: str) -> type:
    """A kernel manager that talks to the kernel over unix sockets in ``sockets`` rather than
    TCP ports on localhost: nothing listens on the network, and ipykernel has no reason to warn
    that the kernel runs over TCP without encryption."""
    from jupyter_client.manager import KernelManager

    class LocalKernelManager(KernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", os.path.join(sockets, "kernel"))
            super().__init__(**kwargs)

    return LocalKernelManager


@contextlib.contextmanager
def _environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """``os.environ`` with ``variables`` set (``None``: removed) inside the block, as it was
    after it."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        _set_environment(variables)
        yield
    finally:
        _set_environment(saved)


def _set_environment(variables: Mapping[str, str | None]) -> None:
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
REPORT_TEMPLATE = "rp_report.html.j2"
"""The reports' HTML template: JupyterLab's page with no script from the network."""
TITLES = {
    "request_performance": "Request performance (rp_toolkit)",
    "scan_benchmark": "SCAN against KEYS (rp_toolkit)",
}
"""Each report's ``<title>``."""


def run_notebook(
    name: str,
    output_dir: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    redis_url: str | None = None,
    environment: Mapping[str, str] | None = None,
    show_code: bool = False,
    progress: bool = True,
) -> NotebookRun:
    """Execute notebook ``name`` into ``output_dir`` and export it as HTML.

    ``output_dir`` also receives the tables the notebook writes (its ``output_dir``
    parameter). The kernel inherits this process's environment, so rp_toolkit's ``RP_*``
    variables reach it; ``environment`` (e.g. :func:`rp_toolkit.config.as_environment` of the
    command line's flags) is set on top of it for this run only, and so is ``REDIS_URL`` from
    ``redis_url`` (None: no ``REDIS_URL`` at all). Raises :class:`NotebookFailedError` with the
    failing cell's error.
    """
    import nbformat

    if name not in NOTEBOOKS:
        raise SettingsError(f"Unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}.")
    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / NOTEBOOKS[name]
    executed = out / NOTEBOOKS[name]
    params = {"output_dir": str(out / name), **_clean_parameters(parameters or {})}
    # The kernel inherits the URL through REDIS_URL: no notebook holds it.
    variables = {**(environment or {}), "REDIS_URL": redis_url or None}
    with _environment(variables):
        _execute(name, source, executed, params, progress=progress)
    document = nbformat.read(str(executed), as_version=4)
    html = out / f"{name}.html"
    with atomic_files(html) as (written,):
        written.write_text(_html(name, document, show_code=show_code), encoding="utf-8")
    return NotebookRun(
        name=name, notebook=executed, html=html, warnings=notebook_warnings(document)
    )


def _execute(
    name: str, source: Path, executed: Path, parameters: dict[str, Any], *, progress: bool
) -> None:
    """Run notebook ``source`` with papermill into ``executed``, its kernel on unix sockets
    where there are some; a cell's error is a :class:`NotebookFailedError`."""
    import papermill

    try:
        with tempfile.TemporaryDirectory(prefix="rp-kernel-") as sockets:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=progress,
                cwd=str(source.parent),
                **(
                    {"kernel_manager_class": _local_kernel_manager(sockets)}
                    if os.name == "posix"
                    else {}
                ),
            )
    except papermill.PapermillExecutionError as error:
        raise NotebookFailedError(
            f"Notebook {name} failed in cell {error.exec_count}: {error.ename}: {error.evalue}. "
            f"The executed notebook is at {executed}."
        ) from None


def _html(name: str, document: Any, *, show_code: bool) -> str:
    """An executed notebook as the report's HTML page (code cells only with ``show_code``)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(TEMPLATES)],
        template_file=REPORT_TEMPLATE,
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(
        document, resources={"metadata": {"name": TITLES.get(name, name)}}
    )
    return body
