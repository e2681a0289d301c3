from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import (
    GST_SLABS_BP,
    MoneyError,
    format_amount,
    parse_amount,
    parse_gst_rate,
    price_for_measure,
    round_half_up,
    tax_in_inclusive,
    to_decimal_string,
)


@pytest.mark.parametrize(
    ("text", "paise"),
    [
        ("45", 4500),
        ("45.5", 4550),
        ("45.50", 4550),
        ("₹1,234.56", 123456),
        ("0.01", 1),
        (" 12 ", 1200),
        ("-3.25", -325),
    ],
)
def test_parse_amount(text, paise):
    assert parse_amount(text) == paise


@pytest.mark.parametrize("bad", ["", "abc", "1.234", "1e3", "12.", ".5", "1,2.3.4", "NaN"])
def test_parse_amount_rejects(bad):
    with pytest.raises(MoneyError):
        parse_amount(bad)


@pytest.mark.parametrize(
    ("paise", "text"),
    [
        (0, "₹0.00"),
        (5, "₹0.05"),
        (123456, "₹1,234.56"),
        (12345678, "₹1,23,456.78"),
        (1234567890, "₹1,23,45,678.90"),
        (-5000, "-₹50.00"),
    ],
)
def test_format_amount_indian_grouping(paise, text):
    assert format_amount(paise) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_decimal_string_round_trips(paise):
    assert parse_amount(to_decimal_string(paise)) == paise


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=1, max_value=10**6))
def test_round_half_up_is_nearest(numerator, denominator):
    q = round_half_up(numerator, denominator)
    # |q*d - n| <= d/2, and exact halves go away from zero
    assert abs(q * denominator - numerator) * 2 <= denominator
    if abs(q * denominator - numerator) * 2 == denominator:
        assert abs(q * denominator) > abs(numerator)


def test_measure_price_and_gst():
    assert price_for_measure(4000, 1250) == 5000  # ₹40/kg × 1.25 kg
    assert price_for_measure(3333, 1) == 3  # 3.333 paise -> 3
    assert tax_in_inclusive(11800, 1800) == 1800
    assert tax_in_inclusive(10500, 500) == 500
    assert tax_in_inclusive(100, 0) == 0


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(sorted(GST_SLABS_BP)))
def test_inclusive_tax_never_exceeds_gross(gross, rate):
    tax = tax_in_inclusive(gross, rate)
    assert 0 <= tax <= gross
    net = gross - tax
    # net + GST on net lands within a paisa of gross
    assert abs(net + round_half_up(net * rate, 10_000) - gross) <= 1


def test_gst_rate_parsing():
    assert parse_gst_rate("5") == 500
    assert parse_gst_rate("18%") == 1800
    assert parse_gst_rate("0.25") == 25
    assert parse_gst_rate("40") == 4000
    for bad in ("7", "abc", "5.5"):
        with pytest.raises(MoneyError):
            parse_gst_rate(bad)
