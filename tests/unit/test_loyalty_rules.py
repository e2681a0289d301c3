"""The pure loyalty rules (app/core/loyalty.py, issue #21): earning, the redeem limit
with its cap and offline allowance, refunds' proration of points (a full refund
reverses exactly what was earned and returns exactly what was redeemed), the hub's
booking that never leaves a negative balance, and hostile input on number, card and
points."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.loyalty import (
    MAX_POINTS,
    LoyaltyError,
    Rules,
    available,
    book,
    check_redeem,
    clean_name,
    mask_phone,
    normalise_card,
    normalise_phone,
    parse_points,
    points_earned,
    redeemable,
    refund_points,
)

RULES = Rules(points_per_100_rupees=1, point_value_paise=100, redeem_cap_percent=50,
              min_balance_points=100, offline_allowance_points=200)

rules_st = st.builds(Rules, points_per_100_rupees=st.integers(0, 100),
                     point_value_paise=st.integers(1, 10_000),
                     redeem_cap_percent=st.integers(0, 100),
                     min_balance_points=st.integers(0, 1000),
                     offline_allowance_points=st.integers(0, 5000))


# ---- who --------------------------------------------------------------------------------


def test_numbers_are_read_as_ten_digits_and_masked():
    assert normalise_phone("+91 98123-45610") == "9812345610"
    assert normalise_phone("9812345610") == "9812345610"
    assert mask_phone("9812345610") == "98xxxxxx10"


@pytest.mark.parametrize("text", ["", "12345", "5812345610", "98123456100", "98123\x004561",
                                  "981234561O", "inf", "NaN", str(2**63), "9" * 100_000,
                                  "９８１２３４５６１０"])
def test_hostile_numbers_are_refused_with_a_clear_message(text):
    with pytest.raises(LoyaltyError, match="mobile number"):
        normalise_phone(text)


@pytest.mark.parametrize("text", ["", "ab", "CARD\x00123", "x" * 100_000, "CARD 123",
                                  "<script>", "-ABCDEF"])
def test_hostile_cards_are_refused(text):
    with pytest.raises(LoyaltyError, match="card"):
        normalise_card(text)


def test_a_card_code_is_read_in_capitals():
    assert normalise_card(" kc-000123 ") == "KC-000123"


@pytest.mark.parametrize("text", ["inf", "NaN", "-5", "0", "2.5", "1e3", str(2**63),
                                  "1" * 100_000, "12\x00", "", " ", "١٢"])
def test_hostile_points_are_refused(text):
    with pytest.raises(LoyaltyError):
        parse_points(text)


def test_points_typed_are_whole_numbers():
    assert parse_points(" 150 ") == 150
    assert parse_points(str(MAX_POINTS)) == MAX_POINTS


def test_a_name_is_bounded_and_printable():
    assert clean_name("  Asha   K ") == "Asha K"
    with pytest.raises(LoyaltyError):
        clean_name("a" * 61)
    with pytest.raises(LoyaltyError):
        clean_name("Asha\x00")


# ---- earning ----------------------------------------------------------------------------


@given(st.integers(-10**9, 10**12), rules_st)
def test_earning_is_the_rounded_down_rate_of_what_was_paid(paid, rules):
    earned = points_earned(paid, rules)
    assert earned >= 0
    if paid > 0:
        assert earned * 10_000 <= paid * rules.points_per_100_rupees
        assert (earned + 1) * 10_000 > paid * rules.points_per_100_rupees
    else:
        assert earned == 0


def test_99_rupees_earn_nothing_at_one_point_per_100():
    assert points_earned(9_999, RULES) == 0
    assert points_earned(10_000, RULES) == 1


# ---- spending ---------------------------------------------------------------------------


@given(hub=st.integers(0, 10**6), pending=st.integers(-10**5, 10**5), confirmed=st.booleans(),
       total=st.integers(0, 10**8), on_bill_share=st.integers(0, 100),
       paid_share=st.integers(0, 100), rules=rules_st)
def test_the_limit_keeps_every_rule(hub, pending, confirmed, total, on_bill_share, paid_share,
                                    rules):
    cap_minor = total * rules.redeem_cap_percent // 100
    on_bill = cap_minor * on_bill_share // 100
    remaining = (total - on_bill) * (100 - paid_share) // 100
    limit = redeemable(hub_balance=hub, pending=pending, confirmed=confirmed,
                       bill_total_minor=total, on_bill_minor=on_bill,
                       remaining_minor=remaining, rules=rules)
    have = available(hub, pending)
    assert 0 <= limit.points <= have
    value = limit.points * rules.point_value_paise
    assert value + on_bill <= cap_minor  # the cap
    assert value <= remaining  # never more than is due
    if have < max(1, rules.min_balance_points):
        assert limit.points == 0
    if not confirmed:  # offline: at most the allowance drawn on the hub's balance
        assert -(pending - limit.points) <= rules.offline_allowance_points or limit.points == 0
    if limit.points < have:
        assert limit.reason


def test_offline_the_allowance_bounds_what_is_drawn_on_the_hubs_balance():
    args = dict(hub_balance=1000, bill_total_minor=200_000, on_bill_minor=0,
                remaining_minor=200_000, rules=RULES)
    assert redeemable(pending=0, confirmed=True, **args).points == 1000
    offline = redeemable(pending=0, confirmed=False, **args)
    assert offline.points == 200 and "hub" in offline.reason
    # this store already spent 150 the hub has not booked: 50 more
    assert redeemable(pending=-150, confirmed=False, **args).points == 50
    # points this store gave (earned, not yet booked) are its own to spend
    assert redeemable(pending=300, confirmed=False, **args).points == 500


def test_the_cap_and_the_minimum_balance():
    few = redeemable(hub_balance=99, pending=0, confirmed=True, bill_total_minor=10_000,
                     on_bill_minor=0, remaining_minor=10_000, rules=RULES)
    assert few.points == 0 and "100" in few.reason
    capped = redeemable(hub_balance=500, pending=0, confirmed=True, bill_total_minor=10_000,
                        on_bill_minor=0, remaining_minor=10_000, rules=RULES)
    assert capped.points == 50 and "50%" in capped.reason
    with pytest.raises(LoyaltyError, match="at most 50 points"):
        check_redeem(51, capped)
    check_redeem(50, capped)
    for bad in (0, -1, MAX_POINTS + 1, 2**63):
        with pytest.raises(LoyaltyError):
            check_redeem(bad, capped)


# ---- refunds ----------------------------------------------------------------------------


def _parts(total: int, cuts: list[int]) -> list[int]:
    """Split a bill's total into refund parts (the last takes everything left)."""
    points = sorted({c % (total + 1) for c in cuts} | {0, total})
    return [b - a for a, b in zip(points, points[1:], strict=False) if b > a]


