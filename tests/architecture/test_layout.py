"""The code's shape (issue 11): no import circles, no imports inside functions, small
modules. ``lint-imports`` (in ``make lint``) checks the layers; these check what it cannot.

The import graph is read from the source (``ast``), so nothing is imported to build it:
``from app.services.acwr import reads`` is an import of the module ``...acwr.reads``,
``from app.db import Db`` one of ``app.db``.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> Iterator[str]:
    """The modules of ``app`` that one import statement brings in."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in MODULES)
        return
    base = node.module or ""
    if node.level:  # relative: from the package of ``module``
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        if candidate in MODULES:
            yield candidate
        elif base in MODULES:
            yield base


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported(node, module)
            if target != module
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_reader_finds_a_circle() -> None:
    """The checker itself: a two-module circle and a three-module one are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]
    assert _graph()["app.main"] >= {"app.db", "app.config"}


def test_no_import_circles_between_modules_of_app() -> None:
    assert _cycles(_graph()) == []


def test_no_import_inside_a_function_in_app() -> None:
    inside = []
    for path in MODULES.values():
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                inside += [
                    f"{path.relative_to(ROOT)}:{node.lineno} (in {function.name})"
                    for node in ast.walk(function)
                    if isinstance(node, ast.Import | ast.ImportFrom)
                ]
    assert inside == []


def test_no_module_of_app_is_over_500_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in MODULES.values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


TRANSACTION_CALLS = {"commit", "begin", "rollback"}
OWNERS = ("jobs.py", "gates.py")


def test_only_jobs_and_gates_own_transactions_in_services_and_routers() -> None:
    """Request-scoped code takes the request's session and never begins, commits or rolls
    back: in routers and services only modules named for owning their transactions
    (``jobs.py``, ``accounts/gates.py``) may."""
    owning = []
    for path in MODULES.values():
        relative = path.relative_to(ROOT)
        if relative.parts[1] not in ("routers", "services") or path.name in OWNERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in TRANSACTION_CALLS
            ):
                owning.append(f"{relative}:{node.lineno} ({node.func.attr})")
    assert owning == []
