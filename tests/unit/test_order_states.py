from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.orders.states import (
    CANCELLABLE,
    FINAL,
    FLOW,
    TRANSITIONS,
    IllegalTransition,
    check,
    holds_reservation,
)

STATES = sorted(TRANSITIONS)


def test_the_happy_path_is_allowed_step_by_step():
    for current, target in zip(FLOW, FLOW[1:], strict=False):
        check(current, target)


@pytest.mark.parametrize(("current", "target", "message"), [
    ("received", "picking", "cannot become picking; next can be: accepted, cancelled, rejected"),
    ("delivered", "cancelled", "nothing more can happen"),
    ("handed_over", "cancelled", "cannot become cancelled"),
    ("ready", "ready", "already ready for rider"),
    ("rejected", "accepted", "nothing more can happen"),
    ("picked", "flying", "unknown order state"),
])
def test_illegal_steps_are_refused_with_a_reason(current, target, message):
    with pytest.raises(IllegalTransition, match=message):
        check(current, target)


def test_cancel_is_possible_until_handover_only():
    for state in STATES:
        if state in CANCELLABLE:
            check(state, "cancelled")
        else:
            with pytest.raises(IllegalTransition):
                check(state, "cancelled")


@given(st.lists(st.sampled_from(STATES), min_size=1, max_size=20))
def test_any_accepted_walk_never_leaves_a_final_state(targets):
    state = "received"
    for target in targets:
        try:
            check(state, target)
        except IllegalTransition:
            continue
        assert state not in FINAL  # nothing ever moves out of a final state
        state = target
    assert state in TRANSITIONS


@given(st.sampled_from(STATES))
def test_reservation_is_held_exactly_between_accept_and_handover(state):
    expected = FLOW.index("accepted") <= FLOW.index(state) < FLOW.index("handed_over") if (
        state in FLOW) else False
    assert holds_reservation(state) == expected
