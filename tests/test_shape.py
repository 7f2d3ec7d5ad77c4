"""The shape inside the rooms (issue 23; rules 6 to 11 of docs/ARCHITECTURE.md), read from the
source with ``ast``, no server:

* errors go through one tree (no bare ``ValueError``, no raise of the root, every exception
  class under :class:`~rp_toolkit.exceptions.RPToolkitError` or documented, and the tree drawn in
  ``exceptions.py``'s docstring is the real one);
* no function pops from its inputs, nor from fetch statistics at all;
* no function over 60 lines;
* options are values: only the entry points read the global ``settings``;
* kinds carry their facts: nothing compares a kind's name;
* ``rp``'s public attributes are ``__all__`` and its own submodules.

Each failure lists every offence as ``path:line name``, so that one run shows all that is left.
"""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import rp_toolkit as rp
import rp_toolkit.exceptions as exceptions
from rp_toolkit.kinds import KINDS

PACKAGE = Path(rp.__file__).resolve().parent
ROOT = PACKAGE.parent
MAX_FUNCTION_LINES = 60

Function = ast.FunctionDef | ast.AsyncFunctionDef


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@cache
def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"  # type: ignore[attr-defined]


def by_place(offence: str) -> tuple[str, int, str]:
    place, _, rest = offence.partition(" ")
    path, _, line = place.rpartition(":")
    return (path, int(line), rest) if line.isdigit() else (offence, 0, "")


def report(offences: list[str], what: str) -> str:
    """``what``, counted, then every offence on a line of its own, in file and line order."""
    return f"{len(offences)} {what}:\n  " + "\n  ".join(sorted(offences, key=by_place))


def functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for a name or an attribute chain (subscripts and calls read as ``[]``/``()``)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{dotted(node.value)}[]"
    if isinstance(node, ast.Call):
        return f"{dotted(node.func)}()"
    return type(node).__name__


def names_in(node: ast.AST) -> list[str]:
    """The names and attributes of a chain (``a``, ``b``, ``c`` in ``a.b[0].c``)."""
    return [part for part in re.split(r"[.\[\]()]+", dotted(node)) if part]


