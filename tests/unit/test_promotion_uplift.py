"""The promotions report's pure rules (app/core/promotion_uplift.py, issue #21): the days
an offer ran, its baseline, what it targets, integer percentages, the verdict in plain
words (a baseline of nothing never becomes an infinite per cent) and what the sale
lines kept."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import promotion_uplift as up

D = date(2026, 11, 1)


def test_offer_days_from_its_dates_or_when_it_was_made_and_ended():
    assert up.offer_days(D, D + timedelta(days=13), D - timedelta(days=5), None,
                         D + timedelta(days=30)) == up.Period(D, D + timedelta(days=13))
    # no dates: from the day it was made, up to today
    assert up.offer_days(None, None, D, None, D + timedelta(days=2)) == up.Period(
        D, D + timedelta(days=2))
    # ended early
    assert up.offer_days(D, D + timedelta(days=13), D, D + timedelta(days=3),
                         D + timedelta(days=30)).last == D + timedelta(days=3)
    # still to come, or ended before it began: no days
    assert up.offer_days(D + timedelta(days=5), None, D, None, D) is None
    assert up.offer_days(D, None, D - timedelta(days=9), D - timedelta(days=1), D) is None
    # a first date written as 0001-01-01 counts from 2000: its baseline stays in the calendar
    odd = up.offer_days(date.min, None, D, None, D)
    assert odd is not None and odd.first == date(2000, 1, 1)
    assert up.baseline_dates(odd.first, 366, frozenset({3}))[0].year > 1990


def test_measured_is_the_part_inside_the_range_and_baseline_the_days_before_it_began():
    offer = up.Period(D, D + timedelta(days=13))
    assert up.measured(offer, D - timedelta(days=30), D + timedelta(days=30)) == offer
    inside = up.measured(offer, D + timedelta(days=5), D + timedelta(days=6))
    assert inside == up.Period(D + timedelta(days=5), D + timedelta(days=6))
    assert up.measured(offer, D + timedelta(days=20), D + timedelta(days=21)) is None
    base = up.baseline(offer.first, offer.days)
    assert base == up.Period(D - timedelta(days=14), D - timedelta(days=1))
    assert base.days == 14
    with pytest.raises(ValueError):
        up.baseline(D, 0)


def test_targets():
    t = up.targets_of("buy_x_get_y", ["ATA"], ["Dal"], ["OIL"], [])
    assert t.covers("ATA", "") and t.covers("OIL", "x") and t.covers("X", "Dal")
    assert not t.covers("X", "") and not t.covers("X", "Rice")
    assert t.words() == "2 products and Dal"
    bill = up.targets_of("bill_amount_off", [], [])
    assert bill.everything and bill.covers("anything", "") and "whole bill" in bill.words()
    assert up.targets_of("percent_off", [], []).words() == "nothing"


def test_percent_change_is_whole_and_rounded_half_away_from_zero():
    assert up.percent_change(134, 100) == 34
    assert up.percent_change(3, 2) == 50
    assert up.percent_change(1, 3) == -67  # -66.67
    assert up.percent_change(201, 200) == 1  # 0.5 rounds up
    assert up.percent_change(199, 200) == -1  # -0.5 rounds away from zero
    assert up.percent_change(5, 0) is None and up.percent_change(0, 0) is None


def u(now: int, before: int, days: int = 14, off: int = 124_000, bills: int = 52,
      rev: tuple[int, int] = (50_000, 40_000)) -> up.Uplift:
    return up.Uplift(days, up.Figures(now, rev[0]), up.Figures(before, rev[1]), off, bills)


def test_verdicts_in_plain_words():
    assert up.verdict(u(134, 100)) == ("Sold 34 % more units than the 14 days before, "
                                      "revenue up 25 %; gave ₹1,240.00 off on 52 bills.")
    assert up.verdict(u(88, 100, rev=(40_000, 50_000))).startswith(
        "Sold 12 % fewer units than the 14 days before, revenue down 20 %")
    assert "as many units as the day before, revenue the same" in up.verdict(
        u(5, 5, days=1, rev=(1, 1)))
    assert "about as many units" in up.verdict(u(1001, 1000))
    # nothing before: no per cent, words
    text = up.verdict(u(12, 0, rev=(9_000, 0)))
    assert text == ("Sold 12 units; none in the 14 days before, so there is no percentage "
                    "to compare; gave ₹1,240.00 off on 52 bills.")
    assert "1 unit;" in up.verdict(u(1, 0, bills=1))
    assert up.verdict(u(0, 0, off=0, bills=0)) == (
        "Nothing it covers sold, during the offer or in the 14 days before; took nothing "
        "off any bill.")
    assert "no revenue before to compare" in up.verdict(u(5, 3, rev=(100, 0)))
    assert "on 1 bill." in up.verdict(u(5, 3, bills=1))


def test_line_offers_reads_what_the_till_kept_and_ignores_junk():
    kept = json.dumps([{"id": "p1", "name": "B2G1", "off": 2267, "bill": False},
                       {"id": "p2", "name": "₹50 off", "off": 1500, "bill": True}])
    assert up.line_offers(kept) == [("p1", 2267), ("p2", 1500)]
    assert up.line_offers("") == [] and up.line_offers("{not json") == []
    assert up.line_offers('{"id": "p1"}') == [] and up.line_offers("null") == []
    junk = json.dumps([{"id": "p1", "off": -5}, {"id": "p2", "off": 1.5}, {"id": 3},
                       {"id": "p3", "off": True}, "x", {"off": 9}, {"id": "p4", "off": 2**63}])
    assert up.line_offers(junk) == [("p1", 0), ("p2", 0), ("p3", 0), ("p4", 2**63)]


def test_applied_counts_each_bill_once():
    a = json.dumps([{"id": "p1", "off": 100}])
    both = json.dumps([{"id": "p1", "off": 50}, {"id": "p2", "off": 7}])
    got = up.applied([("s1", a), ("s1", both), ("s2", a), ("s3", "")])
    assert got == {"p1": up.Applied(2, 250), "p2": up.Applied(1, 7)}


def test_totals_and_series_over_a_period():
    p = up.Period(D, D + timedelta(days=2))
    days = {D: up.Figures(2, 100), D + timedelta(days=2): up.Figures(1, 50),
            D + timedelta(days=9): up.Figures(99, 9999)}
    assert up.total(days, p) == up.Figures(3, 150)
    assert up.series(days, p) == [2, 0, 1]


counts = st.integers(0, 10**9)


@given(counts, counts)
def test_percent_property(now: int, before: int):
    """The whole per cent is within half a per cent of the exact change, its sign is
    the change's, and nothing before gives no per cent."""
    p = up.percent_change(now, before)
    if before == 0:
        assert p is None
        return
    assert p is not None
    exact_times_2b = 2 * (now - before) * 100  # 2 * before * exact per cent
    assert abs(2 * before * p - exact_times_2b) <= before  # |p - exact| <= 1/2
    assert (p > 0) <= (now > before) and (p < 0) <= (now < before)


