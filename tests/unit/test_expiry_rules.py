"""The expiry page's pure rules (issue #17): days ahead, mark-down labels the till's
price rule reads back, and the settings bound that mirrors MAX_DAYS."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.barcodes import MeasureRule, gtin_check_digit, parse_scan
from app.config import ConfigError, StockSection, parse_config
from app.stock.expiry_rules import (
    DEFAULT_DAYS,
    MAX_DAYS,
    ExpiryError,
    label_item_code,
    markdown_barcode,
    parse_days,
    price_rule,
)
from tests.conftest import CONFIG_TEMPLATE

PRICE = MeasureRule.compile("Priced item (rupees)", "22.....{NNNDD}", "price")
WEIGHT = MeasureRule.compile("Weighed item (kg)", "21.....{NNDDD}", "weight")
OTHER_PRICE = MeasureRule.compile("Other price", "25.....{NNNDD}", "price")


def code(body12: str) -> str:
    return body12 + gtin_check_digit(body12)


def test_days_ahead_default_and_bounds() -> None:
    assert parse_days("") == DEFAULT_DAYS == 7
    assert parse_days("  ", default=14) == 14
    assert parse_days("0") == 0 and parse_days(str(MAX_DAYS)) == MAX_DAYS
    for bad in (str(MAX_DAYS + 1), "-1", "1e3", "NaN", "inf", "7.5", "٣", "9" * 200, "1\x00"):
        with pytest.raises(ExpiryError, match="days ahead"):
            parse_days(bad)


def test_the_settings_bound_is_the_pages_bound() -> None:
    assert StockSection().expiry_days_ahead == DEFAULT_DAYS
    top = CONFIG_TEMPLATE + f"\n[stock]\nexpiry_days_ahead = {MAX_DAYS}\n"
    assert parse_config(top).stock.expiry_days_ahead == MAX_DAYS
    with pytest.raises((ConfigError, msgspec.ValidationError), match="expiry_days_ahead"):
        parse_config(CONFIG_TEMPLATE + f"\n[stock]\nexpiry_days_ahead = {MAX_DAYS + 1}\n")


def test_the_price_rule_prefers_prefix_22() -> None:
    assert price_rule([WEIGHT, OTHER_PRICE, PRICE]) is PRICE
    assert price_rule([WEIGHT, OTHER_PRICE]) is OTHER_PRICE
    assert price_rule([WEIGHT]) is None


def test_the_label_code_is_the_products_zero_value_code_for_the_rule() -> None:
    label = code("221234500000")
    assert label_item_code(PRICE, [code("890100000001"), code("210010100000"), label]) == "12345"
    assert label_item_code(PRICE, [code("221234501000")]) is None  # a priced label, not the base
    assert label_item_code(PRICE, [code("890100000001")]) is None


@given(st.integers(1, 99_999), st.integers(0, 99_999))  # NNNDD: up to ₹999.99
def test_a_mark_down_label_reads_back_as_its_product_at_its_price(price: int, item: int) -> None:
    item_code = f"{item:05d}"
    current = price + 1
    barcode = markdown_barcode(PRICE, item_code, current, price)
    scan = parse_scan(barcode, [WEIGHT, PRICE])
    assert scan.price_minor == price and scan.rule_name == PRICE.name
    assert label_item_code(PRICE, [scan.lookup_code]) == item_code


@pytest.mark.parametrize("new", [3000, 3001, 0, -1, 2**63, True])
def test_a_mark_down_must_be_lower_and_above_zero(new: int) -> None:
    with pytest.raises(ExpiryError):
        markdown_barcode(PRICE, "12345", 3000, new)


def test_a_price_the_label_cannot_carry_is_refused() -> None:
    with pytest.raises(ExpiryError, match="cannot carry"):
        markdown_barcode(PRICE, "12345", 200_000, 100_000)  # ₹1,000: five digits hold ₹999.99
