"""Building the bill at the till: scan, add, change quantities, void lines or the
cart, the customer's phone, park and resume. Each public function is one transaction.

Carts live in the database (a reload or crash loses nothing) and belong to one
counter: every call names the counter it comes from, and a cart of another
counter is refused. Prices always come from the catalogue on the server; a
client never sends a price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast

from sqlalchemy import Table, bindparam, select, update

from app.catalog.barcodes import MeasureRule, parse_scan
from app.catalog.models import Product
from app.catalog.service import (
    ProductInfo,
    UnknownProduct,
    find_scanned_info,
    product_info_by_sku,
)
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.gst_invoice import (
    GstinError,
    business_bill_refusal,
    parse_gstin,
    place_of_supply,
)
from app.core.i18n import _, day_text, ngettext
from app.core.ids import uuid7
from app.core.money import format_amount
from app.core.prepared import Prepared
from app.core.words import count_of
from app.pos.common import is_manager, open_shift_row, refuse_card_number
from app.pos.discounts import recheck_discounts
from app.pos.models import Cart, CartLine, Void
from app.pos.priced_cart import (
    AnyCart,
    CartView,
    LineState,
    cart_for_change,
    cart_state_for_change,
    counter_cart_state,
    delete_line,
    line_state_of,
    new_cart_state,
    parked_on,
    priced,
    products_for,
    save_buyer,
    save_cart_state,
    save_lines,
    totals_for,
    touch,
    touch_state,
    view_of,
    view_of_state,
)
from app.pos.till_requests import claim
from app.pos.till_rules import NeedsApproval, PosError, scanned_batch


async def _active_cart(s: Session, counter: str, user: StaffUser) -> Cart:
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
    """The counter's open cart (a new one when it has none), priced: the till page, the
    pay panel, "Back to bill". Read as plain rows in a read transaction, which waits for
    no other till; only making a new cart takes the write lock (and looks again)."""
    async with db.read() as s:
        found = await counter_cart_state(s, counter)  # PosError when no shift is open
        if found is not None:
            return await view_of_state(s, cfg, *found)
    async with db.write() as s:
        found = await counter_cart_state(s, counter)
        if found is None:
            found = (await new_cart_state(s, counter, user.id), {})
        return await view_of_state(s, cfg, *found)


def _check_quantity(cfg: StoreConfig, product: Product | ProductInfo, quantity: int) -> None:
    if quantity <= 0:
        raise PosError(_("quantity must be more than zero"))
    limit = (
        cfg.pos.max_pieces_per_line if product.unit == "piece" else (cfg.pos.max_kg_per_line * 1000)
    )
    if quantity > limit:
        shown = f"{limit}" if product.unit == "piece" else f"{limit // 1000} {product.unit}"
        raise PosError(_("that is more than %(limit)s of %(name)s on one line; check it")
                       % {"limit": shown, "name": product.name})


_LINES = cast(Table, CartLine.__table__)
_INSERT_LINE = Prepared.insert(_LINES)
_SET_LINE_QUANTITY = Prepared(
    update(_LINES)
    .where(_LINES.c.id == bindparam("line_id"))
    .values(quantity=bindparam("quantity"))
)


async def _add_line(
    s: Session,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    product: ProductInfo,
    quantity: int,
    label_price: int | None,
    code: str,
    batch: str = "",
    today: date | None = None,
) -> tuple[CartView, LineState]:
    """Add to the cart (a plain piece merges into its line) and price it: the hot path of
    the till. Core statements on plain rows; the view is built from what this transaction
    already read (the cart, its lines and products), repriced by pricing.price_cart.
    `batch`: the batch the code names (GS1 AI 10), '' for none."""
    if not product.active:
        raise PosError(_("%(name)s is discontinued and cannot be sold") % {"name": product.name})
    cart, products = await cart_state_for_change(s, counter, cart_id)
    products[product.id] = product
    mergeable = product.unit == "piece" and label_price is None
    line = next(
        (
            x for x in cart.lines
            if mergeable and x.product_id == product.id
            and x.label_price_minor is None and not x.discount_kind
            # a GS1 code may name a batch, which the sale takes from: a line only
            # grows by scans of the same batch (or of none)
            and (x.scanned_code == code[:64] or scanned_batch(
                x.scanned_code, cfg.measure_rules, today) == batch)
        ),
        None,
    )
    if line is not None:
        _check_quantity(cfg, product, line.quantity + quantity)
        line.quantity += quantity
        await _SET_LINE_QUANTITY.run(s, {"line_id": line.id, "quantity": line.quantity})
    else:
        _check_quantity(cfg, product, quantity)
        line = LineState(
            id=uuid7(),
            position=max((x.position for x in cart.lines), default=0) + 1,
            product_id=product.id,
            quantity=quantity,
            label_price_minor=label_price,
            scanned_code=code[:64],
        )
        cart.lines.append(line)
        await _INSERT_LINE.run(s, {
            "id": line.id, "cart_id": cart.id, "position": line.position,
            "product_id": line.product_id, "quantity": line.quantity,
            "label_price_minor": line.label_price_minor, "scanned_code": line.scanned_code,
            "discount_kind": None, "discount_value": 0, "discount_approver": None,
        })
    await touch_state(s, cart)
    view = CartView(cart, products, await priced(s, cfg, cart, products),
                    await parked_on(s, counter))
    return view, line


class ExpiredScan(NeedsApproval):
    """A GS1 code whose expiry date (AI 17) has passed: the item is not added unless a
    manager approves (issue #17). ``what`` names it for the manager's PIN box."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


async def add_scan(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    user: StaffUser,
    cart_id: str,
    code: str,
    rules: Sequence[MeasureRule],
    request_id: str = "",
    approver: StaffUser | None = None,
) -> tuple[CartView, LineState]:
    """A scanned or typed code adds a line (weight or price from a scale label).
    `request_id`: the tablet's id for this scan; sent again, AlreadyDone (till_requests).
    A GS1 code whose expiry (AI 17) is before the store's today raises ExpiredScan unless
    a manager approves (`approver`); the approval is audit-logged.

    The hot path of the till: one transaction, no query that the fragment doesn't need
    (a plain barcode carries no date: nothing more is asked of it)."""
    today = utcnow().astimezone(cfg.tz).date()
    scan = parse_scan(code, rules, today)  # BarcodeError bubbles up before any I/O
    async with db.write() as s:
        await claim(s, request_id)
        product = await find_scanned_info(s, scan)  # or UnknownProduct
        if scan.expiry is not None and scan.expiry < today:
            if approver is None:  # a manager at the till types their PIN too: a deliberate yes
                on = {"name": product.name, "day": day_text(scan.expiry, "%d %b %Y")}
                raise ExpiredScan(_("%(name)s expired on %(day)s. Do not sell it unless a "
                                    "manager approves.") % on,
                                  _("Sell %(name)s, expired on %(day)s") % on)
            audit.record(s, "sell_expired", f"{product.sku} expiry {scan.expiry.isoformat()} "
                         f"batch {scan.batch or '-'}", user=user, approver=approver)
        label_price = scan.price_minor
        if product.unit == "piece":
            quantity = scan.quantity or 1
        elif scan.weight_g:
            quantity = scan.weight_g
        elif label_price is not None:
            quantity = scan.quantity or 1000  # a price label without weight: one unit
        else:
            raise PosError(_(
                "%(name)s is sold by %(unit)s: scan the scale label "
                "or use its quick key and enter the weight"
            ) % {"name": product.name, "unit": product.unit})
        return await _add_line(s, cfg, counter, cart_id, product, quantity, label_price, code,
                               scan.batch or "", today)


async def add_product(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, sku: str, quantity: int,
    request_id: str = "",
) -> tuple[CartView, LineState]:
    async with db.write() as s:
        await claim(s, request_id)
        product = await product_info_by_sku(s, sku)
        if product is None:
            raise UnknownProduct(sku)
        return await _add_line(s, cfg, counter, cart_id, product, quantity, None, "")


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
        cart, products = await cart_state_for_change(s, counter, cart_id)
        line = line_state_of(cart, line_id)
        product = products[line.product_id]
        if quantity <= 0:
            raise PosError(_("use Remove to take a line off the bill"))
        if line.label_price_minor is not None or product.unit != "piece":
            raise PosError(_(
                "a weighed or price-labelled line cannot change quantity; remove it and scan again"
            ))
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
        approved = recheck_discounts(cfg, cart, products, user, approver)
        await save_lines(s, [line, *approved])
        await save_cart_state(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def _void(
    s: Session,
    cfg: StoreConfig,
    cart: AnyCart,
    user: StaffUser,
    approver: StaffUser | None,
    kind: str,
    amount: int,
    detail: str,
) -> None:
    limit = cfg.pos.void_approval_above_rupees * 100
    if amount > limit and not is_manager(user) and approver is None:
        raise NeedsApproval(_("removing %(amount)s needs a manager's PIN")
                            % {"amount": format_amount(amount)})
    shift = await open_shift_row(s, cart.counter)
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
    audit.record(s, f"void_{kind}", f"{detail} {amount}", user=user, approver=approver)


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
        cart, products = await cart_state_for_change(s, counter, cart_id)
        line = line_state_of(cart, line_id)
        value = totals_for(cfg, cart, products).line(line.id).gross
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
        approved = recheck_discounts(cfg, cart, products, user, approver)
        await delete_line(s, line)
        await save_lines(s, approved)
        await save_cart_state(s, cart)
        return await view_of_state(s, cfg, cart, products)


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
            raise PosError(_("that cart is not open on this counter"))
        if cart.tenders:
            raise PosError(_("payment has started; remove the payments first"))
        products = await products_for(s, cart)
        value = totals_for(cfg, cart, products).gross
        if cart.lines:
            await _void(s, cfg, cart, user, approver, "cart", value, count_of(len(cart.lines), "line"))
        cart.status = "voided"
        touch(cart)


async def set_customer_phone(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, phone: str
) -> CartView:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("91") and len(digits) == 12:
        digits = digits[2:]
    if digits and (len(digits) != 10 or digits[0] not in "6789"):
        raise PosError(_("a mobile number has 10 digits and starts with 6, 7, 8 or 9"))
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        cart.customer_phone = digits
        await save_cart_state(s, cart)
        return await view_of_state(s, cfg, cart, products)


BUYER_NAME_MAX = 80  # what the hub keeps of a buyer's name
BUYER_ADDRESS_MAX = 200


def _buyer_text(text: str, what: str, limit: int, needed: bool) -> str:
    name = what == "name"  # else "address": one sentence each, so both translate whole
    if "\x00" in text:
        raise PosError(_("the name has a character that cannot be typed; type it again")
                       if name else
                       _("the address has a character that cannot be typed; type it again"))
    clean = " ".join(text.split())
    if needed and not clean:
        raise PosError(_("type the buyer's name as on their GST registration") if name
                       else _("type the buyer's address as on their GST registration"))
    if len(clean) > limit:
        raise PosError((ngettext("the buyer's name is too long: at most %(num)s character",
                                 "the buyer's name is too long: at most %(num)s characters",
                                 limit) if name else
                        ngettext("the buyer's address is too long: at most %(num)s character",
                                 "the buyer's address is too long: at most %(num)s characters",
                                 limit)) % {"num": limit})
    refuse_card_number(clean)
    return clean


async def set_buyer(db: Database, cfg: StoreConfig, counter: str, cart_id: str,
                    gstin: str, name: str, address: str) -> CartView:
    """A registered buyer on the cart before Pay (issue #18): the bill becomes a tax
    invoice to them. The GSTIN is checked (check character, state code) before anything
    is written; a refused buyer changes nothing."""
    try:
        buyer = parse_gstin(gstin)
    except GstinError as exc:
        raise PosError(str(exc)) from None
    number = buyer.number
    refusal = business_bill_refusal(cfg.store.gstin, cfg.store.state,
                                    cfg.store.composition_scheme, place_of_supply(buyer))
    if refusal:
        raise PosError(refusal)
    buyer_name = _buyer_text(name, "name", BUYER_NAME_MAX, needed=True)
    buyer_address = _buyer_text(address, "address", BUYER_ADDRESS_MAX, needed=True)
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        cart.buyer_gstin, cart.buyer_name, cart.buyer_address = number, buyer_name, buyer_address
        await save_buyer(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def remove_buyer(db: Database, cfg: StoreConfig, counter: str, cart_id: str
                       ) -> CartView:
    """Back to a retail bill: the buyer leaves the cart (before Pay)."""
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        cart.buyer_gstin = cart.buyer_name = cart.buyer_address = ""
        await save_buyer(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def park_cart(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, user: StaffUser, note: str = ""
) -> CartView:
    refuse_card_number(note)
    async with db.write() as s:
        cart = await cart_for_change(s, counter, cart_id)
        if not cart.lines:
            raise PosError(_("nothing to park: the cart is empty"))
        cart.status = "parked"
        cart.note = note.strip()[:40]
        touch(cart)
        await s.flush()
        return await view_of(s, cfg, await _active_cart(s, counter, user))


async def resume_cart(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, user: StaffUser
) -> CartView:
    """Bring a parked cart back; the cart on screen is parked in its place if it has lines."""
    async with db.write() as s:
        parked = await s.get(Cart, cart_id)
        if parked is None or parked.counter != counter or parked.status != "parked":
            raise PosError(_("that parked cart is not on this counter"))
        current = await s.scalar(
            select(Cart).where(Cart.counter == counter, Cart.status == "active")
        )
        if current is not None:
            if current.tenders:
                raise PosError(_("finish the payment on screen first"))
            current.status = "parked" if current.lines else "voided"
            touch(current)
        parked.status = "active"
        touch(parked)
        await s.flush()
        return await view_of(s, cfg, parked)
