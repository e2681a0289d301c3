"""FEFO choice (issue #17): app/stock/fefo.py."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.stock.fefo import BatchLevel, FefoError, choose, is_expired

TODAY = datetime.date(2026, 12, 1)


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def level(bin_code, expiry, available, batch=None, seq=0):
    return BatchLevel(bin_code, seq, batch or f"L-{bin_code}", expiry, available)


def test_earliest_expiry_first_across_bins():
    levels = [
        level("B-02", day(30), 10),
        level("A-01", day(5), 4),
        level("C-03", None, 50),
        level("D-04", day(10), 3),
    ]
    plan = choose(levels, 9, TODAY)
    assert [(t.level.bin_code, t.quantity) for t in plan.takes] == [
        ("A-01", 4),
        ("D-04", 3),
        ("B-02", 2),
    ]
    assert plan.short == 0 and plan.taken == 9


def test_expired_batches_are_never_taken_and_reported():
    old = level("A-01", day(-1), 6)
    plan = choose([old, level("B-02", day(0), 2), level("C-03", None, 1)], 5, TODAY)
    assert [t.level.bin_code for t in plan.takes] == ["B-02", "C-03"]  # expiry day still sells
    assert plan.short == 2
    assert plan.expired == (old,)


def test_margin_days_keeps_nearly_expired_stock_off_the_shelf():
    soon = level("A-01", day(2), 6)
    plan = choose([soon, level("B-02", day(9), 6)], 3, TODAY, margin_days=3)
    assert [t.level.bin_code for t in plan.takes] == ["B-02"]
    assert plan.expired == (soon,)


def test_ties_go_by_pick_sequence_then_bin():
    levels = [
        level("Z-9", day(3), 1, seq=1),
        level("A-1", day(3), 1, seq=5),
        level("M-5", day(3), 1, seq=1),
    ]
    plan = choose(levels, 3, TODAY)
    assert [t.level.bin_code for t in plan.takes] == ["M-5", "Z-9", "A-1"]


def test_empty_and_negative_levels_are_skipped():
    plan = choose([level("A", day(1), 0), level("B", day(1), -4), level("C", day(2), 1)], 1, TODAY)
    assert [t.level.bin_code for t in plan.takes] == ["C"]
    assert plan.expired == ()


@pytest.mark.parametrize(
    ("wanted", "margin", "words"),
    [(-1, 0, "at least 0"), (1.5, 0, "whole number"), (True, 0, "whole number"), (1, -1, "days")],
)
def test_bad_input_is_refused(wanted, margin, words):
    with pytest.raises(FefoError, match=words):
        choose([level("A", day(1), 1)], wanted, TODAY, margin_days=margin)


def test_a_batch_listed_twice_is_refused():
    with pytest.raises(FefoError, match="listed twice"):
        choose([level("A", day(1), 1, "X"), level("A", day(2), 1, "X")], 1, TODAY)


@pytest.mark.parametrize("available", [1.5, "3", None, True])
def test_a_quantity_that_is_not_whole_units_is_refused(available):
    with pytest.raises(FefoError, match="whole base units"):
        choose([level("A", day(1), available)], 1, TODAY)


def test_nothing_wanted_takes_nothing():
    plan = choose([level("A", day(1), 5)], 0, TODAY)
    assert plan.takes == () and plan.short == 0


@st.composite
def batch_levels(draw):
    count = draw(st.integers(0, 12))
    return [
        BatchLevel(
            bin_code=f"B{i % 4}",
            pick_sequence=draw(st.integers(0, 5)),
            batch=f"L{i}",
            expiry=draw(st.one_of(st.none(), st.integers(-10, 40).map(day))),
            available=draw(st.integers(-5, 30)),
        )
        for i in range(count)
    ]


def expiry_key(lv: BatchLevel) -> tuple[bool, datetime.date]:
    return (lv.expiry is None, lv.expiry or datetime.date.max)


@given(batch_levels(), st.integers(0, 200), st.integers(0, 5))
def test_fefo_properties(levels, wanted, margin):
    plan = choose(levels, wanted, TODAY, margin_days=margin)
    sellable = sum(
        lv.available
        for lv in levels
        if lv.available > 0 and not is_expired(lv.expiry, TODAY, margin)
    )
    # exactly what is wanted when there is enough; otherwise all there is, and the rest short
    assert plan.taken == min(wanted, sellable)
    assert plan.short == wanted - plan.taken
    for take in plan.takes:
        assert 0 < take.quantity <= take.level.available  # never more than a batch holds
        assert not is_expired(take.level.expiry, TODAY, margin)  # never an expired batch
    # earliest expiry first; stock without expiry last
    keys = [expiry_key(t.level) for t in plan.takes]
    assert keys == sorted(keys)
    # only the last take may be partial: nothing later is touched while an earlier one has some
    assert all(t.quantity == t.level.available for t in plan.takes[:-1])
    # every sellable batch expiring before the last one taken from was taken from
    taken_ids = {id(t.level) for t in plan.takes}
    if plan.takes:
        last = expiry_key(plan.takes[-1].level)
        for lv in levels:
            sellable_here = lv.available > 0 and not is_expired(lv.expiry, TODAY, margin)
            if sellable_here and expiry_key(lv) < last:
                assert id(lv) in taken_ids
    # expired stock is reported, every piece of it
    assert {id(lv) for lv in plan.expired} == {
        id(lv) for lv in levels if lv.available > 0 and is_expired(lv.expiry, TODAY, margin)
    }
