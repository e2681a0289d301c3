"""Cart pricing: the one place that turns lines and discounts into money. Pure.

Indian retail practice: prices are tax-inclusive (MRP), GST is *contained* in
each line's net amount, split equally into CGST and SGST for an intra-state
sale. The order of work, each step exact to the paisa:

1. line gross = unit price x quantity (pieces), or price per kg/L x grams/ml
   rounded half-up, or the price printed on a price-embedded label;
2. line discount (percent or amount), never more than the line gross;
2b. promotions (issue #21): the pure engine (``app.core.promotions.best``) given each
   line (a weighed line as measured, a label-priced piece line as one piece; a line
   the cashier discounted takes no offer) and the store's promotions at its local
   time; what it puts on each line comes off before the bill discount and GST;
3. bill discount (percent or amount) spread over lines in proportion to what
   is left of each, largest remainder first, never more than a line holds;
4. line net = gross - both discounts; GST in it by ``gst_in_inclusive``: the
   taxable value net / (1 + r) rounded half-up, then CGST = SGST = taxable x r/2
   rounded half-up (one half computed once), and the taxable value is what is
   left, so taxable + CGST + SGST == net to the paisa and the halves are equal
   (the cart's GST table, one row per rate, is ``app.core.gst.tax_rows``, as on
   every document);
5. bill total = sum of nets, rounded half-up to the configured step
   (e.g. ₹1) with the difference shown as a rounding line; never below zero.

What the customer saved (the receipts' "You saved" line) is worked out here too, from
the lines' prices and MRPs as sold (``mrp_savings``, ``you_saved``), never in a template.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from app.core import promotions as offers
from app.core.gst import TaxRow, tax_rows
from app.core.i18n import _
from app.core.money import gst_in_inclusive, price_for_measure, round_half_up, spread

DiscountKind = Literal["percent", "amount"]
TenderKind = Literal["cash", "card", "upi", "exchange", "points"]
MAX_PERCENT_BP = 10_000


class PricingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Discount:
    kind: DiscountKind
    value: int  # percent in basis points (10 % = 1000) or amount in paise

    def __post_init__(self) -> None:
        if self.kind not in ("percent", "amount"):
            raise PricingError(f"discount kind must be percent or amount, not {self.kind!r}")
        if self.value < 0:
            raise PricingError(_("a discount cannot be negative"))
        if self.kind == "percent" and self.value > MAX_PERCENT_BP:
            raise PricingError(_("a discount cannot be more than 100 %"))

    def of(self, base: int) -> int:
        """The discount on `base` paise, capped at `base`."""
        if self.kind == "percent":
            return min(base, round_half_up(base * self.value, MAX_PERCENT_BP))
        return min(base, self.value)


@dataclass(frozen=True, slots=True)
class LineInput:
    key: str
    unit_price: int  # paise per piece, or per kg / litre for measured goods
    quantity: int  # pieces, grams or ml
    measured: bool = False  # quantity is grams/ml and unit_price is per 1000 of them
    gst_rate_bp: int = 0
    label_price: int | None = None  # a price-embedded label overrides the computation
    discount: Discount | None = None
    sku: str = ""  # what promotions look at (their targets are SKUs and categories)
    category: str = ""


@dataclass(frozen=True, slots=True)
class LinePrice:
    key: str
    gross: int
    line_discount: int
    bill_discount: int
    net: int
    gst_rate_bp: int
    tax: int
    cgst: int
    sgst: int
    promo_discount: int = 0  # what promotions took off this line (before the bill's)
    # (id, name, paise, bill offer?) of each promotion that took something off this line
    offers: tuple[tuple[str, str, int, bool], ...] = ()

    @property
    def taxable(self) -> int:
        return self.net - self.tax

    @property
    def discount(self) -> int:
        return self.line_discount + self.promo_discount + self.bill_discount

    @property
    def item_offers(self) -> tuple[str, ...]:
        """The names of the item offers on this line (shown under it; a bill offer is
        shown with the totals)."""
        return tuple(name for _, name, _, bill in self.offers if not bill)


@dataclass(frozen=True)
class CartTotals:
    lines: tuple[LinePrice, ...]
    gross: int
    line_discounts: int
    bill_discount: int
    net: int  # sum of line nets, before rounding
    rounding: int  # signed: added to net to reach `total`
    total: int  # what the customer pays
    tax: int
    tax_rows: tuple[TaxRow, ...] = field(default=())
    promotions: int = 0  # the promotions' total (in `discount`, as on each line)
    applied: tuple[offers.Applied, ...] = ()  # each promotion applied, with why

    @property
    def discount(self) -> int:
        return self.line_discounts + self.promotions + self.bill_discount

    def line(self, key: str) -> LinePrice:
        return next(line for line in self.lines if line.key == key)


def line_gross(line: LineInput) -> int:
    if line.quantity <= 0:
        raise PricingError(_("quantity must be more than zero"))
    if line.label_price is not None:
        if line.label_price < 0:
            raise PricingError(_("a label price cannot be negative"))
        return line.label_price
    if line.unit_price < 0:
        raise PricingError(_("a price cannot be negative"))
    if line.measured:
        return price_for_measure(line.unit_price, line.quantity)
    return line.unit_price * line.quantity


def round_bill(amount: int, step: int) -> int:
    if step <= 0:
        raise PricingError("rounding step must be positive")
    return round_half_up(amount, step) * step


def offer_item(line: LineInput, gross: int) -> offers.Item:
    """A line as the promotions engine sees it: a weighed line is measured (grams or ml
    at its price per kg / litre), a label-priced piece line one piece at its label."""
    manual = line.discount is not None and line.discount.value > 0
    if line.label_price is not None and not line.measured:
        return offers.Item(line.key, line.sku, gross, 1, gross, False, "", line.category,
                           manual)
    return offers.Item(line.key, line.sku, line.unit_price, line.quantity, gross,
                       line.measured, "", line.category, manual)


def price_cart(
    lines: Sequence[LineInput], bill_discount: Discount | None = None, rounding_step: int = 1,
    promotions: Sequence[offers.Promotion] = (), at: datetime | None = None,
    coupons: Sequence[str] = (),
) -> CartTotals:
    """The cart's money; `promotions` (checked ones) apply as running at `at`, the
    store's local time (needed when there are any); an offer with a coupon code applies
    only when the code is among `coupons` (the ones entered on the cart)."""
    grosses = [line_gross(line) for line in lines]
    line_discounts = [
        line.discount.of(g) if line.discount else 0 for line, g in zip(lines, grosses, strict=True)
    ]
    result = offers.NOTHING
    if promotions and lines:
        if at is None:
            raise PricingError("promotions need the store's local time")
        # A line the cashier discounted is given at what is left of it, so a bill offer
        # is judged and spread on what the customer is charged.
        result = offers.best([offer_item(line, g - d) for line, g, d
                              in zip(lines, grosses, line_discounts, strict=True)],
                             promotions, at, coupons)
    # A line the cashier discounted takes no offer (the engine's rule), so the two never
    # add up; min() is only a guard: never more off than the line holds.
    promo = [min(result.line_discounts.get(line.key, 0), g - d)
             for line, g, d in zip(lines, grosses, line_discounts, strict=True)]
    after_line = [g - d - p for g, d, p in zip(grosses, line_discounts, promo, strict=True)]
    bill_total = bill_discount.of(sum(after_line)) if bill_discount else 0
    bill_shares = spread(bill_total, after_line)
    on_line: dict[str, list[tuple[str, str, int, bool]]] = {}
    for applied in result.applied:
        kind = result_kind(applied.promotion_id, promotions)
        for key, paise in applied.lines:
            on_line.setdefault(key, []).append(
                (applied.promotion_id, applied.name, paise, kind in BILL_OFFER_KINDS))
    priced: list[LinePrice] = []
    for line, gross, ld, pd, bd in zip(lines, grosses, line_discounts, promo, bill_shares,
                                       strict=True):
        net = gross - ld - pd - bd
        gst = gst_in_inclusive(net, line.gst_rate_bp)
        priced.append(LinePrice(line.key, gross, ld, bd, net, line.gst_rate_bp, gst.tax,
                                gst.half, gst.half, pd, tuple(on_line.get(line.key, ()))))
    net = sum(p.net for p in priced)
    total = max(0, round_bill(net, rounding_step)) if priced else 0
    return CartTotals(
        lines=tuple(priced),
        gross=sum(grosses),
        line_discounts=sum(line_discounts),
        bill_discount=sum(bill_shares),
        net=net,
        rounding=total - net,
        total=total,
        tax=sum(p.tax for p in priced),
        tax_rows=tax_rows((p.gst_rate_bp, p.net, p.tax) for p in priced),
        promotions=sum(promo),
        applied=result.applied,
    )


BILL_OFFER_KINDS = offers.BILL_DISCOUNT_KINDS  # shown with the totals, not under a line


def offers_json(line: LinePrice) -> str:
    """What a sale line keeps of the promotions on it: [{"id", "name", "off", "bill"}]
    ('' for none), so its receipt and refunds never depend on the promotion's row."""
    if not line.offers:
        return ""
    return json.dumps([{"id": i, "name": n, "off": off, "bill": bill}
                       for i, n, off, bill in line.offers], ensure_ascii=False)


