"""MRP and savings (issue #21), pure: the price-within-MRP rule of the product rules and
the receipts' "You saved" from pricing.mrp_savings / you_saved."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.catalog.csv_io import parse_catalog
from app.catalog.rules import (
    MAX_PRICE_MINOR,
    ProductError,
    ProductFields,
    above_mrp,
    check_product,
    check_within_mrp,
    parse_mrp,
    parse_product,
)
from app.pos.pricing import SavingLine, mrp_savings, you_saved

prices = st.integers(1, MAX_PRICE_MINOR)
mrps = st.none() | prices


def test_a_price_above_the_mrp_is_refused_naming_the_product_and_both_amounts() -> None:
    with pytest.raises(ProductError) as refused:
        parse_product(sku="ghee-500", name="Ghee", price="330", mrp="325.50", gst_rate="5")
    assert str(refused.value).startswith(
        "GHEE-500: price ₹330.00 is above its MRP ₹325.50; a product may not be sold above")
    with pytest.raises(ProductError, match="GHEE-500: price ₹330.00 is above its MRP ₹325.50"):
        check_product(ProductFields("GHEE-500", "Ghee", 33000, 500, mrp_minor=32550))


def test_price_equal_to_the_mrp_or_no_mrp_is_taken() -> None:
    at_mrp = parse_product(sku="A", name="A", price="325.50", mrp="325.50", gst_rate="5")
    assert (at_mrp.price_minor, at_mrp.mrp_minor) == (32550, 32550)
    assert parse_product(sku="A", name="A", price="10", mrp=" ", gst_rate="5").mrp_minor is None
    assert check_product(at_mrp) == at_mrp


@pytest.mark.parametrize(("typed", "says"), [
    ("0", "mrp must be empty"), ("-5", "mrp: "), ("abc", "mrp: "),
    ("10000000.01", "mrp"), ("12.345", "mrp: "),
])
def test_a_malformed_mrp_is_refused(typed: str, says: str) -> None:
    with pytest.raises(ProductError, match=says):
        parse_mrp(typed)


def test_the_csv_row_says_its_line_and_both_amounts() -> None:
    parsed = parse_catalog("sku,name,price,mrp,gst_rate\nA-1,Atta,60,60,5\n"
                           "B-1,Besan,95.00,90.00,5\n")
    assert [str(e) for e in parsed.errors] == [
        "line 3: B-1: price ₹95.00 is above its MRP ₹90.00; a product may not be sold above "
        "its MRP (lower the price or correct the MRP)"]


@given(prices, mrps)
def test_the_rule_refuses_exactly_the_prices_above_the_mrp(price: int, mrp: int | None) -> None:
    refused = mrp is not None and price > mrp
    assert above_mrp(price, mrp) is refused
    if refused:
        with pytest.raises(ProductError, match="above its MRP"):
            check_within_mrp("X", price, mrp)
    else:
        check_within_mrp("X", price, mrp)
        fields = check_product(ProductFields("X", "X", price, 500, mrp_minor=mrp))
        assert fields.mrp_minor == mrp


# ---- savings -----------------------------------------------------------------------------


def test_worked_savings_with_a_weighed_line_rounded_once() -> None:
    lines = [
        SavingLine(unit_price=6000, quantity=2, mrp=6500),  # 2 x ₹5 = ₹10
        SavingLine(unit_price=4000, quantity=1255, mrp=4500, measured=True),  # ₹5/kg x 1.255
        SavingLine(unit_price=4000, quantity=1, mrp=None),  # no MRP: nothing
        SavingLine(unit_price=3000, quantity=3, mrp=3000),  # at MRP: nothing
    ]
    # 1000 + 627.5 -> 1627.5 -> 1628 (one rounding, half up)
    assert mrp_savings(lines) == 1628
    assert you_saved(lines, discount=500) == 2128
    # two weighed halves round once, not each: 0.5 + 0.5 paise is 1 paisa, not 2 or 0
    halves = [SavingLine(1000, 1, 1500, measured=True)] * 2
    assert mrp_savings(halves) == 1


def test_no_mrp_no_saving() -> None:
    assert mrp_savings([]) == 0
    assert you_saved([SavingLine(1000, 3, None)]) == 0


saving_lines = st.lists(st.builds(
    SavingLine, unit_price=st.integers(0, 10**7), quantity=st.integers(-5, 100_000),
    mrp=st.none() | st.integers(0, 10**7), measured=st.booleans()), max_size=30)


@given(saving_lines, st.integers(-10**6, 10**8))
def test_savings_are_never_negative_and_exact_to_the_paisa(lines: list[SavingLine],
                                                           discount: int) -> None:
    saved = mrp_savings(lines)
    assert saved >= 0
    assert you_saved(lines, discount) == saved + max(0, discount) >= 0
    exact = sum((Fraction((line.mrp - line.unit_price) * line.quantity,
                          1000 if line.measured else 1)
                 for line in lines
                 if line.mrp is not None and line.mrp > line.unit_price and line.quantity > 0),
                Fraction(0))
    assert abs(saved - exact) <= Fraction(1, 2)


@given(saving_lines)
def test_zero_when_no_line_has_an_mrp(lines: list[SavingLine]) -> None:
    without = [SavingLine(line.unit_price, line.quantity, None, line.measured) for line in lines]
    assert mrp_savings(without) == 0 and you_saved(without) == 0


def test_a_scale_label_saves_against_what_it_charged_not_the_catalogue_price() -> None:
    """Review: a label of 1.250 kg = ₹70.00 on an item of ₹40/kg with an MRP of ₹45/kg
    was shown as "You saved ₹6.25" (from the catalogue price) when it charged ₹13.75
    more than the MRP's ₹56.25. Against what the label charged: no saving."""
    over = SavingLine(unit_price=4000, quantity=1250, mrp=4500, measured=True, label_price=7000)
    assert mrp_savings([over]) == 0
    under = SavingLine(unit_price=4000, quantity=1250, mrp=4500, measured=True,
                       label_price=5000)
    assert mrp_savings([under]) == 625  # ₹56.25 at the MRP less the ₹50.00 charged
    pieces = SavingLine(unit_price=2000, quantity=3, mrp=2500, label_price=6600)
    assert mrp_savings([pieces]) == 900