@given(counts, counts, counts, counts, st.integers(1, 366), st.integers(0, 10**9),
       st.integers(0, 10**6))
def test_verdict_property(units, before_units, revenue, before_revenue, days, off, bills):
    """Always one sentence that names the days compared and what was given off, with a
    per cent only when there was something before, never 'inf' or a float."""
    result = up.Uplift(days, up.Figures(units, revenue),
                       up.Figures(before_units, before_revenue), off, bills)
    text = up.verdict(result)
    assert text.endswith(".") and "inf" not in text and "nan" not in text.lower()
    assert ("day before" in text) if days == 1 else (f"the {days} days before" in text)
    if before_units == 0:
        assert "%" not in text
    else:
        assert f"{abs(result.unit_percent or 0)} %" in text or "as many units" in text
    assert ("took nothing off" in text) == (bills == 0)


def test_weekdays_of_reads_the_stored_days_and_drops_junk():
    assert up.weekdays_of("0,5,6") == frozenset({0, 5, 6})
    assert up.weekdays_of("") == frozenset()
    assert up.weekdays_of("0,1,2,3,4,5,6") == frozenset()  # every day
    assert up.weekdays_of("7,9,-1,x,١,12, 5 ,\x00") == frozenset({5})


def test_a_weekend_offer_is_compared_with_the_weekends_before():
    sat = date(2026, 11, 7)  # a Saturday
    weekend = frozenset({5, 6})
    offer = up.Period(sat, sat + timedelta(days=8))  # Sat to the next Sunday
    assert up.offer_dates(offer, weekend) == [sat, sat + timedelta(days=1),
                                              sat + timedelta(days=7),
                                              sat + timedelta(days=8)]
    assert up.baseline_dates(sat, 4, weekend) == [sat - timedelta(days=14),
                                                  sat - timedelta(days=13),
                                                  sat - timedelta(days=7),
                                                  sat - timedelta(days=6)]
    assert up.baseline_dates(sat, 3) == [sat - timedelta(days=3), sat - timedelta(days=2),
                                         sat - timedelta(days=1)]
    assert up.offer_dates(offer) == offer.dates()
    with pytest.raises(ValueError):
        up.baseline_dates(sat, 0, weekend)
    assert "the 4 days before on the same days of the week" in up.verdict(
        up.Uplift(4, up.Figures(8, 800), up.Figures(4, 400), 100, 2, weekdays_only=True))


