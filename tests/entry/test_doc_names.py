"""The docs name only what exists: every ``rp.x``/``rp_toolkit.x.y`` resolves, and every file or
package path they point at is in the repo (or is one of the few places outside it, named below).

Read: README.md, docs/*.md (not docs/bench/, which the benchmark writes), the notebooks' cells,
and rp_toolkit's docstrings and comments. Each failure lists ``file:line name``.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import io
import json
import re
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import rp_toolkit as rp

PACKAGE = Path(rp.__file__).resolve().parent
ROOT = PACKAGE.parent

DOTTED = re.compile(r"(?<![\w.])(?:rp_toolkit|rp)(?:\.[A-Za-z_]\w*)+")
FILE = re.compile(r"(?<![\w./-])((?:\.\./|[\w.-]+/)*[\w-]+\.(?:py|md|ipynb|png))(?![\w/])")
DIRECTORY = re.compile(r"`((?:\.\./)?[a-z_][\w.-]*/(?:[\w.-]+/)*)`")
"""A package or folder written alone in a code span: `store/`, `docs/bench/`."""
URL = re.compile(r"\w+://\S+")

OUTSIDE_THE_REPO = {
    "../shared/rails_performance/SCHEMA.md": "the gem's record schema, in the folder beside "
    "the repo (not shipped with it)",
    "endpoint_days_job.py": "docs/SPARK.md: the script the reader saves and submits",
    "_staging/": "docs/ARCHIVE.md: a folder inside an archive",
    "_manifest/": "docs/ARCHIVE.md: a folder inside an archive",
    "walks.md": "a file the walks benchmark writes",
    "archive_speed.md": "a file the archive benchmark writes",
    "path/to/probe_process.py": "an example command line",
    "my_report.py": "an example script",
    "x.png": "an example file name",
}
"""Paths the docs name that are not in the repo on purpose."""

ROOTS = (ROOT, PACKAGE, ROOT / "docs", ROOT / "notebooks", ROOT / "tests")
"""Where a path the docs write resolves: the repo, the package (ARCHITECTURE.md writes
``store/``, ``cli.py``), the docs and notebooks folders, the tests."""


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


Line = tuple[str, int, str]  # where (file), line number, text


def lines_of_documents() -> Iterator[Line]:
    for path in documents():
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield str(path.relative_to(ROOT)), number, text


def lines_of_notebooks(kind: str) -> Iterator[Line]:
    """The lines of every ``kind`` cell ("markdown" or "code"), numbered ``cell N:line``."""
    for path in notebooks():
        cells: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] == kind:
                text = "".join(cell["source"])
                for number, line in enumerate(text.splitlines(), 1):
                    yield f"{path.relative_to(ROOT)} cell {index}", number, line


def lines_of_source() -> Iterator[Line]:
    """rp_toolkit's docstrings and comments, line by line."""
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(text)):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                value = body[0].value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    for offset, line in enumerate(value.value.splitlines()):
                        yield where, value.lineno + offset, line
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                yield where, token.start[0], token.string