def root_name(node: ast.AST) -> str | None:
    """The name an attribute/subscript chain starts from (``a`` in ``a.b[0].c``)."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


# -- 1. One error tree ----------------------------------------------------------------------

FORBIDDEN_RAISES = {"ValueError", "RPToolkitError"}

NOT_UNDER_THE_ROOT = {
    "Stopped": "a SystemExit: SIGTERM/SIGHUP unwind as Ctrl-C does, never caught as an error",
    "TLSHandshakeTimeoutError": "raised inside redis-py's connection, so it must be a redis "
    "ConnectionError for redis-py to retry and translate it (store/connection)",
    "_Stopped": "the stream's private signal that the caller went away; it never leaves the "
    "stages and must not be caught by `except RPToolkitError`",
}
"""Exception classes that are not RPToolkitErrors on purpose (warnings are not errors and are
checked apart: every warning is a Warning)."""


def test_no_raise_of_value_error_or_of_the_root() -> None:
    """Rule: raise the specific subclass (InvalidArgumentError, SnapshotError, ...)."""
    offences = []
    for path in modules():
        for node in ast.walk(tree_of(path)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = dotted(raised).rsplit(".", 1)[-1]
                if name in FORBIDDEN_RAISES:
                    offences.append(f"{where(path, node)} raise {name}")
    assert not offences, report(offences, "raises of ValueError or of the root RPToolkitError")


def exception_classes() -> Iterator[tuple[Path, ast.ClassDef, type]]:
    """Every exception or warning class defined at module level in rp_toolkit, with its class."""
    for path in modules():
        classes = [n for n in tree_of(path).body if isinstance(n, ast.ClassDef)]
        if not classes:
            continue
        module = module_of(path)
        for node in classes:
            cls = getattr(module, node.name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                yield path, node, cls


def module_of(path: Path) -> ModuleType:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return importlib.import_module(".".join(parts))


def outside_the_root(classes: Iterable[tuple[str, str, type]]) -> list[str]:
    """``place name(bases)`` of each error class (not a warning) outside RPToolkitError and not
    documented in NOT_UNDER_THE_ROOT."""
    return [
        f"{place} {name}({', '.join(base.__name__ for base in cls.__bases__)})"
        for place, name, cls in classes
        if not issubclass(cls, (Warning, exceptions.RPToolkitError))
        and name not in NOT_UNDER_THE_ROOT
    ]


def test_every_exception_is_under_the_root_or_documented() -> None:
    classes = [(where(path, node), node.name, cls) for path, node, cls in exception_classes()]
    offences = outside_the_root(classes)
    assert not offences, report(offences, "exception classes outside RPToolkitError")


def test_the_root_check_catches_a_stray_error_class() -> None:
    class ProbeError(ValueError):
        pass

    class ProbeWarning(UserWarning):
        pass

    classes = [("x.py:1", "ProbeError", ProbeError), ("x.py:2", "ProbeWarning", ProbeWarning)]
    classes.append(("x.py:3", "Stopped", exceptions.Stopped))
    assert outside_the_root(classes) == ["x.py:1 ProbeError(ValueError)"]


def test_every_warning_is_a_warning_class() -> None:
    """Warnings are allowed outside the root only because they are Warnings."""
    for path, node, cls in exception_classes():
        if node.name.endswith("Warning"):
            assert issubclass(cls, Warning), where(path, node)


TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*?)(?P<name>[A-Z]\w+)(?: \((?P<builtin>\w+)\))?")


def drawn_tree(doc: str) -> dict[str, list[str]]:
    """The bases each class has in the tree ``doc`` draws after ``::`` (``exceptions.py``'s
    docstring): its parent in the drawing (``├──``/``└──``, four columns a level) and the
    built-in in parentheses."""
    drawing = textwrap.dedent(doc.split("::", 1)[1])
    bases: dict[str, list[str]] = {}
    parents: list[str] = []
    for line in drawing.splitlines():
        match = TREE_LINE.match(line)
        if not line.strip() or not match:
            continue
        depth = len(match["indent"]) // 4
        parents[depth:] = [match["name"]]
        builtin = [match["builtin"]] if match["builtin"] else []
        bases[match["name"]] = parents[depth - 1 : depth] + builtin
    return bases


def tree_mismatches(real: dict[str, list[str]], drawn: dict[str, list[str]]) -> list[str]:
    """Classes missing from the drawing, drawn but not defined, or drawn under other bases."""
    offences = [f"{name}: not drawn" for name in real if name not in drawn]
    offences += [f"{name}: drawn, not defined" for name in drawn if name not in real]
    offences += [
        f"{name}: drawn under {drawn[name]}, derives from {bases}"
        for name, bases in real.items()
        if name in drawn and drawn[name] != [base for base in bases if base != "Exception"]
    ]
    return offences


def test_the_drawn_error_tree_is_the_real_one() -> None:
    """Every class exceptions.py defines is drawn in its docstring, under its real bases."""
    real = {
        node.name: [base.__name__ for base in cls.__bases__]
        for path, node, cls in exception_classes()
        if path.name == "exceptions.py"
    }
    offences = tree_mismatches(real, drawn_tree(exceptions.__doc__ or ""))
    assert not offences, report(offences, "differences between exceptions.py and its drawing")


def test_the_tree_check_catches_a_wrong_drawing() -> None:
    doc = """Errors::

        RPToolkitError
        ├── InvalidArgumentError (ValueError)   a bad argument
        │   └── SettingsError                   an unknown setting
        └── GoneError                           not defined

        Stopped (SystemExit)                    a signal
    """
    real = {
        "RPToolkitError": ["Exception"],
        "InvalidArgumentError": ["RPToolkitError", "ValueError"],
        "SettingsError": ["RPToolkitError"],
        "Stopped": ["SystemExit"],
        "SnapshotError": ["RPToolkitError"],
    }
    assert tree_mismatches(real, drawn_tree(doc)) == [
        "SnapshotError: not drawn",
        "GoneError: drawn, not defined",
        "SettingsError: drawn under ['InvalidArgumentError'], derives from ['RPToolkitError']",
    ]


# -- 2. No function pops from its inputs ----------------------------------------------------

POPS = {"pop", "popitem"}
STATS_NAME = re.compile(r"stats|^extra$", re.IGNORECASE)


def parameters(function: Function | ast.Lambda) -> set[str]:
    """The names a caller's objects arrive under: not ``self``/``cls``, and not ``**kwargs``
    (a dict the call itself made, which the function may pop from)."""
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg]
    return {a.arg for a in every if a is not None} - {"self", "cls"}


def rebound_lines(function: Function, name: str) -> list[int]:
    """Lines where ``function`` binds ``name`` anew (``name = dict(name)``): after that, the
    name is a local the function made, and it may pop from it."""
    lines = []
    for node in ast.walk(function):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr, ast.For, ast.comprehension)):
            targets = [node.target]
        if any(name in bound_names(target) for target in targets):
            lines.append(getattr(node, "lineno", function.lineno))
    return lines


def bound_names(target: ast.AST) -> list[str]:
    """The names an assignment target binds (``a``, ``a, *b``), not ``a.x`` nor ``a[0]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return bound_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in bound_names(element)]
    return []


