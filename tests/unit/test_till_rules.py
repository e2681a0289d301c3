"""The till's pure rules (app/pos/till_rules.py): tenders, exchange credit, refund
proration. Property tests: the invariants hold for any amounts and any order of
partial refunds."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.money import gst_in_inclusive
from app.pos.pricing import PricingError, TenderInput, settle
from app.pos.till_rules import (
    CASH_CAP_MINOR,
    CASH_CAP_SHOWN,
    PosError,
    SoldLine,
    accept_tender,
    credit_left,
    credit_on_cart,
    refund_share,
    refund_total,
)

money = st.integers(min_value=1, max_value=5_000_000)


@dataclass
class Tender:
    kind: str
    amount_minor: int
    reference: str = ""


def test_the_cash_cap_is_one_lakh_rupees():
    assert CASH_CAP_MINOR == 10_000_000 and CASH_CAP_SHOWN == "₹1,00,000"


@given(remaining=money, handed=st.integers(min_value=1, max_value=3 * CASH_CAP_MINOR))
def test_cash_takes_what_is_due_and_the_rest_is_change(remaining, handed):
    if handed > remaining + CASH_CAP_MINOR:
        with pytest.raises(PosError, match="far more cash"):
            accept_tender("cash", None, handed, remaining)
        return
    taken = accept_tender("cash", None, handed, remaining)
    assert taken.amount == min(handed, remaining) and taken.given == handed
    # settle() (pricing) agrees: the change is what was handed over beyond the bill.
    result = settle(remaining, [TenderInput("cash", taken.amount, taken.given)])
    assert result.change == max(0, handed - remaining) and result.paid == taken.amount


@given(kind=st.sampled_from(["card", "upi"]), remaining=money,
       amount=st.none() | st.integers(min_value=-10, max_value=6_000_000))
def test_card_and_upi_never_take_more_than_is_due(kind, remaining, amount):
    try:
        taken = accept_tender(kind, amount, None, remaining)
    except PosError:
        assert amount is not None and (amount <= 0 or amount > remaining)
        return
    assert 0 < taken.amount <= remaining and taken.given is None
    assert taken.amount == (remaining if amount is None else amount)
    settle(remaining, [TenderInput(kind, taken.amount)])  # pricing accepts it too


@given(remaining=money, credit=st.integers(min_value=-100, max_value=6_000_000),
       amount=st.none() | money)
def test_exchange_credit_never_pays_more_than_is_left_or_due(remaining, credit, amount):
    try:
        taken = accept_tender("exchange", amount, None, remaining, credit, "S1-R00001")
    except PosError as exc:
        assert credit <= 0 or (amount is not None and amount > min(credit, remaining)), exc
        return
    assert 0 < taken.amount <= min(credit, remaining)
    if amount is None:
        assert taken.amount == min(credit, remaining)


def test_refusals_say_why():
    with pytest.raises(PosError, match="already paid"):
        accept_tender("card", None, None, 0)
    with pytest.raises(PosError, match="payment must be one of"):
        accept_tender("cheque", 100, None, 500)
    with pytest.raises(PosError, match="no exchange credit left on S1-R00007"):
        accept_tender("exchange", None, None, 500, 0, "S1-R00007")
    with pytest.raises(PosError, match=r"only ₹1.00 of credit is left on S1-R00007"):
        accept_tender("exchange", 200, None, 500, 100, "S1-R00007")
    with pytest.raises(PosError, match="enter the cash received"):
        accept_tender("cash", None, None, 500)


def test_credit_on_cart_counts_only_exchange_tenders_of_that_refund():
    tenders = [Tender("exchange", 300, "S1-R00001"), Tender("exchange", 50, "S1-R00002"),
               Tender("card", 200, "S1-R00001")]  # a terminal reference can look like one
    assert credit_on_cart(tenders, "S1-R00001") == 300
    assert credit_left(1000, 400, credit_on_cart(tenders, "S1-R00001")) == 300


# ---- refunds ----------------------------------------------------------------------


@st.composite
def sold_lines(draw):
    quantity = draw(st.integers(min_value=1, max_value=5000))
    net = draw(st.integers(min_value=0, max_value=10_000_000))
    rate = draw(st.sampled_from([0, 500, 1200, 1800, 2800]))
    half = gst_in_inclusive(net, rate).half
    return SoldLine(quantity=quantity, net=net, tax=2 * half, cgst=half)


@given(line=sold_lines(), data=st.data())
def test_partial_refunds_of_a_line_add_up_to_the_line_exactly(line, data):
    """Any split of the line into up to nine refunds (grams of a weighed line too)."""
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=max(1, line.quantity - 1)),
                              max_size=8))
    bounds = sorted({c for c in cuts if c < line.quantity} | {line.quantity})
    done_q = done_a = done_t = 0
    for bound in bounds:
        left = line.quantity - done_q
        take = bound - done_q
        state = SoldLine(line.quantity, line.net, line.tax, line.cgst, done_q, done_a, done_t)
        amount, tax = refund_share(state, take)
        assert amount >= 0 and tax >= 0
        if take < left:
            assert amount == line.net * take // line.quantity  # its share, rounded down
            assert tax % 2 == 0  # CGST and SGST of a partial refund are equal halves
        done_q, done_a, done_t = done_q + take, done_a + amount, done_t + tax
        assert done_a <= line.net and done_t <= line.tax
    assert (done_a, done_t) == (line.net, line.tax)


@given(line=sold_lines(), extra=st.integers(min_value=1, max_value=10))
def test_more_than_is_left_is_refused(line, extra):
    with pytest.raises(PosError):
        refund_share(line, line.quantity + extra)
    with pytest.raises(PosError):
        refund_share(line, 0)


@given(bill=st.integers(min_value=0, max_value=10_000_000),
       parts=st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=1, max_size=6))
def test_refunds_of_a_bill_never_pass_its_total_and_the_last_one_closes_it(bill, parts):
    given_back = 0
    for i, lines_total in enumerate(parts):
        last = i == len(parts) - 1
        total = refund_total(lines_total, bill, given_back, everything_back=last)
        assert 0 <= total <= bill - given_back
        given_back += total
    assert given_back == bill


def test_a_refund_is_capped_by_what_is_left_of_the_bill():
    # Lines worth 1,049 paise of a bill rounded down to 1,000: at most 1,000 back.
    assert refund_total(1049, 1000, 0, everything_back=False) == 1000
    assert refund_total(300, 1000, 900, everything_back=False) == 100
    assert refund_total(500, 1000, 400, everything_back=True) == 600  # rounding goes back


def test_pricing_and_till_rules_refuse_the_same_over_tender():
    """settle() (pricing, run on every cart view) and accept_tender (when a tender is
    taken) hold the same rule: card never more than is due."""
    with pytest.raises(PricingError):
        settle(500, [TenderInput("card", 501)])
    with pytest.raises(PosError):
        accept_tender("card", 501, None, 500)
