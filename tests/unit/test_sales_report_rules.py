"""The sales report's pure rules (app/reports/sales_rules.py, issue #18): the range a
manager asks for, the UTC bounds of local days, and how sums become the report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.gst import tax_rows
from app.reports.sales_rules import (
    Change,
    DateRange,
    PersonRow,
    ProductRow,
    RangeError,
    RefundBucket,
    SalesBucket,
    SalesData,
    TaxPart,
    TenderRow,
    Totals,
    build_report,
    month_range,
    offset_spans,
    parse_range,
    quick_ranges,
    report_tax_rows,
    utc_bounds,
)

IST = ZoneInfo("Asia/Kolkata")
TODAY = date(2026, 12, 1)


def test_nothing_asked_is_today_and_one_end_is_one_day():
    assert parse_range(None, None, TODAY) == DateRange(TODAY, TODAY)
    assert parse_range("2026-11-05", "", TODAY) == DateRange(date(2026, 11, 5), date(2026, 11, 5))
    assert parse_range("", "2026-11-05", TODAY) == DateRange(date(2026, 11, 5), date(2026, 11, 5))
    assert parse_range(" 2026-11-01 ", "2026-11-30", TODAY).days == 30


@pytest.mark.parametrize(("a", "b", "words"), [
    ("2026-11-30", "2026-11-01", "wrong way round"),
    ("2026-02-29", "2026-03-01", "does not exist"),
    ("2026-13-01", "", "does not exist"),
    ("2025-01-01", "2026-11-30", "at most 366 days"),
    ("2027-01-01", "2027-01-02", "has not come yet"),
    ("01/11/2026", "", "not a date"),
    ("NaN", "", "not a date"),
    ("inf", "", "not a date"),
    (str(2**63), "", "not a date"),
    ("2026-11-01\x00", "", "not a date"),
    ("=cmd|' /C calc'!A0", "", "not a date"),
    ("x" * 100_000, "", "not a date"),
    ("२०२६-११-०१", "", "not a date"),  # Devanagari digits are digits to \d, not to us
])
def test_bad_ranges_are_refused_in_plain_words(a, b, words):
    with pytest.raises(RangeError) as e:
        parse_range(a, b, TODAY)
    assert words in str(e.value)
    assert len(str(e.value)) < 200  # a 100 KB string is not echoed back


def test_366_days_is_the_longest():
    assert parse_range("2025-12-01", "2026-12-01", TODAY).days == 366
    with pytest.raises(RangeError):
        parse_range("2025-11-30", "2026-12-01", TODAY)


def test_quick_ranges():
    q = dict(quick_ranges(TODAY))
    assert q["Today"] == DateRange(TODAY, TODAY)
    assert q["Yesterday"] == DateRange(date(2026, 11, 30), date(2026, 11, 30))
    assert q["Last 7 days"] == DateRange(date(2026, 11, 25), TODAY)
    assert q["This month"] == DateRange(TODAY, TODAY)
    assert q["Last month"] == DateRange(date(2026, 11, 1), date(2026, 11, 30))
    jan = dict(quick_ranges(date(2026, 1, 15)))
    assert jan["Last month"] == DateRange(date(2025, 12, 1), date(2025, 12, 31))
    assert month_range(2024, 2).days == 29


def test_previous_period_has_the_same_length():
    r = DateRange(date(2026, 11, 1), date(2026, 11, 30))
    assert r.previous() == DateRange(date(2026, 10, 2), date(2026, 10, 31))
    assert DateRange(TODAY, TODAY).previous() == DateRange(date(2026, 11, 30), date(2026, 11, 30))


def test_utc_bounds_of_local_days():
    start, end = utc_bounds(DateRange(date(2026, 11, 1), date(2026, 11, 1)), IST)
    assert start == datetime(2026, 10, 31, 18, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
    assert offset_spans(start, end, IST) == [(start, end, 19800)]


def test_offset_spans_cut_at_daylight_saving():
    london = ZoneInfo("Europe/London")
    start, end = utc_bounds(DateRange(date(2026, 3, 28), date(2026, 3, 30)), london)
    spans = offset_spans(start, end, london)
    assert [s[2] for s in spans] == [0, 3600]
    assert spans[0][1] == datetime(2026, 3, 29, 1, 0, tzinfo=UTC) == spans[1][0]
    assert spans[0][0] == start and spans[-1][1] == end


def test_change_never_divides_by_zero():
    assert Change(150, 100).percent_tenths == 500
    assert Change(50, 100).percent_tenths == -500
    assert Change(1, 3).percent_tenths == -667
    assert Change(5, 0).percent_tenths is None
    assert Change(0, 0).percent_tenths is None and Change(0, 0).diff == 0
    assert Change(-5, -10).percent_tenths == 500  # a negative base: the sign of the move


def test_totals_without_bills():
    t = Totals()
    assert (t.average_bill, t.items_per_bill_tenths, t.net) == (0, 0, 0)
    assert Totals(bills=3, sales=1000, items=7).average_bill == 333
    assert Totals(bills=3, sales=1000, items=7).items_per_bill_tenths == 23


def test_tax_rows_follow_the_one_rule_and_put_igst_beside():
    parts = [TaxPart(500, False, 10_500, 500), TaxPart(500, True, 21_000, 1000),
             TaxPart(1800, False, 11_800, 1800), TaxPart(1800, False, -11_800, -1800)]
    rows = {r.rate_bp: r for r in report_tax_rows(parts)}
    five = rows[500]
    assert (five.cgst, five.sgst, five.igst, five.taxable) == (250, 250, 1000, 10_000 + 20_000)
    assert rows[1800].tax == 0 and rows[1800].taxable == 0
    intra_only = [p for p in parts if not p.inter_state]
    assert report_tax_rows(intra_only) == tax_rows((p.rate_bp, p.amount, p.tax)
                                                   for p in intra_only)


def _data() -> SalesData:
    d1, d2 = date(2026, 11, 29), date(2026, 11, 30)
    return SalesData(
        sales=[SalesBucket(d1, 9, 2, 30_000, 1_000, 0, 29_000, 5),
               SalesBucket(d2, 18, 1, 10_000, 0, -50, 9_950, 2),
               SalesBucket(date(2026, 12, 5), 10, 9, 9, 9, 9, 9, 9)],  # outside: ignored
        refunds=[RefundBucket(d2, 19, 1, 2_000)],
        products=[ProductRow("a", "A", "Atta", "Staples", "piece", 3, 2, 20_000, 1, 2_000),
                  ProductRow("b", "B", "<b>Soap</b>", "", "piece", 2, 1, 9_000),
                  ProductRow("c", "C", "Apples", "Fruit", "kg", 2500, 2, 9_950)],
        cashiers=[PersonRow("u1", "Asha", 3, 38_950, 2_000, 1)],
        tenders=[TenderRow("cash", 28_950, 2_000), TenderRow("upi", 10_000)],
        tax=[TaxPart(500, False, 38_950, 1_854), TaxPart(500, False, -2_000, -96)])


def test_build_report_adds_up():
    r = DateRange(date(2026, 11, 29), date(2026, 11, 30))
    report = build_report(r, _data(), SalesData(sales=[SalesBucket(date(2026, 11, 28), 9, 4,
                                                                   5_000, 0, 0, 5_000, 4)]))
    t = report.totals
    assert (t.bills, t.sales, t.refunds, t.net, t.items) == (3, 38_950, 2_000, 36_950, 7)
    assert t.sales == t.gross - t.discounts + t.rounding
    assert [d.net for d in report.days] == [29_000, 7_950]
    assert report.hours[9].bills == 2 and report.hours[19].refunds == 2_000
    assert sum(h.net for h in report.hours) == t.net
    assert [p.sku for p in report.products] == ["A", "C", "B"]  # by net: 18000, 9950, 9000
    assert [p.units for p in report.products] == [2, 2, 2]  # 3 - 1 refunded; 2 weighed sales
    assert report.categories[0].category == "Staples"
    assert {c.category for c in report.categories} == {"Staples", "Fruit", "No category"}
    assert report.tax_rows[0].tax == 1_854 - 96
    assert report.previous is not None and report.previous.range == DateRange(
        date(2026, 11, 27), date(2026, 11, 28))
    assert report.previous_days() == [0, 5_000]
    assert report.change("bills").diff == -1
    assert report.change("net").percent_tenths == round((36_950 - 5_000) * 1000 / 5_000)


def test_top_and_bottom_do_not_repeat():
    products = [ProductRow(str(i), f"S{i}", f"P{i:02d}", "c", "piece", i, i, i * 100)
                for i in range(1, 26)]
    report = build_report(DateRange(TODAY, TODAY), SalesData(products=products))
    top = [p.sku for p in report.top_by_revenue]
    bottom = [p.sku for p in report.bottom_by_revenue]
    assert top[0] == "S25" and len(top) == 10
    assert bottom[0] == "S1" and len(bottom) == 10 and not set(top) & set(bottom)
    few = build_report(DateRange(TODAY, TODAY), SalesData(products=products[:4]))
    assert len(few.top_by_revenue) == 4 and few.bottom_by_revenue == []
    assert few.bottom_by_units == []


def test_an_empty_period():
    report = build_report(DateRange(TODAY, TODAY), SalesData(), SalesData())
    assert report.totals == Totals() and report.products == [] and report.tax_rows == ()
    assert len(report.hours) == 24 and len(report.days) == 1
    assert report.change("net").percent_tenths is None


buckets = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 23), st.integers(1, 50),
                             st.integers(0, 10**9), st.integers(0, 10**6),
                             st.integers(-99, 99), st.integers(0, 500)), max_size=40)
refund_buckets = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 23),
                                    st.integers(1, 5), st.integers(0, 10**8)), max_size=10)


@settings(max_examples=150)
@given(buckets, refund_buckets, st.integers(0, 30), st.integers(0, 30))
def test_parts_always_add_up_to_the_whole(sales, refunds, a, n):
    first = date(2026, 1, 1)
    r = DateRange(first + timedelta(days=a), first + timedelta(days=a + n))
    data = SalesData(
        sales=[SalesBucket(first + timedelta(days=d), h, b, g, disc, rnd, g - disc + rnd, i)
               for d, h, b, g, disc, rnd, i in sales],
        refunds=[RefundBucket(first + timedelta(days=d), h, k, total)
                 for d, h, k, total in refunds])
    report = build_report(r, data, data)
    t = report.totals
    inside = [b for b in data.sales if r.start <= b.day <= r.end]
    assert t.bills == sum(b.bills for b in inside)
    assert sum(d.net for d in report.days) == t.net == sum(h.net for h in report.hours)
    assert sum(d.bills for d in report.days) == t.bills
    assert t.sales == t.gross - t.discounts + t.rounding
    assert len(report.days) == r.days and len(report.hours) == 24
    assert len(report.previous_days()) == r.days
    if t.bills:
        assert abs(t.average_bill * t.bills - t.sales) <= t.bills


def test_offset_spans_see_a_change_on_the_ranges_last_day():
    """A one-day range on the day New York changes its clocks is cut at the change (the
    day-by-day probe used to skip the last, partial step: the day's later hours came out
    an hour early)."""
    tz = ZoneInfo("America/New_York")
    day = date(2026, 3, 8)
    spans = offset_spans(*utc_bounds(DateRange(day, day), tz), tz)
    assert [o for _a, _b, o in spans] == [-18000, -14400]
    assert spans[0][1] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert offset_spans(*utc_bounds(DateRange(date(2026, 3, 9), date(2026, 3, 9)), tz),
                        tz)[0][2] == -14400
