"""The imports keep the layers (DESIGN.md §3): a test that walks them.

Every ``.py`` under oms, ems, rfq, tca and config is parsed (no import is executed) and every import
statement counts: at module level, inside functions and classes, and under ``if TYPE_CHECKING:``.

- ``oms`` <- ``ems`` <- ``rfq`` <- ``fix``: no lower app imports a higher one; ``tca`` reads all of them and nothing
  imports ``tca``; ``config`` (the project) may import anything.
- ``ems.sim`` and ``ems.algos`` are pure Python: the standard library, numpy and each other, nothing else.
- The audit proof modules (``OFFLINE``) run without Django: the standard library, ``cryptography`` and each other.
- Selectors import no services (reads do not depend on writes), and only URL configurations import an
  API views module (what several APIs share lives in its own module of ``oms/api/``).
- No import circle between modules. An import inside a function still counts: it hides a circle from
  the interpreter, not from a reader (STYLE.md: move the shared name to its own module). An edge goes to
  the module an import names (``from oms.services import risk`` -> ``oms.services.risk``), not to the
  packages Python initialises on the way, so a package re-exporting its modules is no circle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("oms", "ems", "rfq", "tca", "fix", "config")
# Lower apps first: an app may import its own and lower ranks only. tca and config may import every app.
# fix (FIX connectivity) is an intake and reporting edge like the REST API: it may use every app, none uses it.
APP_RANK = {"oms": 0, "ems": 1, "rfq": 2, "fix": 3}
PURE = ("ems.sim", "ems.algos")
PURE_MAY_IMPORT = ("numpy", *PURE)
# The audit log's Merkle tree, signed heads and offline proof verifier: what compliance runs with no Django.
OFFLINE = ("oms.audit_merkle", "oms.audit_tree_head", "oms.audit_proof")
OFFLINE_MAY_IMPORT = ("cryptography", *OFFLINE)

# Circles still known to be there, each in modules another change is restructuring, as the set of the
# modules of one circle; whoever owns them empties this list. Empty today. A circle listed here that is
# gone fails the test, so the list cannot go stale.
KNOWN_CIRCLES: list[frozenset[str]] = []
# (selector, service) pairs still allowed, each with its reason.
SELECTORS_USING_SERVICES: set[tuple[str, str]] = set()  # none: a read shared with a service lives outside services/


@dataclass(frozen=True)
class Import:
    importer: str  # module name
    target: str  # the most specific module of ours the statement names, or the top-level name of another package
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.importer}:{self.line} imports {self.target}{where}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = _sources()


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _resolve(name: str) -> str:
    """The longest prefix of ``name`` that is one of our modules (``oms.roles.Actor`` -> ``oms.roles``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return name


def _walk(tree: ast.AST, in_function: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for node in ast.iter_child_nodes(tree):
        yield node, in_function
        yield from _walk(node, in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))


def _imports(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, in_function in _walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # `from pkg import name`: name is a module of ours or a name defined in pkg.
            names = [f"{source}.{alias.name}" for alias in node.names] if _ours(source) else [source]
        else:
            continue
        for name in names:
            target = _resolve(name) if _ours(name) else name.split(".")[0]
            yield Import(module, target, node.lineno, in_function)


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _lines(imports: list[Import]) -> str:
    return "\n".join(dict.fromkeys(f"  {i}" for i in imports))


def _app(module: str) -> str:
    return module.split(".")[0]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is(module: str, kind: str) -> bool:
    """``module`` is a module or package of that kind: ``ems.selectors``, ``oms.services.intake``, ``rfq.api.views``."""
    return kind in module.split(".")[1:]


def test_the_walk_sees_the_apps_and_their_imports():
    # Guard the walker itself: an empty graph would pass every rule below.
    assert {"oms.models", "ems.sim.market", "rfq.services", "tca.selectors", "config.settings"} <= set(MODULES)
    assert any(_app(i.importer) == "ems" and i.target == "oms.models" for i in IMPORTS)
    assert any(i.importer == "oms.roles" and i.target == "oms.refdata" and i.in_function for i in IMPORTS)


def test_no_lower_app_imports_a_higher_one():
    wrong = []
    for imp in IMPORTS:
        src, dst = _app(imp.importer), _app(imp.target)
        if src == dst or dst not in APP_RANK and dst != "tca":
            continue
        if dst == "tca" and src != "config":
            wrong.append(imp)
        elif src in APP_RANK and dst in APP_RANK and APP_RANK[dst] > APP_RANK[src]:
            wrong.append(imp)
    assert not wrong, "imports against oms <- ems <- rfq (tca reads all, nothing imports tca):\n" + _lines(wrong)


def test_the_simulator_and_the_algorithms_are_pure_python():
    stdlib = sys.stdlib_module_names
    wrong = [
        imp for imp in IMPORTS
        if any(_within(imp.importer, p) for p in PURE)
        and not (imp.target.split(".")[0] in stdlib or any(_within(imp.target, p) for p in PURE_MAY_IMPORT))
    ]
    assert not wrong, "ems.sim and ems.algos import only the standard library, numpy and each other:\n" + _lines(wrong)


def test_the_audit_proof_modules_run_without_django():
    stdlib = sys.stdlib_module_names
    wrong = [
        imp for imp in IMPORTS
        if imp.importer in OFFLINE
        and not (imp.target.split(".")[0] in stdlib or any(_within(imp.target, p) for p in OFFLINE_MAY_IMPORT))
    ]
    assert {m for m in OFFLINE if m in MODULES} == set(OFFLINE)
    assert not wrong, "the audit proof modules import only the standard library, cryptography and each other:\n" + _lines(wrong)


def test_selectors_import_no_services():
    # Reads do not write: what a selector and a service share (a value type, a read) lives with the reads or the models.
    wrong = [imp for imp in IMPORTS if _is(imp.importer, "selectors") and _is(imp.target, "services")
             and (imp.importer, imp.target) not in SELECTORS_USING_SERVICES]
    assert not wrong, "selectors importing services:\n" + _lines(wrong)


def test_api_views_are_imported_only_by_urls():
    # What several APIs share (constants, error format, permissions, validation) lives in its own module of
    # oms/api/ (or of the app's api/), not in a views module.
    wrong = [imp for imp in IMPORTS if _is_api_views(imp.target) and imp.importer != imp.target and not _is(imp.importer, "urls")]
    assert not wrong, "modules importing an API views module (only URL configurations route to views):\n" + _lines(wrong)


def _is_api_views(module: str) -> bool:
    return module.endswith(".api.views")


def _circles() -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle or several."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if imp.target in graph and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _describe(component: frozenset[str]) -> str:
    edges = [i for i in IMPORTS if i.importer in component and i.target in component]
    return "  " + " <-> ".join(sorted(component)) + "\n" + _lines(edges).replace("  ", "      ", 1).replace("\n  ", "\n      ")


def test_no_import_circle_between_modules():
    circles = _circles()
    new = [c for c in circles if c not in KNOWN_CIRCLES]
    gone = [c for c in KNOWN_CIRCLES if c not in circles]
    assert not new, "import circles (move the shared name to its own module):\n" + "\n".join(map(_describe, new))
    assert not gone, "circles in KNOWN_CIRCLES that are gone: remove them from the list:\n" + "\n".join(
        "  " + ", ".join(sorted(c)) for c in gone)
