"""Lint: money is never read through a float (issue #14).

Every amount typed in a form, a file or the CLI goes through money.parse_amount (or a
parser built on it: rules.parse_price, parse_count); money is integer paise everywhere
else. This test reads the modules that handle money and fails on:

- a call of ``float(...)`` (a rupee amount through a float is how 12.345, 1e3, 1_000 and
  inf got in), except in the few functions below that read numbers that are not money;
- a call of ``Decimal(...)`` outside app/core/money.py (the quantity parser may use it);
- ``int(...)`` of a request field whose name says money (``int(data.get("price"))``).

It parses the code (ast), so comments, strings and type hints (``-> float``) never count.
A planted violation in a copy of a module shows each rule fails.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The code that handles money: these folders and files, every module in them.
MONEY_PATHS = (
    "app/core/money.py", "app/core/gst.py", "app/catalog", "app/pos", "app/hub", "app/orders",
    "app/reports", "app/printing", "app/stock", "app/sync", "app/cli",
)
# (file, function) -> why a float is right there. Nothing here is an amount of money.
FLOAT_ALLOWED = {
    ("app/hub/order_pages.py", "_coordinate"): "latitude/longitude of an uploaded order",
    ("app/hub/order_pages.py", "rules_save"): "radius_km (allocation.Rules refuses inf/NaN)",
    ("app/printing/html_render.py", "add_viewbox"): "a barcode's size in mm on the preview",
}
# int() of a money-named field that is not typed text: JSON numbers another node sent.
INT_ALLOWED = {
    ("app/sync/store_apply.py", "_order_assigned"): "order.assigned from the hub: JSON ints",
}
DECIMAL_ALLOWED = {"app/core/money.py", "app/catalog/units.py"}  # money; kg/litre quantities
MONEY_FIELD = re.compile(
    r"price|amount|rupee|tender|discount|given|paise|minor|cash|float_|total|mrp", re.I)


def money_modules(root: Path) -> list[Path]:
    out: list[Path] = []
    for rel in MONEY_PATHS:
        path = root / rel
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    return [p for p in out if "migrations" not in p.parts]


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(
        func, ast.Attribute) else ""


def _field_name(node: ast.expr) -> str | None:
    """'price' for data.get("price", ...), data["price"], form.get("price")."""
    if isinstance(node, ast.Call) and _called(node) == "get" and node.args:
        key = node.args[0]
    elif isinstance(node, ast.Subscript):
        key = node.slice
    else:
        return None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def violations(root: Path) -> list[str]:
    """Every money-through-a-float (or unchecked int) call in the money modules."""
    found: list[str] = []
    for path in money_modules(root):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for func, node in _calls(tree):
            name = _called(node)
            where = f"{rel}:{node.lineno} in {func or '<module>'}"
            if name == "float" and (rel, func) not in FLOAT_ALLOWED:
                found.append(f"{where}: float(...) on money; use money.parse_amount")
            elif name == "Decimal" and rel not in DECIMAL_ALLOWED:
                found.append(f"{where}: Decimal(...) outside app/core/money.py")
            elif name == "int" and node.args:
                field = _field_name(node.args[0])
                if field and MONEY_FIELD.search(field) and (rel, func) not in INT_ALLOWED:
                    found.append(f"{where}: int() of the money field {field!r}; "
                                 "use money.parse_amount")
    return found


def _calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """(innermost enclosing function name, call) for every call in the module."""
    out: list[tuple[str, ast.Call]] = []

    def walk(node: ast.AST, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else func
            if isinstance(child, ast.Call):
                out.append((func, child))
            walk(child, inner)

    walk(tree, "")
    return out


def test_no_money_is_read_through_a_float() -> None:
    assert violations(ROOT) == []


def test_the_money_paths_and_allowances_are_real() -> None:
    """A renamed module or function must not silently drop out of the check."""
    modules = {p.relative_to(ROOT).as_posix() for p in money_modules(ROOT)}
    assert {"app/core/money.py", "app/catalog/rules.py", "app/catalog/csv_io.py",
            "app/hub/pages.py", "app/hub/service.py", "app/pos/routes.py",
            "app/printing/layout.py", "app/reports/routes.py"} <= modules
    assert any(m.startswith("app/cli/") for m in modules)
    for allowed, call in ((FLOAT_ALLOWED, "float"), (INT_ALLOWED, "int")):
        for rel, func in allowed:
            tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
            assert any(f == func and _called(c) == call for f, c in _calls(tree)), (rel, func)


PLANTED = [
    ("app/catalog/rules.py", "def _planted(text):\n    return int(float(text) * 100)\n",
     "app/catalog/rules.py:{line} in _planted: float(...)"),
    ("app/hub/pages.py", "def _planted(data):\n    return int(data.get('price_rupees'))\n",
     "int() of the money field 'price_rupees'"),
    ("app/pos/routes.py", "from decimal import Decimal\n\ndef _planted(t):\n"
     "    return Decimal(t)\n", "Decimal(...) outside app/core/money.py"),
    ("app/hub/order_pages.py", "def _planted(t):\n    return float(t)\n",
     "order_pages.py:{line} in _planted: float(...)"),  # allowed only in _coordinate
]


@pytest.mark.parametrize(("rel", "code", "says"), PLANTED)
def test_a_planted_violation_fails_the_check(tmp_path: Path, rel: str, code: str,
                                             says: str) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "app", copy / "app",
                    ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    target = copy / rel
    before = target.read_text(encoding="utf-8")
    line = before.count("\n") + 2 + code.count("\n") - 1
    target.write_text(before + "\n" + code, encoding="utf-8")
    found = violations(copy)
    assert len(found) == 1 and says.format(line=line) in found[0], found


def test_comments_strings_and_type_hints_do_not_count(tmp_path: Path) -> None:
    module = tmp_path / "app" / "pos" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text('def f(x: float) -> float:  # float(x) would be wrong\n'
                      '    return "float(1)"\n', encoding="utf-8")
    assert violations(tmp_path) == []
