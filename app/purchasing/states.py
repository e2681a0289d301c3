"""The purchase-order state machine. Pure: which step may follow which, and why not.

    draft -> sent -> partly_received -> received
      \\-------\\-----------\\-----> cancelled

Only a draft may be edited; what is sent or partly received counts as "on order" for
the suggested order. Receiving against an order (GRN) is not built yet: the received
states exist so the machine is whole.
"""

from __future__ import annotations

from typing import Literal

from app.core.i18n import N_, _

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

# English, translated where shown (templates: _(labels[status]); state_word).
LABELS: dict[str, str] = {
    "draft": N_("Draft"), "sent": N_("Sent"), "partly_received": N_("Partly received"),
    "received": N_("Received"), "cancelled": N_("Cancelled"),
}


def state_word(state: str) -> str:
    """A state inside a sentence, in the language in force ("partly received")."""
    return _(LABELS[state]).lower()


class IllegalTransition(ValueError):
    """A step that does not follow; the message says what the order is and what may come."""


def check(current: str, target: str) -> None:
    for state in (current, target):
        if state not in TRANSITIONS:
            raise IllegalTransition(_("unknown purchase order state %(state)s")
                                    % {"state": repr(state)})
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise IllegalTransition(_("the purchase order is already %(state)s")
                                % {"state": state_word(current)})
    if current in FINAL:
        raise IllegalTransition(
            _("the purchase order is %(state)s; nothing more can happen to it")
            % {"state": state_word(current)})
    allowed = ", ".join(state_word(s) for s in sorted(TRANSITIONS[current]))
    raise IllegalTransition(
        _("a purchase order that is %(state)s cannot become %(target)s; next can be: "
          "%(allowed)s") % {"state": state_word(current), "target": state_word(target),
                            "allowed": allowed})


def editable(state: str) -> bool:
    """Lines and the expected date change only while the order is a draft."""
    return state == "draft"


def on_order(state: str) -> bool:
    """Goods of this order are on their way (the suggestion subtracts them)."""
    return state in ON_ORDER
