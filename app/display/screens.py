"""What a customer display shows, from the counter's cart (read only: a display never
makes or changes a cart) and the till's last signal: the slideshow when the counter
has nothing on its bill, the bill as it is scanned, the amount due (with the UPI QR
when the cashier put it up), a loyalty customer's points (masked number, balance, what
the bill uses and earns), and the thank-you screen after a sale."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from app.config import StoreConfig
from app.core.db import Database
from app.core.loyalty import points_earned
from app.core.money import MoneyError, parse_amount
from app.core.web import qr_svg_data_uri
from app.display import service
from app.display.live import TillSignal
from app.loyalty import service as loyalty
from app.pos import payment
from app.pos.priced_cart import counter_cart_state, priced, settle_cart
from app.pos.pricing import SavingLine, you_saved
from app.pos.receipts import quantity_and_rate, receipt_url, sale_saved
from app.pos.till_rules import PosError, accept_tender


@dataclass
class Screen:
    """One screen: its template, what it shows, and in how many seconds it changes by
    itself (the thank-you screen's end), if it does."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    changes_in: float | None = None


def upi_uri(cfg: StoreConfig, amount_minor: int) -> str:
    """The store's UPI link for an amount: the same NPCI deep link the till's pay panel
    draws (app/pos/pay_routes.py), so the customer's app asks for the same payee."""
    params = {"pa": cfg.pos.upi_vpa, "pn": cfg.pos.upi_payee_name or cfg.store.name,
              "am": f"{amount_minor // 100}.{amount_minor % 100:02d}", "cu": "INR",
              "tn": f"{cfg.store.id} bill"}
    return "upi://pay?" + urlencode(params, quote_via=quote)


async def cart_points(db: Database, cfg: StoreConfig, phone: str, total_minor: int,
                      points_minor: int) -> dict[str, Any] | None:
    """What the display shows of the cart's loyalty customer: the number masked (never
    the whole number: the screen faces the queue), the balance the store knows, the
    points this bill uses (its points tenders) and earns on what is paid otherwise.
    None: loyalty is off, or the cart has no customer who joined."""
    if not cfg.loyalty.enabled or not phone:
        return None
    standing = await loyalty.standing_for_phone(db, phone)
    if standing is None or standing.customer.consent_at is None:
        return None
    rules = loyalty.rules_of(cfg)
    return {"phone": standing.masked, "balance": standing.balance,
            "used": points_minor // max(1, rules.point_value_paise),
            "earn": points_earned(max(0, total_minor - points_minor), rules)}


@lru_cache(maxsize=64)
def qr_image(text: str) -> str:
    """A QR code as a data: URI (drawn once per text: every display of a counter, and a
    reconnect, get the same amount's QR)."""
    return qr_svg_data_uri(text)


async def screen_for(db: Database, cfg: StoreConfig, display: service.Display,
                     signal: TillSignal, now: float | None = None) -> Screen:
    """The screen the display of `display.counter` shows now."""
    now = time.monotonic() if now is None else now
    base = {"store": cfg.store, "counter": display.counter}
    if signal.mode == "done" and signal.sale_id:
        left = signal.at + cfg.display.thank_you_seconds - now
        if left > 0:
            sale = await payment.get_sale(db, signal.sale_id)
            if sale is not None and sale.counter == display.counter:
                link = receipt_url(cfg, sale)
                return Screen("display/_thanks.html", {
                    **base, "sale": sale, "saved": sale_saved(sale),
                    "points": await loyalty.points_of_sale(db, sale.id),
                    "receipt_qr": qr_image(link)}, changes_in=left)
    async with db.read() as s:
        try:
            found = await counter_cart_state(s, display.counter)
        except PosError:  # no shift open on this counter
            found = None
        if found is not None and found[0].lines:
            cart, products = found
            totals = await priced(s, cfg, cart, products)
    if found is None or not found[0].lines:
        return Screen("display/_idle.html", {
            **base, "slides": [x.id for x in await service.list_slides(db)],
            "slide_seconds": cfg.display.slide_seconds})
    lines = []
    for line in cart.lines:
        product = products[line.product_id]
        price = totals.line(line.id)
        label = line.label_price_minor is not None
        lines.append({
            "name": product.name, "name_local": product.name_local,
            "quantity": line.quantity, "unit": product.unit,
            "each": product.price_minor,
            "measure": (quantity_and_rate(line.quantity, product.unit, product.price_minor,
                                          price.gross if label else None)
                        if product.unit != "piece" else ""),
            "label": label, "gross": price.gross,
            "discount": price.line_discount, "promo": price.promo_discount,
            "offers": price.item_offers,
            "amount": price.gross - price.line_discount - price.promo_discount,
        })
    saved = you_saved((SavingLine(
        unit_price=products[x.product_id].price_minor, quantity=x.quantity,
        mrp=products[x.product_id].mrp_minor, measured=products[x.product_id].unit != "piece",
        label_price=x.label_price_minor) for x in cart.lines), totals.discount)
    remaining = settle_cart(cart, totals).remaining
    upi = None
    if signal.mode == "pay" and signal.upi and cfg.pos.upi_vpa and remaining > 0:
        try:
            typed = parse_amount(signal.upi_amount) if signal.upi_amount.strip() else None
            amount = accept_tender("upi", typed, None, remaining).amount
            upi = {"amount": amount, "qr": qr_image(upi_uri(cfg, amount))}
        except (PosError, MoneyError):
            upi = None  # the till shows why; the customer sees the amount due
    points = await cart_points(db, cfg, cart.customer_phone, totals.total, sum(
        t.amount_minor for t in cart.tenders if t.kind == "points"))
    return Screen("display/_cart.html", {
        **base, "lines": lines, "totals": totals, "saved": saved,
        "paying": signal.mode == "pay", "remaining": remaining,
        "paid": sum(t.amount_minor for t in cart.tenders), "upi": upi,
        "items": len(lines), "points": points})
