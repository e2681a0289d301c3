"""The order state machine. Pure: which step may follow which, and why not.

    received -> accepted -> picking -> picked -> packed -> ready -> handed_over -> delivered
         \\-> rejected      (any state before handed_over) -> cancelled

A rejected order goes back to the hub for another store; a cancelled one may have
stock to put back (picking or later). Delivery is reported by the courier side.
"""

from __future__ import annotations

from typing import Literal

from app.core.i18n import N_

State = Literal["received", "accepted", "picking", "picked", "packed", "ready", "handed_over",
                "delivered", "rejected", "cancelled"]

FLOW: tuple[State, ...] = ("received", "accepted", "picking", "picked", "packed", "ready",
                           "handed_over", "delivered")
FINAL: frozenset[State] = frozenset({"delivered", "rejected", "cancelled"})
CANCELLABLE: frozenset[State] = frozenset(FLOW[: FLOW.index("handed_over")])

TRANSITIONS: dict[State, frozenset[State]] = {
    "received": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"picking", "cancelled"}),
    "picking": frozenset({"picked", "cancelled", "accepted"}),  # accepted: picker let go
    "picked": frozenset({"packed", "cancelled"}),
    "packed": frozenset({"ready", "cancelled"}),
    "ready": frozenset({"handed_over", "cancelled"}),
    "handed_over": frozenset({"delivered"}),
    "delivered": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
}

# Marked for the catalogue (N_): screens show them through _().
LABELS: dict[State, str] = {
    "received": N_("New"), "accepted": N_("Accepted"), "picking": N_("Picking"),
    "picked": N_("Picked"), "packed": N_("Packed"), "ready": N_("Ready for rider"),
    "handed_over": N_("With rider"), "delivered": N_("Delivered"),
    "rejected": N_("Rejected"), "cancelled": N_("Cancelled"),
}


class IllegalTransition(ValueError):
    """A step that does not follow; the message says what the order is and what may come."""


def check(current: str, target: str) -> None:
    if current not in TRANSITIONS:
        raise IllegalTransition(f"unknown order state {current!r}")
    if target not in TRANSITIONS:
        raise IllegalTransition(f"unknown order state {target!r}")
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise IllegalTransition(f"the order is already {LABELS[current].lower()}")
    if current in FINAL:
        raise IllegalTransition(
            f"the order is {LABELS[current].lower()}; nothing more can happen to it")
    allowed = ", ".join(LABELS[s].lower() for s in sorted(TRANSITIONS[current]))
    raise IllegalTransition(
        f"an order that is {LABELS[current].lower()} cannot become "
        f"{LABELS[target].lower()}; next can be: {allowed}")


def holds_reservation(state: str) -> bool:
    """Stock stays reserved from acceptance until it leaves at handover (or is released)."""
    return state in ("accepted", "picking", "picked", "packed", "ready")
