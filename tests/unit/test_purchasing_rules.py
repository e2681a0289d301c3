"""Purchasing's pure rules: the suggested order (hypothesis), the PO state machine, supplier
fields and the supplier CSV."""

from __future__ import annotations

import contextlib
import io
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.purchasing import csv_io, rules, states
from app.purchasing.suggest import (
    ProductHistory,
    SuggestError,
    suggest,
    suggest_line,
    weekday_shares,
)

TODAY = date(2026, 12, 1)  # a Tuesday

sales = st.lists(st.integers(min_value=0, max_value=500), min_size=0, max_size=28)


def hist(daily, *, on_hand=0, on_order=0, pack=1) -> ProductHistory:
    return ProductHistory("p", "P", "Product", pack, on_hand, on_order, tuple(daily))


def order(h, *, lead=2, cover=7, today=TODAY):
    return suggest_line(h, today=today, lead_time_days=lead, cover_days=cover)


common = dict(daily=sales, on_hand=st.integers(-50, 5000), on_order=st.integers(0, 5000),
              pack=st.integers(1, 48), lead=st.integers(0, 30), cover=st.integers(1, 60),
              offset=st.integers(0, 400))


@settings(max_examples=200)
@given(**common)
def test_never_negative_and_whole_cases(daily, on_hand, on_order, pack, lead, cover, offset):
    s = order(hist(daily, on_hand=on_hand, on_order=on_order, pack=pack), lead=lead,
              cover=cover, today=TODAY + timedelta(days=offset))
    assert s.cases >= 0
    assert s.units == s.cases * pack
    # enough to cover the need, and less than one case more than it
    have = max(0, on_hand) + on_order
    assert have + s.units >= s.need
    assert s.cases == 0 or have + s.units - s.need < pack


@settings(max_examples=200)
@given(**common, more=st.integers(1, 30))
def test_more_cover_never_orders_less(daily, on_hand, on_order, pack, lead, cover, offset, more):
    h = hist(daily, on_hand=on_hand, on_order=on_order, pack=pack)
    today = TODAY + timedelta(days=offset)
    assert (order(h, lead=lead, cover=cover + more, today=today).cases
            >= order(h, lead=lead, cover=cover, today=today).cases)
    assert (order(h, lead=lead + more, cover=cover, today=today).cases
            >= order(h, lead=lead, cover=cover, today=today).cases)


@settings(max_examples=200)
@given(**common, more=st.integers(1, 500))
def test_stock_on_order_or_on_hand_never_orders_more(daily, on_hand, on_order, pack, lead,
                                                      cover, offset, more):
    today = TODAY + timedelta(days=offset)
    base = order(hist(daily, on_hand=on_hand, on_order=on_order, pack=pack), lead=lead,
                 cover=cover, today=today)
    for h in (hist(daily, on_hand=on_hand, on_order=on_order + more, pack=pack),
              hist(daily, on_hand=on_hand + more, on_order=on_order, pack=pack)):
        assert order(h, lead=lead, cover=cover, today=today).cases <= base.cases


@given(daily=sales, bump=st.integers(1, 100), day=st.integers(0, 27))
def test_more_sales_never_order_less(daily, bump, day):
    daily = (list(daily) + [0] * 28)[:28]
    more = list(daily)
    more[day] += bump
    assert order(hist(more)).cases >= order(hist(daily)).cases


def test_stock_on_order_reduces_the_suggestion():
    h = hist([10] * 28, pack=12)  # 10 a day, 9 days -> 90 -> 8 cases
    assert order(h).cases == 8
    assert order(hist([10] * 28, pack=12, on_order=48)).cases == 4
    assert order(hist([10] * 28, pack=12, on_hand=100)).cases == 0


def test_nothing_sold_nothing_ordered_and_negative_stock_counts_as_none():
    assert order(hist([0] * 28, on_hand=-5)).cases == 0
    assert order(hist([], on_hand=0)).cases == 0
    assert order(hist([1] * 28, on_hand=-40)).cases == order(hist([1] * 28)).cases


def test_weekday_aware_a_sunday_seller():
    # Sold 28 on each of the last four Sundays, nothing else: one a day on average.
    yesterday = TODAY - timedelta(days=1)
    daily = [28 if (yesterday - timedelta(days=27 - i)).weekday() == 6 else 0 for i in range(28)]
    assert sum(daily) == 112
    shares = weekday_shares(daily, yesterday)
    assert shares[6] == 7 and shares[0] == 0
    # Tuesday + 3 days (Tue..Thu) has no Sunday: nothing; 6 days from Tuesday include Sunday.
    assert order(hist(daily), lead=0, cover=3).cases == 0
    assert order(hist(daily), lead=0, cover=6).cases == 28


