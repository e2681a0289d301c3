"""Every parser of typed text gives a value or its own clear error, never anything else.

Arbitrary text (NUL, huge digit strings, '1e309', 'NaN', Arabic-Indic and full-width
digits, currency signs, thousands of characters) goes to each parser of money, counts,
GST rates, products, barcodes and quantities. Each must return a value or raise the
project's error for it (a ValueError subclass with a short message); an OverflowError,
InvalidOperation, IndexError or TypeError would be a 500 on a page.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.catalog import rules
from app.catalog.barcodes import BarcodeError, MeasureRule, parse_scan
from app.catalog.csv_io import parse_catalog, parse_line_quantity
from app.catalog.gs1 import GS1Error, parse_element_string
from app.catalog.units import QuantityError, parse_quantity
from app.core.money import MoneyError, parse_amount, parse_count, parse_gst_rate

SPECIAL = [
    "", " ", "\x00", "1\x00", "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "1e3", "1E3",
    "1_000", "12.345", "٣", "١٢٣", "１２", "१२", "²", "-0", "+5", "0x10", "₹", "Rs.", "INR 5",
    "₹1,00,000.50", "50,00", "1,0,0", "9" * 40, "9" * 5000, "1" + "0" * 400, "0." + "0" * 300,
    "(01)09501101530003", "\x1d", "]C1", "2100127000001", "ABC-123", "a/b", "kg", "KG",
    "\u200b5", "5\n", "\t7\t", "1.", ".5", "5%", "%", "yes", "Y", "0" * 13,
]
TEXT = st.one_of(st.text(), st.text(alphabet="0123456789.,-+eE_ ₹%٣１\x00"),
                 st.sampled_from(SPECIAL), st.from_regex(r"[0-9]{1,400}(\.[0-9]{0,5})?"))
RULES = (MeasureRule("weight", "21.....{NNDDD}", "weight"),
         MeasureRule("price", "22.....{NNNDD}", "price"),
         MeasureRule("count", "23.....{NNNNN}", "count"))

PARSERS: dict[str, tuple[Callable[[str], object], type[ValueError]]] = {
    "parse_amount": (parse_amount, MoneyError),
    "parse_count": (parse_count, MoneyError),
    "parse_gst_rate": (parse_gst_rate, MoneyError),
    "rules.parse_price": (rules.parse_price, rules.ProductError),
    "rules.parse_gst": (rules.parse_gst, rules.ProductError),
    "rules.check_sku": (rules.check_sku, rules.ProductError),
    "rules.check_name": (rules.check_name, rules.ProductError),
    "rules.check_hsn": (rules.check_hsn, rules.ProductError),
    "rules.check_unit": (rules.check_unit, rules.ProductError),
    "rules.parse_reorder_level": (rules.parse_reorder_level, rules.ProductError),
    "rules.parse_active": (rules.parse_active, rules.ProductError),
    "rules.canonical_barcode": (lambda t: rules.canonical_barcode(t, RULES), rules.ProductError),
    "rules.canonical_barcodes": (lambda t: rules.canonical_barcodes(rules.split_codes(t), RULES),
                                 rules.ProductError),
    "parse_scan": (lambda t: parse_scan(t, RULES), BarcodeError),
    "gs1.parse_element_string": (
        lambda t: parse_element_string(t, datetime.date(2026, 12, 1)), GS1Error),
    "parse_quantity piece": (lambda t: parse_quantity(t, "piece"), QuantityError),
    "parse_quantity kg": (lambda t: parse_quantity(t, "kg"), QuantityError),
    "parse_quantity litre": (lambda t: parse_quantity(t, "litre"), QuantityError),
    "parse_line_quantity": (parse_line_quantity, ValueError),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_a_parser_gives_a_value_or_its_own_error(name: str, text: str) -> None:
    parse, error = PARSERS[name]
    try:
        parse(text)
    except error as exc:
        message = str(exc)
        assert message and len(message) < 400, message  # says what is wrong, briefly
    # any other exception propagates and fails the test


@settings(max_examples=200, deadline=None)
@given(fields=st.fixed_dictionaries({k: TEXT for k in (
    "sku", "name", "price", "gst_rate", "hsn", "unit", "pack_size", "category",
    "reorder_level", "active", "barcodes")}))
def test_a_whole_product_gives_a_product_or_a_product_error(fields: dict[str, str]) -> None:
    barcodes = fields.pop("barcodes").split("|")
    try:
        p = rules.parse_product(barcodes=barcodes, measure_rules=RULES, **fields)
    except rules.ProductError:
        return
    assert rules.check_product(p, RULES) == p  # what is taken is already in its stored form
    assert 0 < p.price_minor <= rules.MAX_PRICE_MINOR and p.unit in rules.UNITS


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.lists(TEXT, min_size=1, max_size=11), max_size=4))
def test_a_catalogue_file_never_raises(cells: list[list[str]]) -> None:
    """parse_catalog reports every problem as a line's error; it raises nothing."""
    header = "sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level"
    body = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in row) for row in cells)
    parsed = parse_catalog(header + "\n" + body, RULES)
    assert all(str(e).startswith("line ") for e in parsed.errors)


@pytest.mark.parametrize("text", ["1e309", "NaN", "inf", "٣", "1_000", "12.345", "9" * 5000,
                                  "\x00"])
def test_the_named_hard_cases_are_refused_by_every_money_parser(text: str) -> None:
    for parse in (parse_amount, parse_count, rules.parse_price):
        with pytest.raises(ValueError):
            parse(text)