@given(total=st.integers(1, 10**7), earned_rate=st.integers(0, 100),
       redeem_share=st.integers(0, 100), cuts=st.lists(st.integers(0, 10**7), max_size=6),
       value=st.integers(1, 500), value_now=st.integers(1, 500))
def test_refunds_in_parts_return_exactly_what_was_paid_whatever_a_point_is_worth_now(
        total, earned_rate, redeem_share, cuts, value, value_now):
    """Refunding everything, in any parts, returns exactly the money and the points the
    bill took, even when point_value_paise changed since the sale (#21 review 3)."""
    rules = Rules(points_per_100_rupees=earned_rate, point_value_paise=value)
    redeemed = total * redeem_share // 100 // value  # points paid at most the bill
    paid_points_minor = redeemed * value
    earned = points_earned(total - paid_points_minor, rules)
    now = Rules(points_per_100_rupees=earned_rate, point_value_paise=value_now)
    parts = _parts(total, cuts)
    before = earned_back = points_back = money = points_minor = 0
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        r = refund_points(bill_total_minor=total, earned=earned, redeemed=redeemed,
                          points_paid_minor=paid_points_minor,
                          refunded_before_minor=before, refund_minor=part,
                          everything_back=last, earned_back_before=earned_back,
                          points_back_before=points_back, balance=earned + redeemed,
                          rules=now)
        assert r.earned_back >= 0 and r.points_back >= 0 and r.money_minor >= 0
        assert r.money_minor + r.points_minor == part and r.short_points == 0
        before, earned_back, points_back = before + part, earned_back + r.earned_back, (
            points_back + r.points_back)
        money += r.money_minor
        points_minor += r.points_minor
        # never more money back than the money part of what is refunded so far
        assert money <= total - paid_points_minor
        assert earned_back <= earned and points_back <= redeemed
    assert (earned_back, points_back) == (earned, redeemed)
    assert (money, points_minor) == (total - paid_points_minor, paid_points_minor)


@given(total=st.integers(1, 10**7), redeem_share=st.integers(0, 100),
       earned=st.integers(0, 10**5), value=st.integers(1, 500))
def test_one_full_refund_is_exact(total, redeem_share, earned, value):
    rules = Rules(point_value_paise=value)
    redeemed = total * redeem_share // 100 // value
    r = refund_points(bill_total_minor=total, earned=earned, redeemed=redeemed,
                      points_paid_minor=redeemed * value, refunded_before_minor=0,
                      refund_minor=total, everything_back=True, earned_back_before=0,
                      points_back_before=0, balance=earned, rules=rules)
    assert (r.earned_back, r.points_back, r.money_minor) == (
        earned, redeemed, total - redeemed * value)


