"""The replenishment rule (issue #17): run-out before the next delivery and surplus
matching, with properties."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.hub import replenish as r
from app.hub.replenish import StoreSku

STORES = ("D2", "D4", "S1", "W3")
DARK = ("D2", "D4")


def test_a_dark_store_short_before_its_delivery_gets_it_from_the_store_with_most_spare():
    figures = [
        StoreSku("D2", "MILK", on_hand=4, sold=28),  # 2 a day, 3 days: needs 6, has 4
        StoreSku("S1", "MILK", on_hand=30, sold=14),  # needs 3 itself: spare 27
        StoreSku("W3", "MILK", on_hand=100, reserved=10, outbound=5),  # spare 85
        StoreSku("D2", "SALT", on_hand=50, sold=14),  # plenty
        StoreSku("S1", "DAL", on_hand=0, sold=100),  # not a dark store
    ]
    [milk] = r.suggest(figures, DARK, lead_days=3, history_days=14)
    assert (milk.dest, milk.sku, milk.need, milk.available, milk.shortfall) == (
        "D2", "MILK", 6, 4, 2)
    assert milk.per_day == 2 and milk.runs_out_in_days == 2
    assert (milk.source, milk.quantity) == ("W3", 2)


def test_what_is_on_its_way_counts_and_nobody_with_spare_is_said_plainly():
    coming = [StoreSku("D2", "MILK", on_hand=1, inbound=5, sold=14)]
    assert r.suggest(coming, DARK, lead_days=3, history_days=14) == []
    [alone] = r.suggest([StoreSku("D2", "MILK", on_hand=-2, sold=14),
                         StoreSku("S1", "MILK", on_hand=3, sold=14)],
                        DARK, lead_days=3, history_days=14)
    assert alone.source is None and alone.quantity == 0 and alone.runs_out_in_days == 0


rows = st.builds(
    StoreSku, store=st.sampled_from(STORES), sku=st.sampled_from(("A", "B", "C")),
    on_hand=st.integers(-50, 500), reserved=st.integers(0, 50), inbound=st.integers(0, 50),
    outbound=st.integers(0, 50), sold=st.integers(-20, 2000))


def unique(figures: list[StoreSku]) -> list[StoreSku]:
    return list({(x.store, x.sku): x for x in figures}.values())


@given(st.lists(rows, max_size=12).map(unique), st.integers(1, 14), st.integers(1, 60))
def test_suggestions_never_ask_more_than_is_short_or_spare(figures, lead, history):
    out = r.suggest(figures, DARK, lead_days=lead, history_days=history)
    by_key = {(x.store, x.sku): x for x in figures}
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for s in out:
        dest = by_key[(s.dest, s.sku)]
        assert s.dest in DARK and s.per_day > 0
        assert r.available(dest) < s.need and s.shortfall == s.need - r.available(dest)
        assert 0 <= s.quantity <= s.shortfall
        if s.source is None:
            assert s.quantity == 0
            continue
        assert s.source != s.dest and s.quantity > 0
        taken[(s.source, s.sku)] += s.quantity
    for (store, sku), n in taken.items():
        x = by_key[(store, sku)]
        own_need = r.need(r.velocity(x.sold, history), lead)
        # What the source keeps covers its own need and what is already asked of it.
        assert x.on_hand - x.reserved - x.outbound - n >= own_need
    # Every short dark store SKU is listed once, most urgent first.
    keys = [(s.dest, s.sku) for s in out]
    assert len(keys) == len(set(keys))
    assert [s.runs_out_in_days for s in out] == sorted(s.runs_out_in_days for s in out)


@given(st.integers(-10, 10_000), st.integers(1, 90), st.integers(1, 90))
def test_need_is_velocity_times_days_rounded_up(sold, history, days):
    v = r.velocity(sold, history)
    assert v >= 0 and r.need(v, days) >= v * days > r.need(v, days) - 1
    assert r.velocity(sold, history) == Fraction(max(sold, 0), history)
