"""The stock report's pure rules (app/reports/stock_rules.py): valuation at cost and at
selling price (no cost is said, not valued at zero), ageing buckets, dead stock, days
of cover, minutes at zero (with and without opening hours), the date range refused
when wrong; and hypothesis: minutes at zero never exceed the period or the opening
hours in it, replaying the moves from the start level gives today's level, and the
kept crossings give the same answers as every move."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.reports import stock_rules as r
from app.reports.stock_rules import OpeningHours, ReportInputError, StockRow

IST = ZoneInfo("Asia/Kolkata")
TODAY = date(2026, 11, 21)
START = datetime(2026, 11, 19, 18, 30, tzinfo=UTC)  # 20 Nov 00:00 in India
END = START + timedelta(days=2)


def row(sku="A", on_hand=10, price=5000, cost=(12, 36000), unit="piece", category="Dairy",
        last_sale=None, first_move=None, sold=0) -> StockRow:
    qty, value = cost if cost else (None, None)
    return StockRow(sku, sku, f"Product {sku}", category, unit, on_hand, price, qty, value,
                    last_sale, first_move, sold)


def ago(days: int) -> datetime:
    """Noon in India ``days`` local days before TODAY."""
    return datetime.combine(TODAY - timedelta(days=days), time(12), IST).astimezone(UTC)


# ---- valuation --------------------------------------------------------------------------


def test_value_at_cost_uses_the_exact_moving_average():
    assert r.cost_value(row(on_hand=10, cost=(12, 36000))) == 30000  # ₹30 each
    assert r.cost_value(row(on_hand=1, cost=(3, 1000))) == 333  # 333.33 rounds down
    assert r.cost_value(row(on_hand=2, cost=(3, 1000))) == 667  # 666.67 rounds up
    # loose goods: 1,250 g at a cost of ₹40 a kg known over 3,000 g
    assert r.cost_value(row(on_hand=1250, unit="kg", cost=(3000, 12000))) == 5000
    assert r.cost_value(row(cost=None)) is None
    assert r.cost_value(row(cost=(0, 0))) is None
    assert r.cost_value(row(on_hand=-3)) == 0


def test_value_at_selling_price_per_piece_and_per_kg():
    assert r.selling_value(row(on_hand=3, price=4500)) == 13500
    assert r.selling_value(row(on_hand=1250, unit="kg", price=18000)) == 22500  # ₹180/kg
    assert r.selling_value(row(on_hand=333, unit="litre", price=10000)) == 3330
    assert r.selling_value(row(on_hand=-2)) == 0


def test_products_without_a_cost_are_listed_not_valued_at_zero():
    v = r.valuation([row("A"), row("B", cost=None, on_hand=4, price=2800),
                     row("C", on_hand=0), row("D", on_hand=-2)])
    assert [x.row.sku for x in v.rows] == ["A", "B", "D"]
    assert {x.row.sku: x.status for x in v.rows} == {"A": "valued", "B": "no cost",
                                                      "D": "below zero"}
    assert v.cost_total_minor == 30000
    assert v.selling_total_minor == 50000 + 4 * 2800
    assert (v.no_cost, v.no_cost_selling_minor, v.below_zero) == (1, 4 * 2800, 1)


def test_by_category_largest_first_and_uncategorised_named():
    v = r.valuation([row("A", category="Dairy"), row("B", category="  ", cost=(1, 100000)),
                     row("C", category="Dairy", cost=None)])
    cats = r.by_category(v)
    assert [(c.category, c.products, c.cost_minor, c.no_cost) for c in cats] == [
        ("Uncategorised", 1, 1_000_000, 0), ("Dairy", 2, 30000, 1)]


# ---- ageing, dead stock, cover ----------------------------------------------------------


@pytest.mark.parametrize(("days", "bucket"), [
    (0, "0-7 days"), (7, "0-7 days"), (8, "8-30 days"), (30, "8-30 days"),
    (31, "31-90 days"), (90, "31-90 days"), (91, "over 90 days"), (None, "never sold")])
def test_age_buckets(days, bucket):
    assert r.age_bucket(days) == bucket


def test_days_since_goes_by_the_local_date():
    # 20 Nov 23:00 in India is 17:30 UTC on 20 Nov; 21 Nov 01:00 in India is 19:30 UTC on
    # 20 Nov: the same UTC date, different local dates.
    late = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    early = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)
    assert r.days_since(late, TODAY, IST) == 1
    assert r.days_since(early, TODAY, IST) == 0
    assert r.days_since(None, TODAY, IST) is None


def test_ageing_counts_products_in_stock_in_every_bucket():
    rows = [row("A", last_sale=ago(0)), row("B", last_sale=ago(45), cost=None),
            row("C", last_sale=ago(200)), row("D"), row("E", on_hand=0, last_sale=ago(1))]
    got = {b.label: (b.products, b.cost_minor, b.no_cost) for b in r.ageing(rows, TODAY, IST)}
    assert list(got) == list(r.AGE_BUCKETS)
    assert got == {"0-7 days": (1, 30000, 0), "8-30 days": (0, 0, 0),
                   "31-90 days": (1, 0, 1), "over 90 days": (1, 30000, 0),
                   "never sold": (1, 30000, 0)}


def test_dead_stock_no_sale_for_n_days_and_new_stock_is_not_dead():
    rows = [row("SOLD-TODAY", last_sale=ago(0)),
            row("OLD", last_sale=ago(120), cost=(1, 100)),
            row("BORDER", last_sale=ago(90)),
            row("NEW-NEVER", first_move=ago(3)),
            row("OLD-NEVER", first_move=ago(100), cost=(1, 999)),
            row("EMPTY", on_hand=0, last_sale=ago(300)),
            row("UNKNOWN")]  # never moved at all (stock loaded straight in): dead
    dead = r.dead_stock(rows, 90, TODAY, IST)
    assert [d.row.sku for d in dead] == ["BORDER", "UNKNOWN", "OLD-NEVER", "OLD"]
    assert {d.row.sku: (d.days, d.in_store_days) for d in dead}["OLD-NEVER"] == (None, 100)
    assert [d.row.sku for d in r.dead_stock(rows, 1, TODAY, IST)] == [
        "BORDER", "NEW-NEVER", "UNKNOWN", "OLD-NEVER", "OLD"]


@pytest.mark.parametrize("text", ["", "0", "-1", "3651", "NaN", "inf", "1e3", "2.5", " ",
                                  str(2 ** 63), "\x00", "٣", "9" * 100_000])
def test_dead_days_refused(text):
    with pytest.raises(ReportInputError, match="whole number from 1 to 3650"):
        r.parse_days(text)


def test_dead_days_accepted():
    assert r.parse_days(" 30 ") == 30 and r.parse_days("3650") == 3650


def test_days_of_cover():
    assert r.days_of_cover(10, 28) == 10.0  # one a day
    assert r.days_of_cover(5, 2) == 70.0
    assert r.days_of_cover(0, 28) == 0.0 and r.days_of_cover(-4, 28) == 0.0
    assert r.days_of_cover(10, 0) is None and r.days_of_cover(10, -3) is None  # no sales
    rows = [row("SLOW", on_hand=50, sold=2), row("FAST", on_hand=5, sold=56),
            row("NONE", on_hand=9), row("GONE", on_hand=0, sold=10), row("IDLE", on_hand=0)]
    assert [(c.row.sku, c.days) for c in r.cover(rows)] == [
        ("GONE", 0.0), ("FAST", 2.5), ("SLOW", 700.0), ("NONE", None)]


# ---- stock-outs -------------------------------------------------------------------------


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def test_zero_spans_and_minutes_over_the_whole_day():
    moves = [(at(10), -5), (at(12), +3), (at(30), -3), (at(31), -1)]  # from 5
    spans = r.zero_spans(5, moves, START, END)
    assert spans == [(at(10), at(12)), (at(30), END)]
    windows = r.open_windows(START, END, IST, None)
    out = r.stock_out("p", 5, moves, START, END, windows)
    assert (out.minutes, out.times, out.out_now) == (2 * 60 + 18 * 60, 2, True)


def test_a_product_out_at_the_start_counts_from_the_start():
    assert r.zero_spans(0, [(at(1), 4)], START, END) == [(START, at(1))]
    assert r.zero_spans(-2, [], START, END) == [(START, END)]


def test_only_opening_hours_count_when_the_store_has_them():
    hours = OpeningHours(time(9), time(21))
    windows = r.open_windows(START, END, IST, hours)
    assert windows == [(at(9), at(21)), (at(33), at(45))]
    # out from 20:00 on the first day to 10:00 the next: 1 h that evening, 1 h next morning
    out = r.stock_out("p", 1, [(at(20), -1), (at(34), 5)], START, END, windows)
    assert (out.minutes, out.times) == (120, 1)
    # out only overnight: no minutes, not counted as a time out
    night = r.stock_out("p", 1, [(at(22), -1), (at(32), 5)], START, END, windows)
    assert (night.minutes, night.times) == (0, 0)


def test_opening_hours_must_close_after_opening():
    with pytest.raises(ReportInputError):
        OpeningHours(time(21), time(9))


def test_moves_outside_the_period_or_out_of_order_are_refused():
    with pytest.raises(ValueError):
        r.zero_spans(1, [(START - timedelta(seconds=1), -1)], START, END)
    with pytest.raises(ValueError):
        r.zero_spans(1, [(END, -1)], START, END)
    with pytest.raises(ValueError):
        r.zero_spans(1, [(at(5), -1), (at(4), 1)], START, END)


def test_period_bounds_end_now_while_the_last_day_runs():
    now = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
    assert r.period_bounds(date(2026, 11, 20), date(2026, 11, 21), IST, now) == (START, now)
    assert r.period_bounds(date(2026, 11, 20), date(2026, 11, 20), IST, now) == (
        START, START + timedelta(days=1))


# ---- the date range ---------------------------------------------------------------------


def test_range_defaults_to_the_last_seven_days():
    assert r.parse_range("", "", TODAY) == (TODAY - timedelta(days=6), TODAY)
    assert r.parse_range("2026-11-01", "2026-11-21", TODAY) == (date(2026, 11, 1), TODAY)


@pytest.mark.parametrize(("a", "b", "message"), [
    ("2026-11-21", "2026-11-20", "wrong way round"),
    ("2025-11-20", "2026-11-21", "at most 366 days"),
    ("2026-11-20", "2026-11-22", "has not come yet"),
    ("2026-02-30", "", "is not a date"),
    ("21/11/2026", "", "is not a date"),
    ("<script>", "", "is not a date"),
    ("2026-11-2\x00", "", "is not a date"),
    ("NaN", "", "is not a date"),
    ("", "9" * 100_000, "is not a date"),
    ("２０２６-１１-２０", "", "is not a date"),  # full-width digits
])
def test_range_refused(a, b, message):
    with pytest.raises(ReportInputError, match=message):
        r.parse_range(a, b, TODAY)


def test_a_range_of_exactly_366_days_is_allowed():
    first = TODAY - timedelta(days=365)
    assert r.parse_range(first.isoformat(), "", TODAY) == (first, TODAY)


# ---- properties -------------------------------------------------------------------------

SECONDS = 3 * 24 * 3600
deltas = st.integers(-50, 50).filter(lambda d: d != 0)
move_lists = st.lists(st.tuples(st.integers(0, SECONDS - 1), deltas), max_size=40).map(
    lambda ms: [(START + timedelta(seconds=s), d) for s, d in sorted(ms, key=lambda m: m[0])])
hours_strategy = st.one_of(st.none(), st.tuples(st.integers(0, 22), st.integers(1, 23)).filter(
    lambda t: t[0] < t[1]).map(lambda t: OpeningHours(time(t[0]), time(t[1]))))


@settings(max_examples=300, deadline=None)
@given(start_level=st.integers(-100, 100), moves=move_lists, hours=hours_strategy)
def test_minutes_at_zero_never_exceed_the_period_or_its_opening_hours(start_level, moves,
                                                                      hours):
    end = START + timedelta(seconds=SECONDS)
    windows = r.open_windows(START, end, IST, hours)
    out = r.stock_out("p", start_level, moves, START, end, windows)
    open_minutes = sum((b - a).total_seconds() for a, b in windows) / 60
    assert 0 <= out.minutes <= open_minutes <= SECONDS / 60
    if hours is None and start_level <= 0 and not moves:
        assert out.minutes == SECONDS // 60


@settings(max_examples=300, deadline=None)
@given(current=st.integers(-1000, 1000), moves=move_lists)
def test_replaying_the_moves_from_the_start_level_gives_the_current_level(current, moves):
    start_level = r.level_at_start(current, moves)
    assert r.replay(start_level, moves) == current
    c: r.Crossings[datetime] = r.Crossings(start_level)
    for when, delta in moves:
        c.add(when, delta)
    assert c.level == current and r.replay(start_level, c.moves()) == current


@settings(max_examples=300, deadline=None)
@given(start_level=st.integers(-100, 100), moves=move_lists)
def test_the_kept_crossings_give_the_same_spans_as_every_move(start_level, moves):
    end = START + timedelta(seconds=SECONDS)
    c: r.Crossings[datetime] = r.Crossings(start_level)
    for when, delta in moves:
        c.add(when, delta)
    assert len(c.moves()) <= len(moves)
    assert r.zero_spans(start_level, c.moves(), START, end) == r.zero_spans(
        start_level, moves, START, end)


@settings(max_examples=200, deadline=None)
@given(on_hand=st.integers(-10**6, 10**6), qty=st.integers(1, 10**6),
       value=st.integers(0, 10**9), price=st.integers(0, 10**7),
       unit=st.sampled_from(["piece", "kg", "litre"]))
def test_values_are_never_negative_and_totals_add_up(on_hand, qty, value, price, unit):
    rows = [row("A", on_hand=on_hand, cost=(qty, value), price=price, unit=unit),
            row("B", on_hand=on_hand, cost=None, price=price, unit=unit)]
    v = r.valuation(rows)
    assert v.cost_total_minor >= 0 and v.selling_total_minor >= 0
    assert v.cost_total_minor == sum(c.cost_minor for c in r.by_category(v))
    assert v.selling_total_minor == sum(c.selling_minor for c in r.by_category(v))
    assert sum(b.products for b in r.ageing(rows, TODAY, IST)) == (2 if on_hand > 0 else 0)


def test_the_category_chart_falls_back_to_selling_price_while_no_cost_is_known():
    from app.reports.stock_routes import _category_chart

    costed = r.valuation([row("A"), row("B", category="Bakery", cost=None)])
    chart = _category_chart(costed, r.by_category(costed))
    assert chart is not None and "Stock value at cost by category" in chart
    none = r.valuation([row("A", cost=None), row("B", category="Bakery", cost=None)])
    chart = _category_chart(none, r.by_category(none))
    assert chart is not None and "at selling price by category (no costs known yet)" in chart
    assert "Dairy ₹500.00" in chart
    empty = r.valuation([])
    assert _category_chart(empty, r.by_category(empty)) is None
