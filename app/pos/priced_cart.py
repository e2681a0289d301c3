"""A stored cart, priced: what the cart steps and payment share. A cart belongs to
one counter and is priced from the catalogue on the server, never from a client."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, exists, func, select, update

from app.catalog.models import Product
from app.catalog.service import PRODUCT_INFO_COLUMNS, ProductInfo
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Session
from app.pos.common import no_shift, require_shift
from app.pos.models import Cart, CartLine, CartTender, Shift
from app.pos.pricing import (
    CartTotals,
    Discount,
    DiscountKind,
    LineInput,
    PricingError,
    Settlement,
    TenderInput,
    price_cart,
    settle,
)
from app.pos.till_rules import PosError


@dataclass(slots=True)
class LineState:
    """A cart line as a plain row: what the scan path reads and writes with Core SQL."""

    id: str
    position: int
    product_id: str
    quantity: int
    label_price_minor: int | None = None
    scanned_code: str = ""
    discount_kind: DiscountKind | None = None
    discount_value: int = 0
    discount_approver: str | None = None


@dataclass(slots=True)
class CartState:
    """An open cart as plain rows (no tenders: a cart being paid cannot be changed)."""

    id: str
    counter: str
    status: str
    user_id: str
    customer_phone: str
    bill_discount_kind: DiscountKind | None
    bill_discount_value: int
    bill_discount_approver: str | None
    version: int
    note: str
    created_at: datetime
    updated_at: datetime
    lines: list[LineState] = field(default_factory=list)
    tenders: tuple[CartTender, ...] = ()


@dataclass(frozen=True, slots=True)
class ParkedCart:
    """A parked bill as the till's chip shows it."""

    id: str
    note: str
    updated_at: datetime
    items: int


AnyCart = Cart | CartState
AnyProduct = Product | ProductInfo


@dataclass(frozen=True)
class CartView:
    """A cart, its products and its totals, priced once by pricing.price_cart. The cart
    steps build it from plain rows (CartState); payment from the ORM cart."""

    cart: AnyCart
    products: Mapping[str, AnyProduct]
    totals: CartTotals
    parked: list[ParkedCart]

    @property
    def remaining(self) -> int:
        return settle_cart(self.cart, self.totals).remaining


def line_input(line: CartLine | LineState, product: AnyProduct) -> LineInput:
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


def bill_discount(cart: AnyCart) -> Discount | None:
    if not cart.bill_discount_kind:
        return None
    return Discount(cart.bill_discount_kind, cart.bill_discount_value)


async def products_for(s: Session, cart: Cart) -> dict[str, Product]:
    ids = {line.product_id for line in cart.lines}
    if not ids:
        return {}
    return {p.id: p for p in await s.scalars(select(Product).where(Product.id.in_(ids)))}


def totals_for(cfg: StoreConfig, cart: AnyCart, products: Mapping[str, AnyProduct]
               ) -> CartTotals:
    """The single repricing of a cart: every path (scan, payment, a test's full reload)
    feeds the pure price_cart the same inputs."""
    return price_cart(
        [line_input(line, products[line.product_id]) for line in cart.lines],
        bill_discount(cart),
        cfg.pos.rounding_step_paise,
    )


def settle_cart(cart: AnyCart, totals: CartTotals) -> Settlement:
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
    return CartView(cart, products, totals_for(cfg, cart, products),
                    await parked_on(s, cart.counter))


_C = Cart.__table__.c
_L = CartLine.__table__.c
_PARKED = (
    select(_C.id, _C.note, _C.updated_at, func.count(_L.id))
    .select_from(Cart.__table__.outerjoin(CartLine.__table__, _L.cart_id == _C.id))
    .where(_C.counter == bindparam("counter"), _C.status == "parked")
    .group_by(_C.id)
    .order_by(_C.updated_at)
)


async def parked_on(s: Session, counter: str) -> list[ParkedCart]:
    """The counter's parked bills with their line counts, in one query."""
    return [ParkedCart(*row) for row in await s.execute(_PARKED, {"counter": counter})]


def _check_changeable(counter: str, cart_counter: str | None, status: str, paying: bool) -> None:
    if cart_counter is None or cart_counter != counter:
        raise PosError("that cart is not on this counter")
    if status != "active":
        raise PosError("that cart is no longer open; start a new sale")
    if paying:
        raise PosError("payment has started; remove the payments to change the cart")


async def cart_for_change(s: Session, counter: str, cart_id: str) -> Cart:
    cart = await s.get(Cart, cart_id)
    _check_changeable(counter, cart.counter if cart else None, cart.status if cart else "",
                      bool(cart and cart.tenders))
    await require_shift(s, counter)
    assert cart is not None
    return cart


# ---- the scan path: plain rows, one query for the cart, one for its lines ------------

_CART_STATE = select(
    _C.id, _C.counter, _C.status, _C.user_id, _C.customer_phone, _C.bill_discount_kind,
    _C.bill_discount_value, _C.bill_discount_approver, _C.version, _C.note, _C.created_at,
    _C.updated_at,
    exists().where(CartTender.__table__.c.cart_id == _C.id).label("paying"),
    exists().where(and_(Shift.__table__.c.counter == _C.counter,
                        Shift.__table__.c.closed_at.is_(None))).label("shift_open"),
).where(_C.id == bindparam("cart_id"))
_LINE_COLUMNS = (_L.id, _L.position, _L.product_id, _L.quantity, _L.label_price_minor,
                 _L.scanned_code, _L.discount_kind, _L.discount_value, _L.discount_approver)
_LINES_AND_PRODUCTS = (
    select(*_LINE_COLUMNS, *PRODUCT_INFO_COLUMNS)
    .join(Product.__table__, Product.__table__.c.id == _L.product_id)
    .where(_L.cart_id == bindparam("cart_id"))
    .order_by(_L.position)
)
_TOUCH = update(cast(Table, Cart.__table__)).where(_C.id == bindparam("cart_id")).values(
    version=bindparam("version"), updated_at=bindparam("updated_at"))


async def cart_state_for_change(
    s: Session, counter: str, cart_id: str
) -> tuple[CartState, dict[str, ProductInfo]]:
    """The cart to change (same refusals as cart_for_change) with its lines and their
    products: two indexed queries, no ORM objects, no parked carts, no tenders."""
    row = (await s.execute(_CART_STATE, {"cart_id": cart_id})).first()
    _check_changeable(counter, row.counter if row else None, row.status if row else "",
                      bool(row and row.paying))
    assert row is not None
    if not row.shift_open:
        raise no_shift(counter)
    cart = CartState(*row[:12])
    products: dict[str, ProductInfo] = {}
    n = len(_LINE_COLUMNS)
    for r in await s.execute(_LINES_AND_PRODUCTS, {"cart_id": cart_id}):
        cart.lines.append(LineState(*r[:n]))
        products[r.product_id] = ProductInfo(*r[n:])
    return cart, products


async def touch_state(s: Session, cart: CartState) -> None:
    """touch() for a CartState, written at once."""
    cart.version += 1
    cart.updated_at = utcnow()
    await s.execute(_TOUCH, {"cart_id": cart.id, "version": cart.version,
                             "updated_at": cart.updated_at})


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