def result_kind(promotion_id: str, promotions: Sequence[offers.Promotion]) -> str:
    return next((p.kind for p in promotions if p.id == promotion_id), "")


# ---- savings against the MRP ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavingLine:
    """A sold line as the savings see it: its unit price and MRP when sold (paise per
    piece, or per kg / litre when `measured`) and its quantity (pieces, grams or ml)."""

    unit_price: int
    quantity: int
    mrp: int | None = None  # None: no MRP known, no saving counted
    measured: bool = False
    # What a price-embedded label charged for the whole line (a scale's label): the
    # saving is then the MRP's value of the quantity less that, never the catalogue price.
    label_price: int | None = None


def mrp_savings(lines: Iterable[SavingLine]) -> int:
    """The sum over lines of (MRP - unit price) x quantity, for lines with an MRP above
    their price: pieces x count, per kg / litre x kg / litres (grams / 1000). Summed
    exactly in thousandths of a paisa and rounded once, half-up, to the paisa. Never
    negative: a line at or above its MRP (none can be sold above it, but an old bill's
    MRP is kept as it was) saves nothing."""
    exact = 0
    for line in lines:
        if line.mrp is None or line.quantity <= 0:
            continue
        if line.label_price is not None:
            at_mrp = line.mrp * line.quantity if line.measured else line.mrp * line.quantity * 1000
            exact += max(0, at_mrp - line.label_price * 1000)
            continue
        if line.mrp <= line.unit_price:
            continue
        per = line.mrp - line.unit_price
        exact += per * line.quantity if line.measured else per * line.quantity * 1000
    return round_half_up(exact, 1000)


