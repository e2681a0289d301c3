"""The one date-range rule of the report pages (app/core/date_ranges.py): the store's
sales and stock reports and the hub's chain overview all parse through it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.date_ranges import EARLIEST, RangeError, parse_date_range
from app.hub import report_rules
from app.reports import sales_rules, stock_rules

TODAY = date(2026, 12, 1)


def test_defaults():
    assert parse_date_range("", "", TODAY) == (TODAY, TODAY)
    assert parse_date_range(None, None, TODAY, default_days=30) == (date(2026, 11, 2), TODAY)
    # only the end: the default length up to it; only the start: to today
    assert parse_date_range("", "2026-11-10", TODAY, default_days=7) == (date(2026, 11, 4),
                                                                         date(2026, 11, 10))
    assert parse_date_range("2026-11-10", "", TODAY, default_days=7) == (date(2026, 11, 10),
                                                                         TODAY)
    # the sales report: a single date is that day
    assert parse_date_range("", "2026-11-10", TODAY, lone_day=True) == (date(2026, 11, 10),) * 2
    assert parse_date_range(" 2026-11-10 ", "", TODAY, lone_day=True) == (date(2026, 11, 10),) * 2


def test_the_three_pages_share_it():
    """Each page's own defaults, its refusals from the one rule (same words)."""
    assert sales_rules.parse_range("", "", TODAY) == sales_rules.DateRange(TODAY, TODAY)
    assert stock_rules.parse_range("", "", TODAY) == (TODAY - timedelta(days=6), TODAY)
    assert report_rules.date_range("", "", TODAY) == (TODAY - timedelta(days=29), TODAY)
    messages = set()
    for call, error in ((lambda: sales_rules.parse_range("2026-11-30", "2026-11-01", TODAY),
                         sales_rules.RangeError),
                        (lambda: stock_rules.parse_range("2026-11-30", "2026-11-01", TODAY),
                         stock_rules.ReportInputError),
                        (lambda: report_rules.date_range("2026-11-30", "2026-11-01", TODAY),
                         report_rules.RangeError)):
        with pytest.raises(error) as e:
            call()
        messages.add(str(e.value))
    assert len(messages) == 1 and "wrong way round" in messages.pop()


@pytest.mark.parametrize(("a", "b", "words"), [
    ("2026-11-30", "2026-11-01", "wrong way round"),  # and "Swap the two dates"
    ("2026-02-29", "", "does not exist"),
    ("2026-13-01", "", "does not exist"),
    ("2025-01-01", "2026-11-30", "at most 366 days"),
    ("2026-11-30", "2026-12-02", "has not come yet"),
    ("2027-01-01", "2027-01-02", "has not come yet"),
    ("1999-12-31", "1999-12-31", "before any sale"),
    ("0001-01-01", "0001-01-01", "before any sale"),
    ("", "0001-01-01", "before any sale"),  # (0001-01-01 less 29 days is no date)
    ("01/11/2026", "", "not a date"),
    ("2026-11-01T00:00", "", "not a date"),
    ("2026-11-01garbage", "", "not a date"),  # not cut down to a date that would pass
    ("NaN", "", "not a date"),
    ("inf", "inf", "not a date"),
    ("2026-11-01\x00", "", "not a date"),
    ("\x00", "", "not a date"),
    ("x" * 100_000, "", "not a date"),
    ("9" * 100_000, "", "not a date"),
    (str(2**63) + "-01-01", "", "not a date"),  # a year of 2**63
    ("-9999-01-01", "", "not a date"),
    ("२०२६-११-०१", "", "not a date"),  # Devanagari digits are digits to \d, not to us
])
def test_refused_in_plain_words(a, b, words):
    with pytest.raises(RangeError) as e:
        parse_date_range(a, b, TODAY, default_days=30)
    assert words in str(e.value)
    assert len(str(e.value)) < 200  # a 100 KB string is not echoed back


def test_swap_words_and_the_longest_range():
    with pytest.raises(RangeError, match="Swap the two dates"):
        parse_date_range("2026-11-30", "2026-11-01", TODAY)
    assert parse_date_range("2025-12-01", "2026-12-01", TODAY) == (date(2025, 12, 1), TODAY)
    with pytest.raises(RangeError):
        parse_date_range("2025-11-30", "2026-12-01", TODAY)
    assert parse_date_range("2000-01-01", "2000-01-01", TODAY) == (EARLIEST, EARLIEST)


def test_an_end_after_today_only_where_the_page_allows_it():
    assert parse_date_range("2026-12-01", "2026-12-31", TODAY, future_end=True) == (
        TODAY, date(2026, 12, 31))
    with pytest.raises(RangeError, match="has not come yet"):
        parse_date_range("2026-12-02", "2026-12-31", TODAY, future_end=True)


@given(st.text(max_size=40), st.text(max_size=40), st.integers(1, 400), st.booleans(),
       st.booleans())
def test_any_text_gives_a_range_inside_the_rules_or_a_range_error(a, b, default_days,
                                                                    lone, future):
    try:
        first, last = parse_date_range(a, b, TODAY, default_days=min(default_days, 366),
                                       lone_day=lone, future_end=future)
    except RangeError:
        return
    assert EARLIEST <= first <= last
    assert (last - first).days < 366
    assert first <= TODAY and (future or last <= TODAY)
