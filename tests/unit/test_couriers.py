from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.hub.couriers import CourierRule, CourierState, choose_courier

RULES = [
    CourierRule("*", ("Shadowfax",)),
    CourierRule("region:East", ("Dunzo", "Porter")),
    CourierRule("5600*", ("Porter", "Shadowfax")),
    CourierRule("560034", ("Own riders", "Porter")),
]
REGIONS = {"East": ["560066", "560037"]}


def test_most_specific_rule_wins():
    assert choose_courier("560034", RULES, REGIONS, {}).courier == "Own riders"
    assert choose_courier("560038", RULES, REGIONS, {}).courier == "Porter"
    assert choose_courier("560066", RULES, REGIONS, {}).courier == "Porter"  # prefix beats region
    assert choose_courier("562125", RULES, REGIONS, {}).courier == "Shadowfax"
    east_only = [CourierRule("region:East", ("Dunzo",))]
    assert choose_courier("560037", east_only, REGIONS, {}).courier == "Dunzo"
    none = choose_courier("110001", east_only, REGIONS, {})
    assert none.courier is None and none.describe() == "no courier rule covers this PIN code"


def test_fallback_when_unavailable_or_full():
    state = {"Own riders": CourierState(available=False),
             "Porter": CourierState(open_orders=5, capacity=5)}
    choice = choose_courier("560034", RULES, REGIONS, state)
    assert choice.courier is None
    assert choice.passed_over == ("Own riders is marked unavailable",
                                  "Porter is at capacity (5/5)")
    state["Porter"] = CourierState(open_orders=4, capacity=5)
    choice = choose_courier("560034", RULES, REGIONS, state)
    assert choice.courier == "Porter"
    assert choice.describe().startswith("courier Porter (rule 560034); Own riders is marked")


@given(st.from_regex(r"[1-9][0-9]{5}", fullmatch=True),
       st.dictionaries(st.sampled_from(["Shadowfax", "Dunzo", "Porter", "Own riders"]),
                       st.builds(CourierState, st.booleans(), st.integers(0, 5),
                                 st.integers(0, 5))))
def test_chosen_courier_is_free_and_from_the_matching_rule(pincode, state):
    choice = choose_courier(pincode, RULES, REGIONS, state)
    assert choice.rule is not None  # "*" covers everything
    rule = next(r for r in RULES if r.match == choice.rule)
    if choice.courier:
        s = state.get(choice.courier, CourierState())
        assert s.available and (not s.capacity or s.open_orders < s.capacity)
        assert choice.courier in rule.couriers
        # every courier listed before it was passed over, with a reason
        assert len(choice.passed_over) == rule.couriers.index(choice.courier)
