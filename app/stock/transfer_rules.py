"""Stock transfers between stores, the pure part: the state machine, what a copy of a
transfer does when the other side reports a step, the bounds of a request, and how a
receipt with differences is spread over the batches that left. No I/O here.

    requested -> approved -> picked -> dispatched -> received
        \\-----------\\----------\\----> cancelled

The hub approves (or raises the transfer already approved); the source store picks and
dispatches (stock leaves it then); the destination receives (stock enters it then).
Goods that left cannot be called back by a cancel: a dispatch the source reports after
HQ cancelled still stands (`after_report`), and a cancel that reaches a store after it
dispatched changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.core.i18n import N_, _

State = Literal["requested", "approved", "picked", "dispatched", "received", "cancelled"]
STATES: tuple[str, ...] = ("requested", "approved", "picked", "dispatched", "received",
                           "cancelled")
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"approved", "cancelled"}),
    "approved": frozenset({"picked", "cancelled"}),
    "picked": frozenset({"dispatched", "cancelled"}),
    "dispatched": frozenset({"received"}),
    "received": frozenset(),
    "cancelled": frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = frozenset({"requested", "approved", "picked"})  # nothing has left yet: cancellable
IN_TRANSIT = "dispatched"
_RANK = {"requested": 0, "approved": 1, "picked": 2, "dispatched": 3, "received": 4}

LABELS: dict[str, str] = {  # English (the hub's pages); a store's screens say _(label(...))
    "requested": N_("Waiting for HQ"), "approved": N_("Approved: to pick"),
    "picked": N_("Picked"), "dispatched": N_("On its way"), "received": N_("Received"),
    "cancelled": N_("Cancelled"),
}
# check_store's refusal, by what it checked (one whole sentence each, to translate).
_BAD_STORE = {
    "store": N_("store: a store id is a letter, then up to 7 letters or digits (like S1 or D2)"),
    "from": N_("from: a store id is a letter, then up to 7 letters or digits (like S1 or D2)"),
    "to": N_("to: a store id is a letter, then up to 7 letters or digits (like S1 or D2)"),
}

MAX_LINES = 200
MAX_QUANTITY = 10_000_000  # base units (grams of a bulk item: 10 t is already absurd)
MAX_NOTE = 200
SKU = re.compile(r"^[A-Z0-9][A-Z0-9._/-]{0,39}$")
STORE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")
NUMBER = re.compile(r"^[A-Z][A-Z0-9]{0,7}-T[0-9]{1,9}$")
DIFFERENCE_REASONS = ("short", "damaged", "excess", "wrong item")


class TransferRuleError(ValueError):
    """A step or request the rules refuse; the message is for the person who tried."""


def label(state: str) -> str:
    return LABELS.get(state, state)


def check(current: str, target: str) -> None:
    """Raise TransferRuleError unless `target` may follow `current`."""
    for state in (current, target):
        if state not in TRANSITIONS:
            raise TransferRuleError(f"unknown transfer state {state!r}")
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise TransferRuleError(_("the transfer is already %(state)s")
                                % {"state": _said(current)})
    if current in FINAL:
        raise TransferRuleError(_("the transfer is %(state)s; nothing more can happen to it")
                                % {"state": _said(current)})
    allowed = ", ".join(_said(s) for s in sorted(TRANSITIONS[current]))
    raise TransferRuleError(_("a transfer that is %(state)s cannot become %(target)s; next "
                              "can be: %(allowed)s")
                            % {"state": _said(current), "target": _said(target),
                               "allowed": allowed})


def _said(state: str) -> str:
    """A state's label inside a sentence, in the language in force."""
    return _(label(state)).lower()


def after_report(current: str, reported: str) -> str | None:
    """A copy of a transfer (the hub's, or the other store's) hears that it became
    `reported`: the state to take, or None when the report changes nothing (a repeat,
    or older news than the copy has). Forward steps may skip states (the copy may have
    missed one while a link was down); `dispatched` and `received` stand even over a
    cancel, since the goods did move; a cancel never undoes a dispatch."""
    if current not in TRANSITIONS or reported not in TRANSITIONS:
        raise TransferRuleError(f"unknown transfer state {current!r} or {reported!r}")
    if current == reported:
        return None
    if reported == "cancelled":
        return "cancelled" if current in OPEN else None
    if current == "cancelled":
        return reported if reported in ("dispatched", "received") else None
    return reported if _RANK[reported] > _RANK[current] else None


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


def check_store(store_id: str, what: str = "store") -> str:
    value = store_id.strip().upper()
    if not STORE.match(value):
        if what in _BAD_STORE:
            raise TransferRuleError(_(_BAD_STORE[what]))
        raise TransferRuleError(f"{what}: a store id is a letter, then up to 7 letters or "
                                "digits (like S1 or D2)")
    return value


