"""A `type: ignore` in app/ names its error code and says why (docs/architecture.md,
"Enforced, not described"): `# type: ignore[code]  # reason`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[\w\-, ]+\])?(?P<rest>.*)$")


def bare_ignores(source: str) -> list[int]:
    """Lines whose type: ignore has no error code or no reason (a comment after it, or a
    comment on the line above)."""
    lines = source.splitlines()
    bad = []
    for number, line in enumerate(lines, 1):
        found = IGNORE.search(line)
        if not found:
            continue
        reason = found["rest"].strip().lstrip("#").strip() or (
            number > 1 and lines[number - 2].strip().startswith("#"))
        if not found["code"] or not reason:
            bad.append(number)
    return bad


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    bad = {str(p.relative_to(ROOT)): hits for p in sorted((ROOT / "app").rglob("*.py"))
           if (hits := bare_ignores(p.read_text()))}
    assert bad == {}


def test_the_check_sees_a_bare_ignore() -> None:
    assert bare_ignores("x = f()  # type: ignore\n") == [1]
    assert bare_ignores("x = f()  # type: ignore[arg-type]\n") == [1]
    assert bare_ignores("x = f()  # type: ignore[arg-type]  # f is untyped\n") == []
    assert bare_ignores("# f is untyped\nx = f()  # type: ignore[arg-type]\n") == []
