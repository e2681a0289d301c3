"""A stored cart, priced: what the cart steps and payment share. A cart belongs to
one counter and is priced from the catalogue on the server, never from a client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, exists, func, select, update

from app.catalog.models import Product
from app.catalog.service import PRODUCT_INFO_COLUMNS, ProductInfo
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Session
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.prepared import Prepared
from app.core.promotions import Promotion
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
    TenderKind,
    price_cart,
    settle,
)
from app.pos.till_rules import PosError
from app.promotions import service as promotions


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
class TenderState:
    """A payment taken toward a cart, as a plain row (the pay panel, tender, complete)."""

    id: str
    position: int
    kind: TenderKind
    amount_minor: int
    given_minor: int | None
    reference: str
    at: datetime | None = None  # when it was taken (None: before migration 0030)


@dataclass(slots=True)
class CartState:
    """An open cart as plain rows. The scan path leaves `tenders` empty (a cart being
    paid cannot be changed); the payment steps read them."""

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
    # A registered buyer (issue #18): set, the sale becomes a tax invoice to them.
    buyer_gstin: str = ""
    buyer_name: str = ""
    buyer_address: str = ""
    coupons: str = ""  # coupon codes entered on the cart, space separated (issue #21)
    lines: list[LineState] = field(default_factory=list)
    tenders: list[TenderState] = field(default_factory=list)


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
        sku=product.sku,
        category=product.category,
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


def totals_for(cfg: StoreConfig, cart: AnyCart, products: Mapping[str, AnyProduct],
               offers: Sequence[Promotion] = ()) -> CartTotals:
    """The single repricing of a cart: every path (scan, payment, a test's full reload)
    feeds the pure price_cart the same inputs; `offers`: the store's promotions
    (``priced``, which every path that shows or charges a total uses, reads them)."""
    return price_cart(
        [line_input(line, products[line.product_id]) for line in cart.lines],
        bill_discount(cart),
        cfg.pos.rounding_step_paise,
        offers,
        offers_judged_at(cart).astimezone(cfg.tz) if offers else None,
        cart.coupons.split(),
    )


def offers_judged_at(cart: AnyCart) -> datetime:
    """When a cart's offers (time windows: happy hours, days, dates) are judged: at the
    moment its first payment was taken, once one was, so an offer that ends while the
    customer pays does not change the bill they were shown and are paying; until then,
    now. (The scan path reads no tenders: a line added after a payment is shown at
    now's offers, and the pay panel, tenders and Complete judge them all at the first
    payment's.)"""
    if isinstance(cart, CartState):
        taken = [t.at for t in cart.tenders if t.at is not None]
        if taken:
            return min(taken)
    return utcnow()


async def priced(s: Session, cfg: StoreConfig, cart: AnyCart,
                 products: Mapping[str, AnyProduct]) -> CartTotals:
    """totals_for with the store's running promotions (from the per-process cache:
    no query while they did not change)."""
    return totals_for(cfg, cart, products, await promotions.running(s, cfg))


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


def overpaid(cart: AnyCart, totals: CartTotals) -> bool:
    return sum(t.amount_minor for t in cart.tenders) > totals.total


async def view_of(s: Session, cfg: StoreConfig, cart: Cart) -> CartView:
    products = await products_for(s, cart)
    return CartView(cart, products, await priced(s, cfg, cart, products),
                    await parked_on(s, cart.counter))


_C = Cart.__table__.c
_L = CartLine.__table__.c
_PARKED = Prepared(
    select(_C.id, _C.note, _C.updated_at, func.count(_L.id))
    .select_from(Cart.__table__.outerjoin(CartLine.__table__, _L.cart_id == _C.id))
    .where(_C.counter == bindparam("counter"), _C.status == "parked")
    .group_by(_C.id)
    .order_by(_C.updated_at)
)


async def parked_on(s: Session, counter: str) -> list[ParkedCart]:
    """The counter's parked bills with their line counts, in one query."""
    return [ParkedCart(*row) for row in await _PARKED.all(s, {"counter": counter})]


def _check_changeable(counter: str, cart_counter: str | None, status: str, paying: bool) -> None:
    if cart_counter is None or cart_counter != counter:
        raise PosError(_("that cart is not on this counter"))
    if status != "active":
        raise PosError(_("that cart is no longer open; start a new sale"))
    if paying:
        raise PosError(_("payment has started; remove the payments to change the cart"))


async def cart_for_change(s: Session, counter: str, cart_id: str) -> Cart:
    cart = await s.get(Cart, cart_id)
    _check_changeable(counter, cart.counter if cart else None, cart.status if cart else "",
                      bool(cart and cart.tenders))
    await require_shift(s, counter)
    assert cart is not None
    return cart


# ---- plain rows: the scan path, the till page, paying --------------------------------
# The cart, its lines joined to their products, and its tenders are read with prebuilt
# Core statements (Prepared: compiled once, run on the transaction's sqlite3 connection)
# into CartState/LineState/ProductInfo/TenderState (no ORM object: its per-object cost
# was most of a till step's CPU), changed with Core statements, and priced by
# pricing.price_cart from what the transaction already has (issue #15).

_CARTS = cast(Table, Cart.__table__)
_TENDERS_TABLE = cast(Table, CartTender.__table__)
_T = _TENDERS_TABLE.c
_S = Shift.__table__.c
_CART_COLUMNS = (_C.id, _C.counter, _C.status, _C.user_id, _C.customer_phone,
                 _C.bill_discount_kind, _C.bill_discount_value, _C.bill_discount_approver,
                 _C.version, _C.note, _C.created_at, _C.updated_at,
                 _C.buyer_gstin, _C.buyer_name, _C.buyer_address, _C.coupons)
_N_CART = len(_CART_COLUMNS)
_CART_STATE = Prepared(select(
    *_CART_COLUMNS,
    exists().where(_T.cart_id == _C.id).label("paying"),
    exists().where(and_(_S.counter == _C.counter, _S.closed_at.is_(None))).label("shift_open"),
).where(_C.id == bindparam("cart_id")))
# The counter's open shift and its newest active cart in one row (cart columns NULL when
# it has none; no row when the counter has no open shift: at most one, a unique index).
_COUNTER_CART = Prepared(
    select(*_CART_COLUMNS)
    .select_from(Shift.__table__.outerjoin(
        Cart.__table__, and_(_C.counter == _S.counter, _C.status == "active")))
    .where(_S.counter == bindparam("counter"), _S.closed_at.is_(None))
    .order_by(_C.created_at.desc())
    .limit(1)
)
_LINE_COLUMNS = (_L.id, _L.position, _L.product_id, _L.quantity, _L.label_price_minor,
                 _L.scanned_code, _L.discount_kind, _L.discount_value, _L.discount_approver)
_LINES_AND_PRODUCTS = Prepared(
    select(*_LINE_COLUMNS, *PRODUCT_INFO_COLUMNS, Product.__table__.c.hsn)
    .join(Product.__table__, Product.__table__.c.id == _L.product_id)
    .where(_L.cart_id == bindparam("cart_id"))
    .order_by(_L.position)
)
_TENDER_COLUMNS = (_T.id, _T.position, _T.kind, _T.amount_minor, _T.given_minor, _T.reference,
                   _T.at)
_TENDERS = Prepared(select(*_TENDER_COLUMNS).where(_T.cart_id == bindparam("cart_id"))
                    .order_by(_T.position))
_TOUCH = Prepared(update(_CARTS).where(_C.id == bindparam("cart_id")).values(
    version=bindparam("version"), updated_at=bindparam("updated_at")))
_INSERT_CART = Prepared.insert(_CARTS)
_SAVE_CART = Prepared(update(_CARTS).where(_C.id == bindparam("cart_id")).values(
    customer_phone=bindparam("customer_phone"),
    bill_discount_kind=bindparam("bill_discount_kind"),
    bill_discount_value=bindparam("bill_discount_value"),
    bill_discount_approver=bindparam("bill_discount_approver"),
    version=bindparam("version"), updated_at=bindparam("updated_at")))
_SAVE_BUYER = Prepared(update(_CARTS).where(_C.id == bindparam("cart_id")).values(
    buyer_gstin=bindparam("buyer_gstin"), buyer_name=bindparam("buyer_name"),
    buyer_address=bindparam("buyer_address"),
    version=bindparam("version"), updated_at=bindparam("updated_at")))
_LINES_TABLE = cast(Table, CartLine.__table__)
_SAVE_LINE = Prepared(update(_LINES_TABLE).where(_L.id == bindparam("line_id")).values(
    quantity=bindparam("quantity"), discount_kind=bindparam("discount_kind"),
    discount_value=bindparam("discount_value"),
    discount_approver=bindparam("discount_approver")))
_DELETE_LINE = Prepared(delete(_LINES_TABLE).where(_L.id == bindparam("line_id")))
INSERT_TENDER = Prepared.insert(_TENDERS_TABLE)
DELETE_TENDER = Prepared(delete(_TENDERS_TABLE).where(_T.id == bindparam("tender_id")))


async def read_lines(s: Session, cart: CartState, hsn: dict[str, str] | None = None
                     ) -> dict[str, ProductInfo]:
    """Fill `cart.lines` (in position order) and return their products; `hsn` gets
    each product's HSN code when given (the sale's lines keep it)."""
    products: dict[str, ProductInfo] = {}
    n, m = len(_LINE_COLUMNS), len(_LINE_COLUMNS) + len(PRODUCT_INFO_COLUMNS)
    for r in await _LINES_AND_PRODUCTS.all(s, {"cart_id": cart.id}):
        cart.lines.append(LineState(*r[:n]))
        products[r.product_id] = ProductInfo(*r[n:m])
        if hsn is not None:
            hsn[r.product_id] = r.hsn
    return products


async def read_tenders(s: Session, cart: CartState) -> None:
    cart.tenders = [TenderState(*r) for r in await _TENDERS.all(s, {"cart_id": cart.id})]


@dataclass(frozen=True, slots=True)
class StoredCart:
    """A cart read by id (cart_state): its state, whether payment has started, and
    whether its counter has an open shift; lines and tenders are read by the caller."""

    cart: CartState
    paying: bool
    shift_open: bool


async def cart_state(s: Session, cart_id: str) -> StoredCart | None:
    row = await _CART_STATE.first(s, {"cart_id": cart_id})
    if row is None:
        return None
    return StoredCart(CartState(*row[:_N_CART]), bool(row.paying), bool(row.shift_open))


async def cart_state_for_change(
    s: Session, counter: str, cart_id: str
) -> tuple[CartState, dict[str, ProductInfo]]:
    """The cart to change (same refusals as cart_for_change) with its lines and their
    products: two indexed queries, no ORM objects, no parked carts, no tenders."""
    stored = await cart_state(s, cart_id)
    _check_changeable(counter, stored.cart.counter if stored else None,
                      stored.cart.status if stored else "", bool(stored and stored.paying))
    assert stored is not None
    if not stored.shift_open:
        raise no_shift(counter)
    return stored.cart, await read_lines(s, stored.cart)


async def counter_cart_state(
    s: Session, counter: str
) -> tuple[CartState, dict[str, ProductInfo]] | None:
    """The counter's active cart with its lines, products and tenders (the newest, as
    the ORM path chose); None when it has none. PosError when no shift is open."""
    row = await _COUNTER_CART.first(s, {"counter": counter})
    if row is None:
        raise no_shift(counter)
    if row.id is None:
        return None
    cart = CartState(*row[:_N_CART])
    products = await read_lines(s, cart)
    await read_tenders(s, cart)
    return cart, products


async def new_cart_state(s: Session, counter: str, user_id: str) -> CartState:
    """A new, empty active cart on the counter, written at once."""
    now = utcnow()
    cart = CartState(id=uuid7(), counter=counter, status="active", user_id=user_id,
                     customer_phone="", bill_discount_kind=None, bill_discount_value=0,
                     bill_discount_approver=None, version=0, note="", created_at=now,
                     updated_at=now)
    await _INSERT_CART.run(s, {
        "id": cart.id, "counter": counter, "status": "active", "user_id": user_id,
        "customer_phone": "", "bill_discount_kind": None, "bill_discount_value": 0,
        "bill_discount_approver": None, "version": 0, "note": "", "created_at": now,
        "updated_at": now, "buyer_gstin": "", "buyer_name": "", "buyer_address": "",
        "coupons": ""})
    return cart


async def view_of_state(s: Session, cfg: StoreConfig, cart: CartState,
                        products: Mapping[str, ProductInfo]) -> CartView:
    """view_of for plain rows: priced once, with the counter's parked bills."""
    return CartView(cart, products, await priced(s, cfg, cart, products),
                    await parked_on(s, cart.counter))


async def touch_state(s: Session, cart: CartState) -> None:
    """touch() for a CartState, written at once."""
    cart.version += 1
    cart.updated_at = utcnow()
    await _TOUCH.run(s, {"cart_id": cart.id, "version": cart.version,
                         "updated_at": cart.updated_at})


async def save_cart_state(s: Session, cart: CartState) -> None:
    """touch_state plus the cart's own fields a till step changes (customer phone, bill
    discount and its approver), written at once."""
    cart.version += 1
    cart.updated_at = utcnow()
    await _SAVE_CART.run(s, {
        "cart_id": cart.id, "customer_phone": cart.customer_phone,
        "bill_discount_kind": cart.bill_discount_kind,
        "bill_discount_value": cart.bill_discount_value,
        "bill_discount_approver": cart.bill_discount_approver,
        "version": cart.version, "updated_at": cart.updated_at})


async def save_buyer(s: Session, cart: CartState) -> None:
    """touch_state plus the cart's buyer (GSTIN, name, address), written at once."""
    cart.version += 1
    cart.updated_at = utcnow()
    await _SAVE_BUYER.run(s, {
        "cart_id": cart.id, "buyer_gstin": cart.buyer_gstin, "buyer_name": cart.buyer_name,
        "buyer_address": cart.buyer_address, "version": cart.version,
        "updated_at": cart.updated_at})


async def save_lines(s: Session, lines: Iterable[LineState]) -> None:
    """Write the quantity and discount of each of `lines` (each once)."""
    for line in {id(x): x for x in lines}.values():
        await _SAVE_LINE.run(s, {
            "line_id": line.id, "quantity": line.quantity,
            "discount_kind": line.discount_kind, "discount_value": line.discount_value,
            "discount_approver": line.discount_approver})


async def delete_line(s: Session, line: LineState) -> None:
    await _DELETE_LINE.run(s, {"line_id": line.id})


def line_state_of(cart: CartState, line_id: str) -> LineState:
    line = next((line for line in cart.lines if line.id == line_id), None)
    if line is None:
        raise PosError(_("that line is not on this cart"))
    return line


def touch(cart: Cart) -> None:
    cart.version += 1
    cart.updated_at = utcnow()


def line_of(cart: Cart, line_id: str) -> CartLine:
    line = next((line for line in cart.lines if line.id == line_id), None)
    if line is None:
        raise PosError(_("that line is not on this cart"))
    return line


def unapproved_discount_over_limit(cfg: StoreConfig, cart: AnyCart, totals: CartTotals
                                   ) -> bool:
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