@cache
def logger_names() -> frozenset[str]:
    """The loggers rp_toolkit names (``rp_toolkit.keys``): dotted, but not modules."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        found |= set(re.findall(r"getLogger\(\s*\"([\w.]+)\"", path.read_text(encoding="utf-8")))
    return frozenset(found)


@cache
def resolves(name: str) -> bool:
    """Whether ``rp.x.y``/``rp_toolkit.x.y`` names something: the longest importable module
    prefix, then attributes; or a logger rp_toolkit names."""
    if name in logger_names():
        return True
    parts = name.split(".")
    parts[0] = "rp_toolkit"
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def exists(path: str, here: Path) -> bool:
    if path in OUTSIDE_THE_REPO:
        return True
    if any((base / path).exists() for base in (here, *ROOTS)):
        return True
    # A module named alone (`stream.py`) where the text is about its package.
    return "/" not in path and path.endswith(".py") and any(PACKAGE.rglob(path))


def unknown_names(lines: Iterator[Line]) -> list[str]:
    return [
        f"{where}:{number} {name}"
        for where, number, text in lines
        for name in DOTTED.findall(URL.sub("", text))
        if not resolves(name)
    ]


def missing_paths(lines: Iterator[Line], directories: bool = True) -> list[str]:
    missing = []
    for where, number, text in lines:
        text = URL.sub("", text)
        here = (ROOT / where.split(" ")[0]).parent
        paths = FILE.findall(text) + (DIRECTORY.findall(text) if directories else [])
        missing += [f"{where}:{number} {path}" for path in paths if not exists(path, here)]
    return missing


def report(offences: list[str], what: str) -> str:
    return f"{len(offences)} {what}:\n  " + "\n  ".join(offences)


def test_docs_name_only_what_exists() -> None:
    offences = unknown_names(lines_of_documents()) + missing_paths(lines_of_documents())
    what = "names and paths in README.md and docs/ that do not exist"
    assert not offences, report(offences, what)


def test_notebooks_name_only_what_exists() -> None:
    offences = unknown_names(lines_of_notebooks("markdown")) + unknown_names(
        lines_of_notebooks("code")
    )
    offences += missing_paths(lines_of_notebooks("markdown"))
    assert not offences, report(offences, "names and paths in the notebooks that do not exist")


def test_docstrings_and_comments_name_only_what_exists() -> None:
    """Docstrings and comments: names, and files (not folders: code speaks of many)."""
    offences = unknown_names(lines_of_source())
    offences += missing_paths(lines_of_source(), directories=False)
    assert not offences, report(offences, "names and paths in rp_toolkit's text that do not exist")


CODE_NAME = re.compile(r"`((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)(?:\(\))?`")
PYTHON_LOOKING = re.compile(r"^_?[a-z][a-z0-9]*_\w*$|^_?[A-Z][a-z0-9]+[A-Z]\w*$")
"""snake_case with an underscore, or CamelCase: a function, a class, a constant's module;
not a setting's one word, a Redis command (KEYS) nor a plain word."""


@cache
def defined_names() -> frozenset[str]:
    """Every name rp_toolkit defines: functions, classes, what it assigns (names, attributes,
    fields), parameters, what it imports, its modules and packages; the tests' modules and
    functions (the rules name them); and Python's built-ins."""
    tests = list((ROOT / "tests").rglob("*.py"))
    names = {path.stem for path in [*PACKAGE.rglob("*.py"), *tests]} | set(dir(builtins))
    names |= {path.name for path in PACKAGE.rglob("*") if path.is_dir()}
    for path in tests:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(node.value.split("."))  # a field's name: `record_id`
    return frozenset(names | NOT_CODE)


NOT_CODE = {"rails_performance"}
"""Python-looking names the docs write that are not rp_toolkit's: the gem's."""


def unknown_code_names(lines: Iterator[Line]) -> list[str]:
    offences = []
    for where, number, text in lines:
        for name in CODE_NAME.findall(text):
            parts = [part for part in name.split(".") if PYTHON_LOOKING.match(part)]
            unknown = [part for part in parts if part not in defined_names()]
            offences += [f"{where}:{number} {part}" for part in unknown]
    return offences


def test_the_architecture_names_only_what_the_code_defines() -> None:
    """docs/ARCHITECTURE.md is the map of the code: each function, class or module it writes
    in a code span (`open_source`, `SeenKeys`, `store.timed_call`) is defined in rp_toolkit
    (or, for the rules' tests, in tests/)."""
    lines = (line for line in lines_of_documents() if line[0] == "docs/ARCHITECTURE.md")
    offences = unknown_code_names(lines)
    assert not offences, report(offences, "names in docs/ARCHITECTURE.md that the code lacks")


def test_the_checks_catch_what_does_not_exist() -> None:
    lines = [("docs/X.md", 1, "`rp.no_such_thing`, `rp_toolkit.store.nothing`, `rp.load`")]
    assert len(unknown_names(iter(lines))) == 2
    lines = [("docs/X.md", 2, "see SCHEMA.md, `store/no_such.py`, `no_such/` and `store/`")]
    assert missing_paths(iter(lines)) == [
        "docs/X.md:2 SCHEMA.md",
        "docs/X.md:2 store/no_such.py",
        "docs/X.md:2 no_such/",
    ]
    lines = [("docs/X.md", 3, "the schema: ../shared/rails_performance/SCHEMA.md")]
    assert missing_paths(iter(lines)) == []
    lines = [("docs/X.md", 4, "`store.source_of_nothing`, `NoSuchSource`, `open_source`, `KEYS`")]
    assert unknown_code_names(iter(lines)) == [
        "docs/X.md:4 source_of_nothing",
        "docs/X.md:4 NoSuchSource",
    ]
