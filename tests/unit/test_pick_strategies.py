"""Batching strategies (issue #20): the same properties for every one of them, over
generated stores, and hand-made examples of what makes each one different."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.picking import planner, strategies
from app.picking.planner import (
    BatchLimits,
    BinStock,
    OrderLineToPick,
    OrderToPick,
    PlanError,
    item_count,
)

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ALL = strategies.strategies()


def line(line_id: str, quantity: int, *bins: BinStock, unit: str = "piece") -> OrderLineToPick:
    return OrderLineToPick(line_id, f"SKU-{line_id}", f"name {line_id}", quantity, unit, bins)


def order(order_id: str, minutes: float, *lines: OrderLineToPick) -> OrderToPick:
    return OrderToPick(order_id, order_id.upper(), NOW + timedelta(minutes=minutes), lines)


def shelf(code: str, seq: int, zone: str = "AMBIENT", available: int = 50) -> BinStock:
    return BinStock(code, zone, seq, available)


# ---- generated stores ------------------------------------------------------------------

@st.composite
def stores(draw):
    zones = ["AMBIENT", "CHILLED", "FROZEN"]
    n_bins = draw(st.integers(1, 12))
    seqs = draw(st.lists(st.integers(0, 5000), min_size=n_bins, max_size=n_bins, unique=True))
    bins = [BinStock(f"B{i}", draw(st.sampled_from(zones)), seq, 0)
            for i, seq in enumerate(seqs)]
    orders = []
    for o in range(draw(st.integers(0, 9))):
        lines = []
        for k in range(draw(st.integers(0, 5))):
            where = draw(st.lists(st.sampled_from(bins), min_size=0, max_size=3,
                                  unique_by=lambda b: b.bin_code))
            stocked = tuple(replace(b, available=draw(st.integers(0, 6))) for b in where)
            unit = draw(st.sampled_from(["piece", "piece", "kg"]))
            qty = draw(st.integers(0, 6)) if unit == "piece" else draw(st.integers(0, 2000))
            lines.append(OrderLineToPick(f"o{o}l{k}", f"S{draw(st.integers(0, 6))}", "x", qty,
                                         unit, stocked))
        orders.append(order(f"o{o}", draw(st.integers(-30, 30)), *lines))
    limits = BatchLimits(draw(st.integers(1, 5)), draw(st.integers(0, 30)))
    return orders, limits


def drain(strategy, orders, limits):
    """Ask the strategy again and again, taking out the lines it planned (as the
    simulator and the phone do), until nothing is left. Time moves on when it waits."""
    left = {o.order_id: o for o in orders if o.lines}
    plans = []
    now = NOW
    for _ in range(200):
        if not left:
            return plans
        plan = strategy(list(left.values()), limits, now)
        if plan is None:
            now += timedelta(minutes=30)
            continue
        assert plan.orders, "a plan with no orders"
        plans.append(plan)
        for part in plan.orders:
            taken = {x.line_id for x in part.lines}
            rest = tuple(x for x in left[part.order_id].lines if x.line_id not in taken)
            if rest:
                left[part.order_id] = replace(left[part.order_id], lines=rest)
            else:
                del left[part.order_id]
    raise AssertionError("the strategy never finished")


@pytest.mark.parametrize("name", list(ALL))
@settings(max_examples=25, deadline=None)
@given(store=stores())
def test_every_line_is_planned_exactly_once_within_limits_in_pick_order(name, store):
    orders, limits = store
    plans = drain(ALL[name], orders, limits)
    seen: dict[str, int] = defaultdict(int)
    got: dict[str, int] = defaultdict(int)
    for plan in plans:
        for part in plan.orders:
            for x in part.lines:
                seen[x.line_id] += 1
        for task in plan.tasks:
            got[task.line_id] += task.quantity
        for _order, line_id, qty in plan.short:
            got[line_id] += qty
        # no batch over the limits (one order bigger than max_items goes alone)
        assert len(plan.orders) <= limits.max_orders
        if len(plan.orders) > 1:
            assert sum(item_count(o) for o in plan.orders) <= limits.max_items
        # the pick path: bins in pick sequence within each zone, each bin one stop
        by_zone: dict[str, list[int]] = defaultdict(list)
        for task in plan.tasks:
            by_zone[task.zone].append(task.pick_seq)
        assert all(seqs == sorted(seqs) for seqs in by_zone.values())
        assert [t.seq for t in plan.tasks] == list(range(1, len(plan.tasks) + 1))
    wanted = {x.line_id: x.quantity for o in orders for x in o.lines}
    assert dict(seen) == dict.fromkeys(wanted, 1)
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in wanted.items() if v}


@pytest.mark.parametrize("name", list(ALL))
def test_nothing_open_is_no_batch(name):
    assert ALL[name]([], BatchLimits(), NOW) is None


# ---- what tells them apart ------------------------------------------------------------

def test_one_at_a_time_takes_the_most_urgent_order_alone():
    a = order("a", 5, line("a1", 1, shelf("X", 10)))
    b = order("b", 1, line("b1", 1, shelf("X", 10)))
    plan = strategies.one_at_a_time([a, b], BatchLimits(), NOW)
    assert plan is not None and [o.order_id for o in plan.orders] == ["b"]


def test_current_is_the_production_planner():
    a = order("a", 5, line("a1", 1, shelf("X", 10)))
    b = order("b", 1, line("b1", 1, shelf("Y", 20)))
    plan = strategies.current([a, b], BatchLimits(), NOW)
    assert plan is not None and [o.order_id for o in plan.orders] == ["b", "a"]
    assert plan == planner.plan([a, b], BatchLimits(), NOW)
    big = order("big", 0, *(line(f"g{i}", 1, shelf(f"G{i}", 10 * i)) for i in range(12)))
    assert strategies.current([a, big], BatchLimits(), NOW) == \
        planner.plan([a, big], BatchLimits(), NOW)


def test_wait_window_holds_a_young_batch_with_room_and_lets_it_go_later():
    promise = timedelta(minutes=10)
    wait = strategies.wait_window(60, promise)
    young = order("a", 10, line("a1", 1, shelf("X", 10)))  # arrived just now
    assert wait([young], BatchLimits(), NOW) is None
    assert wait([young], BatchLimits(), NOW + timedelta(seconds=61)) is not None
    full = [order(f"o{i}", 10, line(f"l{i}", 1, shelf("X", 10))) for i in range(4)]
    assert wait(full, BatchLimits(max_orders=4), NOW) is not None  # full: no waiting


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -1, 2**63, 3600])
def test_wait_window_refuses_a_window_that_is_not_a_time(seconds):
    with pytest.raises(PlanError):
        strategies.wait_window(seconds)


@pytest.mark.parametrize(("pool", "share"), [(0, 0.5), (2**63, 0.5), (10, math.nan),
                                             (10, -0.1), (10, math.inf)])
def test_savings_refuses_nonsense(pool, share):
    with pytest.raises(PlanError):
        strategies.savings(pool=pool, max_share=share)


def test_savings_takes_the_order_on_the_way_not_the_far_one():
    seed = order("seed", 1, line("s1", 1, shelf("A1", 100)), line("s2", 1, shelf("A9", 900)))
    far = order("far", 2, line("f1", 1, shelf("Z1", 4000)))
    near = order("near", 3, line("n1", 1, shelf("A5", 500)))
    plan = strategies.savings()([seed, far, near], BatchLimits(max_orders=2), NOW)
    assert plan is not None and [o.order_id for o in plan.orders] == ["seed", "near"]
    # the planner before issue #20 went by urgency only and took the far one
    greedy = strategies.greedy([seed, far, near], BatchLimits(max_orders=2), NOW)
    assert greedy is not None and [o.order_id for o in greedy.orders] == ["seed", "far"]
    # the production planner now goes by the walk too
    current = strategies.current([seed, far, near], BatchLimits(max_orders=2), NOW)
    assert current is not None and [o.order_id for o in current.orders] == ["seed", "near"]


def test_zone_batch_takes_one_zone_of_several_orders():
    a = order("a", 1, line("a1", 1, shelf("A1", 10)), line("a2", 1, shelf("C1", 900, "CHILLED")))
    b = order("b", 2, line("b1", 2, shelf("A2", 20)), line("b2", 1, shelf("C2", 910, "CHILLED")))
    plan = strategies.zone_batch([a, b], BatchLimits(), NOW)
    assert plan is not None
    assert {t.zone for t in plan.tasks} == {"AMBIENT"}
    assert [(o.order_id, [x.line_id for x in o.lines]) for o in plan.orders] == [
        ("a", ["a1"]), ("b", ["b1"])]


def test_pick_path_cost_grows_with_the_furthest_stop():
    near = [shelf("A", 10), shelf("B", 20)]
    far = [shelf("A", 10), shelf("Z", 2000)]
    assert strategies.pick_path_cost([]) == 0
    assert strategies.pick_path_cost(near) < strategies.pick_path_cost(far)


def test_a_line_with_no_stock_anywhere_is_short_not_lost():
    a = order("a", 1, line("a1", 3, shelf("X", 10, available=1)), line("a2", 2))
    for name, strategy in ALL.items():
        plans = drain(strategy, [a], BatchLimits())
        short = {(line_id, q) for p in plans for _o, line_id, q in p.short}
        assert short == {("a1", 2), ("a2", 2)}, name


def test_split_big_sends_a_big_order_out_in_halves_along_the_path():
    big = order("big", 1, *(line(f"b{i}", 1, shelf(f"S{i}", 100 * (10 - i))) for i in range(10)))
    small = order("small", 2, line("s1", 1, shelf("X", 5)))
    split = strategies.split_big(lines=8)
    first = split([big, small], BatchLimits(), NOW)
    assert first is not None and [o.order_id for o in first.orders] == ["big"]
    assert [t.pick_seq for t in first.tasks] == [100, 200, 300, 400, 500]  # the near half
    rest = replace(big, lines=tuple(x for x in big.lines
                                    if x.line_id not in {t.line_id for t in first.tasks}))
    second = split([rest, small], BatchLimits(), NOW)  # the rest is small: batched as usual
    assert second is not None and [o.order_id for o in second.orders] == ["big", "small"]
    assert sorted(t.pick_seq for t in second.tasks if t.order_id == "big") == \
        [600, 700, 800, 900, 1000]
    # a big order that is not the most urgent does not ride along in a batch
    ordinary = split([small, big], BatchLimits(), NOW - timedelta(minutes=5))
    later = split([replace(small, promised_by=NOW - timedelta(minutes=9)), big],
                  BatchLimits(), NOW)
    assert ordinary is not None and later is not None
    assert [o.order_id for o in later.orders] == ["small"]


@pytest.mark.parametrize("lines", [0, -1, 2**63, 1001])
def test_split_big_refuses_a_threshold_that_is_not_a_count(lines):
    with pytest.raises(PlanError):
        strategies.split_big(lines)