@given(st.dates(date(2001, 1, 1), date(2099, 1, 1)), st.integers(1, 366),
       st.frozensets(st.integers(0, 6)))
def test_baseline_dates_property(first: date, count: int, weekdays: frozenset[int]):
    """As many days as measured, all before the offer, oldest first, on its weekdays,
    and the nearest such days: no day of its weekdays is skipped between them and it."""
    got = up.baseline_dates(first, count, weekdays)
    assert len(got) == count and got == sorted(set(got)) and got[-1] < first
    if weekdays:
        assert all(d.weekday() in weekdays for d in got)
    skipped = [got[0] + timedelta(days=i) for i in range((first - got[0]).days)]
    assert [d for d in skipped if not weekdays or d.weekday() in weekdays] == got


# ---- the offers a sale event carries (the hub's chain view) ---------------------------


def _line(**over):
    line = {"sku": "ATTA", "quantity": 3, "net": 20_000,
            "offers": [{"id": "p1", "name": "Atta 2+1", "off": 10_000, "bill": False}]}
    line.update(over)
    return line


def test_a_sale_events_lines_and_offers_read_back_and_refunds_are_negative():
    lines, dropped = up.sold_lines({"lines": [_line(), _line(sku="DAL", offers=None)]}, False)
    assert dropped == 0
    assert lines == [up.SoldLine(0, "ATTA", 3, 20_000, (up.KeptOffer("p1", "Atta 2+1", 10_000),)),
                     up.SoldLine(1, "DAL", 3, 20_000)]
    back, _ = up.sold_lines({"lines": [{"sku": "ATTA", "quantity": 1, "amount": 6_667,
                                        "offers": [{"id": "p1", "off": 3_333}]}]}, True)
    assert back == [up.SoldLine(0, "ATTA", -1, -6_667, (up.KeptOffer("p1", "", -3_333),))]
    # An older store: no lines, no offers: nothing, nothing dropped.
    assert up.sold_lines({}, False) == ([], 0)


@pytest.mark.parametrize("bad", [
    2**63, -1, 1.5, float("nan"), float("inf"), True, "100", None, [1], {"x": 1}])
def test_an_offer_off_that_is_not_a_whole_amount_is_dropped(bad):
    lines, dropped = up.sold_lines({"lines": [_line(offers=[
        {"id": "p1", "off": bad}, {"id": "p2", "off": 5}])]}, False)
    assert [o.id for o in lines[0].offers] == ["p2"] and dropped == 1


@pytest.mark.parametrize("bad_id", ["", "x" * 37, "a\x00b", " p1", 7, None, ["p1"]])
def test_an_offer_id_that_is_not_one_is_dropped(bad_id):
    lines, dropped = up.sold_lines({"lines": [_line(offers=[{"id": bad_id, "off": 1}])]},
                                   False)
    assert lines[0].offers == () and dropped == 1