def check_request(source: str, dest: str, lines: Sequence[Line]) -> list[Line]:
    """A transfer request's stores and lines, checked: two different stores, 1 to
    MAX_LINES lines, each SKU once with a whole quantity of 1 to MAX_QUANTITY.
    Returns the lines sorted by SKU."""
    source, dest = check_store(source, "from"), check_store(dest, "to")
    if source == dest:
        raise TransferRuleError(_("a transfer needs two different stores"))
    if not lines:
        raise TransferRuleError(_("a transfer needs at least one product"))
    if len(lines) > MAX_LINES:
        raise TransferRuleError(_("at most %(most)s products in one transfer")
                                % {"most": MAX_LINES})
    seen: set[str] = set()
    out = []
    for line in lines:
        sku = line.sku.strip().upper()
        if not SKU.match(sku):
            raise TransferRuleError(_("%(sku)s is not a SKU") % {"sku": repr(line.sku[:40])})
        if sku in seen:
            raise TransferRuleError(_("%(sku)s is listed twice; put it once with the total")
                                    % {"sku": sku})
        seen.add(sku)
        check_quantity(line.quantity, sku)
        out.append(Line(sku, line.quantity))
    return sorted(out, key=lambda x: x.sku)


def check_quantity(quantity: object, sku: str, *, zero_ok: bool = False) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise TransferRuleError(_("%(sku)s: the quantity must be a whole number") % {"sku": sku})
    low = 0 if zero_ok else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise TransferRuleError(_("%(sku)s: the quantity must be from %(low)s to %(high)s")
                                % {"sku": sku, "low": low, "high": f"{MAX_QUANTITY:,}"})
    return quantity


def parse_quantity(text: str, sku: str, *, zero_ok: bool = False) -> int:
    """A quantity typed on a phone: digits only (no 1e9, no -3, no 2.5, no NaN)."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise TransferRuleError(_("%(sku)s: type the quantity as a whole number, like 12")
                                % {"sku": sku})
    return check_quantity(int(text), sku, zero_ok=zero_ok)


def spread_received(sent: Sequence[int], received: int) -> list[int]:
    """How a line's received quantity is booked over the batches that left (in the
    order they left: earliest expiry first): each batch is filled up to what was sent,
    so a shortage falls on the last batches; an excess goes to the last batch."""
    if received < 0 or any(q < 0 for q in sent):
        raise TransferRuleError("quantities cannot be below zero")
    if not sent:
        return []
    out, left = [], received
    for q in sent:
        take = min(q, left)
        out.append(take)
        left -= take
    out[-1] += left
    return out


@dataclass(frozen=True)
class Difference:
    sku: str
    sent: int
    received: int

    @property
    def kind(self) -> str:
        return "short" if self.received < self.sent else "excess"

    @property
    def quantity(self) -> int:
        return abs(self.received - self.sent)


def differences(sent: dict[str, int], received: dict[str, int]) -> list[Difference]:
    """Lines where what arrived is not what left (SKUs in either), by SKU."""
    return [Difference(sku, sent.get(sku, 0), received.get(sku, 0))
            for sku in sorted(sent.keys() | received.keys())
            if sent.get(sku, 0) != received.get(sku, 0)]


def more_than_expected(expected: dict[str, int], typed: dict[str, int]) -> list[Difference]:
    """Lines where more was typed than asked (picking) or sent (receiving): usually a
    slip of the thumb (100 for 10), so the person confirms before it is booked."""
    return [Difference(sku, expected.get(sku, 0), got) for sku, got in sorted(typed.items())
            if got > expected.get(sku, 0)]


def more_question(over: Sequence[Difference], what: str) -> str:
    """'ATTA-5KG: 100 typed, 10 asked. Check the numbers ...' for `what` = asked | sent."""
    each = (_("%(sku)s: %(typed)s typed, %(expected)s asked") if what == "asked" else
            _("%(sku)s: %(typed)s typed, %(expected)s sent"))
    shown = "; ".join(each % {"sku": d.sku, "typed": f"{d.received:,}", "expected": f"{d.sent:,}"}
                      for d in over[:5])
    more = " " + _("and %(num)s more") % {"num": len(over) - 5} if len(over) > 5 else ""
    question = (_("More than asked: %(lines)s. Check the numbers; if they are right, tick "
                  "\"Yes, more than asked\" and press the button again.") if what == "asked" else
                _("More than sent: %(lines)s. Check the numbers; if they are right, tick "
                  "\"Yes, more than sent\" and press the button again."))
    return question % {"lines": shown + more}


def transfer_number(prefix: str, n: int) -> str:
    """S1-T00012 for a store's 12th transfer, HQ-T00003 for the hub's third."""
    return f"{prefix}-T{n:05d}"


def parse_lines(text: str) -> list[Line]:
    """Lines typed as "SKU quantity", one a line ("MILK 8", "SALT, 5"); blank lines
    skipped. Checked with check_request by the caller."""
    if len(text) > 20_000 or "\x00" in text:
        raise TransferRuleError(_("the list is too long or has a character that cannot be kept"))
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        parts = raw.replace(",", " ").replace("\t", " ").split()
        if not parts:
            continue
        if len(parts) != 2:
            raise TransferRuleError(_("line %(n)s: write the SKU, then the quantity (MILK 8)")
                                    % {"n": n})
        out.append(Line(parts[0].upper()[:41], parse_quantity(parts[1], parts[0][:40])))
        if len(out) > MAX_LINES:
            raise TransferRuleError(_("at most %(most)s products in one transfer")
                                    % {"most": MAX_LINES})
    return out
