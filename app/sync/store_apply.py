"""The store applying hub -> store events, inside the transaction that also moves its
`applied_down` cursor (see client.py). The hub is the master of the catalogue: a
`product.upserted` overwrites the store's copy, barcodes included."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from app.catalog.models import UNITS, Barcode, Product
from app.catalog.rules import (
    CATEGORY_MAX,
    MAX_PRICE_MINOR,
    MAX_REORDER_LEVEL,
    NAME_MAX,
    PACK_SIZE_MAX,
    ProductError,
    check_hsn,
    clip,
    hidden_characters,
    strip_hidden,
)
from app.config import StoreConfig
from app.core.clock import utcnow
from app.core.db import Session, skip_numbers_past
from app.core.ids import uuid7
from app.loyalty import service as loyalty
from app.orders import service as orders
from app.orders.models import Order, OrderLine, ReservedChannel, StockReservation
from app.orders.states import CANCELLABLE
from app.promotions import coupons
from app.promotions import service as promotions
from app.returns import service as returns
from app.stock import transfers
from app.stock.models import StockLevel
from app.sync.outbox import emit
from app.sync.protocol import Event

log = logging.getLogger("kirana.sync")


class BadHubEvent(ValueError):
    """A hub event the store cannot apply (answered with error 4400)."""


def _need(data: dict, key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise BadHubEvent(f"{key!r} missing or not {kind.__name__}")
    return value


async def apply_hub_event(s: Session, cfg: StoreConfig, event: Event) -> None:
    handler = HANDLERS.get(event.kind)
    if handler is None:
        # A newer hub's kind: acknowledged and skipped, so a newer hub serves this store.
        log.warning("hub event %s of kind %r is unknown here: skipped", event.seq, event.kind)
        return
    await handler(s, cfg, event.data)


def _hsn(sku: str, value: object) -> str:
    """The hub's HSN code when it is one (rules.check_hsn); an older hub's malformed code
    is left off rather than cut, since a cut code would print a wrong HSN on invoices."""
    try:
        return check_hsn(str(value or ""))
    except ProductError:
        log.warning("hub product %s has hsn %r (4, 6 or 8 digits allowed): stored without "
                    "one", sku, str(value)[:20])
        return ""


def _mrp(sku: str, value: object, price_minor: int) -> int | None:
    """The hub's MRP when it is one the rules allow (none, or from the price up to ₹1
    crore); anything else is left off with a warning rather than refusing the event,
    which would stop the link: a missing MRP only hides the MRP and the saving."""
    if value is None:
        return None
    if (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_PRICE_MINOR
            or value < price_minor):
        log.warning("hub product %s has mrp_minor %r (below its price or out of range): "
                    "stored without an MRP", sku, str(value)[:20])
        return None
    return value


def _name_local(sku: str, value: object) -> str:
    """The hub's local-language name, one line, cut to the column's width. A hub checks
    it with rules.check_name_local; an older hub's control or invisible formatting
    characters (bidi overrides, zero-width space, ESC) are dropped with a warning rather
    than refusing the event, which would stop the link: the rest of the name is kept."""
    if not isinstance(value, str):
        return ""
    name = " ".join(value.split())
    if hidden_characters(name):
        log.warning("hub product %s has control or invisible characters in name_local: "
                    "stored without them", sku)
        name = " ".join(strip_hidden(name).split())
    return clip(name, NAME_MAX)


async def _product_upserted(s: Session, cfg: StoreConfig, data: dict) -> None:
    sku = _need(data, "sku", str).upper()
    unit = data.get("unit", "piece")
    if unit not in UNITS:
        raise BadHubEvent(f"unit {unit!r} unknown")
    # The hub checked these with app/catalog/rules.py; the same limits here keep what it
    # accepted whole and only cut an older hub's longer text to the columns' widths.
    values = {
        "name": clip(_need(data, "name", str), NAME_MAX),
        "price_minor": _need(data, "price_minor", int),
        "gst_rate_bp": _need(data, "gst_rate_bp", int), "hsn": _hsn(sku, data.get("hsn")),
        "unit": unit, "pack_size": clip(str(data.get("pack_size", "")), PACK_SIZE_MAX),
        "category": clip(str(data.get("category", "")), CATEGORY_MAX),
        "active": bool(data.get("active", True)),
        "reorder_level": min(max(0, int(data.get("reorder_level") or 0)), MAX_REORDER_LEVEL),
        # An older hub leaves it out: the product then keeps no batches here.
        "tracks_expiry": data.get("tracks_expiry") is True,
        "updated_at": utcnow(),
    }
    if not 0 < values["price_minor"] <= MAX_PRICE_MINOR:
        # The hub refuses such a price now; an older hub's would make sale totals overflow.
        # Refusing the event would stop the link, so the product is kept off the till.
        log.warning("hub product %s has price_minor %s (allowed 1 to %s): stored not for sale "
                    "until HQ corrects its price", sku, values["price_minor"], MAX_PRICE_MINOR)
        values["price_minor"], values["active"] = 0, False
    # The MRP (issue #21); an older hub leaves it out: the product then shows no MRP.
    values["mrp_minor"] = _mrp(sku, data.get("mrp_minor"), values["price_minor"])
    # The local-language name (issue #22); an older hub leaves it out: none shown.
    values["name_local"] = _name_local(sku, data.get("name_local"))
    codes = sorted({str(c) for c in data.get("barcodes") or []})
    product = await s.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        product = Product(id=uuid7(), sku=sku, **values)
        s.add(product)
        await s.flush()
    else:
        for key, value in values.items():
            setattr(product, key, value)
    await s.execute(delete(Barcode).where(Barcode.product_id == product.id))
    if codes:
        # The hub owns barcodes: a code the hub moved to this product leaves its old one.
        await s.execute(delete(Barcode).where(Barcode.code.in_(codes)))
        await s.execute(insert(Barcode), [{"code": c, "product_id": product.id} for c in codes])


async def _product_retired(s: Session, cfg: StoreConfig, data: dict) -> None:
    """Sent by older hubs only; a hub now sends `product.upserted` with `active` false."""
    sku = _need(data, "sku", str).upper()
    product = await s.scalar(select(Product).where(Product.sku == sku))
    if product is not None:
        product.active, product.updated_at = False, utcnow()


async def _order_assigned(s: Session, cfg: StoreConfig, data: dict) -> None:
    lines = _need(data, "lines", list)
    try:
        incoming = orders.OrderIn(
            channel=_need(data, "channel", str), external_id=_need(data, "external_id", str),
            customer_name=str(data.get("customer_name", "")),
            customer_phone=str(data.get("customer_phone", "")),
            address=str(data.get("address", "")), pincode=str(data.get("pincode", "")),
            promised_by=datetime.fromisoformat(_need(data, "promised_by", str)),
            lines=tuple(orders.LineIn(sku=str(line["sku"]), quantity=int(line["quantity"]),
                                      price_minor=int(line.get("price_minor", 0)))
                        for line in lines),
            payment=str(data.get("payment", "prepaid")),
            cod_amount_minor=int(data.get("cod_amount_minor", 0)),
            notes=str(data.get("notes", "")), lat=data.get("lat"), lon=data.get("lon"),
            courier=str(data.get("courier") or ""), source="hub")
    except (KeyError, TypeError, ValueError) as exc:
        raise BadHubEvent(f"order.assigned: {exc}") from None
    try:
        # The hub checked the promise time when it took the order; one that arrives
        # late (the store was offline) is still the store's to fulfil or reject.
        orders.validate(incoming, now=incoming.promised_by)
        await orders.receive_order_in(s, cfg, incoming, "hub")
    except orders.OrderError as exc:
        # Nothing to pick: tell the hub at once so it can place the order elsewhere.
        log.warning("hub order %s/%s refused here: %s", incoming.channel,
                    incoming.external_id, exc)
        emit(s, "order.status", {
            "order_id": str(data.get("hub_order_id") or incoming.external_id),
            "number": "", "channel": incoming.channel, "external_id": incoming.external_id,
            "status": "rejected", "previous": "", "at": utcnow().isoformat(),
            "reason": str(exc)})


async def _order_cancelled(s: Session, cfg: StoreConfig, data: dict) -> None:
    order = await s.scalar(select(Order).where(
        Order.channel == _need(data, "channel", str),
        Order.external_id == _need(data, "external_id", str)))
    if order is None or order.state not in CANCELLABLE:
        log.info("hub cancelled %s/%s: nothing to cancel here (%s)", data.get("channel"),
                 data.get("external_id"), order.state if order else "unknown")
        return
    await orders.cancel_order_in(s, order, "hub", str(data.get("reason", "cancelled by the hub")))


async def _hub_channels(s: Session, cfg: StoreConfig, data: dict) -> None:
    """The hub's channel names, the whole list: no API key here may post under them."""
    names = _need(data, "channels", list)
    if len(names) > 10_000 or not all(isinstance(n, str) and 0 < len(n) <= 40 for n in names):
        raise BadHubEvent("hub.channels: 'channels' must be a list of names of 1-40 characters")
    await s.execute(delete(ReservedChannel))
    now = utcnow()
    for name in sorted(set(names)):
        s.add(ReservedChannel(name=name, updated_at=now))


