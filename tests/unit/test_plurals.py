"""Plain words for counts (issue #16 item 22): "1 label printed", never "1 labels".

`count_of` says a count; the scans below find a number written straight before a
plural noun in a template or an f-string message, which reads "1 labels" when the
number is 1. A place where the number can never be 1 is listed with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from app.core.words import count_of

ROOT = Path(__file__).resolve().parents[2]
PLURALS = ["lines", "labels", "bags", "items", "orders", "stores", "bills", "products",
           "bins", "pickers", "seconds", "minutes", "hours", "days", "digits", "characters",
           "events", "times", "units", "pieces", "tries", "connections", "columns", "scans",
           "rows", "sales", "refunds", "jobs", "keys", "users", "codes", "letters", "decimals",
           "levels", "rounds"]
ADJECTIVE = r"(?:(?:more|other|open|new|wrong|short)[ +])?"  # "1 more stores"
WORD = re.compile(r"^[ +]?" + ADJECTIVE + "(" + "|".join(PLURALS) + r")\b")
TEMPLATE_COUNT = re.compile(r"\{\{\s*(?P<expr>[^{}]*?)\s*\}\}(?:</?\w+[^>]*>)*[ +]" + ADJECTIVE
                            + "(?P<word>" + "|".join(PLURALS) + r")\b")

# (file, expression): never 1 where it is shown, or not a count at all.
NEVER_ONE = {
    ("templates/printing/_printers.html", "p.columns"): "a paper width: 32, 42, 48",
    ("templates/print/test.txt.j2", "printer.columns"): "a paper width",
    ("templates/printing/_printers.html", "j.attempts"): "shown only when above 1",
    ("templates/hub/_stores.html", "st.links | length"): "shown only when above 1",
    ("templates/hub/store.html", "h.links | length"): "shown only when above 1",
    ("templates/picking/_pack_result.html", "ask.choices|length"):
        "asked only when the item is in several orders",
    ("templates/print/report.txt.j2", "tender(kind)"): "'Cash sales': a name, no count",
    ("templates/hub/_charts.html", "store_id"): "'S1 sales today': a name, no count",
    ("templates/picking/_found.html",
     'found|length if found|length <= max_found else "More than " ~ max_found'):
        "the one-order case has its own lines above",
    ("app/printing/worker.py", "job.attempts + 1"): "only after the third send",
    ("app/catalog/barcodes.py", "limit"): "3 decimals for a weight, 2 for a price",
    ("app/catalog/barcodes.py", "decimals"): "only when above 2",
    ("app/catalog/barcodes.py", "len(scanned)"): "too long: above the limit",
    ("app/catalog/barcodes.py", "len(value)"): "too long: above the limit",
    ("app/hub/allocation.py", "len(away)"): "only when more than list_out_of_area (3)",
    ("app/sync/hub_link.py", "self.gap_events"): "above MAX_BUFFERED_EVENTS",
    ("app/sync/hub_link.py", "self.inbox_events"): "above MAX_BUFFERED_EVENTS",
    ("app/reports/sales_rollup.py", "offset"):
        "an SQLite time modifier ('+19800 seconds'), not words for people",
}


def test_count_of_says_one_thing_and_many_things() -> None:
    assert count_of(1, "label") + " printed" == "1 label printed"
    assert count_of(2, "label") == "2 labels"
    assert count_of(0, "bag") == "0 bags"
    assert count_of(1, "person", "people") == "1 person"
    assert count_of(3, "person", "people") == "3 people"


@given(st.integers(-10**6, 10**6))
def test_count_of_is_singular_exactly_at_one(n: int) -> None:
    said = count_of(n, "bag")
    assert said == (f"{n} bag" if n == 1 else f"{n} bags")


def _fixed_limit(node: ast.expr) -> bool:
    """MAX_LINES, cfg.LIMIT: a constant bound in a rule's message (all above 1)."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return bool(name) and name.isupper()


def f_string_counts() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.JoinedStr):
                continue
            for value, after in zip(node.values, node.values[1:], strict=False):
                if (isinstance(value, ast.FormattedValue) and isinstance(after, ast.Constant)
                        and isinstance(after.value, str) and WORD.match(after.value)
                        and not _fixed_limit(value.value)):
                    found.append((rel, ast.unparse(value.value), node.lineno))
    return found


def template_counts() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.suffix not in (".html", ".j2"):
            continue
        rel = str(path.relative_to(ROOT))
        text = path.read_text(encoding="utf-8")
        for m in TEMPLATE_COUNT.finditer(text):
            if "count_of(" not in m["expr"]:
                found.append((rel, m["expr"], text.count("\n", 0, m.start()) + 1))
    return found


def test_no_number_before_a_plural_noun_in_messages_or_templates() -> None:
    wrong = [f"{rel}:{line}: {{{expr}}} + plural noun: say it with count_of"
             for rel, expr, line in f_string_counts() + template_counts()
             if (rel, expr) not in NEVER_ONE]
    assert not wrong, "\n".join(wrong)


def test_the_scan_finds_what_it_looks_for() -> None:
    """The scans are not vacuous: the bug this issue found is caught in both forms."""
    assert TEMPLATE_COUNT.search("Order packed: {{ order.bag_count }} labels printed")
    assert TEMPLATE_COUNT.search("<strong>{{ n }}</strong> bags")
    assert TEMPLATE_COUNT.search("and {{ pending | length - 50 }} more stores.")
    assert not TEMPLATE_COUNT.search("{{ count_of(n, 'bag') }} printed")
    tree = ast.parse('f"/pack?msg=packed:+{order.bag_count}+labels+printed"')
    joined = next(n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr))
    assert WORD.match(joined.values[2].value)  # type: ignore[union-attr]
