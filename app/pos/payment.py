"""Paying: tenders on the cart, completing the sale, finding sales. Each public
function is one transaction."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import insert, select

from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, next_number
from app.core.ids import uuid7
from app.core.money import format_amount
from app.pos import receipts
from app.pos.common import refuse_card_number, require_shift
from app.pos.credit_notes import credit_note, exchange_credit_left
from app.pos.models import Cart, CartTender, Sale, SaleLine, SaleTender
from app.pos.priced_cart import (
    CartView,
    overpaid,
    products_for,
    settle_cart,
    totals_for,
    touch,
    unapproved_discount_over_limit,
    view_of,
)
from app.pos.till_rules import PosError, accept_tender, check_tender_kind, credit_on_cart
from app.stock.service import SaleMove, bins_for_sale, record_moves


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
    """Take a payment toward the cart (what a tender may take: till_rules.accept_tender).
    Cash: `given` may exceed what is due (change). Card/UPI/exchange: exactly `amount`
    (default: all that is still due), never more."""
    check_tender_kind(kind)
    if kind != "exchange":  # a credit note's code is made by the till and only looked up
        refuse_card_number(reference)
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
            reference = (await credit_note(s, reference)).number
        if not cart.lines:
            raise PosError("the cart is empty")
        await require_shift(s, counter)
        products = await products_for(s, cart)
        totals = totals_for(cfg, cart, products)
        credit = 0
        if kind == "exchange":
            credit = (await exchange_credit_left(s, reference)
                      - credit_on_cart(cart.tenders, reference))
        taken = accept_tender(kind, amount_minor, given_minor,
                              settle_cart(cart, totals).remaining, credit, reference)
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
                amount_minor=taken.amount,
                given_minor=taken.given,
                reference=reference,
            )
        )
        touch(cart)
        return await view_of(s, cfg, cart)


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
        touch(cart)
        return await view_of(s, cfg, cart)


async def complete_sale(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    idempotency_key: str,
    user: StaffUser,
    expected_version: int | None = None,
    exact_cash: bool = False,
) -> Sale:
    """Turn a paid cart into a sale, in one transaction: sale, lines, tenders, gapless
    number, stock moves, outbox. The same key (double tap, retry) returns the first sale.
    Lines, tenders, moves, levels and events are each written with one executemany.
    `exact_cash` (the till's "Cash, exact"): what is still due is paid in cash, exactly,
    in this same transaction."""
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
        shift = await require_shift(s, counter)
        products = await products_for(s, cart)
        totals = totals_for(cfg, cart, products)
        if overpaid(cart, totals):
            raise PosError(
                "prices changed after payment was taken: remove the payments and take them again"
            )
        if unapproved_discount_over_limit(cfg, cart, totals):
            raise PosError(
                f"a discount is over {cfg.pos.discount_limit_percent}% without "
                "approval; apply it again"
            )
        if exact_cash and (due := settle_cart(cart, totals).remaining) > 0:
            taken = accept_tender("cash", None, due, due)
            cart.tenders.append(CartTender(
                id=uuid7(), cart_id=cart.id, kind="cash", amount_minor=taken.amount,
                given_minor=taken.given, reference="",
                position=max((t.position for t in cart.tenders), default=0) + 1))
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
        for t in cart.tenders:
            if t.kind == "exchange":
                used = credit_on_cart(cart.tenders, t.reference)
                if used > await exchange_credit_left(s, t.reference):
                    raise PosError(f"the exchange credit on {t.reference} was already used")
        s.add(sale)
        await s.flush()  # the lines and tenders below refer to it
        # One query for every line's bin, then one executemany per table (issue #15).
        bins = await bins_for_sale(s, (line.product_id for line in cart.lines))
        sale_lines: list[dict[str, object]] = []
        moves: list[SaleMove] = []
        event_lines = []
        for line in cart.lines:
            product = products[line.product_id]
            price = totals.line(line.id)
            bin_ = bins.take(product.id, line.quantity)
            sale_lines.append({
                "id": uuid7(), "sale_id": sale.id, "position": line.position,
                "product_id": product.id, "sku": product.sku, "name": product.name,
                "hsn": product.hsn, "unit": product.unit, "quantity": line.quantity,
                "unit_price_minor": product.price_minor, "gross_minor": price.gross,
                "discount_minor": price.discount, "net_minor": price.net,
                "gst_rate_bp": price.gst_rate_bp, "tax_minor": price.tax,
                "cgst_minor": price.cgst, "sgst_minor": price.sgst, "bin_id": bin_.id,
            })
            moves.append(SaleMove(product.id, product.sku, bin_.id, bin_.code, -line.quantity))
            event_lines.append(
                {
                    "sku": product.sku,
                    "quantity": line.quantity,
                    "net": price.net,
                    "tax": price.tax,
                    "gst_rate_bp": price.gst_rate_bp,
                }
            )
        await s.execute(insert(SaleLine), sale_lines)
        if cart.tenders:
            await s.execute(insert(SaleTender), [
                {"id": uuid7(), "sale_id": sale.id, "position": t.position, "kind": t.kind,
                 "amount_minor": t.amount_minor, "given_minor": t.given_minor,
                 "reference": t.reference}
                for t in cart.tenders
            ])
        cart.status = "paid"
        touch(cart)
        completed = {
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
        }
        # the stock.moved events, then sale.completed: the order emit() gave them
        await record_moves(s, moves, reason="sale", reference=sale.number, user_id=user.id,
                           then=[("sale.completed", completed)])
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
