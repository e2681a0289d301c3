"""The till's rules that used to sit inside database transactions, as pure functions
(no I/O): what a tender may take, how much exchange credit is left, and how a
refund's lines and total are prorated. The use-case modules (payment, refunds,
shifts) load the rows and call these; tests/unit/test_till_rules.py checks them
with hypothesis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.catalog.barcodes import BarcodeError, MeasureRule, parse_scan
from app.core.i18n import _
from app.core.money import format_amount
from app.core.return_rules import prorated_share

TENDER_KINDS = ("cash", "card", "upi", "exchange", "points")
# "exchange": credit from a refund made with tender "exchange", spent on a new sale in
# the same visit (an exchange is a refund and a sale); its reference is the refund number.
# "points": the customer's loyalty points (issue #21, docs/loyalty.md); a refund gives
# them back as points, never as a tender of its own.
REFUND_KINDS = ("cash", "card", "upi", "exchange")

# ₹1,00,000: the most cash one till step handles (an opening float, one cash in or
# out, cash handed over beyond the bill). More is a typo, not a grocery bill.
CASH_CAP_MINOR = 10_000_000
CASH_CAP_SHOWN = format_amount(CASH_CAP_MINOR).removesuffix(".00")  # "₹1,00,000"


class PosError(ValueError):
    """A refusal with a message for the cashier; nothing was changed."""


class NeedsApproval(PosError):
    """The step is allowed only with a manager's PIN on this screen."""


# ---- tenders ------------------------------------------------------------------------


def check_tender_kind(kind: str) -> None:
    if kind not in TENDER_KINDS:
        raise PosError(f"payment must be one of {', '.join(TENDER_KINDS)}")


class Tendered(Protocol):  # read-only members: a cart's or a sale's tender row
    @property
    def kind(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def reference(self) -> str: ...


def credit_on_cart(tenders: Iterable[Tendered], refund_number: str) -> int:
    """Exchange credit of this refund already taken as tenders on a cart (not yet a sale).
    Only exchange tenders count: a card or UPI reference may look like a refund number."""
    return sum(t.amount_minor for t in tenders
               if t.kind == "exchange" and t.reference == refund_number)


def credit_left(refund_total: int, used_by_sales: int, on_cart: int = 0) -> int:
    """What an exchange refund can still pay: its total less completed sales' use and
    what the cart being paid already takes from it."""
    return refund_total - used_by_sales - on_cart


@dataclass(frozen=True)
class TenderTaken:
    amount: int  # what the tender pays toward the bill
    given: int | None  # cash handed over (change is given - amount); None for other kinds


def accept_tender(kind: str, amount: int | None, given: int | None, remaining: int,
                  credit_available: int = 0, reference: str = "") -> TenderTaken:
    """What a tender may take of the `remaining` amount due, or a PosError saying why not.

    Cash: `given` (or `amount`) may exceed what is due by at most CASH_CAP_MINOR; the
    tender takes what is due and the rest is change. Card, UPI and exchange credit:
    exactly `amount` (default: all that is due), never more than is due; exchange
    credit also never more than `credit_available` (default: all of it that fits)."""
    check_tender_kind(kind)
    if remaining <= 0:
        raise PosError(_("the bill is already paid; press Complete sale"))
    if kind == "cash":
        handed = given if given is not None else amount
        if handed is None or handed <= 0:
            raise PosError(_("enter the cash received"))
        if handed > remaining + CASH_CAP_MINOR:
            raise PosError(_("that is far more cash than the bill; check the amount"))
        return TenderTaken(min(handed, remaining), handed)
    taken = amount if amount is not None else remaining
    if taken <= 0:
        raise PosError(_("the amount must be more than zero"))
    if taken > remaining:
        raise PosError(_("%(kind)s payment is more than the %(amount)s still due")
                       % {"kind": kind, "amount": format_amount(remaining)})
    if kind == "exchange":
        if credit_available <= 0:
            raise PosError(_("no exchange credit left on %(reference)s") % {"reference": reference})
        if amount is None:
            taken = min(credit_available, remaining)
        elif taken > credit_available:
            raise PosError(_("only %(amount)s of credit is left on %(reference)s")
                           % {"amount": format_amount(credit_available), "reference": reference})
    return TenderTaken(taken, None)


# ---- refunds ------------------------------------------------------------------------


@dataclass(frozen=True)
class SoldLine:
    """A sale line as refunds see it: what was sold and what was refunded already."""
    quantity: int
    net: int  # what the line cost after discounts, GST included
    tax: int  # CGST + SGST in net
    cgst: int
    refunded_quantity: int = 0
    refunded_amount: int = 0
    refunded_tax: int = 0

    @property
    def refundable_quantity(self) -> int:
        return self.quantity - self.refunded_quantity


def refund_share(line: SoldLine, quantity: int) -> tuple[int, int]:
    """(amount, GST) given back for `quantity` more of a sold line. The last units of the
    line take exactly what is left of its net and GST; earlier ones their share rounded
    down (so what is left never goes below zero), the GST as two equal halves."""
    if not 0 < quantity <= line.refundable_quantity:
        raise PosError(_("refund quantity must be more than zero and at most what is left"))
    if quantity == line.refundable_quantity:
        return line.net - line.refunded_amount, line.tax - line.refunded_tax
    # One proration for the till and online returns (core/return_rules.prorated_share).
    amount = prorated_share(line.net, line.quantity, quantity,
                            line.refunded_quantity, line.refunded_amount)
    tax = 2 * (line.cgst * amount // line.net) if line.net else 0
    return amount, tax


def refund_total(lines_total: int, bill_total: int, refunded_before: int,
                 everything_back: bool) -> int:
    """A refund's total: never more than is left of the bill; the refund that takes back
    everything left gives back exactly that, bill rounding included, so all refunds of a
    bill add up to exactly what was paid."""
    left = bill_total - refunded_before
    return left if everything_back else min(lines_total, left)


def scanned_batch(code: str, rules: Iterable[MeasureRule] = (), today: date | None = None
                  ) -> str:
    """The batch (GS1 AI 10) a line's scanned code names, '' for none. Only a code
    longer than a GTIN can carry one, so a plain EAN-13 scan costs nothing here. The
    batch decides where a sale takes stock from (stock.service.SaleBins.take)."""
    if len(code) <= 14:
        return ""
    try:
        scan = parse_scan(code, tuple(rules), today)
    except BarcodeError:
        return ""
    return scan.batch or ""