def test_recent_weeks_weigh_more():
    rising = [0] * 14 + [10] * 14
    falling = [10] * 14 + [0] * 14
    assert order(hist(rising)).cases > order(hist(falling)).cases


def test_suggest_sorts_what_to_order_first_and_checks_cover():
    rows = suggest([hist([0] * 28) , ProductHistory("q", "Q", "Zed", 1, 0, 0, (5,) * 28)],
                   today=TODAY, lead_time_days=1)
    assert [r.sku for r in rows] == ["Q", "P"]
    with pytest.raises(SuggestError):
        suggest([], today=TODAY, lead_time_days=1, cover_days=0)


# --- purchase-order states -------------------------------------------------------------


def test_po_state_machine():
    states.check("draft", "sent")
    states.check("sent", "partly_received")
    states.check("partly_received", "received")
    states.check("sent", "cancelled")
    with pytest.raises(states.IllegalTransition, match="already sent"):
        states.check("sent", "sent")
    with pytest.raises(states.IllegalTransition, match="nothing more"):
        states.check("received", "cancelled")
    with pytest.raises(states.IllegalTransition, match="next can be"):
        states.check("draft", "received")
    with pytest.raises(states.IllegalTransition, match="unknown"):
        states.check("draft", "lost")
    assert states.editable("draft") and not states.editable("sent")
    assert states.on_order("sent") and not states.on_order("draft")


@given(st.sampled_from(list(states.TRANSITIONS)), st.sampled_from(list(states.TRANSITIONS)))
def test_final_states_go_nowhere(a, b):
    if a in states.FINAL:
        with pytest.raises(states.IllegalTransition):
            states.check(a, b)


# --- supplier fields ---------------------------------------------------------------------


def test_gstin_check_character():
    assert rules.check_gstin(" 27aapfu0939f1zv ") == "27AAPFU0939F1ZV"
    assert rules.check_gstin("") == ""
    with pytest.raises(rules.SupplierError, match="GSTIN"):
        rules.check_gstin("27AAPFU0939F1ZX")  # wrong check character


def test_fields_and_quantities():
    assert rules.parse_lead_time("0") == 0
    for bad in ("-1", "91", "2.5", "two"):
        with pytest.raises(rules.SupplierError, match="lead time"):
            rules.parse_lead_time(bad)
    assert rules.parse_pack_size("") == 1
    with pytest.raises(rules.SupplierError, match="pack size"):
        rules.parse_pack_size("0")
    assert rules.parse_case_cost("1,380.50") == 138050
    for bad in ("0", "-5", "=1+1", "1e3"):
        with pytest.raises(rules.SupplierError, match="cost"):
            rules.parse_case_cost(bad)
    with pytest.raises(rules.SupplierError, match="phone"):
        rules.check_phone("call me")
    assert rules.base_quantity(3, "case", 12) == 36
    assert rules.base_quantity(3, "piece", 12) == 3
    assert rules.line_cost(2, "case", 12, 1200) == 2400
    assert rules.line_cost(5, "piece", 12, 1000) == 417  # 416.67 half up


# --- supplier CSV ------------------------------------------------------------------------

GOOD = ("supplier,gstin,phone,lead_time_days,sku,case_cost,pack_size\r\n"
        "Sharma Traders,27AAPFU0939F1ZV,+91 98450 12345,2,P1,120.00,12\r\n"
        "Sharma Traders,27AAPFU0939F1ZV,+91 98450 12345,2,P2,99.50,1\r\n"
        "=cmd|' /C calc'!A0,,,1,,,\r\n")


def test_supplier_csv_round_trip_and_formula_cells():
    parsed = csv_io.parse_suppliers(GOOD)
    assert parsed.clean, parsed.errors
    assert [b.fields.name for b in parsed.suppliers] == ["Sharma Traders", "=cmd|' /C calc'!A0"]
    assert [(i.sku, i.case_cost_minor, i.pack_size) for i in parsed.suppliers[0].items] == [
        ("P1", 12000, 12), ("P2", 9950, 1)]
    out = io.StringIO()
    csv_io.write_suppliers([{**vars(b.fields), "items": [vars(i) for i in b.items]}
                            for b in parsed.suppliers], out)
    assert "'=cmd" in out.getvalue()  # neutralised for spreadsheets
    again = csv_io.parse_suppliers(out.getvalue())
    assert again.clean and [b.fields for b in again.suppliers] == [
        b.fields for b in parsed.suppliers]


