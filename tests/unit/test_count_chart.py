"""Count accuracy per week and its bars (issue #17): app/stock/count_chart.py."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.stock.count_chart import Week, share_bars, weekly_accuracy

TODAY = datetime.date(2026, 12, 3)  # a Thursday; its week starts Monday 30 Nov


def test_weeks_run_monday_to_sunday_oldest_first():
    counts = [(datetime.date(2026, 11, 30), True), (datetime.date(2026, 12, 3), False),
              (datetime.date(2026, 11, 29), True),  # the Sunday before: last week
              (datetime.date(2026, 11, 1), True),  # too old for 3 weeks
              (datetime.date(2026, 12, 7), True)]  # next week: not yet
    weeks = weekly_accuracy(counts, TODAY, weeks=3)
    assert [w.start for w in weeks] == [datetime.date(2026, 11, 16), datetime.date(2026, 11, 23),
                                        datetime.date(2026, 11, 30)]
    assert [(w.lines, w.right) for w in weeks] == [(0, 0), (1, 1), (2, 1)]
    assert [w.share_bp for w in weeks] == [None, 10_000, 5_000]
    assert [w.percent for w in weeks] == [None, 100, 50]


def test_a_share_is_rounded_down():
    assert Week(TODAY, 3, 2).share_bp == 6666 and Week(TODAY, 1000, 999).percent == 99


@pytest.mark.parametrize("weeks", [0, -1, 521, 1.5, True, "3"])
def test_bad_week_counts_are_refused(weeks):
    with pytest.raises(ValueError, match="weeks"):
        weekly_accuracy([], TODAY, weeks=weeks)


def test_bars_scale_to_100_percent_and_skip_weeks_without_counts():
    bars = share_bars([None, 0, 5_000, 10_000, 20_000, -5], 60, 100, gap=0)
    assert [b.height for b in bars] == [0, 0, 50, 100, 100, 0]
    assert [b.x for b in bars] == [0, 10, 20, 30, 40, 50]
    assert share_bars([], 10, 10) == () and share_bars([1], 0, 10) == ()
    assert share_bars([1], 10, 100)[0].height == 1.0  # tiny but visible


@given(st.lists(st.tuples(st.dates(datetime.date(2025, 1, 1), datetime.date(2027, 12, 31)),
                          st.booleans()), max_size=60),
       st.integers(1, 60))
def test_weekly_accuracy_properties(counts, weeks):
    out = weekly_accuracy(counts, TODAY, weeks)
    assert len(out) == weeks
    assert all(b.start - a.start == datetime.timedelta(weeks=1) for a, b in zip(out, out[1:], strict=False))
    assert all(w.start.weekday() == 0 for w in out) and out[-1].start <= TODAY
    assert all(0 <= w.right <= w.lines for w in out)
    inside = [c for c in counts if out[0].start <= c[0] < out[-1].start + datetime.timedelta(7)]
    assert sum(w.lines for w in out) == len(inside)
    assert sum(w.right for w in out) == sum(1 for _d, right in inside if right)
    assert all(w.share_bp is None or 0 <= w.share_bp <= 10_000 for w in out)


@given(st.lists(st.one_of(st.none(), st.integers(-20_000, 20_000)), min_size=1, max_size=60),
       st.floats(1, 2000), st.floats(1, 500))
def test_bars_stay_in_the_box_and_keep_the_order(shares, width, height):
    bars = share_bars(shares, width, height)
    assert len(bars) == len(shares)
    for bar in bars:
        assert bar.height >= 0 and bar.y >= -0.01 and abs(bar.y + bar.height - height) < 0.02
        assert bar.x >= 0 and bar.x + bar.width <= width + 0.02
    for a, b in zip(bars, bars[1:], strict=False):
        assert a.x < b.x
    valued = [(s or 0, bar.height) for s, bar in zip(shares, bars, strict=True)]
    for s1, h1 in valued:
        for s2, h2 in valued:
            if s1 <= s2:
                assert h1 <= h2 + 0.01  # a larger share is never drawn shorter
