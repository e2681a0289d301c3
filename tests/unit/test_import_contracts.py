"""The import-linter contracts in pyproject.toml ([tool.importlinter]) hold on the tree,
and each one fails when a copy of the package breaks it on purpose, so none can pass by
checking nothing. (`make lint` runs the same `lint-imports`.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(),
                                reason="import-linter is not installed (pip install -e '.[dev]')")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package under `root`, with the repository's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# (file to change, line added at its top, the contract that must then fail)
VIOLATIONS = [
    ("core/money.py", "import sqlalchemy", "Pure modules do no I/O"),
    ("picking/planner.py", "import asyncio", "Pure modules do no I/O"),
    ("orders/states.py", "from app.core import db", "Pure modules do no I/O"),
    ("core/web.py", "from app.catalog import units", "Core imports no feature"),
    ("orders/service.py", "import app.picking.service",
     "Features build on each other one way (no cycles)"),
    ("catalog/service.py", "from app.stock import service",
     "Features build on each other one way (no cycles)"),
    ("picking/service.py", "from app.orders import routes",
     "Only the app wiring imports a feature's routes"),
]


@pytest.fixture(scope="module")
def copy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contracts")
    shutil.copytree(ROOT / "app", root / "app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("path", "line", "contract"), VIOLATIONS,
                         ids=[f"{p}:{line}" for p, line, _ in VIOLATIONS])
def test_a_planted_violation_breaks_its_contract(copy_root: Path, path: str, line: str,
                                                 contract: str) -> None:
    target = copy_root / "app" / path
    original = target.read_text()
    # After the docstring and `from __future__`, which must stay first.
    head, sep, rest = original.partition("from __future__ import annotations\n")
    target.write_text(f"{head}{sep}{line}\n{rest}" if sep else f"{line}\n{original}")
    try:
        result = lint_imports(copy_root)
    finally:
        target.write_text(original)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"{contract} BROKEN" in out, out
