"""Counter-sale use cases. Each public function is one transaction.

Carts live in the database (a reload or crash loses nothing) and belong to one
counter: every call names the counter it comes from, and a cart of another
counter is refused. Prices always come from the catalogue on the server; a
client never sends a price.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from app.catalog.barcodes import MeasureRule, parse_scan
from app.catalog.models import Product
from app.catalog.service import UnknownProduct, find_scanned
from app.catalog.units import format_measure
from app.config import PosSection, StoreConfig
from app.core.auth import StaffUser
from app.core.card_data import CARD_NUMBER_MESSAGE, looks_like_card_number
from app.core.clock import utcnow
from app.core.db import Database, next_number
from app.core.db import Tx as AsyncSession
from app.core.ids import uuid7
from app.core.models import AuditLog
from app.core.money import format_amount
from app.pos import receipts
from app.pos.models import (
    Cart,
    CartLine,
    CartTender,
    CashMovement,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    SaleTender,
    Shift,
    Void,
)
from app.pos.pricing import (
    CartTotals,
    Discount,
    LineInput,
    PricingError,
    Settlement,
    TaxRow,
    TenderInput,
    price_cart,
    settle,
    tax_table,
)
from app.stock.service import bin_for_sale, record_move
from app.sync.outbox import emit

TENDER_KINDS = ("cash", "card", "upi", "exchange")
# "exchange": credit from a refund made with tender "exchange", spent on a new sale in
# the same visit (an exchange is a refund and a sale); its reference is the refund number.
REFUND_KINDS = TENDER_KINDS


class PosError(ValueError):
    """A refusal with a message for the cashier; nothing was changed."""


CREDIT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
CREDIT_CODE_CHARS = 16  # 80 random bits


def new_credit_code() -> str:
    """A credit note's code, printed on the slip (text and QR): CN-XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(CREDIT_ALPHABET) for _ in range(CREDIT_CODE_CHARS))
    return "CN-" + "-".join(raw[i:i + 4] for i in range(0, CREDIT_CODE_CHARS, 4))


def normalise_credit_code(text: str) -> str:
    """The code as typed or scanned: case, spaces and dashes do not matter, nor O/0, I/L/1."""
    cleaned = "".join(c for c in text.upper()[:60] if c.isalnum())
    cleaned = cleaned.removeprefix("CN").translate(str.maketrans("OIL", "011"))
    ok = len(cleaned) == CREDIT_CODE_CHARS and all(c in CREDIT_ALPHABET for c in cleaned)
    return cleaned if ok else ""


def credit_code_hash(code: str) -> str:
    return hashlib.sha256(normalise_credit_code(code).encode()).hexdigest()


async def _credit_note(s: AsyncSession, typed: str) -> Refund:
    """The exchange refund whose printed code this is; its number (sequential) is no key."""
    found = None
    if normalise_credit_code(typed):
        found = await s.scalar(select(Refund).where(
            Refund.credit_code_hash == credit_code_hash(typed)))
    if found is None or found.tender_kind != "exchange":
        raise PosError("no credit note has that code: scan or type the code printed on the "
                       "credit note (CN-…), not the refund number")
    return found


class NeedsApproval(PosError):
    """The step is allowed only with a manager's PIN on this screen."""


def _refuse_card_number(text: str) -> None:
    """No card number is stored or printed anywhere (the till stays out of PCI DSS
    scope): every reference, reason and note typed at the till is checked whole."""
    if looks_like_card_number(text):
        raise PosError(CARD_NUMBER_MESSAGE)


# ---- shifts -----------------------------------------------------------------------


async def open_shift(
    db: Database, cfg: StoreConfig, counter: str, user: StaffUser, float_minor: int
) -> Shift:
    if counter not in cfg.pos.counters:
        raise PosError(f"there is no counter {counter!r}")
    if float_minor < 0 or float_minor > 10_000_000:
        raise PosError("the opening float must be between ₹0 and ₹1,00,000")
    async with db.write() as s:
        if await _open_shift(s, counter):
            raise PosError(f"counter {counter} already has an open shift")
        n = await next_number(s, "shift")
        shift = Shift(
            id=uuid7(),
            number=f"{cfg.store.id}-SH{n:04d}",
            counter=counter,
            opened_by=user.id,
            opened_at=utcnow(),
            float_minor=float_minor,
        )
        s.add(shift)
        audit(s, user, "shift_open", f"{shift.number} counter {counter} float {float_minor}")
    return shift


async def _open_shift(s: AsyncSession, counter: str) -> Shift | None:
    return await s.scalar(select(Shift).where(Shift.counter == counter, Shift.closed_at.is_(None)))


async def current_shift(db: Database, counter: str) -> Shift | None:
    async with db.read() as s:
        return await _open_shift(s, counter)


def cash_out_refusal(pos_cfg: PosSection, amount_out: int, unapproved_before: int) -> str:
    """Why a cash out needs a manager's PIN ("" if it does not): one entry above the
    per-entry limit, or the shift's cash out without a manager passing the shift limit
    (so many small entries cannot empty the drawer either)."""
    entry = pos_cfg.cash_out_approval_above_rupees * 100
    shift = pos_cfg.cash_out_shift_limit_rupees * 100
    if amount_out > entry:
        return f"cash out above {format_amount(entry)} needs a manager's PIN"
    if unapproved_before + amount_out > shift:
        return (f"cash out without a manager may add up to {format_amount(shift)} in this "
                f"shift or 24 hours ({format_amount(unapproved_before)} so far); this needs a "
                "manager's PIN")
    return ""


async def cash_movement(
    db: Database, counter: str, user: StaffUser, amount_minor: int, reason: str,
    approver: StaffUser | None = None, *, cfg: StoreConfig | None = None,
) -> CashMovement:
    """Cash put into or taken out of the drawer. Taking out over the limits needs a
    manager (the user, or `approver` whose PIN was typed); the manager is recorded."""
    reason = reason.strip()
    if not reason:
        raise PosError("say why cash goes in or out")
    _refuse_card_number(reason)
    if amount_minor == 0 or abs(amount_minor) > 10_000_000:
        raise PosError("enter an amount between ₹0.01 and ₹1,00,000")
    pos_cfg = cfg.pos if cfg is not None else PosSection()
    manager = approver if approver is not None else (user if _is_manager(user) else None)
    async with db.write() as s:
        shift = await _require_shift(s, counter)
        if amount_minor < 0 and manager is None:
            unapproved = int(await s.scalar(
                select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
                    CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0,
                    CashMovement.approver_id.is_(None))) or 0)
            # And this person's over the last 24 hours: closing the shift and opening a
            # new one must not renew the allowance.
            unapproved = max(unapproved, int(await s.scalar(
                select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
                    CashMovement.user_id == user.id, CashMovement.amount_minor < 0,
                    CashMovement.approver_id.is_(None),
                    CashMovement.at >= utcnow() - timedelta(hours=24))) or 0))
            refusal = cash_out_refusal(pos_cfg, -amount_minor, unapproved)
            if refusal:
                raise NeedsApproval(refusal)
        move = CashMovement(
            id=uuid7(),
            shift_id=shift.id,
            amount_minor=amount_minor,
            reason=reason[:80],
            user_id=user.id,
            approver_id=manager.id if manager is not None and amount_minor < 0 else None,
            at=utcnow(),
        )
        s.add(move)
        audit(
            s,
            user,
            "cash_in" if amount_minor > 0 else "cash_out",
            f"{shift.number} {amount_minor} {reason[:60]}",
            approver,
        )
    return move


