"""A stored cart, priced: what the cart steps and payment share. A cart belongs to
one counter and is priced from the catalogue on the server, never from a client."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.catalog.models import Product
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Session
from app.pos.common import require_shift
from app.pos.models import Cart, CartLine
from app.pos.pricing import (
    CartTotals,
    Discount,
    LineInput,
    PricingError,
    Settlement,
    TenderInput,
    price_cart,
    settle,
)
from app.pos.till_rules import PosError


@dataclass(frozen=True)
class CartView:
    cart: Cart
    products: dict[str, Product]
    totals: CartTotals
    parked: list[Cart]

    @property
    def remaining(self) -> int:
        return settle_cart(self.cart, self.totals).remaining


def line_input(line: CartLine, product: Product) -> LineInput:
    discount = (
        Discount(line.discount_kind, line.discount_value)
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


def bill_discount(cart: Cart) -> Discount | None:
    if not cart.bill_discount_kind:
        return None
    return Discount(cart.bill_discount_kind, cart.bill_discount_value)


async def products_for(s: Session, cart: Cart) -> dict[str, Product]:
    ids = {line.product_id for line in cart.lines}
    if not ids:
        return {}
    return {p.id: p for p in await s.scalars(select(Product).where(Product.id.in_(ids)))}


def totals_for(cfg: StoreConfig, cart: Cart, products: dict[str, Product]) -> CartTotals:
    return price_cart(
        [line_input(line, products[line.product_id]) for line in cart.lines],
        bill_discount(cart),
        cfg.pos.rounding_step_paise,
    )


def settle_cart(cart: Cart, totals: CartTotals) -> Settlement:
    """Tenders against the current total. Never raises: if prices dropped after a card
    or UPI payment the cart shows as paid and complete_sale refuses it with a message."""
    tenders = [
        TenderInput(t.kind, t.amount_minor, t.given_minor)
        for t in cart.tenders
    ]
    try:
        return settle(totals.total, tenders)
    except PricingError:
        return Settlement(due=totals.total, paid=totals.total, change=0)


def overpaid(cart: Cart, totals: CartTotals) -> bool:
    return sum(t.amount_minor for t in cart.tenders) > totals.total


async def view_of(s: Session, cfg: StoreConfig, cart: Cart) -> CartView:
    products = await products_for(s, cart)
    parked = list(
        await s.scalars(
            select(Cart)
            .where(Cart.counter == cart.counter, Cart.status == "parked")
            .order_by(Cart.updated_at)
        )
    )
    return CartView(cart, products, totals_for(cfg, cart, products), parked)


async def cart_for_change(s: Session, counter: str, cart_id: str) -> Cart:
    cart = await s.get(Cart, cart_id)
    if cart is None or cart.counter != counter:
        raise PosError("that cart is not on this counter")
    if cart.status != "active":
        raise PosError("that cart is no longer open; start a new sale")
    if cart.tenders:
        raise PosError("payment has started; remove the payments to change the cart")
    await require_shift(s, counter)
    return cart


def touch(cart: Cart) -> None:
    cart.version += 1
    cart.updated_at = utcnow()


def line_of(cart: Cart, line_id: str) -> CartLine:
    line = next((line for line in cart.lines if line.id == line_id), None)
    if line is None:
        raise PosError("that line is not on this cart")
    return line


def unapproved_discount_over_limit(cfg: StoreConfig, cart: Cart, totals: CartTotals) -> bool:
    for line in cart.lines:
        if line.discount_kind and not line.discount_approver:
            d = Discount(line.discount_kind, line.discount_value)
            if discount_needs_approval(cfg, d, totals.line(line.id).gross):
                return True
    if cart.bill_discount_kind and not cart.bill_discount_approver:
        d = Discount(cart.bill_discount_kind, cart.bill_discount_value)
        return discount_needs_approval(cfg, d, totals.gross - totals.line_discounts)
    return False


def discount_needs_approval(cfg: StoreConfig, discount: Discount, base: int) -> bool:
    limit_bp = cfg.pos.discount_limit_percent * 100
    if discount.kind == "percent":
        return discount.value > limit_bp
    return discount.value * 10_000 > base * limit_bp
