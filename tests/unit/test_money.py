from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import (
    GST_SLABS_BP,
    MoneyError,
    format_amount,
    gst_in_inclusive,
    parse_amount,
    parse_count,
    parse_gst_rate,
    price_for_measure,
    round_half_up,
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
        ("1,00,000", 10_000_000),
        ("100,000", 10_000_000),
        ("1,000.50", 100_050),
        ("12,34,567.89", 123_456_789),
        ("Rs. 1,000", 100_000),
    ],
)
def test_parse_amount(text, paise):
    assert parse_amount(text) == paise


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "1.234", "1e3", "12.", ".5", "1,2.3.4", "NaN", "nan", "inf", "-inf", "1e30",
     "Infinity", "-3.25", "-0", "+5", "\x00", "5\x00", "१२", "１２", "9" * 30, "1" * 100_000,
     "50,00", "1,0000", ",5", "5,", "1,,000", "1.000,50", "123,45,678", "1,000,00", "0x10",
     "5 00", "1_000"],
)
def test_parse_amount_rejects(bad):
    with pytest.raises(MoneyError) as err:
        parse_amount(bad)
    assert len(str(err.value)) < 140  # a 100 KB input is not echoed back


def test_a_decimal_comma_is_refused_with_the_fix_in_the_message():
    """Field report: cash received "50,00" became ₹5,000.00 and change ₹4,952.00."""
    with pytest.raises(MoneyError) as err:
        parse_amount("50,00")
    assert str(err.value) == (
        "'50,00' is not an amount: use 50.00 "
        "(commas only between thousands, like 1,00,000 or 100,000)")
    with pytest.raises(MoneyError, match="use 1000.50"):
        parse_amount("1.000,50")
    with pytest.raises(MoneyError, match="commas only between thousands"):
        parse_amount("1,0000")


@given(st.integers(min_value=0, max_value=10**10))
def test_grouped_amounts_read_back(paise):
    """What format_amount prints (Indian grouping) and international grouping both parse."""
    assert parse_amount(format_amount(paise)) == paise
    rupees, p = divmod(paise, 100)
    assert parse_amount(f"{rupees:,}.{p:02d}") == paise


@given(st.text(alphabet="0123456789,.", max_size=14))
def test_commas_are_only_accepted_between_thousands(text):
    """Any text of digits, commas and dots: accepted only if it is a well-formed amount,
    and then it means what the digits without commas mean."""
    try:
        value = parse_amount(text)
    except MoneyError:
        return
    if "," in text:
        whole = text.split(".")[0]
        groups = whole.split(",")
        assert len(groups[-1]) == 3 and all(g for g in groups)
        assert all(len(g) == 2 for g in groups[1:-1]) or all(len(g) == 3 for g in groups[1:])
    assert value == round(float(text.replace(",", "")) * 100)


def test_counts_take_the_same_comma_rule():
    assert parse_count("12") == 12 and parse_count("1,000") == 1000
    for bad in ("10,00", "-1", "1.5", "", "1e3", "\x00"):
        with pytest.raises(MoneyError):
            parse_count(bad)


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


@given(st.integers(min_value=0, max_value=10**10))
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
    assert gst_in_inclusive(11800, 1800).tax == 1800
    assert gst_in_inclusive(10500, 500).tax == 500
    assert gst_in_inclusive(100, 0).tax == 0


def test_gst_halves_are_equal_on_the_field_reports():
    """18 % on ₹195.00 was split 14.88 + 14.87; each half is now 9 % of the taxable value."""
    split = gst_in_inclusive(19500, 1800)
    assert (split.taxable, split.half) == (16526, 1487)  # 165.25 -> 165.26, 14.87 + 14.87
    assert split.taxable + 2 * split.half == 19500


@given(st.integers(min_value=-(10**10), max_value=10**10), st.sampled_from(sorted(GST_SLABS_BP)))
def test_gst_halves_are_equal_and_add_up_to_the_gross(gross, rate):
    split = gst_in_inclusive(gross, rate)
    assert split.taxable + split.half + split.half == gross
    assert split.tax == 2 * split.half
    assert abs(split.tax) <= abs(gross) and (split.half >= 0) == (gross >= 0) or split.half == 0
    # each half is half the rate on the taxable value, to the paisa
    assert abs(split.half * 20_000 - split.taxable * rate) <= 10_000 + 2 * rate
    # and the taxable value is within two paise of gross / (1 + r)
    assert abs(split.taxable * (10_000 + rate) - gross * 10_000) <= 2 * (10_000 + rate)
    assert gst_in_inclusive(-gross, rate) == type(split)(-split.taxable, -split.half)


def test_gst_rate_parsing():
    assert parse_gst_rate("5") == 500
    assert parse_gst_rate("18%") == 1800
    assert parse_gst_rate("0.25") == 25
    assert parse_gst_rate("40") == 4000
    for bad in ("7", "abc", "5.5"):
        with pytest.raises(MoneyError):
            parse_gst_rate(bad)
