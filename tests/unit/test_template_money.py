"""Lint: templates show paise through the money global, never through a float (issue #14).

`'%.2f' % (x / 100)` and `(x / 100) | round(2)` formatted amounts a second way beside
app/core/money.format_amount (the template global ``money``; ``money(x, symbol=False)``
for an input's value): ``round(2)`` showed ₹1,234.50 as "1234.5". This test reads every
template and fails on those forms; a planted violation shows it does. A rate in basis
points (a name ending in ``_bp``) may still be divided by 100.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "'%.2f' formatting": re.compile(r"""['"]%\.2f['"]"""),
    "round(2)": re.compile(r"\bround\(\s*2\b"),
    "a division by 100 (paise through a float)": re.compile(r"(\S*)\s*/\s*100\b"),
}


def _forbidden(what: str, match: re.Match[str]) -> bool:
    return not (what.startswith("a division") and match.group(1).endswith("_bp"))


def violations(templates: Path) -> list[str]:
    out = []
    for path in sorted(templates.rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for what, pattern in FORBIDDEN.items():
                if any(_forbidden(what, m) for m in pattern.finditer(line)):
                    out.append(f"{path.relative_to(templates).as_posix()}:{number}: {what}")
    return out


def test_no_template_formats_money_through_a_float() -> None:
    assert violations(ROOT / "templates") == []


def test_rates_in_basis_points_may_be_divided(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("{{ '%g' | format(product.gst_rate_bp / 100) }}\n"
                                     "{{ (a.total_minor)/100 }}\n", encoding="utf-8")
    assert violations(tmp_path) == ["t.html:2: a division by 100 (paise through a float)"]


PLANTED = [  # the lines these templates had before
    ("pos/_pay.html", """<input type="hidden" name="given" value="{{ '%.2f' % (amount / 100) }}">""",
     "'%.2f' formatting"),
    ("hub/rules.html", "value=\"{{ (rules.split_above_minor / 100) | round(2) }}\"", "round(2)"),
    ("pos/_cart.html", "{{ '%g' % (line.discount_value / 100) }}", "division by 100"),
]


@pytest.mark.parametrize(("rel", "line", "says"), PLANTED)
def test_a_planted_violation_fails_the_check(tmp_path: Path, rel: str, line: str,
                                             says: str) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", copy)
    target = copy / rel
    target.write_text(target.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    found = violations(copy)
    assert found and all(f.startswith(f"{rel}:") for f in found)
    assert any(says in f for f in found), found
