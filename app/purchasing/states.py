"""The purchase-order state machine. Pure: which step may follow which, and why not.

    draft -> sent -> partly_received -> received
      \\-------\\-----------\\-----> cancelled

Only a draft may be edited; what is sent or partly received counts as "on order" for
the suggested order. Receiving against an order (GRN) is not built yet: the received
states exist so the machine is whole.
"""

from __future__ import annotations

from typing import Literal

State = Literal["draft", "sent", "partly_received", "received", "cancelled"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"sent", "cancelled"}),
    "sent": frozenset({"partly_received", "received", "cancelled"}),
    "partly_received": frozenset({"received", "cancelled"}),
    "received": frozenset(),
    "cancelled": frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
ON_ORDER = frozenset({"sent", "partly_received"})

LABELS: dict[str, str] = {
    "draft": "Draft", "sent": "Sent", "partly_received": "Partly received",
    "received": "Received", "cancelled": "Cancelled",
}


class IllegalTransition(ValueError):
    """A step that does not follow; the message says what the order is and what may come."""


def check(current: str, target: str) -> None:
    for state in (current, target):
        if state not in TRANSITIONS:
            raise IllegalTransition(f"unknown purchase order state {state!r}")
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise IllegalTransition(f"the purchase order is already {LABELS[current].lower()}")
    if current in FINAL:
        raise IllegalTransition(
            f"the purchase order is {LABELS[current].lower()}; nothing more can happen to it")
    allowed = ", ".join(LABELS[s].lower() for s in sorted(TRANSITIONS[current]))
    raise IllegalTransition(
        f"a purchase order that is {LABELS[current].lower()} cannot become "
        f"{LABELS[target].lower()}; next can be: {allowed}")


def editable(state: str) -> bool:
    """Lines and the expected date change only while the order is a draft."""
    return state == "draft"


def on_order(state: str) -> bool:
    """Goods of this order are on their way (the suggestion subtracts them)."""
    return state in ON_ORDER
