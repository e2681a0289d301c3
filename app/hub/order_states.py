"""The hub's order state machine. Pure: which status may follow which, and why not.

    new -> assigned -> accepted -> picking -> picked -> packed -> ready -> handed_over
           |  ^  \\                                                          |     |
           |  |   `-> (store rejects or cancels, timeout, a person moves it)  v     v
           v  |       assigned again / split / unfulfillable           delivered  undelivered
      unfulfillable (a person sends it to a store, or cancels it)

An order the hub routes follows its store's steps (the store's own machine is
app/orders/states.py); the hub only hears of them, so it takes a forward step that
skips some (a split order's parts jump its progress) and one step back, picking ->
accepted (the picker let go). Before handover a store may give an order back (it is
routed again: assigned, split or unfulfillable) and a person or the channel may
cancel it. Once with a rider (handed_over) it can only be delivered, or come back
undelivered (issue #19: the courier or an operator says the customer did not take it;
the hub then sends the store that packed it a return of kind `rto` for every line,
app/hub/returns.py, which takes an order there only from handed_over; a split order may
jump to it from where its parts let it jump to delivered). `undelivered` is final like
`delivered`: the bags' way back is the return's, not the order's. A delivered order
may still have returns of its own (the channel asks); they never change its status.
A split order (`split`) shows how far its slowest live part has got (`parent_status`);
once every live part is delivered or undelivered it is undelivered if any part is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from app.core.i18n import N_

State = Literal["new", "assigned", "accepted", "picking", "picked", "packed", "ready",
                "handed_over", "delivered", "cancelled", "unfulfillable", "split",
                "undelivered"]

# The store's steps as the hub hears them, in order.
STORE_STEPS: tuple[State, ...] = ("accepted", "picking", "picked", "packed", "ready",
                                  "handed_over", "delivered")
# Statuses that hold stock at the store (promised, not yet handed over): the units of
# these orders are taken off the store's available-to-promise.
HOLDING: tuple[State, ...] = ("assigned", "accepted", "picking", "picked", "packed", "ready")
OPEN = HOLDING  # orders that count against a store's picking capacity
FINAL: frozenset[State] = frozenset({"delivered", "cancelled", "undelivered"})
# A person may move an order to another store only before picking starts.
MOVABLE_BY_HAND: frozenset[State] = frozenset({"unfulfillable", "assigned", "new", "accepted"})
# A split order shows how far its slowest part has got, in this order.
PROGRESS: tuple[State, ...] = ("assigned", *STORE_STEPS)
_BEFORE_HANDOVER: tuple[State, ...] = ("accepted", "picking", "picked", "packed", "ready")
_ROUTED_AGAIN: frozenset[State] = frozenset({"assigned", "split", "unfulfillable", "cancelled"})


def _forward(state: State) -> frozenset[State]:
    return frozenset(STORE_STEPS[STORE_STEPS.index(state) + 1:])


TRANSITIONS: dict[State, frozenset[State]] = {
    "new": frozenset({"assigned", "split", "unfulfillable", "cancelled"}),
    # assigned -> assigned: moved to another store (the channel hears the new store)
    "assigned": _ROUTED_AGAIN | frozenset(STORE_STEPS),
    **{state: _ROUTED_AGAIN | _forward(state) for state in _BEFORE_HANDOVER},
    "handed_over": frozenset({"delivered"}),
    "delivered": frozenset(),
    "undelivered": frozenset(),
    "cancelled": frozenset(),
    "unfulfillable": frozenset({"assigned", "cancelled"}),
    "split": frozenset({*STORE_STEPS, "cancelled"}),
}
# Undelivered is as far on as delivered (the rider was at the door): a split order whose
# parts jump its progress may reach it from wherever it may reach delivered. One order is
# marked undelivered only from handed_over (app/hub/returns.py checks that).
for _state, _next in list(TRANSITIONS.items()):
    if "delivered" in _next:
        TRANSITIONS[_state] = _next | {"undelivered"}
# The picker let go: the store's picking -> accepted.
TRANSITIONS["picking"] = TRANSITIONS["picking"] | {"accepted"}
# A split order goes back to `split` when a part is routed again.
for _state in _BEFORE_HANDOVER:
    TRANSITIONS[_state] = TRANSITIONS[_state] | {"split"}

LABELS: dict[str, str] = {
    "new": N_("New"), "assigned": N_("Sent to store"), "accepted": N_("Accepted"),
    "picking": N_("Picking"), "picked": N_("Picked"), "packed": N_("Packed"),
    "ready": N_("Ready for rider"), "handed_over": N_("With rider"),
    "delivered": N_("Delivered"), "cancelled": N_("Cancelled"),
    "unfulfillable": N_("Needs a person"), "split": N_("Split between stores"),
    "undelivered": N_("Not delivered (coming back)")}
# What a channel (and so its customer) is told: no store's name, distance or stock
# (issue #13 item 5). The routing log with its reasons is for hub staff only.
CUSTOMER_TEXT: dict[str, str] = {
    "received": "Order received", "new": "Order received", "assigned": "Order received",
    "accepted": "Confirmed", "picking": "Being packed", "picked": "Being packed",
    "packed": "Packed", "ready": "Packed, waiting for the rider",
    "handed_over": "Out for delivery", "delivered": "Delivered", "cancelled": "Cancelled",
    "unfulfillable": "Delayed: we are finding a store for it",
    "split": "Coming in more than one bag, from more than one store",
    "undelivered": "Not delivered: returned to the store"}


class IllegalMove(ValueError):
    """A status that may not follow the order's current one; the message says why."""


def can(current: str, target: str) -> bool:
    return current in TRANSITIONS and target in TRANSITIONS[current]


def check(current: str, target: str) -> None:
    """Raise IllegalMove unless `target` may follow `current`."""
    if current not in TRANSITIONS:
        raise IllegalMove(f"unknown hub order status {current!r}")
    if target not in TRANSITIONS:
        raise IllegalMove(f"unknown hub order status {target!r}")
    if can(current, target):
        return
    if current in FINAL:
        raise IllegalMove(f"the order is {LABELS[current].lower()}; nothing more can "
                          "happen to it")
    allowed = ", ".join(LABELS[s].lower() for s in sorted(TRANSITIONS[current]))
    raise IllegalMove(f"an order that is {LABELS[current].lower()} cannot become "
                      f"{LABELS[target].lower()}; next can be: {allowed}")


def parent_status(parts: Iterable[str]) -> State:
    """A split order's status from its parts': cancelled when every part is, undelivered
    when every live part has reached the customer's door and one came back, else the
    slowest live part's step, or `split` while a part waits for a store or a person."""
    live = [st for st in parts if st != "cancelled"]
    if not live:
        return "cancelled"
    if "undelivered" in live:  # as far on as delivered: the rider was at the door
        if all(st in ("delivered", "undelivered") for st in live):
            return "undelivered"
        live = ["delivered" if st == "undelivered" else st for st in live]
    if not all(st in PROGRESS for st in live):
        return "split"
    slowest = min(live, key=PROGRESS.index)
    # `slowest` is a State (every live status is in PROGRESS, checked above); mypy cannot tell
    return "split" if slowest == "assigned" else slowest  # type: ignore[return-value]