@pytest.mark.parametrize("field,bad", [
    ("sku", ""), ("sku", "x" * 41), ("sku", "A\nB"), ("sku", 5), ("quantity", 2**63),
    ("quantity", 1.0), ("quantity", float("nan")), ("net", 2**63), ("net", "12"),
    ("net", None), ("net", True)])
def test_a_line_that_cannot_be_read_is_left_out_whole(field, bad):
    lines, dropped = up.sold_lines({"lines": [_line(**{field: bad}), _line(sku="DAL")]},
                                   False)
    assert [x.sku for x in lines] == ["DAL"] and [x.position for x in lines] == [1]
    assert dropped == 1


def test_hostile_shapes_never_raise_and_are_bounded():
    for lines in ("x", 7, {"a": 1}, [None, "x", 3, []]):
        got, _dropped = up.sold_lines({"lines": lines}, False)
        assert got == []
    # A huge name is cut and cleaned; a duplicate id on one line counts once; at most
    # MAX_LINE_OFFERS offers a line.
    many = [{"id": f"p{i}", "off": 1} for i in range(50)]
    got, dropped = up.sold_lines({"lines": [_line(offers=[
        {"id": "p1", "name": "<b>\x00" + "n" * 100_000, "off": 1, "bill": "yes"},
        {"id": "p1", "off": 2}])]}, False)
    [offer] = got[0].offers
    assert len(offer.name) == up.NAME_CHARS and "\x00" not in offer.name
    assert offer.bill is False and offer.off_minor == 1 and dropped == 1
    got, dropped = up.sold_lines({"lines": [_line(offers=many)]}, False)
    assert len(got[0].offers) == up.MAX_LINE_OFFERS and dropped == 50 - up.MAX_LINE_OFFERS
    # Lines each within the limits, together beyond any shop's bill: none of them.
    huge = [_line(net=up.AMOUNT_LIMIT) for _ in range(3)]
    assert up.sold_lines({"lines": huge}, False) == ([], 3)


@given(st.integers(0, 10**9), st.integers(1, 50), st.data())
def test_refunds_in_any_parts_give_back_exactly_what_the_offer_took(off, sold, data):
    kept = [up.KeptOffer("p1", "x", off, False)]
    left, given, back = sold, 0, 0
    while left:
        q = data.draw(st.integers(1, left))
        [share] = up.refunded_offers(kept, sold, sold - left, q)
        assert 0 <= share.off_minor <= off
        given += q
        left -= q
        back += share.off_minor
    assert back == off and given == sold


def test_refunded_offers_of_nothing_and_stored_offers_of_a_broken_row():
    kept = [up.KeptOffer("p1", "x", 100, True)]
    assert up.refunded_offers(kept, 0, 0, 1) == [] and up.refunded_offers(kept, 3, 0, 0) == []
    assert up.refunded_offers(kept, 3, 3, 1) == [up.KeptOffer("p1", "x", 0, True)]
    assert up.stored_offers("") == [] and up.stored_offers("{not json") == []
    assert up.stored_offers(json.dumps([{"id": "p1", "name": "x", "off": 5, "bill": True}])
                            ) == [up.KeptOffer("p1", "x", 5, True)]


def test_combined_adds_stores_up():
    a = up.Uplift(7, up.Figures(10, 1000), up.Figures(5, 600), 300, 4)
    b = up.Uplift(7, up.Figures(2, 200), up.Figures(0, 0), 50, 1, weekdays_only=True)
    c = up.combined([a, b])
    assert (c.days, c.during, c.before, c.discount_minor, c.bills, c.weekdays_only) == (
        7, up.Figures(12, 1200), up.Figures(5, 600), 350, 5, True)
    assert c.unit_percent == 140 and up.combined([]).bills == 0


def test_line_units_pieces_or_one_a_loose_line():
    assert up.line_units(up.SoldLine(0, "ATTA", 3, 100), loose=False) == 3
    assert up.line_units(up.SoldLine(0, "ATTA", -2, -100), loose=False) == -2
    assert up.line_units(up.SoldLine(0, "RICE", 750, 100), loose=True) == 1
    assert up.line_units(up.SoldLine(0, "RICE", -250, -30), loose=True) == -1
