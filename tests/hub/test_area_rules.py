"""The pure parts intake leans on (issue #15): `allocation.stores_in_area` says which
stores a placement reads stock, load and liveness for, so it must be exactly the
stores `allocate` judges on more than their area; `couriers.rule_for` says which
couriers' open orders need counting."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings

from app.hub.allocation import Rules, allocate, stores_in_area
from app.hub.couriers import CourierRule, choose_courier, rule_for
from tests.unit.test_allocation import (
    INDIRANAGAR,
    WHITEFIELD,
    order,
    orders_st,
    rules_st,
    store,
    stores_st,
)


@settings(max_examples=300, deadline=None)
@given(orders_st, stores_st, rules_st)
def test_the_area_is_every_store_allocate_looks_at_beyond_the_area(o, stores, rules):
    area = set(stores_in_area(o, stores, rules))
    decision = allocate(o, stores, rules)
    outside = {x.store_id for x in decision.skipped if x.why in ("area", "inactive")}
    assert area == {s.id for s in stores} - outside
    # What a placement does not read for the others (stock, load, link) cannot change
    # the decision: blank it out and decide again.
    blank = [s if s.id in area else replace(s, level={}, assigned={}, open_orders=0,
                                            online=not s.online)
             for s in stores]
    again = allocate(o, blank, rules)
    assert again.ranked == decision.ranked and again.split == decision.split


def test_a_far_store_is_out_of_the_area_whether_or_not_it_is_online():
    """Only the area's links are read, so the area is judged first: a far store that
    is offline is counted with the far stores, a near one is said to be offline."""
    stores = [store("S1", INDIRANAGAR, online=False), store("W3", WHITEFIELD, online=False)]
    decision = allocate(order(), stores, Rules(radius_km=8))
    assert {x.store_id: x.why for x in decision.skipped} == {"S1": "offline", "W3": "area"}


def test_the_rule_for_a_pin_code_is_the_one_choose_courier_uses():
    rules = [CourierRule("*", ("A",)), CourierRule("5600*", ("B", "C")),
             CourierRule("560034", ("D",)), CourierRule("region:East", ("E",))]
    regions = {"East": ["560066"]}
    assert rule_for("560034", rules, regions).couriers == ("D",)
    assert rule_for("560066", rules, regions).couriers == ("B", "C")  # prefix beats region
    assert rule_for("400001", rules, regions).couriers == ("A",)
    assert rule_for("400001", rules[1:], regions) is None
    for pin in ("560034", "560066", "400001", "560001"):
        assert choose_courier(pin, rules, regions, {}).rule == rule_for(pin, rules,
                                                                          regions).match