@pytest.mark.parametrize(("text", "line", "words"), [
    ("supplier,sku,case_cost\nA,P1,5\nA,P1,5\n", 3, "already has P1 on line 2"),
    ("supplier,lead_time_days\nA,2\nA,3\n", 3, "other gstin, phone or lead time on line 2"),
    ("supplier,gstin\nA,27AAPFU0939F1ZX\n", 2, "GSTIN"),
    ("supplier,sku,case_cost\nA,P1,\n", 2, "cost is empty"),
    ("supplier,colour\nA,red\n", 1, "unknown column(s): colour"),
    ("supplier,sku,case_cost,pack_size\nA,,,6\n", 2, "without a sku"),
    ("name\nA\n", 1, "missing column(s): supplier"),
    ("supplier\nA,B\n", 2, "more fields"),
    ("", 1, "empty"),
])
def test_supplier_csv_errors_name_the_line(text, line, words):
    parsed = csv_io.parse_suppliers(text)
    assert not parsed.clean
    assert parsed.errors[0].line == line and words in parsed.errors[0].message


# --- hostile text: a value or the feature's own error, never anything else ------------

HOSTILE = st.one_of(st.text(), st.sampled_from(
    ["", "\x00", "²", "١٢", "１２", "1e309", "9" * 5000, "-1", "+5", "NaN", "=1+1", " 7 "]))


@settings(max_examples=150)
@given(HOSTILE)
def test_parsers_take_any_text(text):
    from app.purchasing.suggest import parse_cover_days

    for parse, error in ((rules.parse_lead_time, rules.SupplierError),
                         (rules.parse_pack_size, rules.SupplierError),
                         (rules.parse_case_cost, rules.SupplierError),
                         (rules.check_gstin, rules.SupplierError),
                         (rules.check_phone, rules.SupplierError),
                         (rules.check_unit, rules.SupplierError),
                         (rules.parse_line_quantity, rules.SupplierError),
                         (lambda t: rules.parse_expected_date(t, TODAY), rules.SupplierError),
                         (lambda t: rules.parse_order_form({"qty_p": t, "unit_p": t}),
                          rules.SupplierError),
                         (parse_cover_days, SuggestError)):
        with contextlib.suppress(error):
            parse(text)
    parsed = csv_io.parse_suppliers("supplier,gstin,phone,lead_time_days,sku,case_cost,"
                                    "pack_size\n" + ",".join([text] * 7))
    assert parsed.clean or parsed.errors[0].line >= 1


def test_cover_days_text():
    from app.purchasing.suggest import DEFAULT_COVER_DAYS, parse_cover_days

    assert parse_cover_days("") == DEFAULT_COVER_DAYS
    assert parse_cover_days(" 14 ") == 14
    for bad in ("0", "91", "²", "١٢", "7.5"):
        with pytest.raises(SuggestError):
            parse_cover_days(bad)


@settings(max_examples=300)
@given(daily=sales, horizon=st.integers(0, 180), offset=st.integers(0, 400))
def test_the_fast_need_equals_the_day_by_day_sum(daily, horizon, offset):
    """need_for works in integers with weekday counts; the plain definition walks the
    days one by one with fractions. They must agree exactly."""
    from fractions import Fraction

    from app.purchasing.suggest import need_for, rate_per_day

    today = TODAY + timedelta(days=offset)
    yesterday = today - timedelta(days=1)
    n = len(daily)
    per_weekday: dict[int, list[int]] = {wd: [] for wd in range(7)}
    for i, qty in enumerate(daily):
        per_weekday[(yesterday - timedelta(days=n - 1 - i)).weekday()].append(qty)
    mean = Fraction(sum(daily), n) if n else Fraction(0)
    share = {wd: (Fraction(sum(v), len(v)) / mean if v and mean else Fraction(1))
             for wd, v in per_weekday.items()}
    rate = rate_per_day(daily)
    demand = sum((rate * share[(today + timedelta(days=d)).weekday()] for d in range(horizon)),
                 Fraction(0))
    got_rate, need = need_for(hist(daily), today, horizon)
    assert need == -(-demand.numerator // demand.denominator)
    assert got_rate == rate
    assert weekday_shares(daily, yesterday) == share
