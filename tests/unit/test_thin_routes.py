"""Routes run no SQL and open no transaction (issue #14): every module the import-linter
"routes" contract protects (pyproject.toml) is read with ast, and a call to db.read() /
db.write() / write_retrying, a SQLAlchemy statement builder or an import of sqlalchemy
fails the test. A route parses input, calls one service function and renders."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPENS = {"read", "write"}  # db.read(), db.write()
SQL = {"select", "insert", "update", "delete", "text", "write_retrying"}


def route_modules() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for contract in pyproject["tool"]["importlinter"]["contracts"]:
        if contract.get("id") == "routes":
            return list(contract["protected_modules"])
    raise AssertionError("pyproject.toml has no import-linter contract with id 'routes'")


def sql_in(source: str) -> list[str]:
    """Where `source` touches the database itself: 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                a.name for a in node.names]
            if any(n == "sqlalchemy" or n.startswith("sqlalchemy.") for n in names):
                found.append(f"{node.lineno}: imports sqlalchemy")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(
                f, ast.Name) else ""
            if isinstance(f, ast.Attribute) and name in OPENS and not node.args:
                found.append(f"{node.lineno}: opens a transaction (.{name}())")
            elif name in SQL:
                found.append(f"{node.lineno}: {name}(...)")
    return found


def test_routes_run_no_sql() -> None:
    problems = {}
    for module in route_modules():
        path = ROOT / (module.replace(".", "/") + ".py")
        hits = sql_in(path.read_text())
        if hits:
            problems[module] = hits
    assert problems == {}


def test_the_check_sees_sql_in_a_route() -> None:
    planted = '''
from sqlalchemy import select

async def page(request):
    async with request.app.state.db.read() as s:
        return await s.scalar(select(Thing))
'''
    assert sql_in(planted) == ["2: imports sqlalchemy", "5: opens a transaction (.read())",
                               "6: select(...)"]
    assert sql_in("async def page(request):\n    await service.reprint(request)\n") == []
