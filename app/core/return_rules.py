"""Returns of online orders (issue #19): how much of an order line may be refunded, what
each graded unit earns back, and when a manager must approve. Pure (no I/O): the hub
(app/hub/returns*.py) asks `refundable_minor` when it routes a return, the store's
returns desk (app/returns/) asks `line_refund` and `decide` when a return is finished,
and the till's refunds prorate with the same `prorated_share` (pos/till_rules.refund_share).

Money is integer paise. Every result is between zero and what the customer paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.core.i18n import N_

# A unit at the returns desk is graded as one of these.
#   resellable        back on the shelf (the put-away rule suggests the bin); refunded
#   damaged           arrived damaged / broken in transit (our fault): written off; refunded
#   customer_damaged  damaged by the customer (opened, used, broken after delivery):
#                     written off; NOT refunded
#   expired           past its date (it was sold that way or reached the customer so):
#                     written off with reason `expired`; refunded
#   wrong_item        the unit in the bag is not what was sold (another product, a swap):
#                     not our stock, so no ledger move; NOT refunded; flagged for a manager
GRADES = ("resellable", "damaged", "customer_damaged", "expired", "wrong_item")
REFUNDED_GRADES = frozenset({"resellable", "damaged", "expired"})
# Grades whose units leave the books as a write-off, with the ledger reason to use.
WRITE_OFF_REASON = {"damaged": "damaged", "customer_damaged": "damaged", "expired": "expired"}
# Grades a manager must look at before the return can finish.
FLAGGED_GRADES = frozenset({"wrong_item"})

# Units whose price is per kilogram / litre while the quantity is in grams / ml.
PER_THOUSAND_UNITS = frozenset({"kg", "litre"})

# The most one line can be worth: far above any grocery line, far below 2**63.
LINE_CAP_MINOR = 10**13


class ReturnRuleError(ValueError):
    """A figure no return can have (negative, more than was sold ...); nothing changes."""


def prorated_share(total: int, of_quantity: int, quantity: int,
                   taken_quantity: int = 0, taken_amount: int = 0) -> int:
    """The share of `total` (what `of_quantity` units cost together) that `quantity` more
    units take back, after `taken_quantity` units took `taken_amount` before. The last
    units take exactly what is left; earlier ones their share rounded down, so shares
    never add up to more than `total`. The till's refunds and online returns both use it.
    """
    left_quantity = of_quantity - taken_quantity
    if of_quantity <= 0 or total < 0 or not 0 < quantity <= left_quantity:
        raise ReturnRuleError("quantity must be more than zero and at most what is left")
    if not 0 <= taken_amount <= total:
        raise ReturnRuleError("what was given back before is more than the line cost")
    if quantity == left_quantity:
        return total - taken_amount
    return min(total * quantity // of_quantity, total - taken_amount)


def line_value(unit_price_minor: int, quantity: int, unit: str = "pcs") -> int:
    """What `quantity` base units cost at `unit_price_minor` (per kg/litre for weighed
    goods, whose quantity is in grams/ml), rounded down to the paisa."""
    if unit_price_minor < 0 or quantity < 0:
        raise ReturnRuleError("price and quantity cannot be negative")
    if unit in PER_THOUSAND_UNITS:
        return unit_price_minor * quantity // 1000
    return unit_price_minor * quantity


@dataclass(frozen=True)
class PaidLine:
    """An order line as returns see it: what the customer paid for all of it (after the
    line's discounts) and what earlier returns of it took back already."""
    quantity: int           # base units delivered
    paid_minor: int         # what the whole line cost the customer, discounts applied
    returned_quantity: int = 0
    refunded_minor: int = 0

    @classmethod
    def priced(cls, unit_price_minor: int, quantity: int, unit: str = "pcs",
               discount_minor: int = 0, returned_quantity: int = 0,
               refunded_minor: int = 0) -> PaidLine:
        """A line from its unit price and the discount given on the whole line."""
        gross = line_value(unit_price_minor, quantity, unit)
        if discount_minor < 0:
            raise ReturnRuleError("a discount cannot be negative")
        return cls(quantity, max(0, gross - discount_minor), returned_quantity, refunded_minor)


def refundable_minor(line: PaidLine, quantity: int) -> int:
    """The most a return of `quantity` more units of `line` may refund: their prorated
    share of what was paid; the return that takes the line's last units gets exactly
    what is left, so all returns of a line add up to exactly what was paid."""
    if line.paid_minor > LINE_CAP_MINOR:
        raise ReturnRuleError("the line is worth more than any order line can be")
    return prorated_share(line.paid_minor, line.quantity, quantity,
                          line.returned_quantity, line.refunded_minor)


@dataclass(frozen=True)
class GradedLine:
    """One line of a return after grading: what was expected, and the units per grade."""
    sku: str
    expected: int
    refundable_minor: int
    graded: dict[str, int]

    @property
    def received(self) -> int:
        return sum(self.graded.values())


def check_graded(line: GradedLine) -> None:
    """A graded line no desk can produce is refused (unknown grade, negative counts, more
    units than expected, a refundable amount out of range)."""
    if not 0 < line.expected <= LINE_CAP_MINOR:
        raise ReturnRuleError(f"{line.sku}: the expected quantity is out of range")
    if not 0 <= line.refundable_minor <= LINE_CAP_MINOR:
        raise ReturnRuleError(f"{line.sku}: the refundable amount is out of range")
    for grade, count in line.graded.items():
        if grade not in GRADES:
            raise ReturnRuleError(f"{line.sku}: unknown grade {grade!r}")
        if count < 0:
            raise ReturnRuleError(f"{line.sku}: a count cannot be negative")
    if line.received > line.expected:
        raise ReturnRuleError(f"{line.sku}: {line.received} graded but only "
                              f"{line.expected} expected")


def refunded_units(line: GradedLine) -> int:
    return sum(count for grade, count in line.graded.items() if grade in REFUNDED_GRADES)


def line_refund(line: GradedLine) -> int:
    """The refund for one graded line: the prorated share of its refundable amount for the
    units whose grade earns a refund (all of it when every expected unit does); never
    more than refundable, never negative."""
    check_graded(line)
    units = refunded_units(line)
    if units == 0:
        return 0
    return prorated_share(line.refundable_minor, line.expected, units)


@dataclass(frozen=True)
class Decision:
    refunds: tuple[int, ...]   # per line, in the order given
    total_minor: int
    needs_approval: bool
    why: str                   # plain words for the desk: why a manager is needed


def decide(lines: Iterable[GradedLine], approval_above_minor: int) -> Decision:
    """The refund of a whole return and whether it may go through on its own: automatic
    unless the refund is above `approval_above_minor` (config
    `returns.approval_above_rupees`) or a unit was flagged as the wrong item."""
    graded = tuple(lines)
    refunds = tuple(line_refund(line) for line in graded)
    total = sum(refunds)
    reasons = []
    if total > approval_above_minor:
        reasons.append(N_("the refund is above the limit for automatic refunds"))
    if any(line.graded.get(grade, 0) for line in graded for grade in FLAGGED_GRADES):
        reasons.append(N_("a unit is not the item that was sold"))
    return Decision(refunds, total, bool(reasons), "; ".join(reasons))