Pop = tuple[ast.Call, str]


def pops_in(function: Function, inputs: set[str]) -> Iterator[Pop]:
    """Pops in ``function`` (and its closures) from a chain rooted at one of ``inputs``."""
    for node in ast.iter_child_nodes(function):
        yield from _pops_below(node, function, inputs)


def _pops_below(node: ast.AST, function: Function, inputs: set[str]) -> Iterator[Pop]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        inputs = inputs - parameters(node)  # its own parameters shadow the outer ones
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        name = root_name(receiver)
        popped = node.func.attr in POPS and name in inputs
        if popped and not any(line < node.lineno for line in rebound_lines(function, name)):
            yield node, dotted(receiver)
    for child in ast.iter_child_nodes(node):
        yield from _pops_below(child, function, inputs)


def input_pops(path: Path, tree: ast.AST) -> list[str]:
    """``path:line function: receiver.pop`` for each pop from a function's inputs."""
    pops = {
        f"{where(path, call)} {function.name}: {receiver}.{call.func.attr}"  # type: ignore[attr-defined]
        for function in functions(tree)
        for call, receiver in pops_in(function, parameters(function))
    }
    return sorted(pops, key=by_place)


def test_no_function_pops_from_its_inputs() -> None:
    """A caller's dict, list or statistics are the caller's: read them, copy them, never
    ``.pop``/``.popitem`` them (a local the function made itself it may pop)."""
    offences = [offence for path in modules() for offence in input_pops(path, tree_of(path))]
    assert not offences, report(offences, "pops from a function's inputs")


def test_the_pop_check_tells_inputs_from_locals() -> None:
    code = textwrap.dedent(
        """
        def merge(stats, options, **changes):
            stats.extra.pop("a")          # 3: the caller's
            changes.pop("b", None)        # the call's own dict
            mine = dict(options)
            mine.pop("c")                 # a copy the function made
            def inner(options):
                options.pop("d")          # 8: inner's own input
            options = dict(options)
            options.pop("e")              # rebound to a copy first
            stats.extra = {}
            stats.pop("f")                # 12: still the caller's
        """
    )
    found = [offence.split(" ", 1)[1] for offence in input_pops(PACKAGE / "x.py", ast.parse(code))]
    assert found == ["merge: stats.extra.pop", "inner: options.pop", "merge: stats.pop"]


