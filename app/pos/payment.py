"""Paying: tenders on the cart, completing the sale, finding sales. Each public
function is one transaction."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update

from app.catalog.service import ProductInfo
from app.config import StoreConfig
from app.core.auth import StaffUser
from app.core.clock import utcnow
from app.core.coupons import CouponError
from app.core.db import Database, Session, next_number, written
from app.core.gst_invoice import (
    DocumentNumberError,
    GstinError,
    business_bill_refusal,
    document_number,
    financial_year_at,
    is_inter_state,
    parse_gstin,
    place_of_supply,
    sequence_name,
)
from app.core.i18n import _
from app.core.ids import uuid7
from app.core.money import format_amount
from app.core.prepared import Prepared
from app.core.promotions import Promotion
from app.loyalty import service as loyalty
from app.pos import receipts
from app.pos.common import no_shift, open_shift_row, refuse_card_number
from app.pos.credit_notes import credit_note, exchange_credit_left
from app.pos.models import Cart, Sale, SaleLine, SaleTender
from app.pos.priced_cart import (
    DELETE_TENDER,
    INSERT_TENDER,
    CartState,
    CartView,
    TenderState,
    cart_state,
    new_cart_state,
    overpaid,
    parked_on,
    priced,
    read_lines,
    read_tenders,
    settle_cart,
    totals_for,
    touch_state,
    unapproved_discount_over_limit,
    view_of_state,
)
from app.pos.pricing import CartTotals, TenderKind, offers_json
from app.pos.till_rules import (
    PosError,
    accept_tender,
    check_tender_kind,
    credit_on_cart,
    scanned_batch,
)
from app.promotions import coupons
from app.promotions import service as promotions
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
        raise PosError(_("enter the card terminal's approval or reference number"))
    if kind == "card" and not reference.replace("-", "").isalnum():
        raise PosError(_("the card reference is letters and digits only (never the card number)"))
    async with db.write() as s:
        cart, products, shift_open = await _cart_being_paid(s, counter, cart_id)
        if kind == "exchange":  # the tender keeps the refund's number, never the code
            reference = (await credit_note(s, reference)).number
        if not cart.lines:
            raise PosError(_("the cart is empty"))
        if not shift_open:
            raise no_shift(counter)
        totals = await priced(s, cfg, cart, products)
        credit = 0
        if kind == "exchange":
            credit = (await exchange_credit_left(s, reference)
                      - credit_on_cart(cart.tenders, reference))
        if kind == "points":  # the loyalty rules: balance, cap, offline allowance
            await _check_points(s, cfg, cart, totals.total, amount_minor,
                                settle_cart(cart, totals).remaining)
        taken = accept_tender(kind, amount_minor, given_minor,
                              settle_cart(cart, totals).remaining, credit, reference)
        if kind in ("card", "upi") and reference and any(
                t.kind == kind and t.reference == reference for t in cart.tenders):
            raise PosError((_("card payment %(reference)s is already on this bill") if kind == "card"
                           else _("upi payment %(reference)s is already on this bill"))
                          % {"reference": reference})
        tender = TenderState(id=uuid7(), position=max((t.position for t in cart.tenders),
                                                      default=0) + 1,
                             kind=cast(TenderKind, kind), amount_minor=taken.amount,
                             given_minor=taken.given, reference=reference, at=utcnow())
        await INSERT_TENDER.run(s, {"cart_id": cart.id, **asdict(tender)})
        cart.tenders.append(tender)
        await touch_state(s, cart)
        return CartView(cart, products, totals, await parked_on(s, counter))


async def _check_points(s: Session, cfg: StoreConfig, cart: CartState, total: int,
                        amount_minor: int | None, remaining: int) -> None:
    if amount_minor is None:
        raise PosError(_("enter how many points the customer uses"))
    on_bill = sum(t.amount_minor for t in cart.tenders if t.kind == "points")
    try:
        await loyalty.check_points_tender(s, cfg, cart.customer_phone, amount_minor,
                                          bill_total_minor=total, on_bill_minor=on_bill,
                                          remaining_minor=remaining)
    except loyalty.LoyaltyError as exc:
        raise PosError(str(exc)) from None


async def _cart_being_paid(s: Session, counter: str, cart_id: str
                           ) -> tuple[CartState, dict[str, ProductInfo], bool]:
    """The counter's active cart with its lines, products and tenders, as plain rows,
    and whether the counter has an open shift."""
    stored = await cart_state(s, cart_id)
    if stored is None or stored.cart.counter != counter or stored.cart.status != "active":
        raise PosError(_("that cart is not open on this counter"))
    products = await read_lines(s, stored.cart)
    await read_tenders(s, stored.cart)
    return stored.cart, products, stored.shift_open


async def remove_tender(
    db: Database, cfg: StoreConfig, counter: str, cart_id: str, tender_id: str
) -> CartView:
    async with db.write() as s:
        cart, products, _shift_open = await _cart_being_paid(s, counter, cart_id)
        tender = next((t for t in cart.tenders if t.id == tender_id), None)
        if tender is None:
            raise PosError(_("that payment is not on this cart"))
        await DELETE_TENDER.run(s, {"tender_id": tender.id})
        cart.tenders.remove(tender)
        await touch_state(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def _use_coupons(s: Session, cfg: StoreConfig, cart: CartState, totals: CartTotals,
                       offers: Sequence[Promotion], sale_row: dict[str, object],
                       now: datetime) -> None:
    """Record the uses of the coupons whose offers took something off, in the sale's
    transaction (one writer at a time: two tills racing a last use, one gets it).
    `offers`: the very list the totals were priced with (a second cache read could
    differ after a reload: the discount kept, no use written)."""
    codes = coupons.applied_codes(totals.applied, offers)
    try:
        await coupons.record_uses(s, cfg, str(sale_row["id"]), str(sale_row["number"]),
                                  cart.customer_phone, codes, now)
    except CouponError as exc:
        raise PosError(str(exc)) from None


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
        raise PosError(_("missing payment key; reload the payment screen"))
    async with db.write() as s:
        done = await _sale_for_key_or_cart(s, key, cart_id, counter)
        if done is not None:
            return done
        stored = await cart_state(s, cart_id)
        if stored is None or stored.cart.counter != counter:
            raise PosError(_("that cart is not on this counter"))
        cart = stored.cart
        if cart.status != "active":
            raise PosError(_("that cart is no longer open"))
        if expected_version is not None and cart.version != expected_version:
            raise PosError(_("the cart changed while paying; check the total and press again"))
        hsn: dict[str, str] = {}
        products = await read_lines(s, cart, hsn)
        if not cart.lines:
            raise PosError(_("the cart is empty"))
        shift = await open_shift_row(s, counter)
        await read_tenders(s, cart)
        offers = await promotions.running(s, cfg)
        totals = totals_for(cfg, cart, products, offers)
        if overpaid(cart, totals):
            raise PosError(_(
                "prices changed after payment was taken: remove the payments and take them again"
            ))
        if unapproved_discount_over_limit(cfg, cart, totals):
            raise PosError(_(
                "a discount is over %(limit)s%% without approval; apply it again"
            ) % {"limit": cfg.pos.discount_limit_percent})
        if exact_cash and (due := settle_cart(cart, totals).remaining) > 0:
            taken = accept_tender("cash", None, due, due)
            tender = TenderState(id=uuid7(), position=max((t.position for t in cart.tenders),
                                                          default=0) + 1,
                                 kind="cash", amount_minor=taken.amount,
                                 given_minor=taken.given, reference="", at=utcnow())
            await INSERT_TENDER.run(s, {"cart_id": cart.id, **asdict(tender)})
            cart.tenders.append(tender)
        settlement = settle_cart(cart, totals)
        if not settlement.settled:
            raise PosError(_("%(amount)s is still due") % {
                "amount": format_amount(settlement.remaining)})
        for t in cart.tenders:
            if t.kind == "exchange":
                used = credit_on_cart(cart.tenders, t.reference)
                if used > await exchange_credit_left(s, t.reference):
                    raise PosError(_("the exchange credit on %(reference)s was already used")
                                   % {"reference": t.reference})
        n = await next_number(s, "sale")
        now = utcnow()
        doc = await _gst_document(s, cfg, cart, now)
        sale_row: dict[str, object] = {
            "id": uuid7(), "number": f"{cfg.store.id}-{n:06d}", "idempotency_key": key,
            "cart_id": cart.id, "shift_id": shift.id, "counter": counter,
            "cashier_id": user.id, "at": now, "customer_phone": cart.customer_phone,
            "gross_minor": totals.gross, "discount_minor": totals.discount,
            "rounding_minor": totals.rounding, "total_minor": totals.total,
            "tax_minor": totals.tax, "change_minor": settlement.change,
            "receipt_token": secrets.token_urlsafe(24),
            "doc_kind": doc.kind, "buyer_gstin": cart.buyer_gstin,
            "buyer_name": cart.buyer_name, "buyer_address": cart.buyer_address,
            "place_of_supply": doc.place, "invoice_number": doc.number,
        }
        if doc.kind == "bos":  # a composition dealer collects no tax: none on the bill
            sale_row["tax_minor"] = 0
        await _INSERT_SALE.run(s, sale_row)
        points = None
        if cart.customer_phone or "points" in {t.kind for t in cart.tenders}:  # issue #21
            try:
                points = await loyalty.on_sale(s, cfg, phone=cart.customer_phone,
                                      sale_id=str(sale_row["id"]), number=str(sale_row["number"]),
                                      total_minor=totals.total, at=now, points_minor=sum(
                                          t.amount_minor for t in cart.tenders
                                          if t.kind == "points"))
            except loyalty.LoyaltyError as exc:
                raise PosError(str(exc)) from None
        if cart.coupons:  # issue #21: a use of each coupon earned, or refused if used up
            await _use_coupons(s, cfg, cart, totals, offers, sale_row, now)
        # One query for every line's bin, then one executemany per table (issue #15).
        bins = await bins_for_sale(s, (line.product_id for line in cart.lines),
                                   today=now.astimezone(cfg.tz).date())
        sale_lines: list[dict[str, object]] = []
        moves: list[SaleMove] = []
        event_lines = []
        for line in cart.lines:
            product = products[line.product_id]
            price = totals.line(line.id)
            parts = bins.take(product.id, line.quantity, scanned_batch(
                line.scanned_code, cfg.measure_rules, now.astimezone(cfg.tz).date()))
            bin_ = parts[0].bin
            rate, tax, cgst, sgst, igst = _split(doc, price.gst_rate_bp, price.tax,
                                                 price.cgst, price.sgst)
            sale_lines.append({
                "id": uuid7(), "sale_id": sale_row["id"], "position": line.position,
                "product_id": product.id, "sku": product.sku, "name": product.name,
                "name_local": product.name_local, "hsn": hsn[product.id],
                "unit": product.unit, "quantity": line.quantity,
                "unit_price_minor": product.price_minor, "mrp_minor": product.mrp_minor,
                "gross_minor": price.gross,
                "discount_minor": price.discount, "net_minor": price.net,
                "promo_discount_minor": price.promo_discount,
                "promotions": offers_json(price),
                "gst_rate_bp": rate, "tax_minor": tax,
                "cgst_minor": cgst, "sgst_minor": sgst, "igst_minor": igst, "bin_id": bin_.id,
            })
            moves.extend(SaleMove(product.id, product.sku, part.bin.id, part.bin.code,
                                  -part.quantity, part.batch, part.expiry) for part in parts)
            event_lines.append(
                {
                    "sku": product.sku,
                    "quantity": line.quantity,
                    "net": price.net,
                    "tax": tax,
                    "gst_rate_bp": rate,
                    "hsn": hsn[product.id],
                    "cgst": cgst,
                    "sgst": sgst,
                    "igst": igst,
                    # issue #21: the offers on the line and what each took (optional:
                    # an older hub ignores it; the hub's chain promotions report)
                    **({"offers": [{"id": i, "name": n, "off": off, "bill": bill}
                                   for i, n, off, bill in price.offers]}
                       if price.offers else {}),
                }
            )
        sale_tenders: list[dict[str, object]] = [
            {"id": uuid7(), "sale_id": sale_row["id"], "position": t.position, "kind": t.kind,
             "amount_minor": t.amount_minor, "given_minor": t.given_minor,
             "reference": t.reference}
            for t in cart.tenders
        ]
        await _INSERT_SALE_LINE.run_many(s, sale_lines)
        await _INSERT_SALE_TENDER.run_many(s, sale_tenders)
        await _CART_PAID.run(s, {"cart_id": cart.id, "version": cart.version + 1,
                                 "updated_at": now})
        # The counter's next, empty cart in this same transaction (issue #15): the "New
        # sale" page (or the receipt in the till) then only reads, instead of taking the
        # write lock for a commit (an fsync, ~0.25 ms of CPU) of its own.
        if await _ACTIVE_CART_ON.first(s, {"counter": counter}) is None:
            await new_cart_state(s, counter, user.id)
        completed = {
            "sale_id": sale_row["id"],
            "number": sale_row["number"],
            "at": now.isoformat(),
            "counter": counter,
            "shift": shift.number,
            "total": totals.total,
            "tax": sale_row["tax_minor"],
            "discount": totals.discount,
            "rounding": totals.rounding,
            "lines": event_lines,
            "tenders": [{"kind": t.kind, "amount": t.amount_minor} for t in cart.tenders],
            "doc": doc.kind,
            "invoice_number": doc.number,
            "buyer_gstin": cart.buyer_gstin,
            "buyer_name": cart.buyer_name,
            "place_of_supply": doc.place,
        }
        # the stock.moved events, then sale.completed: the order emit() gave them
        await record_moves(s, moves, reason="sale", reference=str(sale_row["number"]),
                           user_id=user.id, then=[("sale.completed", completed)])
        sale = _written_sale(sale_row, sale_lines, sale_tenders)
        receipts.ask_for_receipt(s, cfg, sale, user.name,
                                 points.receipt() if points is not None else None)
        return sale


@dataclass(frozen=True, slots=True)
class GstDocument:
    """What kind of GST document a sale is (issue #18, docs/gst.md)."""

    kind: str  # b2c | b2b (tax invoice to a registered buyer) | bos (bill of supply)
    place: str = ""  # the buyer's state code; '' for a retail bill (the store's state)
    inter_state: bool = False  # IGST instead of CGST + SGST
    number: str | None = None  # the tax invoice's serial in its financial year


async def _gst_document(s: Session, cfg: StoreConfig, cart: CartState, now: datetime
                        ) -> GstDocument:
    """A composition dealer issues a bill of supply whoever buys; a cart with a buyer
    becomes a tax invoice numbered in the store's series of this financial year
    (gapless: the number is taken in the sale's transaction); else a retail bill."""
    try:
        place = place_of_supply(parse_gstin(cart.buyer_gstin)) if cart.buyer_gstin else ""
    except GstinError as exc:  # only set_buyer writes it, checked; never trust a row
        raise PosError(_("the buyer's GSTIN on this bill is wrong: %(error)s")
                       % {"error": exc}) from None
    refusal = business_bill_refusal(cfg.store.gstin, cfg.store.state,
                                    cfg.store.composition_scheme, place) if place else ""
    if refusal:  # the buyer was added before the settings changed
        raise PosError(_("%(refusal)s Remove the payment and the buyer, then take the "
                         "payment again.") % {"refusal": refusal})
    if cfg.store.composition_scheme:
        return GstDocument("bos", place)
    if not cart.buyer_gstin:
        return GstDocument("b2c")
    fy = financial_year_at(now, cfg.tz)
    n = await next_number(s, sequence_name("invoice", cfg.store.series, fy))
    try:
        number = document_number("invoice", cfg.store.series, fy, n)
    except DocumentNumberError as exc:
        raise PosError(_("%(error)s. Ask the manager; meanwhile remove the buyer for a "
                         "retail bill") % {"error": exc}) from None
    return GstDocument("b2b", place, is_inter_state(cfg.store.state, place), number)


def _split(doc: GstDocument, rate: int, tax: int, cgst: int, sgst: int
           ) -> tuple[int, int, int, int, int]:
    """A line's (rate, GST, CGST, SGST, IGST) on this document: the GST pricing put in
    the line, as IGST when inter-state; none at all on a bill of supply."""
    if doc.kind == "bos":
        return 0, 0, 0, 0, 0
    if doc.inter_state:
        return rate, tax, 0, 0, tax
    return rate, tax, cgst, sgst, 0


_SALES = cast(Table, Sale.__table__)
_INSERT_SALE = Prepared.insert(_SALES)
_INSERT_SALE_LINE = Prepared.insert(cast(Table, SaleLine.__table__))
_INSERT_SALE_TENDER = Prepared.insert(cast(Table, SaleTender.__table__))
_SALE_BY_KEY_OR_CART = Prepared(select(_SALES.c.id, _SALES.c.idempotency_key, _SALES.c.cart_id,
                                       _SALES.c.counter).where(
    or_(_SALES.c.idempotency_key == bindparam("key"), _SALES.c.cart_id == bindparam("cart_id"))))
_CARTS = cast(Table, Cart.__table__)
_ACTIVE_CART_ON = Prepared(select(_CARTS.c.id).where(
    _CARTS.c.counter == bindparam("counter"), _CARTS.c.status == "active").limit(1))
_CART_PAID = Prepared(update(_CARTS).where(_CARTS.c.id == bindparam("cart_id")).values(
    status="paid", version=bindparam("version"), updated_at=bindparam("updated_at")))


async def _sale_for_key_or_cart(s: Session, key: str, cart_id: str, counter: str
                                ) -> Sale | None:
    """The sale a repeat of complete_sale returns: the key's sale (refused when the key
    belongs to another bill), else this counter's sale of the cart; one indexed query
    (both are unique) and the ORM Sale only when there is one."""
    rows = await _SALE_BY_KEY_OR_CART.all(s, {"key": key, "cart_id": cart_id})
    by_key = next((r for r in rows if r.idempotency_key == key), None)
    if by_key is not None:
        if by_key.cart_id != cart_id:
            raise PosError(_("that payment key belongs to another bill; reload the screen"))
        return await s.get(Sale, by_key.id)
    by_cart = next((r for r in rows if r.cart_id == cart_id), None)
    if by_cart is not None and by_cart.counter == counter:
        return await s.get(Sale, by_cart.id)
    return None


def _written_sale(sale: dict[str, object], lines: list[dict[str, object]],
                  tenders: list[dict[str, object]]) -> Sale:
    """The Sale just written with Core statements, as the object complete_sale returns
    and the receipt is drawn from (its lines and tenders set, nothing read back)."""
    return written(Sale, {**sale, "lines": [written(SaleLine, row) for row in lines],
                          "tenders": [written(SaleTender, row) for row in tenders]})


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
