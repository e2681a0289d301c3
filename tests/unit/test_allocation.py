"""The pure allocation module: unit and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.hub.allocation import (
    CRITERIA,
    OrderView,
    Rules,
    StoreView,
    allocate,
    haversine_km,
    split_plan,
)

INDIRANAGAR = (12.9719, 77.6412)
KORAMANGALA = (12.9352, 77.6245)
WHITEFIELD = (12.9698, 77.7500)


def store(id_: str, at=INDIRANAGAR, level=None, **kw) -> StoreView:
    return StoreView(id=id_, name=f"Store {id_}", lat=at[0], lon=at[1],
                     pincodes=frozenset(kw.pop("pincodes", ())), level=level or {"A": 10},
                     **kw)


def order(lines=(("A", 2),), at=INDIRANAGAR, pincode="560038", value=0) -> OrderView:
    return OrderView(pincode=pincode, lat=at[0] if at else None, lon=at[1] if at else None,
                     lines=tuple(lines), value_minor=value)


def test_haversine_known_distance():
    assert haversine_km(*INDIRANAGAR, *KORAMANGALA) == pytest.approx(4.45, abs=0.1)
    assert haversine_km(*INDIRANAGAR, *INDIRANAGAR) == 0


def test_nearest_store_that_covers_the_order_wins_and_the_rest_say_why():
    stores = [store("S1", INDIRANAGAR, {"A": 1}), store("D2", KORAMANGALA),
              store("W3", WHITEFIELD), store("X4", KORAMANGALA, online=False),
              store("F5", KORAMANGALA, open_orders=4, pickers=1)]
    decision = allocate(order(), stores, Rules(radius_km=8))
    assert decision.chosen.store_id == "D2"
    reasons = {s.store_id: s.reason for s in decision.skipped}
    assert reasons["S1"] == "is short of A (needs 2, can promise 1)"
    assert reasons["W3"].startswith("does not serve PIN 560038 and is 11.")
    assert reasons["X4"] == "is offline"
    assert reasons["F5"] == "is full (4 open orders, capacity 4)"


def test_pincode_serves_beyond_the_radius_and_atp_counts_assigned_and_safety():
    far = store("W3", WHITEFIELD, {"A": 5}, pincodes={"560038"}, assigned={"A": 2})
    assert allocate(order(), [far], Rules(radius_km=1)).chosen.store_id == "W3"
    assert allocate(order(), [far], Rules(radius_km=1, safety_stock=2)).chosen is None


def test_criteria_order_changes_the_winner():
    near_busy = store("S1", INDIRANAGAR, open_orders=3, pickers=1)
    far_idle = store("D2", KORAMANGALA, priority=5)
    assert allocate(order(), [near_busy, far_idle], Rules()).chosen.store_id == "S1"
    assert allocate(order(), [near_busy, far_idle],
                    Rules(criteria=("load", "distance"))).chosen.store_id == "D2"
    assert allocate(order(), [near_busy, far_idle],
                    Rules(criteria=("priority",))).chosen.store_id == "D2"


def test_split_only_above_the_value_and_only_when_no_store_has_it_all():
    stores = [store("S1", level={"A": 2}), store("D2", KORAMANGALA, level={"B": 3})]
    wanted = order(lines=(("A", 2), ("B", 3)), value=150000)
    assert allocate(wanted, stores, Rules()).chosen is None
    decision = allocate(wanted, stores, Rules(split_above_minor=100000))
    assert decision.split and {c.store_id for c in decision.ranked} == {"S1", "D2"}
    plan = split_plan(wanted, decision, {s.id: s for s in stores}, Rules())
    assert plan == {"S1": [("A", 2)], "D2": [("B", 3)]}
    whole = store("W3", KORAMANGALA, level={"A": 9, "B": 9})
    decision = allocate(wanted, [*stores, whole], Rules(split_above_minor=100000))
    assert not decision.split and decision.chosen.store_id == "W3"


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="criteria"):
        Rules(criteria=("distance", "distance"))
    with pytest.raises(ValueError, match="criteria"):
        Rules(criteria=("cheapest",))


# --- properties ----------------------------------------------------------------------

coords = st.tuples(st.floats(12.8, 13.1), st.floats(77.5, 77.8))
skus = st.sampled_from(["A", "B", "C"])
stores_st = st.lists(
    st.builds(
        lambda i, at, level, assigned, pins, prio, online, open_, pickers: StoreView(
            id=f"S{i}", name=f"S{i}", lat=at[0], lon=at[1], pincodes=frozenset(pins),
            priority=prio, online=online, open_orders=open_, pickers=pickers, level=level,
            assigned=assigned),
        st.integers(0, 99), coords,
        st.dictionaries(skus, st.integers(-3, 12)), st.dictionaries(skus, st.integers(0, 5)),
        st.sets(st.sampled_from(["560038", "560034", "560066"]), max_size=2),
        st.integers(0, 3), st.booleans(), st.integers(0, 6), st.integers(1, 3)),
    max_size=8, unique_by=lambda s: s.id)
orders_st = st.builds(
    lambda lines, at, pin, value: OrderView(pincode=pin, lat=at[0], lon=at[1],
                                            lines=tuple(lines.items()), value_minor=value),
    st.dictionaries(skus, st.integers(1, 6), min_size=1), coords,
    st.sampled_from(["560038", "560034", "560066"]), st.integers(0, 300000))
rules_st = st.builds(
    lambda crit, radius, safety, split: Rules(criteria=tuple(crit), radius_km=radius,
                                              safety_stock=safety, split_above_minor=split),
    st.permutations(CRITERIA).flatmap(lambda p: st.integers(1, 4).map(lambda n: p[:n])),
    st.floats(0, 15), st.integers(0, 2), st.sampled_from([0, 100000]))


@settings(max_examples=300, deadline=None)
@given(orders_st, stores_st, rules_st)
def test_never_a_store_short_of_atp_outside_its_area_offline_or_full(o, stores, rules):
    decision = allocate(o, stores, rules)
    by_id = {s.id: s for s in stores}
    for cand in decision.ranked:
        s = by_id[cand.store_id]
        assert s.online and s.active and s.open_orders < s.capacity(rules)
        assert o.pincode in s.pincodes or haversine_km(o.lat, o.lon, s.lat, s.lon) <= rules.radius_km
        if not decision.split:
            assert all(s.atp(sku, rules) >= qty for sku, qty in o.lines)
    # Every store is either ranked or skipped with a reason, never both, never lost.
    ranked_ids = [c.store_id for c in decision.ranked]
    skipped_ids = [x.store_id for x in decision.skipped]
    assert sorted(ranked_ids + skipped_ids) == sorted(by_id)
    if decision.split:
        plan = split_plan(o, decision, by_id, rules)
        if plan is not None:  # every line whole at one store, within what it can promise
            for sid, lines in plan.items():
                s = by_id[sid]
                for sku in {sku for sku, _ in lines}:
                    assert sum(q for k, q in lines if k == sku) <= s.atp(sku, rules)


@settings(max_examples=200, deadline=None)
@given(orders_st, stores_st, rules_st, st.randoms())
def test_same_answer_whatever_the_order_of_the_stores(o, stores, rules, rnd):
    shuffled = list(stores)
    rnd.shuffle(shuffled)
    assert allocate(o, stores, rules) == allocate(o, shuffled, rules)


@settings(max_examples=200, deadline=None)
@given(orders_st, stores_st, rules_st)
def test_ranking_follows_the_criteria_in_order(o, stores, rules):
    ranked = allocate(o, stores, rules).ranked
    keys = [c.key(rules.criteria) for c in ranked]
    assert keys == sorted(keys)
    assert all(k[-1] == c.store_id for k, c in zip(keys, ranked, strict=True))


def test_excluded_stores_are_never_chosen():
    stores = [store("S1"), store("D2", KORAMANGALA)]
    decision = allocate(order(), stores, Rules(), exclude=frozenset({"S1"}))
    assert decision.chosen.store_id == "D2"
    assert ("S1", "was tried already for this order") in [(s.store_id, s.reason)
                                                          for s in decision.skipped]