def test_nothing_pops_from_fetch_statistics() -> None:
    """FetchStats are summed with ``absorb``; nothing pops from them or from ``extra``."""
    offences = []
    for path in modules():
        for node in ast.walk(tree_of(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in POPS
                and any(STATS_NAME.search(part) for part in names_in(node.func.value))
            ):
                offences.append(f"{where(path, node)} {dotted(node.func)}")
    assert not offences, report(offences, "pops from statistics")


# -- 3. No function over 60 lines -----------------------------------------------------------


def function_lengths() -> list[tuple[int, str]]:
    """Every function's length, ``def`` line to last line (decorators excluded), longest first."""
    lengths = []
    for path in modules():
        for function in functions(tree_of(path)):
            length = function.end_lineno - function.lineno + 1  # type: ignore[operator]
            lengths.append((length, f"{where(path, function)} {function.name}"))
    return sorted(lengths, key=lambda item: (-item[0], item[1]))


def test_no_function_is_over_60_lines() -> None:
    """Long functions are split into named steps; data tables live as module-level data."""
    offences = [f"{n:4d} {name}" for n, name in function_lengths() if n > MAX_FUNCTION_LINES]
    assert not offences, report(offences, f"functions over {MAX_FUNCTION_LINES} lines")


# -- 4. Options are values: only entry points read the global settings ---------------------

MAY_READ_SETTINGS = {"config.py", "__init__.py", "__main__.py", "cli.py", "docs.py"}
MAY_READ_SETTINGS |= {"notebooks", "notebooks.py"}
"""Relative to rp_toolkit/: the model that holds the settings, the package face, and the entry
points (the notebooks, a module or a package)."""


def may_read_settings(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0] in MAY_READ_SETTINGS


def absolute_module(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = list(path.relative_to(ROOT).with_suffix("").parts)
    package = package[: len(package) - node.level]
    return ".".join(package + ([node.module] if node.module else []))


def settings_reads(path: Path, tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Imports of ``settings`` from rp_toolkit or its config and each use of the imported name,
    and ``config.settings``/``rp.settings`` through any alias of those modules."""
    holders: set[str] = set()  # local names of rp_toolkit and rp_toolkit.config
    imported: set[str] = set()  # local names of the settings object
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = absolute_module(path, node)
            for alias in node.names:
                if alias.name == "settings" and source in ("rp_toolkit", "rp_toolkit.config"):
                    imported.add(alias.asname or alias.name)
                    yield node, f"from {source} import settings"
                if f"{source}.{alias.name}".lstrip(".") in ("rp_toolkit.config",):
                    holders.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("rp_toolkit", "rp_toolkit.config"):
                    holders.add(alias.asname or alias.name)
    attributes_read: set[int] = set()  # the `settings` names read as `settings.x`
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "settings":
            if dotted(node.value) in holders:
                yield node, f"{dotted(node.value)}.settings"
        elif isinstance(node, ast.Attribute) and dotted(node.value) in imported:
            attributes_read.add(id(node.value))
            yield node, dotted(node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in imported and id(node) not in attributes_read:
            yield node, node.id


def test_only_entry_points_read_the_global_settings() -> None:
    """A public call takes ``current_options()`` once and passes the Options down."""
    offences = [
        f"{where(path, node)} {what}"
        for path in modules()
        if not may_read_settings(path)
        for node, what in settings_reads(path, tree_of(path))
    ]
    assert not offences, report(offences, "reads of the global settings outside entry points")


# -- 5. Kinds carry their facts ---------------------------------------------------------------

COMPARISONS = {ast.Eq, ast.NotEq, ast.In, ast.NotIn}
NOT_KIND_COMPARISONS = {
    "'sidekiq' in server": "synth: a host name's substring (a worker host), not a record kind",
}
"""Comparisons with a string that happens to be a kind's name but means something else."""


def kind_names_in(node: ast.AST) -> list[str]:
    """The kind names a comparison operand spells: a string, or a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and node.value in KINDS:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for element in node.elts for name in kind_names_in(element)]
    return []


def test_nothing_compares_kind_names() -> None:
    """``kind.name == "events"``, ``name in ("trace", "events")``, ``system == "grape"``: ask
    the kind (``tabular``, ``duration_field``, ``window``, ``prefix``) instead. Tables keyed by
    kind name are data, not comparisons."""
    offences = [
        offence
        for path in modules()
        if path != PACKAGE / "kinds.py"
        for offence in kind_comparisons(path, tree_of(path))
    ]
    assert not offences, report(offences, "comparisons with kind names")


def kind_comparisons(path: Path, tree: ast.AST) -> list[str]:
    offences = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Compare) and set(map(type, node.ops)) & COMPARISONS:
            for operand in (node.left, *node.comparators):
                names += kind_names_in(operand)
        elif isinstance(node, ast.MatchValue):
            names = kind_names_in(node.value)
        if names and ast.unparse(node) not in NOT_KIND_COMPARISONS:
            offences.append(f"{where(path, node)} {ast.unparse(node)[:70]}")
    return offences


def test_the_settings_and_kind_checks_catch_what_they_look_for() -> None:
    code = textwrap.dedent(
        """
        import rp_toolkit as rp
        from .. import config
        from ..config import settings as global_settings, current_options

        def load(kind, options=None):
            options = options or current_options()   # the way: no offence
            if global_settings.use_scan or rp.settings.debug:
                chunk = config.settings.mget_chunk
            labels = {"grape": "Grape"}              # a table: no offence
            if kind.name in ("trace", "events") or kind == "grape":
                return labels
            match kind:
                case "requests":
                    return options
        """
    )
    path = PACKAGE / "store" / "probe.py"
    reads = [what for _, what in settings_reads(path, ast.parse(code))]
    assert sorted(reads) == [
        "config.settings",
        "from rp_toolkit.config import settings",
        "global_settings.use_scan",
        "rp.settings",
    ]
    found = [offence.split(" ", 1)[1] for offence in kind_comparisons(path, ast.parse(code))]
    assert found == ["kind.name in ('trace', 'events')", "kind == 'grape'", "'requests'"]


# -- 8. rp's public attributes ----------------------------------------------------------------


def test_rp_shows_only_its_api_and_its_own_submodules() -> None:
    """A public attribute of ``rp`` is in ``__all__``, or is one of rp_toolkit's own
    submodules (Python sets ``rp.export`` once anything imports ``rp_toolkit.export``, so a
    submodule may appear without being listed). Nothing the face imports for itself
    (``importlib``, ``ModuleType``) shows."""
    exported = set(rp.__all__)
    leaks = []
    for name in dir(rp):
        if name.startswith("_") or name in exported:
            continue
        value = getattr(rp, name)
        own_submodule = isinstance(value, ModuleType) and value.__name__ == f"rp_toolkit.{name}"
        if not own_submodule:
            leaks.append(f"rp.{name} ({type(value).__name__})")
    assert not leaks, report(leaks, "public attributes of rp outside __all__")
