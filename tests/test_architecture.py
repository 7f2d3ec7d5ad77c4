"""The package's shape: the public API, and the rules of docs/ARCHITECTURE.md that
import-linter does not check (private names, imports inside functions, module size).

import-linter (run by `make test`, and by the last test here) checks the layers, that pure
code does no I/O, and that no package has an import cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rp_toolkit as rp

PACKAGE = Path(rp.__file__).resolve().parent
ROOT = PACKAGE.parent
MAX_LINES = 800

# What a function may import lazily: heavy packages only entry points need, and redis in the
# probe process script (which must start fast and import nothing else).
LAZY_THIRD_PARTY = {"nbformat", "papermill", "nbconvert", "jupyter_client", "redis"}

PUBLIC_API = [
    "Archive",
    "ArchiveError",
    "ArchiveRun",
    "FetchResult",
    "FetchStats",
    "KeysCommandUnavailableError",
    "KeysDeprecationWarning",
    "LoadBatches",
    "LoadInfo",
    "MemoryProfile",
    "RPToolkitError",
    "RPToolkitWarning",
    "RedisCommandError",
    "RedisServerNotFoundError",
    "RedisUnavailableError",
    "ScanCountWarning",
    "ServerChangedError",
    "ServerNotReadyError",
    "SettingsError",
    "Snapshot",
    "SnapshotDatabaseWarning",
    "SnapshotError",
    "archive",
    "bench",
    "concat_batches",
    "determine_scan_count",
    "escape_glob",
    "fetch_from_redis",
    "fetch_keys",
    "frames",
    "get_client",
    "iter_load",
    "kinds",
    "load",
    "load_events",
    "load_many",
    "load_trace",
    "memory_profile",
    "notebooks",
    "open_archive",
    "parse",
    "plots",
    "redact_url",
    "reports",
    "server",
    "settings",
    "setup",
    "slowest_trace",
    "synth",
    "temporary_redis",
    "validate_scan_count",
]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def test_public_api_is_pinned() -> None:
    assert sorted(rp.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(rp, name) is not None, name


def test_settings_object_and_config_module_do_not_hide_each_other() -> None:
    import rp_toolkit.config as config

    assert rp.settings is config.settings
    assert type(rp.settings).__name__ == "Settings"
    assert rp.server.RedisServer is rp.server._server.RedisServer  # rp.server is rp_toolkit.local


def test_no_module_uses_another_modules_private_name() -> None:
    offences = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        here = module_name(path)
        rp_aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = resolve(path, node)
                if not source.startswith("rp_toolkit"):
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        offences.append(f"{here}: from {source} import {alias.name}")
                    rp_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("rp_toolkit"):
                        rp_aliases.add((alias.asname or alias.name).split(".")[0])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in rp_aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{here}: {node.value.id}.{node.attr}")
    assert offences == []


def test_imports_sit_at_module_level() -> None:
    """No import inside a function only to dodge a cycle: rp_toolkit imports are at the top."""
    offences = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom):
                    names = [resolve(path, node)]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] not in LAZY_THIRD_PARTY:
                        offences.append(f"{module_name(path)}.{function.name}: import {name}")
    assert offences == []


def test_no_module_is_over_800_lines() -> None:
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in modules()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_rule_checks_would_catch_a_private_import(tmp_path: Path) -> None:
    """The private-name check itself works: a module doing it is caught."""
    bad = PACKAGE / "store" / "zz_architecture_probe.py"
    bad.write_text("from .scan import _REQUEST_ID_FIELD\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError):
            test_no_module_uses_another_modules_private_name()
    finally:
        bad.unlink()


LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")
def test_import_linter_contracts_hold() -> None:
    run = subprocess.run(
        [str(LINT_IMPORTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "7 kept, 0 broken" in run.stdout
