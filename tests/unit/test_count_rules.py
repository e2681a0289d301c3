"""Count variance policy (issue #17): app/stock/count_rules.py."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.stock.count_rules import (
    LENIENCY,
    CountPolicy,
    CountRuleError,
    decide,
    variance_value,
)

POLICY = CountPolicy(recount_bp=500, recount_units=5, approval_minor=50_000)


def test_matching_count_is_accepted_even_for_a_costly_item():
    got = decide(10, [10], unit_cost_minor=10_000_000, policy=POLICY)
    assert (got.action, got.variance, got.value_minor) == ("accept", 0, 0)


def test_small_difference_is_accepted():
    got = decide(200, [196], unit_cost_minor=1_000, policy=POLICY)  # 4 units, 2 %
    assert (got.action, got.variance, got.value_minor) == ("accept", -4, 4_000)


@pytest.mark.parametrize(
    ("expected", "counted"),
    [(200, 194), (20, 18), (0, 1), (-3, 0)],  # 6 units; 10 %; anything on an empty book
)
def test_large_difference_asks_for_a_recount(expected, counted):
    assert decide(expected, [counted], 100, POLICY).action == "recount"


def test_a_recount_that_agrees_settles_it_however_large():
    assert decide(200, [150, 150], 100, POLICY).action == "accept"
    assert decide(200, [150, 170, 150], 100, POLICY).action == "accept"  # agrees with the first


def test_agreeing_counts_still_need_approval_above_the_value():
    got = decide(200, [150, 150], 1_001, POLICY)  # 50 x ₹10.01 = ₹500.50
    assert got.action == "approve" and got.value_minor == 50_050
    assert "500.50" in got.reason
    assert decide(200, [150, 150], 1_000, POLICY).action == "accept"  # exactly ₹500: not above


def test_a_costly_small_difference_needs_approval_without_a_recount():
    assert decide(100, [99], 60_000, POLICY).action == "approve"


def test_counts_that_never_agree_go_to_the_manager():
    assert decide(200, [150, 160], 1, POLICY).action == "recount"
    got = decide(200, [150, 160, 170], 1, POLICY)
    assert got.action == "approve" and "3 counts disagree" in got.reason
    with pytest.raises(CountRuleError, match="at most 3 counts"):
        decide(200, [150, 160, 170, 180], 1, POLICY)


def test_weighed_goods_agree_within_a_few_grams_and_cost_per_kg():
    weighed = CountPolicy(recount_bp=200, recount_units=50, approval_minor=50_000, agree_units=5)
    assert decide(10_000, [9_000], 12_000, weighed, cost_per=1000).action == "recount"
    got = decide(10_000, [9_000, 9_004], 12_000, weighed, cost_per=1000)
    assert (got.action, got.value_minor) == ("accept", 11_952)  # 996 g at ₹120/kg


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((10, [], 1), "no count"),
        ((10, [-1], 1), "counted quantity"),
        ((10, [1.5], 1), "counted quantity"),
        ((10, [True], 1), "counted quantity"),
        ((1.0, [1], 1), "book quantity"),
        ((10, [1], -5), "unit cost"),
    ],
)
def test_bad_counts_are_refused(args, words):
    with pytest.raises(CountRuleError, match=words):
        decide(*args)


@pytest.mark.parametrize(
    "kwargs",
    [{"recount_bp": -1}, {"recount_units": -1}, {"approval_minor": -1}, {"max_counts": 1}],
)
def test_bad_policies_are_refused(kwargs):
    with pytest.raises(CountRuleError):
        CountPolicy(**kwargs)


def test_variance_value_rounds_half_up_and_refuses_zero_quantity():
    assert variance_value(-1, 5, 2) == 3
    with pytest.raises(CountRuleError):
        variance_value(1, 5, 0)


policies = st.builds(
    CountPolicy,
    recount_bp=st.integers(0, 5_000),
    recount_units=st.integers(0, 50),
    approval_minor=st.integers(0, 100_000),
    agree_units=st.integers(0, 5),
    max_counts=st.integers(2, 4),
)
expected_qty = st.integers(-50, 1_000)
costs = st.integers(0, 100_000)


@given(expected_qty, costs, policies)
def test_zero_variance_is_always_accepted(expected, cost, policy):
    counted = max(expected, 0)
    if counted != expected:
        return
    assert decide(expected, [counted], cost, policy).action == "accept"


@given(expected_qty, st.integers(0, 2_000), st.integers(0, 2_000), costs, policies, st.booleans())
def test_monotone_in_variance(expected, a, b, cost, policy, recounted):
    """A count further from the book never gets a more lenient decision, for a first
    count and for a recount that agrees with the first."""
    if abs(a - expected) > abs(b - expected):
        a, b = b, a

    def counts(n):
        return [n, n] if recounted else [n]

    near = decide(expected, counts(a), cost, policy)
    far = decide(expected, counts(b), cost, policy)
    assert LENIENCY[near.action] <= LENIENCY[far.action]
    assert near.value_minor <= far.value_minor


@given(expected_qty, st.lists(st.integers(0, 2_000), min_size=1, max_size=3), costs, policies)
def test_decision_invariants(expected, counted, cost, policy):
    if len(counted) > policy.max_counts:
        return
    got = decide(expected, counted, cost, policy)
    assert got.variance == counted[-1] - expected
    assert got.value_minor == variance_value(got.variance, cost)
    if got.value_minor > policy.approval_minor:
        assert got.action != "accept"  # nothing worth more than Z posts without a manager
    if got.action == "recount":
        assert len(counted) < policy.max_counts  # never asks for one count too many
    assert got.reason