def you_saved(lines: Iterable[SavingLine], discount: int = 0) -> int:
    """The receipt's "You saved": the saving against the MRPs plus the bill's
    discounts (line and bill). Zero when there is neither (no line is then shown)."""
    return mrp_savings(lines) + max(0, discount)


# ---- tenders --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenderInput:
    kind: TenderKind
    amount: int  # what this tender pays toward the bill
    given: int | None = None  # cash handed over (>= amount when change is due)


@dataclass(frozen=True)
class Settlement:
    due: int
    paid: int
    change: int

    @property
    def remaining(self) -> int:
        return max(0, self.due - self.paid)

    @property
    def settled(self) -> bool:
        return self.paid >= self.due


def settle(due: int, tenders: Sequence[TenderInput]) -> Settlement:
    """Only cash can be over-tendered (change is given in cash); card, UPI and exchange
    credit are taken for the exact amount, never more than what is still due."""
    paid = 0
    change = 0
    for t in tenders:
        if t.amount <= 0:
            raise PricingError(_("a payment must be more than zero"))
        if t.kind == "cash":
            given = t.given if t.given is not None else t.amount
            if given < t.amount:
                raise PricingError(_("cash given is less than the amount"))
            change += given - t.amount
        elif paid + t.amount > due:
            raise PricingError(_("%(kind)s payment is more than the amount still due")
                               % {"kind": t.kind})
        paid += t.amount
    if paid > due:
        # Cash over-tender shows up as change, not as an overpayment.
        change += paid - due
        paid = due
    return Settlement(due=due, paid=paid, change=change)