def test_half_a_bill_back_takes_back_half_the_points():
    r = refund_points(bill_total_minor=40_000, earned=4, redeemed=100, points_paid_minor=10_000,
                      refunded_before_minor=0, refund_minor=20_000, everything_back=False,
                      earned_back_before=0, points_back_before=0, balance=4, rules=RULES)
    assert (r.earned_back, r.points_back, r.money_minor) == (2, 50, 15_000)


def test_a_point_is_refunded_at_what_it_paid_not_at_todays_value():
    # 100 points paid ₹100 of a ₹400 bill; a point is worth ₹2 now: still ₹300 in money
    r = refund_points(bill_total_minor=40_000, earned=3, redeemed=100, points_paid_minor=10_000,
                      refunded_before_minor=0, refund_minor=40_000, everything_back=True,
                      earned_back_before=0, points_back_before=0, balance=3,
                      rules=Rules(point_value_paise=200))
    assert (r.points_back, r.points_minor, r.money_minor) == (100, 10_000, 30_000)


def test_an_erased_customers_points_share_is_forfeited_not_paid_in_money():
    # ₹390 paid with 97 points and ₹293: erased since, the refund pays only the ₹293
    r = refund_points(bill_total_minor=39_000, earned=2, redeemed=97, points_paid_minor=9_700,
                      refunded_before_minor=0, refund_minor=39_000, everything_back=True,
                      earned_back_before=0, points_back_before=0, balance=None, rules=RULES)
    assert (r.earned_back, r.points_back, r.money_minor, r.points_minor, r.forfeited) == (
        0, 0, 29_300, 9_700, True)


def test_points_already_spent_are_paid_for_from_the_refund_not_written_off():
    # ₹975 earned 9 points, all spent since (balance 0): the refund keeps back ₹9
    r = refund_points(bill_total_minor=97_500, earned=9, redeemed=0, points_paid_minor=0,
                      refunded_before_minor=0, refund_minor=97_500, everything_back=True,
                      earned_back_before=0, points_back_before=0, balance=0, rules=RULES)
    assert (r.earned_back, r.short_points, r.short_minor, r.money_minor) == (0, 9, 900, 96_600)
    # part spent: 4 of 9 left are taken back, 5 paid for
    r = refund_points(bill_total_minor=97_500, earned=9, redeemed=0, points_paid_minor=0,
                      refunded_before_minor=0, refund_minor=97_500, everything_back=True,
                      earned_back_before=0, points_back_before=0, balance=4, rules=RULES)
    assert (r.earned_back, r.short_points, r.money_minor) == (4, 5, 97_000)


# ---- the hub's books --------------------------------------------------------------------


@given(st.lists(st.integers(-10**6, 10**6), max_size=40))
def test_booking_never_leaves_a_negative_balance_and_accounts_for_every_point(deltas):
    balance = written_off = 0
    for delta in deltas:
        booked = book(balance, delta)
        assert booked.balance >= 0 and booked.write_off >= 0
        assert booked.balance == balance + delta + booked.write_off
        balance, written_off = booked.balance, written_off + booked.write_off
    assert balance == sum(deltas) + written_off


def test_two_stores_spending_the_same_points_offline_overdraw_by_at_most_the_allowance():
    """Both last heard 150 points from the hub; each may spend at most the allowance
    (200) beyond what the hub confirmed, so together at most 150 + 200 = 350 of 150:
    the hub books the second and writes off what it overdraws (at most one allowance)."""
    limit = redeemable(hub_balance=150, pending=0, confirmed=False, bill_total_minor=10**6,
                       on_bill_minor=0, remaining_minor=10**6, rules=RULES)
    assert limit.points == 150
    first = book(150, -limit.points)
    second = book(first.balance, -limit.points)
    assert (first.balance, first.write_off) == (0, 0)
    assert second.balance == 0 and second.write_off == 150 <= RULES.offline_allowance_points


def test_a_loyalty_search_leaves_the_number_out_of_the_logs():
    """#21 review 9: GET /loyalty?q= and /hub/loyalty?q= carry a whole number or card."""
    from app.core.log_redact import redact

    line = '127.0.0.1 - "GET /loyalty?q=9812345610 HTTP/1.1" 200'
    assert redact(line) == '127.0.0.1 - "GET /loyalty?q=… HTTP/1.1" 200'
    assert redact("GET /hub/loyalty?page=2&q=%2B919812345610&x=1") == (
        "GET /hub/loyalty?page=2&q=…&x=1")
    assert redact("GET /r/AbC_123?q=1") == "GET /r/…?q=1"
