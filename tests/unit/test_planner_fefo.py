"""The picking planner goes FEFO (issue #17): a line draws first from the bin whose
stock expires first, whatever the pick path says; bins without dated stock come last."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.picking.planner import BinStock, OrderLineToPick, OrderToPick, plan_batch

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
DAY = date(2026, 12, 1)


def one_line(quantity: int, *bins: BinStock) -> OrderToPick:
    line = OrderLineToPick("l1", "MILK", "Milk", quantity, "piece", tuple(bins))
    return OrderToPick("o1", "O1", NOW, (line,))


def test_the_bin_expiring_first_is_picked_first_even_when_later_on_the_path():
    near = BinStock("A-01", "chill", 10, 5, DAY + timedelta(days=9))
    far = BinStock("C-09", "chill", 90, 3, DAY + timedelta(days=2))
    undated = BinStock("A-00", "chill", 1, 50, None)
    plan = plan_batch([one_line(6, near, undated, far)])
    # Drawn FEFO (C-09 emptied, then A-01); walked in path order; A-00 not visited.
    assert [(t.bin_code, t.quantity) for t in plan.tasks] == [("A-01", 3), ("C-09", 3)]


def test_without_dates_the_pick_path_decides():
    first = BinStock("A-01", "dry", 10, 2)
    second = BinStock("B-01", "dry", 20, 9)
    plan = plan_batch([one_line(4, second, first)])
    assert [(t.bin_code, t.quantity) for t in plan.tasks] == [("A-01", 2), ("B-01", 2)]


bins = st.lists(
    st.builds(BinStock, bin_code=st.sampled_from(["A", "B", "C", "D", "E"]),
              zone=st.just("z"), pick_seq=st.integers(0, 99), available=st.integers(0, 9),
              earliest_expiry=st.one_of(st.none(), st.dates(DAY, DAY + timedelta(days=30)))),
    max_size=5, unique_by=lambda b: b.bin_code)


@given(bins, st.integers(1, 40))
def test_no_later_expiring_bin_is_used_while_an_earlier_one_has_stock_left(stock, wanted):
    plan = plan_batch([one_line(wanted, *stock)])
    taken = {t.bin_code: t.quantity for t in plan.tasks}
    by_code = {b.bin_code: b for b in stock}

    def key(b: BinStock):
        return (b.earliest_expiry is None, b.earliest_expiry or date.max)

    for code in taken:
        for other in stock:
            if key(other) < key(by_code[code]):
                # Every bin expiring earlier was emptied before this one was touched.
                assert taken.get(other.bin_code, 0) == max(other.available, 0)
    assert sum(taken.values()) + sum(left for _order, _line, left in plan.short) == wanted
