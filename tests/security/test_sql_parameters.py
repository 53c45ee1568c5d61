"""SQL only through bound parameters: no text()/exec_driver_sql() built from strings in app/.

A value spliced into SQL text is an injection waiting for its input; a value passed as a
bound parameter never is. The scan looks for calls whose SQL argument is an f-string, a
concatenation, a ``%`` format or ``.format()``, and names each file:line it finds.
"""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
SQL_CALLS = {"text", "exec_driver_sql"}

# (file, enclosing function) -> why the SQL it builds is safe. Keep it short.
ALLOWED = {
    ("app/db.py", "lock_team"): (
        "the SQL function is one of two literal names chosen in code; the key is bound"
    ),
    ("app/services/acwr/batches.py", "_aggregate_loads"): (
        "the column is one of two fixed names (internal or external load), never input"
    ),
}


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_built(node: ast.expr) -> bool:
    """An f-string, ``a + b``, ``a % b`` or ``"...".format(...)`` (not a plain literal)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def _built_sql(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function, source) of each SQL call built from strings."""
    source = path.read_text()
    found = []
    scopes: list[tuple[str, ast.AST]] = [("<module>", ast.parse(source, filename=str(path)))]
    while scopes:
        scope, tree = scopes.pop()
        for node in ast.iter_child_nodes(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                scopes.append((node.name, node))
                continue
            scopes.append((scope, node))
            if not isinstance(node, ast.Call) or _called_name(node) not in SQL_CALLS:
                continue
            if node.args and _is_built(node.args[0]):
                found.append((node.lineno, scope, ast.get_source_segment(source, node) or ""))
    return sorted(found)


def test_no_sql_is_built_from_strings() -> None:
    root = APP.parent
    offenders = [
        f"{path.relative_to(root)}:{line} (in {scope}): {snippet}"
        for path in sorted(APP.rglob("*.py"))
        for line, scope, snippet in _built_sql(path)
        if (str(path.relative_to(root)), scope) not in ALLOWED
    ]
    assert offenders == [], "SQL built from strings (bind parameters instead):\n" + "\n".join(
        offenders
    )


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlalchemy import text\n"
        "a = text(f'SELECT * FROM t WHERE id = {x}')\n"
        "b = text('SELECT ' + column)\n"
        "c = conn.exec_driver_sql('DELETE FROM %s' % table)\n"
        "d = sa.text('SELECT {}'.format(x))\n"
        "e = text('SELECT * FROM t WHERE id = :id')\n"
        "f = text(f'SELECT 1')\n"
    )
    assert [line for line, _, _ in _built_sql(sample)] == [2, 3, 4, 5]


def test_every_allowed_call_still_exists() -> None:
    """An allowance that matches nothing any more must go."""
    root = APP.parent
    present = {
        (str(path.relative_to(root)), scope)
        for path in APP.rglob("*.py")
        for _, scope, _ in _built_sql(path)
    }
    assert set(ALLOWED) <= present