# Sequences a `store.resync` moves on: receipts, refunds, orders, shifts.
RESYNC_SEQUENCES = ("sale", "refund", "order", "shift", "transfer")
SNAPSHOT_PART = 1000  # levels (and reservations) per `stock.snapshot` event


async def _store_resync(s: Session, cfg: StoreConfig, data: dict) -> None:
    """The hub accepted this database after a restore: never reuse a number the hub
    has from this store, and send the hub every level so its figures equal ours."""
    numbers = _need(data, "numbers", dict)
    for name, last in sorted(numbers.items()):
        if name not in RESYNC_SEQUENCES:
            log.warning("store.resync: sequence %r is unknown here: skipped", name)
            continue
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            raise BadHubEvent(f"store.resync: {name!r} needs a whole number")
        await skip_numbers_past(s, name, last)
    await write_snapshot(s)


async def write_snapshot(s: Session) -> int:
    """Every stock level (per SKU, all bins) and reservation as `stock.snapshot`
    events in the caller's transaction, in parts of SNAPSHOT_PART; returns the parts."""
    levels = [{"sku": sku, "on_hand": int(on_hand)} for sku, on_hand in (await s.execute(
        select(Product.sku, func.sum(StockLevel.on_hand))
        .join(StockLevel, StockLevel.product_id == Product.id)
        .group_by(Product.sku).order_by(Product.sku))).all()]
    held = [{"order_id": order_id, "sku": sku, "quantity": int(qty)}
            for order_id, sku, qty in (await s.execute(
                select(OrderLine.order_id, OrderLine.sku, func.sum(StockReservation.quantity))
                .join(OrderLine, OrderLine.id == StockReservation.order_line_id)
                .group_by(OrderLine.order_id, OrderLine.sku)
                .order_by(OrderLine.order_id, OrderLine.sku))).all()]
    parts = max(1, -(-max(len(levels), len(held)) // SNAPSHOT_PART))
    snapshot_id, at = uuid7(), utcnow().isoformat()
    for i in range(parts):
        window = slice(i * SNAPSHOT_PART, (i + 1) * SNAPSHOT_PART)
        emit(s, "stock.snapshot", {"snapshot_id": snapshot_id, "part": i + 1, "parts": parts,
                                   "at": at, "levels": levels[window],
                                   "reservations": held[window]})
    return parts


async def _transfer(s: Session, cfg: StoreConfig, data: dict, step: Any) -> None:
    try:
        await step(s, cfg.store.id, data)
    except transfers.BadTransferEvent as exc:
        raise BadHubEvent(f"transfer: {exc}") from None


async def _transfer_approved(s: Session, cfg: StoreConfig, data: dict) -> None:
    await _transfer(s, cfg, data, transfers.apply_approved)


async def _transfer_incoming(s: Session, cfg: StoreConfig, data: dict) -> None:
    await _transfer(s, cfg, data, transfers.apply_incoming)


async def _transfer_cancelled(s: Session, cfg: StoreConfig, data: dict) -> None:
    await _transfer(s, cfg, data, transfers.apply_cancelled)


async def _return_requested(s: Session, cfg: StoreConfig, data: dict) -> None:
    """A return of an online order the hub routed here (issue #19): expected at the
    returns desk; the same return_id again changes nothing; a malformed one fails the
    frame like any other kind."""
    try:
        await returns.apply_requested(s, cfg, data)
    except returns.BadReturnEvent as exc:
        raise BadHubEvent(f"return.requested: {exc}") from None


async def _promotion_upserted(s: Session, cfg: StoreConfig, data: dict) -> None:
    """A chain promotion (issue #21): kept read-only, the newer version wins."""
    try:
        await promotions.apply_hub_promotion(s, cfg, data)
    except promotions.BadPromotionEvent as exc:
        raise BadHubEvent(f"promotion.upserted: {exc}") from None


async def _coupon_upserted(s: Session, cfg: StoreConfig, data: dict) -> None:
    """A chain coupon's limits and this store's allowance (issue #21): newer wins."""
    try:
        if await coupons.apply_hub_coupon(s, data):
            promotions.changed_on_commit(s, cfg)  # it may end store offers of its code
    except coupons.BadCouponEvent as exc:
        raise BadHubEvent(f"coupon.upserted: {exc}") from None


async def _coupon_customer(s: Session, cfg: StoreConfig, data: dict) -> None:
    """The hub's count of a customer's uses of a chain coupon, answering this store's
    till (issue #21): kept in memory for the till that waits for it. An answer the
    store cannot read is logged and skipped, never a refused frame: it is advice (the
    till then goes by the store's own count), and refusing it would stop every later
    hub event to this store."""
    try:
        coupons.apply_hub_customer(data)
    except coupons.BadCustomerEvent as exc:
        log.warning("coupon.customer from the hub could not be read (%s): skipped", exc)


async def _loyalty_balance(s: Session, cfg: StoreConfig, data: dict) -> None:
    """The hub's balance of a customer this store asked about or moved points of
    (issue #21, docs/loyalty.md)."""
    try:
        await loyalty.apply_balance(s, data, loyalty.tomb_secret(cfg))
    except loyalty.BadLoyaltyEvent as exc:
        raise BadHubEvent(str(exc)) from None


async def _loyalty_erase(s: Session, cfg: StoreConfig, data: dict) -> None:
    """A customer erased on request elsewhere: blanked here too."""
    try:
        await loyalty.apply_erase(s, data, loyalty.tomb_secret(cfg))
    except loyalty.BadLoyaltyEvent as exc:
        raise BadHubEvent(str(exc)) from None


HANDLERS = {
    "product.upserted": _product_upserted,
    "product.retired": _product_retired,
    "order.assigned": _order_assigned,
    "order.cancelled": _order_cancelled,
    "store.resync": _store_resync,
    "hub.channels": _hub_channels,
    "transfer.approved": _transfer_approved,
    "transfer.incoming": _transfer_incoming,
    "transfer.cancelled": _transfer_cancelled,
    "return.requested": _return_requested,
    "promotion.upserted": _promotion_upserted,
    "coupon.upserted": _coupon_upserted,
    "coupon.customer": _coupon_customer,
    "loyalty.balance": _loyalty_balance,
    "loyalty.erase": _loyalty_erase,
}
