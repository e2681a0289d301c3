"""Returns' pure rules (app/core/return_rules.py): proration shared with the till, what a
line may refund, the refund per graded line and the approval decision. Property tests:
any split of a line into returns adds up to exactly what was paid; a refund is never
negative and never more than refundable."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.core.return_rules import (
    GRADES,
    LINE_CAP_MINOR,
    REFUNDED_GRADES,
    GradedLine,
    PaidLine,
    ReturnRuleError,
    decide,
    line_refund,
    line_value,
    prorated_share,
    refundable_minor,
)
from app.pos.till_rules import SoldLine, refund_share

money = st.integers(min_value=0, max_value=5_000_000_00)
qty = st.integers(min_value=1, max_value=50)


@given(total=money, quantity=qty, data=st.data())
def test_any_split_of_a_line_adds_up_to_exactly_the_total(total: int, quantity: int,
                                                           data: st.DataObject) -> None:
    taken_q = taken_a = 0
    while taken_q < quantity:
        take = data.draw(st.integers(1, quantity - taken_q))
        share = prorated_share(total, quantity, take, taken_q, taken_a)
        assert 0 <= share <= total - taken_a
        if take < quantity - taken_q:
            assert share == total * take // quantity
        taken_q += take
        taken_a += share
    assert taken_a == total


@given(total=money, quantity=qty, data=st.data())
def test_a_partial_share_is_the_rounded_down_proportion(total: int, quantity: int,
                                                        data: st.DataObject) -> None:
    assume(quantity > 1)
    take = data.draw(st.integers(1, quantity - 1))
    assert prorated_share(total, quantity, take) == total * take // quantity


@given(net=st.integers(1, 10_000_000), quantity=qty, data=st.data())
def test_the_till_refund_and_online_returns_share_one_proration(net: int, quantity: int,
                                                                  data: st.DataObject) -> None:
    take = data.draw(st.integers(1, quantity))
    amount, _tax = refund_share(SoldLine(quantity, net, 0, 0), take)
    assert amount == refundable_minor(PaidLine(quantity, net), take)


@pytest.mark.parametrize("args", [
    (100, 3, 0), (100, 3, 4), (100, 0, 1), (-1, 3, 1), (100, 3, 2, 2), (100, 3, 1, 1, 101),
    (100, 3, -1),
])
def test_impossible_shares_are_refused(args: tuple[int, ...]) -> None:
    with pytest.raises(ReturnRuleError):
        prorated_share(*args)


def test_line_value_per_kg_and_per_piece() -> None:
    assert line_value(12_000, 500, "kg") == 6_000       # 500 g at Rs 120/kg
    assert line_value(12_345, 333, "kg") == 4_110       # rounded down
    assert line_value(2_500, 3) == 7_500
    with pytest.raises(ReturnRuleError):
        line_value(-1, 3)


@given(price=st.integers(0, 1_000_000), quantity=qty, discount=st.integers(0, 10**8),
       data=st.data())
def test_a_discounted_line_never_refunds_more_than_was_paid(price: int, quantity: int,
                                                             discount: int,
                                                             data: st.DataObject) -> None:
    line = PaidLine.priced(price, quantity, discount_minor=discount)
    assert 0 <= line.paid_minor <= price * quantity
    take = data.draw(st.integers(1, quantity))
    assert 0 <= refundable_minor(line, take) <= line.paid_minor


def test_a_line_worth_more_than_any_order_is_refused() -> None:
    with pytest.raises(ReturnRuleError):
        refundable_minor(PaidLine(1, LINE_CAP_MINOR + 1), 1)
    with pytest.raises(ReturnRuleError):
        PaidLine.priced(100, 1, discount_minor=-1)


grades = st.dictionaries(st.sampled_from(GRADES), st.integers(0, 20))


@given(expected=st.integers(1, 40), refundable=money, graded=grades)
def test_refund_is_never_negative_nor_more_than_refundable(expected: int, refundable: int,
                                                           graded: dict[str, int]) -> None:
    line = GradedLine("SKU", expected, refundable, graded)
    if line.received > expected:
        with pytest.raises(ReturnRuleError):
            line_refund(line)
        return
    refund = line_refund(line)
    assert 0 <= refund <= refundable
    units = sum(c for g, c in graded.items() if g in REFUNDED_GRADES)
    if units == expected:
        assert refund == refundable
    elif units == 0:
        assert refund == 0
    else:
        assert refund == refundable * units // expected


def test_grades_decide_the_refund() -> None:
    # 4 units for Rs 100: resellable, arrived damaged and expired earn their share back;
    # damage the customer caused and a swapped item do not.
    for grade, refund in [("resellable", 2_500), ("damaged", 2_500), ("expired", 2_500),
                          ("customer_damaged", 0), ("wrong_item", 0)]:
        assert line_refund(GradedLine("A", 4, 10_000, {grade: 1})) == refund


@pytest.mark.parametrize("graded", [{"lost": 1}, {"resellable": -1}, {"resellable": 3}])
def test_impossible_grading_is_refused(graded: dict[str, int]) -> None:
    with pytest.raises(ReturnRuleError):
        line_refund(GradedLine("A", 2, 100, graded))


@pytest.mark.parametrize("expected,refundable", [(0, 100), (2**63, 100), (2, -1), (2, 2**63)])
def test_out_of_range_lines_are_refused(expected: int, refundable: int) -> None:
    with pytest.raises(ReturnRuleError):
        line_refund(GradedLine("A", expected, refundable, {"resellable": 1}))


def test_approval_above_the_limit_or_for_a_wrong_item() -> None:
    small = GradedLine("A", 1, 40_000, {"resellable": 1})
    assert not decide([small], 50_000).needs_approval
    assert decide([small], 39_999).needs_approval            # Rs 400 > Rs 399.99
    assert decide([small], 40_000).needs_approval is False   # at the limit: automatic
    swapped = GradedLine("B", 2, 1_000, {"resellable": 1, "wrong_item": 1})
    d = decide([small, swapped], 50_000)
    assert d.needs_approval and "not the item" in d.why
    assert d.refunds == (40_000, 500) and d.total_minor == 40_500


@given(lines=st.lists(st.tuples(st.integers(1, 10), money, grades), max_size=6),
       limit=st.integers(0, 10**9))
def test_decision_total_is_the_sum_and_approval_follows_the_limit(
        lines: list[tuple[int, int, dict[str, int]]], limit: int) -> None:
    graded = [GradedLine(f"S{i}", max(e, sum(g.values())), r, g)
              for i, (e, r, g) in enumerate(lines)]
    d = decide(graded, limit)
    assert d.total_minor == sum(d.refunds)
    assert all(0 <= r <= line.refundable_minor for r, line in zip(d.refunds, graded, strict=True))
    flagged = any(line.graded.get("wrong_item", 0) for line in graded)
    assert d.needs_approval == (d.total_minor > limit or flagged)