async def no_sale(db: Database, counter: str, user: StaffUser, reason: str) -> None:
    """Opening the drawer without a sale is allowed but always logged."""
    _refuse_card_number(reason)
    async with db.write() as s:
        shift = await _require_shift(s, counter)
        audit(s, user, "no_sale", f"{shift.number} {reason.strip()[:80] or 'no reason given'}")


async def _require_shift(s: AsyncSession, counter: str) -> Shift:
    shift = await _open_shift(s, counter)
    if shift is None:
        raise PosError(f"counter {counter} has no open shift; open one first")
    return shift


@dataclass(frozen=True)
class ShiftReport:
    shift: Shift
    sales_count: int
    gross: int
    discounts: int
    rounding: int
    sales_total: int
    by_tender: dict[str, int]
    change_given: int
    refunds_count: int
    refunds_total: int
    refunds_by_tender: dict[str, int]
    tax_rows: tuple[TaxRow, ...]  # GST of the sales minus GST of the refunds, per rate
    voids_count: int
    voids_total: int
    cash_in: int
    cash_out: int
    cash_out_count: int = 0
    cash_out_approved: int = 0  # of cash_out, what a manager took or approved
    cash_out_usual: int = 0  # the shift limit (config) above which the Z flags cash out

    @property
    def cash_out_warning(self) -> str:
        """A plain line for the X/Z report when cash out was more than usual."""
        if not self.cash_out or self.cash_out <= self.cash_out_usual:
            return ""
        entries = f"{self.cash_out_count} entr{'y' if self.cash_out_count == 1 else 'ies'}"
        return (f"Cash out {format_amount(self.cash_out)} ({entries}, "
                f"{format_amount(self.cash_out_approved)} approved by a manager) is above "
                f"the usual {format_amount(self.cash_out_usual)} for a shift")

    @property
    def expected_cash(self) -> int:
        return (
            self.shift.float_minor
            + self.by_tender.get("cash", 0)
            - self.refunds_by_tender.get("cash", 0)
            + self.cash_in
            - self.cash_out
        )

    @property
    def net_sales(self) -> int:
        return self.sales_total - self.refunds_total

    @property
    def tenders(self) -> list[str]:
        """Cash, card and UPI always; exchange credit when it was used."""
        return [k for k in TENDER_KINDS if k in ("cash", "card", "upi")
                or self.by_tender.get(k) or self.refunds_by_tender.get(k)]

    @property
    def net_rounding(self) -> int:
        """Bills' rounding less the rounding given back by refunds: what the GST table
        (taxable + CGST + SGST of every rate) lacks to reach the net takings."""
        return self.net_sales - sum(r.taxable + r.tax for r in self.tax_rows)


