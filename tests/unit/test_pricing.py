from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import GST_SLABS_BP
from app.pos.pricing import (
    Discount,
    LineInput,
    PricingError,
    TenderInput,
    price_cart,
    settle,
    spread,
)


def test_worked_example_matches_a_hand_computed_bill():
    lines = [
        LineInput("atta", 24500, 1, gst_rate_bp=500),  # ₹245 atta, 5 %
        LineInput("onion", 4000, 1250, measured=True, gst_rate_bp=0),  # 1.25 kg @ ₹40
        LineInput("soap", 3800, 3, gst_rate_bp=1800, discount=Discount("percent", 1000)),
    ]
    t = price_cart(lines, rounding_step=100)
    assert [p.gross for p in t.lines] == [24500, 5000, 11400]
    assert t.line("soap").line_discount == 1140
    assert t.net == 24500 + 5000 + 10260 == 39760
    assert t.total == 39800 and t.rounding == 40
    # atta: taxable 24500 / 1.05 = 23333.33 -> 23333; each half 2.5 % = 583.33 -> 583
    # soap: taxable 10260 / 1.18 = 8694.92 -> 8695; each half 9 % = 782.55 -> 783
    assert t.line("atta").tax == 2 * 583 and t.line("soap").tax == 2 * 783
    assert {r.rate_bp: (r.taxable, r.cgst, r.sgst) for r in t.tax_rows} == {
        0: (5000, 0, 0), 500: (23334, 583, 583), 1800: (8694, 783, 783)}


def test_bill_discount_is_spread_and_capped():
    lines = [LineInput("a", 1000, 1), LineInput("b", 3000, 1)]
    t = price_cart(lines, Discount("amount", 1001))
    assert [p.bill_discount for p in t.lines] == [250, 751]
    t = price_cart(lines, Discount("amount", 999_999))
    assert t.total == 0 and all(p.net == 0 for p in t.lines)


def test_bad_inputs_are_refused():
    with pytest.raises(PricingError):
        Discount("percent", 10_001)
    with pytest.raises(PricingError):
        Discount("amount", -1)
    with pytest.raises(PricingError):
        price_cart([LineInput("a", 100, 0)])
    with pytest.raises(PricingError):
        price_cart([LineInput("a", -100, 1)])


def test_empty_cart_is_zero():
    t = price_cart([], Discount("amount", 500), rounding_step=100)
    assert (t.total, t.net, t.rounding, t.tax) == (0, 0, 0, 0)


discounts = st.none() | st.builds(
    Discount, st.just("percent"), st.integers(0, 10_000)
) | st.builds(Discount, st.just("amount"), st.integers(0, 2_000_000))

lines_strategy = st.lists(
    st.builds(
        LineInput,
        key=st.uuids().map(str),
        unit_price=st.integers(0, 500_000),
        quantity=st.integers(1, 20_000),
        measured=st.booleans(),
        gst_rate_bp=st.sampled_from(sorted(GST_SLABS_BP)),
        label_price=st.none() | st.integers(0, 1_000_000),
        discount=discounts,
    ),
    max_size=12,
)


@given(lines_strategy, discounts, st.sampled_from([1, 50, 100, 1000]))
def test_totals_are_the_sum_of_their_parts(lines, bill, step):
    t = price_cart(lines, bill, rounding_step=step)
    assert t.net == sum(p.net for p in t.lines)
    assert t.gross == sum(p.gross for p in t.lines)
    assert t.gross - t.line_discounts - t.bill_discount == t.net
    assert t.total == t.net + t.rounding >= 0
    assert abs(t.rounding) * 2 <= step
    assert t.total % step == 0


@given(lines_strategy, discounts)
def test_tax_breakdown_sums_to_the_tax(lines, bill):
    t = price_cart(lines, bill)
    assert sum(r.tax for r in t.tax_rows) == t.tax == sum(p.tax for p in t.lines)
    assert sum(r.taxable for r in t.tax_rows) + t.tax == t.net
    for p in t.lines:
        assert p.cgst == p.sgst and p.cgst + p.sgst == p.tax
        assert p.taxable + p.cgst + p.sgst == p.net
        assert 0 <= p.tax <= p.net
    for r in t.tax_rows:
        assert r.cgst == r.sgst
    by_rate = {}
    for p in t.lines:
        by_rate[p.gst_rate_bp] = by_rate.get(p.gst_rate_bp, 0) + p.net
    assert {r.rate_bp: r.taxable + r.cgst + r.sgst for r in t.tax_rows} == by_rate


def test_the_demo_bill_halves_are_equal():
    """The first demo bill showed CGST 16.13 + SGST 16.11 at 18 %."""
    lines = [LineInput(str(i), price, 1, gst_rate_bp=1800)
             for i, price in enumerate((3800, 4500, 6200, 7650, 8999))]
    t = price_cart(lines)
    [row] = t.tax_rows
    assert row.cgst == row.sgst and row.taxable + row.cgst + row.sgst == t.net


@given(lines_strategy, discounts)
def test_discounts_never_exceed_the_line(lines, bill):
    t = price_cart(lines, bill)
    for p in t.lines:
        assert 0 <= p.line_discount <= p.gross
        assert 0 <= p.bill_discount <= p.gross - p.line_discount
        assert p.net >= 0


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), max_size=20))
def test_spread_is_exact_and_capped(amount, weights):
    shares = spread(amount, weights)
    assert sum(shares) == (min(amount, sum(weights)) if sum(weights) else 0)
    assert all(0 <= s <= w for s, w in zip(shares, weights, strict=True))


def test_settle_split_and_change():
    s = settle(43000, [TenderInput("upi", 20000), TenderInput("cash", 23000, given=50000)])
    assert (s.paid, s.change, s.settled) == (43000, 27000, True)
    s = settle(43000, [TenderInput("card", 10000)])
    assert s.remaining == 33000 and not s.settled
    with pytest.raises(PricingError, match="more than the amount still due"):
        settle(43000, [TenderInput("card", 50000)])
    with pytest.raises(PricingError):
        settle(43000, [TenderInput("cash", 0)])