async def _report(s: AsyncSession, shift: Shift, cfg: StoreConfig | None = None
                  ) -> ShiftReport:
    sales = (
        await s.execute(
            select(
                func.count(Sale.id),
                func.coalesce(func.sum(Sale.gross_minor), 0),
                func.coalesce(func.sum(Sale.discount_minor), 0),
                func.coalesce(func.sum(Sale.rounding_minor), 0),
                func.coalesce(func.sum(Sale.total_minor), 0),
                func.coalesce(func.sum(Sale.change_minor), 0),
            ).where(Sale.shift_id == shift.id)
        )
    ).one()
    by_tender = dict(
        (
            await s.execute(
                select(SaleTender.kind, func.sum(SaleTender.amount_minor))
                .join(Sale, Sale.id == SaleTender.sale_id)
                .where(Sale.shift_id == shift.id)
                .group_by(SaleTender.kind)
            )
        ).all()
    )
    sold_tax = (
        await s.execute(
            select(
                SaleLine.gst_rate_bp,
                func.sum(SaleLine.net_minor),
                func.sum(SaleLine.tax_minor),
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(Sale.shift_id == shift.id)
            .group_by(SaleLine.gst_rate_bp)
        )
    ).all()
    refunded_tax = (
        await s.execute(
            select(
                SaleLine.gst_rate_bp,
                func.sum(RefundLine.amount_minor),
                func.sum(RefundLine.tax_minor),
            )
            .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
            .join(Refund, Refund.id == RefundLine.refund_id)
            .where(Refund.shift_id == shift.id)
            .group_by(SaleLine.gst_rate_bp)
        )
    ).all()
    refunds = (
        await s.execute(
            select(func.count(Refund.id), func.coalesce(func.sum(Refund.total_minor), 0)).where(
                Refund.shift_id == shift.id
            )
        )
    ).one()
    refunds_by_tender = dict(
        (
            await s.execute(
                select(Refund.tender_kind, func.sum(Refund.total_minor))
                .where(Refund.shift_id == shift.id)
                .group_by(Refund.tender_kind)
            )
        ).all()
    )
    voids = (
        await s.execute(
            select(func.count(Void.id), func.coalesce(func.sum(Void.amount_minor), 0)).where(
                Void.shift_id == shift.id
            )
        )
    ).one()
    cash_in = await s.scalar(
        select(func.coalesce(func.sum(CashMovement.amount_minor), 0)).where(
            CashMovement.shift_id == shift.id, CashMovement.amount_minor > 0
        )
    )
    cash_out = await s.scalar(
        select(func.coalesce(func.sum(-CashMovement.amount_minor), 0)).where(
            CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0
        )
    )
    outs = (await s.execute(
        select(func.count(CashMovement.id),
               func.coalesce(func.sum(-CashMovement.amount_minor), 0))
        .where(CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0,
               CashMovement.approver_id.is_not(None)))).one()
    out_count = await s.scalar(select(func.count(CashMovement.id)).where(
        CashMovement.shift_id == shift.id, CashMovement.amount_minor < 0))
    return ShiftReport(
        shift=shift,
        sales_count=sales[0],
        gross=sales[1],
        discounts=sales[2],
        rounding=sales[3],
        sales_total=sales[4],
        change_given=sales[5],
        by_tender={k: int(v) for k, v in by_tender.items()},
        refunds_count=refunds[0],
        refunds_total=refunds[1],
        refunds_by_tender={k: int(v) for k, v in refunds_by_tender.items()},
        tax_rows=tax_table([(int(r), int(a), int(t)) for r, a, t in sold_tax]
                           + [(int(r), -int(a), -int(t)) for r, a, t in refunded_tax]),
        voids_count=voids[0],
        voids_total=voids[1],
        cash_in=int(cash_in or 0),
        cash_out=int(cash_out or 0),
        cash_out_count=int(out_count or 0),
        cash_out_approved=int(outs[1] or 0),
        cash_out_usual=(cfg.pos if cfg is not None else PosSection()
                        ).cash_out_shift_limit_rupees * 100,
    )


async def shift_report(db: Database, shift_id: str, cfg: StoreConfig | None = None
                       ) -> ShiftReport:
    async with db.read() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError("no such shift")
        return await _report(s, shift, cfg)


async def close_shift(
    db: Database, cfg: StoreConfig, shift_id: str, user: StaffUser, counts: dict[int, int]
) -> ShiftReport:
    """Close with the drawer counted by denomination (rupees -> number of notes/coins)."""
    for denom, n in counts.items():
        if denom not in cfg.pos.denominations:
            raise PosError(f"₹{denom} is not a denomination this store counts")
        if n < 0 or n > 100_000:
            raise PosError(f"count of ₹{denom} must be between 0 and 1,00,000")
    counted = sum(denom * 100 * n for denom, n in counts.items())
    async with db.write() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError("no such shift")
        if shift.closed_at is not None:
            raise PosError(f"shift {shift.number} is already closed")
        open_carts = await s.scalar(
            select(func.count(Cart.id)).where(
                Cart.counter == shift.counter,
                Cart.status.in_(("active", "parked")),
                Cart.lines.any(),
            )
        )
        if open_carts:
            raise PosError("finish or void the open and parked carts before closing")
        report = await _report(s, shift, cfg)
        shift.closed_at = utcnow()
        shift.closed_by = user.id
        shift.expected_cash_minor = report.expected_cash
        shift.counted_cash_minor = counted
        shift.count_detail = json.dumps({str(k): v for k, v in sorted(counts.items())})
        audit(
            s,
            user,
            "shift_close",
            f"{shift.number} expected {report.expected_cash} counted {counted}",
        )
        emit(
            s,
            "shift.closed",
            {
                "shift_id": shift.id,
                "number": shift.number,
                "counter": shift.counter,
                "opened_at": shift.opened_at.isoformat(),
                "closed_at": shift.closed_at.isoformat(),
                "sales_count": report.sales_count,
                "sales_total": report.sales_total,
                "refunds_total": report.refunds_total,
                "by_tender": report.by_tender,
                "expected_cash": report.expected_cash,
                "counted_cash": counted,
                "variance": counted - report.expected_cash,
            },
        )
        receipts.ask_for_report(s, cfg, report, closed=True)
        return report


async def print_shift_report(
    db: Database, cfg: StoreConfig, shift_id: str, user: StaffUser
) -> tuple[ShiftReport, list[str]]:
    """Print the X report of an open shift (or a copy of a closed shift's Z) on the
    counter's report printers. Refused, with nothing queued, when none prints reports."""
    async with db.write() as s:
        shift = await s.get(Shift, shift_id)
        if shift is None:
            raise PosError("no such shift")
        closed = shift.closed_at is not None
        report = await _report(s, shift, cfg)
        printers = receipts.ask_for_report(s, cfg, report, closed=closed, duplicate=closed)
        if not printers:
            raise PosError(f"no printer prints reports for counter {shift.counter}; "
                           "a manager can add one on the Printers page")
        audit(s, user, "report_print", f"{'Z' if closed else 'X'} {shift.number}")
        return report, printers


async def recent_shifts(db: Database, limit: int = 20) -> list[Shift]:
    async with db.read() as s:
        return list(await s.scalars(select(Shift).order_by(Shift.opened_at.desc()).limit(limit)))


# ---- carts ----------------------------------------------------------------------


@dataclass(frozen=True)
class CartView:
    cart: Cart
    products: dict[str, Product]
    totals: CartTotals
    parked: list[Cart]

    @property
    def remaining(self) -> int:
        return settle_cart(self.cart, self.totals).remaining


def _line_input(line: CartLine, product: Product) -> LineInput:
    discount = (
        Discount(line.discount_kind, line.discount_value)  # type: ignore[arg-type]
        if line.discount_kind
        else None
    )
    return LineInput(
        key=line.id,
        unit_price=product.price_minor,
        quantity=line.quantity,
        measured=product.unit != "piece",
        gst_rate_bp=product.gst_rate_bp,
        label_price=line.label_price_minor,
        discount=discount,
    )


def _bill_discount(cart: Cart) -> Discount | None:
    if not cart.bill_discount_kind:
        return None
    return Discount(cart.bill_discount_kind, cart.bill_discount_value)  # type: ignore[arg-type]


async def _products_for(s: AsyncSession, cart: Cart) -> dict[str, Product]:
    ids = {line.product_id for line in cart.lines}
    if not ids:
        return {}
    return {p.id: p for p in await s.scalars(select(Product).where(Product.id.in_(ids)))}


def _price(cfg: StoreConfig, cart: Cart, products: dict[str, Product]) -> CartTotals:
    return price_cart(
        [_line_input(line, products[line.product_id]) for line in cart.lines],
        _bill_discount(cart),
        cfg.pos.rounding_step_paise,
    )


def settle_cart(cart: Cart, totals: CartTotals) -> Settlement:
    """Tenders against the current total. Never raises: if prices dropped after a card
    or UPI payment the cart shows as paid and complete_sale refuses it with a message."""
    tenders = [
        TenderInput(t.kind, t.amount_minor, t.given_minor)  # type: ignore[arg-type]
        for t in cart.tenders
    ]
    try:
        return settle(totals.total, tenders)
    except PricingError:
        return Settlement(due=totals.total, paid=totals.total, change=0)


def _overpaid(cart: Cart, totals: CartTotals) -> bool:
    return sum(t.amount_minor for t in cart.tenders) > totals.total


async def _view(s: AsyncSession, cfg: StoreConfig, cart: Cart) -> CartView:
    products = await _products_for(s, cart)
    parked = list(
        await s.scalars(
            select(Cart)
            .where(Cart.counter == cart.counter, Cart.status == "parked")
            .order_by(Cart.updated_at)
        )
    )
    return CartView(cart, products, _price(cfg, cart, products), parked)


async def _active_cart(s: AsyncSession, counter: str, user: StaffUser) -> Cart:
    cart = await s.scalar(
        select(Cart)
        .where(Cart.counter == counter, Cart.status == "active")
        .order_by(Cart.created_at.desc())
    )
    if cart is None:
        now = utcnow()
        cart = Cart(
            id=uuid7(),
            counter=counter,
            status="active",
            user_id=user.id,
            created_at=now,
            updated_at=now,
            version=0,
            lines=[],
            tenders=[],
        )
        s.add(cart)
        await s.flush()
    return cart


async def current_cart(db: Database, cfg: StoreConfig, counter: str, user: StaffUser) -> CartView:
    async with db.write() as s:
        await _require_shift(s, counter)
        return await _view(s, cfg, await _active_cart(s, counter, user))


async def _cart_for_change(s: AsyncSession, counter: str, cart_id: str) -> Cart:
    cart = await s.get(Cart, cart_id)
    if cart is None or cart.counter != counter:
        raise PosError("that cart is not on this counter")
    if cart.status != "active":
        raise PosError("that cart is no longer open; start a new sale")
    if cart.tenders:
        raise PosError("payment has started; remove the payments to change the cart")
    await _require_shift(s, counter)
    return cart


def _touch(cart: Cart) -> None:
    cart.version += 1
    cart.updated_at = utcnow()


def _check_quantity(cfg: StoreConfig, product: Product, quantity: int) -> None:
    if quantity <= 0:
        raise PosError("quantity must be more than zero")
    limit = (
        cfg.pos.max_pieces_per_line if product.unit == "piece" else (cfg.pos.max_kg_per_line * 1000)
    )
    if quantity > limit:
        shown = f"{limit}" if product.unit == "piece" else f"{limit // 1000} {product.unit}"
        raise PosError(f"that is more than {shown} of {product.name} on one line; check it")


async def _add_line(
    s: AsyncSession,
    cfg: StoreConfig,
    cart: Cart,
    product: Product,
    quantity: int,
    label_price: int | None,
    code: str,
) -> CartLine:
    if not product.active:
        raise PosError(f"{product.name} is discontinued and cannot be sold")
    mergeable = product.unit == "piece" and label_price is None
    if mergeable:
        for line in cart.lines:
            if (
                line.product_id == product.id
                and line.label_price_minor is None
                and not line.discount_kind
            ):
                _check_quantity(cfg, product, line.quantity + quantity)
                line.quantity += quantity
                _touch(cart)
                return line
    _check_quantity(cfg, product, quantity)
    position = max((line.position for line in cart.lines), default=0) + 1
    line = CartLine(
        id=uuid7(),
        cart_id=cart.id,
        position=position,
        product_id=product.id,
        quantity=quantity,
        label_price_minor=label_price,
        scanned_code=code[:64],
    )
    cart.lines.append(line)
    _touch(cart)
    return line


async def add_scan(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    user: StaffUser,
    cart_id: str,
    code: str,
    rules: Sequence[MeasureRule],
) -> tuple[CartView, CartLine]:
    """A scanned or typed code adds a line (weight or price from a scale label).

    The hot path of the till: one transaction, no query that the fragment doesn't need."""
    scan = parse_scan(code, rules)  # BarcodeError bubbles up before any I/O
    async with db.write() as s:
        product = (await find_scanned(s, scan)).product  # or UnknownProduct
        label_price = scan.price_minor
        if product.unit == "piece":
            quantity = scan.quantity or 1
        elif scan.weight_g:
            quantity = scan.weight_g
        elif label_price is not None:
            quantity = scan.quantity or 1000  # a price label without weight: one unit
        else:
            raise PosError(
                f"{product.name} is sold by {product.unit}: scan the scale label "
                "or use its quick key and enter the weight"
            )
        cart = await _cart_for_change(s, counter, cart_id)
        line = await _add_line(s, cfg, cart, product, quantity, label_price, code)
        return await _view(s, cfg, cart), line


async def add_product(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, sku: str, quantity: int
) -> tuple[CartView, CartLine]:
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        product = await s.scalar(select(Product).where(Product.sku == sku.upper()))
        if product is None:
            raise UnknownProduct(sku)
        line = await _add_line(s, cfg, cart, product, quantity, None, "")
        return await _view(s, cfg, cart), line


async def set_quantity(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    line_id: str,
    quantity: int,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        line = _line_of(cart, line_id)
        product = await s.get(Product, line.product_id)
        if quantity <= 0:
            raise PosError("use Remove to take a line off the bill")
        if line.label_price_minor is not None or product.unit != "piece":
            raise PosError(
                "a weighed or price-labelled line cannot change quantity; remove it and scan again"
            )
        if quantity < line.quantity:
            # Taking items off is a (partial) void: logged, approved above the limit.
            unit_value = product.price_minor
            await _void(
                s,
                cfg,
                cart,
                user,
                approver,
                "line",
                unit_value * (line.quantity - quantity),
                f"{product.sku} {line.quantity}->{quantity}",
            )
        _check_quantity(cfg, product, quantity)
        line.quantity = quantity
        await _recheck_discounts(s, cfg, cart, user, approver)
        _touch(cart)
        return await _view(s, cfg, cart)


def _line_of(cart: Cart, line_id: str) -> CartLine:
    line = next((line for line in cart.lines if line.id == line_id), None)
    if line is None:
        raise PosError("that line is not on this cart")
    return line


async def _void(
    s: AsyncSession,
    cfg: StoreConfig,
    cart: Cart,
    user: StaffUser,
    approver: StaffUser | None,
    kind: str,
    amount: int,
    detail: str,
) -> None:
    limit = cfg.pos.void_approval_above_rupees * 100
    if amount > limit and not _is_manager(user) and approver is None:
        raise NeedsApproval(f"removing {format_amount(amount)} needs a manager's PIN")
    shift = await _require_shift(s, cart.counter)
    s.add(
        Void(
            id=uuid7(),
            shift_id=shift.id,
            cart_id=cart.id,
            kind=kind,
            amount_minor=amount,
            detail=detail[:200],
            user_id=user.id,
            approver_id=approver.id if approver else None,
            at=utcnow(),
        )
    )
    audit(s, user, f"void_{kind}", f"{detail} {amount}", approver)


async def void_line(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    line_id: str,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        line = _line_of(cart, line_id)
        products = await _products_for(s, cart)
        value = _price(cfg, cart, products).line(line.id).gross
        await _void(
            s,
            cfg,
            cart,
            user,
            approver,
            "line",
            value,
            f"{products[line.product_id].sku} x{line.quantity}",
        )
        cart.lines.remove(line)
        await _recheck_discounts(s, cfg, cart, user, approver)
        _touch(cart)
        return await _view(s, cfg, cart)


async def void_cart(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> None:
    async with db.write() as s:
        cart = await s.get(Cart, cart_id)
        if cart is None or cart.counter != counter or cart.status not in ("active", "parked"):
            raise PosError("that cart is not open on this counter")
        if cart.tenders:
            raise PosError("payment has started; remove the payments first")
        products = await _products_for(s, cart)
        value = _price(cfg, cart, products).gross
        if cart.lines:
            await _void(s, cfg, cart, user, approver, "cart", value, f"{len(cart.lines)} lines")
        cart.status = "voided"
        _touch(cart)


def _is_manager(user: StaffUser) -> bool:
    return user.role in ("manager", "admin")


async def _recheck_discounts(
    s: AsyncSession, cfg: StoreConfig, cart: Cart, user: StaffUser, approver: StaffUser | None
) -> None:
    """An amount discount set within the limit can exceed it once the line or bill
    shrinks; such a change needs the same approval as setting the discount would."""
    if _is_manager(user):
        return
    products = await _products_for(s, cart)
    totals = _price(cfg, cart, products)
    for line in cart.lines:
        if line.discount_kind != "amount" or line.discount_approver:
            continue
        discount = Discount("amount", line.discount_value)
        if _discount_needs_approval(cfg, discount, totals.line(line.id).gross):
            if approver is None:
                raise NeedsApproval(
                    f"the line discount would be over "
                    f"{cfg.pos.discount_limit_percent}%: a manager's PIN is needed"
                )
            line.discount_approver = approver.id
    if cart.bill_discount_kind == "amount" and not cart.bill_discount_approver:
        base = totals.gross - totals.line_discounts
        if _discount_needs_approval(cfg, Discount("amount", cart.bill_discount_value), base):
            if approver is None:
                raise NeedsApproval(
                    f"the bill discount would be over "
                    f"{cfg.pos.discount_limit_percent}%: a manager's PIN is needed"
                )
            cart.bill_discount_approver = approver.id


def _unapproved_discount_over_limit(cfg: StoreConfig, cart: Cart, totals: CartTotals) -> bool:
    for line in cart.lines:
        if line.discount_kind and not line.discount_approver:
            d = Discount(line.discount_kind, line.discount_value)  # type: ignore[arg-type]
            if _discount_needs_approval(cfg, d, totals.line(line.id).gross):
                return True
    if cart.bill_discount_kind and not cart.bill_discount_approver:
        d = Discount(cart.bill_discount_kind, cart.bill_discount_value)  # type: ignore[arg-type]
        return _discount_needs_approval(cfg, d, totals.gross - totals.line_discounts)
    return False


def _discount_needs_approval(cfg: StoreConfig, discount: Discount, base: int) -> bool:
    limit_bp = cfg.pos.discount_limit_percent * 100
    if discount.kind == "percent":
        return discount.value > limit_bp
    return discount.value * 10_000 > base * limit_bp


async def set_line_discount(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    line_id: str,
    discount: Discount | None,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        line = _line_of(cart, line_id)
        products = await _products_for(s, cart)
        gross = _price(cfg, cart, products).line(line.id).gross
        if discount is not None:
            if discount.kind == "amount" and discount.value > gross:
                raise PosError(f"the discount is more than the line ({format_amount(gross)})")
            if (
                _discount_needs_approval(cfg, discount, gross)
                and not _is_manager(user)
                and approver is None
            ):
                raise NeedsApproval(
                    f"a discount over {cfg.pos.discount_limit_percent}% needs a manager's PIN"
                )
            audit(
                s,
                user,
                "discount_line",
                f"{products[line.product_id].sku} {discount.kind} {discount.value}",
                approver,
            )
        line.discount_kind = discount.kind if discount else None
        line.discount_value = discount.value if discount else 0
        line.discount_approver = approver.id if approver and discount else None
        _touch(cart)
        return await _view(s, cfg, cart)


async def set_bill_discount(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    discount: Discount | None,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        products = await _products_for(s, cart)
        base = _price(cfg, cart, products)
        base_amount = base.gross - base.line_discounts
        if discount is not None:
            if discount.kind == "amount" and discount.value > base_amount:
                raise PosError(f"the discount is more than the bill ({format_amount(base_amount)})")
            if (
                _discount_needs_approval(cfg, discount, base_amount)
                and not _is_manager(user)
                and approver is None
            ):
                raise NeedsApproval(
                    f"a discount over {cfg.pos.discount_limit_percent}% needs a manager's PIN"
                )
            audit(s, user, "discount_bill", f"{discount.kind} {discount.value}", approver)
        cart.bill_discount_kind = discount.kind if discount else None
        cart.bill_discount_value = discount.value if discount else 0
        cart.bill_discount_approver = approver.id if approver and discount else None
        _touch(cart)
        return await _view(s, cfg, cart)


async def set_customer_phone(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, phone: str
) -> CartView:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("91") and len(digits) == 12:
        digits = digits[2:]
    if digits and (len(digits) != 10 or digits[0] not in "6789"):
        raise PosError("a mobile number has 10 digits and starts with 6, 7, 8 or 9")
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        cart.customer_phone = digits
        _touch(cart)
        return await _view(s, cfg, cart)


async def park_cart(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, user: StaffUser, note: str = ""
) -> CartView:
    _refuse_card_number(note)
    async with db.write() as s:
        cart = await _cart_for_change(s, counter, cart_id)
        if not cart.lines:
            raise PosError("nothing to park: the cart is empty")
        cart.status = "parked"
        cart.note = note.strip()[:40]
        _touch(cart)
        await s.flush()
        return await _view(s, cfg, await _active_cart(s, counter, user))


async def resume_cart(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, user: StaffUser
) -> CartView:
    """Bring a parked cart back; the cart on screen is parked in its place if it has lines."""
    async with db.write() as s:
        parked = await s.get(Cart, cart_id)
        if parked is None or parked.counter != counter or parked.status != "parked":
            raise PosError("that parked cart is not on this counter")
        current = await s.scalar(
            select(Cart).where(Cart.counter == counter, Cart.status == "active")
        )
        if current is not None:
            if current.tenders:
                raise PosError("finish the payment on screen first")
            current.status = "parked" if current.lines else "voided"
            _touch(current)
        parked.status = "active"
        _touch(parked)
        await s.flush()
        return await _view(s, cfg, parked)


# ---- paying ---------------------------------------------------------------------


async def add_tender(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    kind: str,
    amount_minor: int | None,
    given_minor: int | None = None,
    reference: str = "",
) -> CartView:
    """Take a payment toward the cart. Cash: `given` may exceed what is due (change).
    Card/UPI: exactly `amount` (default: all that is still due), never more."""
    if kind not in TENDER_KINDS:
        raise PosError(f"payment must be one of {', '.join(TENDER_KINDS)}")
    if kind != "exchange":  # a credit note's code is made by the till and only looked up
        _refuse_card_number(reference)
    reference = reference.strip()[:40]
    if kind == "card" and not reference:
        raise PosError("enter the card terminal's approval or reference number")
    if kind == "card" and not reference.replace("-", "").isalnum():
        raise PosError("the card reference is letters and digits only (never the card number)")
    async with db.write() as s:
        cart = await s.get(Cart, cart_id)
        if cart is None or cart.counter != counter or cart.status != "active":
            raise PosError("that cart is not open on this counter")
        if kind == "exchange":  # the tender keeps the refund's number, never the code
            reference = (await _credit_note(s, reference)).number
        if not cart.lines:
            raise PosError("the cart is empty")
        await _require_shift(s, counter)
        products = await _products_for(s, cart)
        totals = _price(cfg, cart, products)
        remaining = settle_cart(cart, totals).remaining
        if remaining <= 0:
            raise PosError("the bill is already paid; press Complete sale")
        if kind == "cash":
            given = given_minor if given_minor is not None else amount_minor
            if given is None or given <= 0:
                raise PosError("enter the cash received")
            if given > remaining + 10_000_000:
                raise PosError("that is far more cash than the bill; check the amount")
            amount = min(given, remaining)
        else:
            amount = amount_minor if amount_minor is not None else remaining
            given = None
            if amount <= 0:
                raise PosError("the amount must be more than zero")
            if amount > remaining:
                raise PosError(f"{kind} payment is more than the {format_amount(remaining)} still due")
            if kind == "exchange":
                pending = sum(
                    t.amount_minor
                    for t in cart.tenders
                    if t.kind == "exchange" and t.reference == reference
                )
                available = await exchange_credit_left(s, reference) - pending
                if available <= 0:
                    raise PosError(f"no exchange credit left on {reference}")
                if amount_minor is None:
                    amount = min(available, remaining)
                elif amount > available:
                    raise PosError(f"only {format_amount(available)} of credit is left on {reference}")
        if kind in ("card", "upi") and reference and any(
                t.kind == kind and t.reference == reference for t in cart.tenders):
            raise PosError(f"{kind} payment {reference} is already on this bill")
        position = max((t.position for t in cart.tenders), default=0) + 1
        cart.tenders.append(
            CartTender(
                id=uuid7(),
                cart_id=cart.id,
                position=position,
                kind=kind,
                amount_minor=amount,
                given_minor=given,
                reference=reference,
            )
        )
        _touch(cart)
        return await _view(s, cfg, cart)


async def remove_tender(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, tender_id: str
) -> CartView:
    async with db.write() as s:
        cart = await s.get(Cart, cart_id)
        if cart is None or cart.counter != counter or cart.status != "active":
            raise PosError("that cart is not open on this counter")
        tender = next((t for t in cart.tenders if t.id == tender_id), None)
        if tender is None:
            raise PosError("that payment is not on this cart")
        cart.tenders.remove(tender)
        _touch(cart)
        return await _view(s, cfg, cart)


async def complete_sale(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    idempotency_key: str,
    user: StaffUser,
    expected_version: int | None = None,
) -> Sale:
    """Turn a paid cart into a sale, in one transaction: sale, lines, tenders, gapless
    number, stock moves, outbox. The same key (double tap, retry) returns the first sale."""
    key = idempotency_key.strip()
    if not (8 <= len(key) <= 64):
        raise PosError("missing payment key; reload the payment screen")
    async with db.write() as s:
        existing = await s.scalar(select(Sale).where(Sale.idempotency_key == key))
        if existing is not None:
            if existing.cart_id != cart_id:
                raise PosError("that payment key belongs to another bill; reload the screen")
            return existing
        already = await s.scalar(select(Sale).where(Sale.cart_id == cart_id))
        if already is not None and already.counter == counter:
            return already
        cart = await s.get(Cart, cart_id)
        if cart is None or cart.counter != counter:
            raise PosError("that cart is not on this counter")
        if cart.status != "active":
            raise PosError("that cart is no longer open")
        if expected_version is not None and cart.version != expected_version:
            raise PosError("the cart changed while paying; check the total and press again")
        if not cart.lines:
            raise PosError("the cart is empty")
        shift = await _require_shift(s, counter)
        products = await _products_for(s, cart)
        totals = _price(cfg, cart, products)
        if _overpaid(cart, totals):
            raise PosError(
                "prices changed after payment was taken: remove the payments and take them again"
            )
        if _unapproved_discount_over_limit(cfg, cart, totals):
            raise PosError(
                f"a discount is over {cfg.pos.discount_limit_percent}% without "
                "approval; apply it again"
            )
        settlement = settle_cart(cart, totals)
        if not settlement.settled:
            raise PosError(f"{format_amount(settlement.remaining)} is still due")
        n = await next_number(s, "sale")
        now = utcnow()
        sale = Sale(
            id=uuid7(),
            number=f"{cfg.store.id}-{n:06d}",
            idempotency_key=key,
            cart_id=cart.id,
            shift_id=shift.id,
            counter=counter,
            cashier_id=user.id,
            at=now,
            customer_phone=cart.customer_phone,
            gross_minor=totals.gross,
            discount_minor=totals.discount,
            rounding_minor=totals.rounding,
            total_minor=totals.total,
            tax_minor=totals.tax,
            change_minor=settlement.change,
            receipt_token=secrets.token_urlsafe(24),
        )
        s.add(sale)
        event_lines = []
        for line in cart.lines:
            product = products[line.product_id]
            price = totals.line(line.id)
            bin_ = await bin_for_sale(s, product)
            s.add(
                SaleLine(
                    id=uuid7(),
                    sale_id=sale.id,
                    position=line.position,
                    product_id=product.id,
                    sku=product.sku,
                    name=product.name,
                    hsn=product.hsn,
                    unit=product.unit,
                    quantity=line.quantity,
                    unit_price_minor=product.price_minor,
                    gross_minor=price.gross,
                    discount_minor=price.discount,
                    net_minor=price.net,
                    gst_rate_bp=price.gst_rate_bp,
                    tax_minor=price.tax,
                    cgst_minor=price.cgst,
                    sgst_minor=price.sgst,
                    bin_id=bin_.id,
                )
            )
            await record_move(
                s,
                product=product,
                bin=bin_,
                delta=-line.quantity,
                reason="sale",
                reference=sale.number,
                user_id=user.id,
            )
            event_lines.append(
                {
                    "sku": product.sku,
                    "quantity": line.quantity,
                    "net": price.net,
                    "tax": price.tax,
                    "gst_rate_bp": price.gst_rate_bp,
                }
            )
        for t in cart.tenders:
            if t.kind == "exchange":
                used = sum(
                    x.amount_minor
                    for x in cart.tenders
                    if x.kind == "exchange" and x.reference == t.reference
                )
                if used > await exchange_credit_left(s, t.reference):
                    raise PosError(f"the exchange credit on {t.reference} was already used")
            s.add(
                SaleTender(
                    id=uuid7(),
                    sale_id=sale.id,
                    position=t.position,
                    kind=t.kind,
                    amount_minor=t.amount_minor,
                    given_minor=t.given_minor,
                    reference=t.reference,
                )
            )
        cart.status = "paid"
        _touch(cart)
        emit(
            s,
            "sale.completed",
            {
                "sale_id": sale.id,
                "number": sale.number,
                "at": now.isoformat(),
                "counter": counter,
                "shift": shift.number,
                "total": totals.total,
                "tax": totals.tax,
                "discount": totals.discount,
                "rounding": totals.rounding,
                "lines": event_lines,
                "tenders": [{"kind": t.kind, "amount": t.amount_minor} for t in cart.tenders],
            },
        )
        await s.flush()
        await s.refresh(sale, ["lines", "tenders"])
        receipts.ask_for_receipt(s, cfg, sale, user.name)
        return sale


async def get_sale(db: Database, sale_id: str) -> Sale | None:
    async with db.read() as s:
        return await s.get(Sale, sale_id)


async def find_sale(db: Database, cfg: StoreConfig, number: str) -> Sale | None:
    """By receipt number as printed ('S1-000123'), typed loosely ('123'), or scanned."""
    text = number.strip().upper()
    if re.fullmatch(r"[0-9]{1,9}", text):
        text = f"{cfg.store.id}-{int(text):06d}"
    async with db.read() as s:
        return await s.scalar(select(Sale).where(Sale.number == text))


async def recent_sales(db: Database, counter: str | None = None, limit: int = 20) -> list[Sale]:
    stmt = select(Sale).order_by(Sale.at.desc()).limit(limit)
    if counter:
        stmt = stmt.where(Sale.counter == counter)
    async with db.read() as s:
        return list(await s.scalars(stmt))


# ---- refunds ----------------------------------------------------------------------


@dataclass(frozen=True)
class RefundableLine:
    line: SaleLine
    refunded_quantity: int
    refunded_amount: int
    refunded_tax: int = 0

    @property
    def refundable_quantity(self) -> int:
        return self.line.quantity - self.refunded_quantity


async def refundable_lines(db: Database, sale_id: str) -> list[RefundableLine]:
    async with db.read() as s:
        return await _refundable(s, sale_id)


async def _refundable(s: AsyncSession, sale_id: str) -> list[RefundableLine]:
    lines = list(
        await s.scalars(
            select(SaleLine).where(SaleLine.sale_id == sale_id).order_by(SaleLine.position)
        )
    )
    done = {
        lid: (int(q), int(a), int(t))
        for lid, q, a, t in (
            await s.execute(
                select(
                    RefundLine.sale_line_id,
                    func.sum(RefundLine.quantity),
                    func.sum(RefundLine.amount_minor),
                    func.sum(RefundLine.tax_minor),
                )
                .where(RefundLine.sale_line_id.in_([line.id for line in lines]))
                .group_by(RefundLine.sale_line_id)
            )
        ).all()
    }
    return [RefundableLine(line, *done.get(line.id, (0, 0, 0))) for line in lines]


@dataclass(frozen=True)
class RefundRequest:
    sale_line_id: str
    quantity: int
    restock: str  # resaleable | damaged


async def refund(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    sale_id: str,
    requests: Sequence[RefundRequest],
    tender_kind: str,
    idempotency_key: str,
    user: StaffUser,
    approver: StaffUser | None = None,
    reason: str = "",
) -> Refund:
    """Refund chosen lines of a sale. Never more than sold minus already refunded;
    the last units of a line refund exactly what is left of its net amount."""
    key = idempotency_key.strip()
    if not (8 <= len(key) <= 64):
        raise PosError("missing refund key; reload the refund screen")
    _refuse_card_number(reason)
    if tender_kind not in REFUND_KINDS:
        raise PosError(f"refund by one of {', '.join(REFUND_KINDS)}")
    if cfg.pos.refund_needs_manager and not _is_manager(user) and approver is None:
        raise NeedsApproval("a refund needs a manager's PIN")
    wanted = [r for r in requests if r.quantity != 0]
    if not wanted:
        raise PosError("choose at least one item and quantity to refund")
    async with db.write() as s:
        existing = await s.scalar(select(Refund).where(Refund.idempotency_key == key))
        if existing is not None:
            if existing.sale_id != sale_id:
                raise PosError("that refund key belongs to another bill; reload the screen")
            return existing
        if len({r.sale_line_id for r in wanted}) != len(wanted):
            raise PosError("each item may appear once in a refund")
        sale = await s.get(Sale, sale_id)
        if sale is None:
            raise PosError("no such sale")
        paid_by = {t.kind for t in sale.tenders}
        if tender_kind in ("card", "upi") and tender_kind not in paid_by:
            raise PosError(f"this bill was not paid by {tender_kind}; refund by "
                           + " or ".join(sorted(paid_by | {"exchange"})))
        if tender_kind == "cash" and "cash" not in paid_by and not _is_manager(user) and (
                approver is None):
            raise NeedsApproval("cash back for a card or UPI bill needs a manager's PIN")
        shift = await _require_shift(s, counter)
        lines = {r.line.id: r for r in await _refundable(s, sale_id)}
        n = await next_number(s, "refund")
        refund_row = Refund(
            id=uuid7(),
            number=f"{cfg.store.id}-R{n:05d}",
            idempotency_key=key,
            sale_id=sale.id,
            shift_id=shift.id,
            user_id=user.id,
            approver_id=approver.id if approver else None,
            at=utcnow(),
            tender_kind=tender_kind,
            total_minor=0,
            tax_minor=0,
            reason=reason.strip()[:80],
        )
        credit_code = new_credit_code() if tender_kind == "exchange" else ""
        if credit_code:
            refund_row.credit_code_hash = credit_code_hash(credit_code)
        s.add(refund_row)
        total = tax = 0
        event_lines = []
        for req in wanted:
            entry = lines.get(req.sale_line_id)
            if entry is None:
                raise PosError("that item is not on this receipt")
            line = entry.line
            if req.quantity < 0:
                raise PosError("refund quantities cannot be negative")
            if req.quantity > entry.refundable_quantity:
                raise PosError(
                    f"{line.name}: at most {format_measure(entry.refundable_quantity, line.unit)}"
                    f" can be refunded ({format_measure(line.quantity, line.unit)} sold, "
                    f"{format_measure(entry.refunded_quantity, line.unit)} refunded)"
                )
            if req.restock not in ("resaleable", "damaged"):
                raise PosError("restock must be resaleable or damaged")
            if req.quantity == entry.refundable_quantity:  # the last units take the remainder
                amount = line.net_minor - entry.refunded_amount
                line_tax = line.tax_minor - entry.refunded_tax
            else:
                # A share of the line's GST, as two equal halves (CGST == SGST on the refund
                # too); rounded down so the last refund of the line never goes below zero.
                amount = line.net_minor * req.quantity // line.quantity
                line_tax = 2 * (line.cgst_minor * amount // line.net_minor) if line.net_minor else 0
            total += amount
            tax += line_tax
            s.add(
                RefundLine(
                    id=uuid7(),
                    refund_id=refund_row.id,
                    sale_line_id=line.id,
                    quantity=req.quantity,
                    amount_minor=amount,
                    tax_minor=line_tax,
                    restock=req.restock,
                )
            )
            if req.restock == "resaleable":
                product = await s.get(Product, line.product_id)
                from app.stock.models import Bin

                bin_ = (
                    await s.get(Bin, line.bin_id) if line.bin_id else await bin_for_sale(s, product)
                )
                await record_move(
                    s,
                    product=product,
                    bin=bin_,
                    delta=req.quantity,
                    reason="refund",
                    reference=refund_row.number,
                    user_id=user.id,
                )
            event_lines.append(
                {
                    "sku": line.sku,
                    "quantity": req.quantity,
                    "amount": amount,
                    "restock": req.restock,
                }
            )
        # Never give back more than was paid: the bill's rounding (up to 49 paise) stays
        # with the last refund, so all refunds of a bill add up to exactly its total.
        refunded_before = int(await s.scalar(
            select(func.coalesce(func.sum(Refund.total_minor), 0)).where(
                Refund.sale_id == sale.id, Refund.id != refund_row.id)) or 0)
        left_to_refund = sale.total_minor - refunded_before
        everything_back = all(
            entry.refundable_quantity == next((r.quantity for r in wanted
                                               if r.sale_line_id == line_id), 0)
            for line_id, entry in lines.items())
        total = left_to_refund if everything_back else min(total, left_to_refund)
        refund_row.total_minor = total
        refund_row.tax_minor = tax
        audit(
            s,
            user,
            "refund",
            f"{refund_row.number} of {sale.number} {total} by {tender_kind}",
            approver,
        )
        emit(
            s,
            "sale.refunded",
            {
                "refund_id": refund_row.id,
                "number": refund_row.number,
                "sale": sale.number,
                "at": refund_row.at.isoformat(),
                "total": total,
                "tax": tax,
                "tender": tender_kind,
                "lines": event_lines,
            },
        )
        await s.flush()
        await s.refresh(refund_row, ["lines"])
        receipts.ask_for_refund_slip(s, cfg, refund_row, sale,
                                     {k: v.line for k, v in lines.items()}, counter,
                                     credit_code=credit_code)
        # Shown and printed once: only its hash is kept (a repeat of the request has none).
        refund_row.credit_code = credit_code  # type: ignore[attr-defined]
        return refund_row


async def exchange_credit_left(s: AsyncSession, refund_number: str) -> int:
    """What is left to spend of an exchange refund (its total minus completed sales' use)."""
    refund_row = await s.scalar(select(Refund).where(Refund.number == refund_number))
    if refund_row is None or refund_row.tender_kind != "exchange":
        raise PosError(f"{refund_number or 'that'} is not an exchange refund")
    used = await s.scalar(
        select(func.coalesce(func.sum(SaleTender.amount_minor), 0)).where(
            SaleTender.kind == "exchange", SaleTender.reference == refund_number
        )
    )
    return refund_row.total_minor - int(used or 0)


async def exchange_credit_left_for(db: Database, refund_number: str) -> int:
    async with db.read() as s:
        try:
            return await exchange_credit_left(s, refund_number)
        except PosError:
            return 0


async def refunds_of_sale(db: Database, sale_id: str) -> list[Refund]:
    """Every refund of a bill, oldest first, with its lines (for the e-receipt)."""
    async with db.read() as s:
        return list(await s.scalars(
            select(Refund).where(Refund.sale_id == sale_id).order_by(Refund.at, Refund.number)))


async def get_refund(db: Database, refund_id: str) -> tuple[Refund, Sale] | None:
    async with db.read() as s:
        row = await s.get(Refund, refund_id)
        if row is None:
            return None
        return row, await s.get(Sale, row.sale_id)


# ---- audit ----------------------------------------------------------------------


def audit(
    s: AsyncSession, user: StaffUser, action: str, detail: str, approver: StaffUser | None = None
) -> None:
    s.add(
        AuditLog(
            id=uuid7(),
            at=utcnow(),
            user_id=user.id,
            action=action,
            detail=detail[:500],
            approver_id=approver.id if approver else None,
        )
    )


OVERRIDE_ACTIONS = (
    "reprint",
    "discount_line",
    "discount_bill",
    "void_line",
    "void_cart",
    "refund",
    "no_sale",
    "cash_in",
    "cash_out",
    "shift_open",
    "shift_close",
)


async def audit_entries(db: Database, limit: int = 200) -> list[tuple[AuditLog, str, str]]:
    from sqlalchemy.orm import aliased

    from app.core.models import User

    actor, approver = aliased(User), aliased(User)
    async with db.read() as s:
        rows = await s.execute(
            select(AuditLog, actor.name, approver.name)
            .outerjoin(actor, actor.id == AuditLog.user_id)
            .outerjoin(approver, approver.id == AuditLog.approver_id)
            .where(AuditLog.action.in_(OVERRIDE_ACTIONS))
            .order_by(AuditLog.at.desc())
            .limit(limit)
        )
        return [(a, who or "?", ok or "") for a, who, ok in rows.all()]
