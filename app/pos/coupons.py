"""Coupons on a cart (issue #21): the cashier types or scans a code, the till checks it
(running, not used up, the customer's own limit) and keeps it on the cart, whose
pricing gives it to the engine; the cashier can take it off again. Uses are counted at
completion, in the sale's transaction (app/promotions/coupons.record_uses)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from app.config import StoreConfig
from app.core import coupons as rules
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.i18n import _, ngettext
from app.core.money import format_amount
from app.pos import cart as carts
from app.pos.models import Cart
from app.pos.priced_cart import CartState, CartView, cart_state_for_change, view_of_state
from app.pos.till_rules import PosError
from app.promotions import coupons


def hub_online(state: Any) -> bool:
    """Whether the store's link to the hub is up now (`state`: the app's state, which
    holds the sync client): a chain coupon's customer is then asked of the hub; offline
    the till does not wait."""
    client = getattr(state, "sync_client", None)
    return client is not None and client.status.state == "online"


class NotACoupon(PosError):
    """No offer carries this code (the scan path then says the product is unknown)."""


async def add_coupon(db: Database, cfg: StoreConfig, counter: str, cart_id: str,
                     text: str, *, hub_online: bool = False) -> tuple[CartView, str]:
    """Put a coupon on the cart; returns the cart and what to tell the cashier
    ("Coupon DIWALI50 applied: ₹50.00 off"). PosError says why not; NotACoupon when
    no offer carries the code. A chain coupon limited per customer, on a cart with the
    customer's number, is first asked of the hub while the link is `hub_online` (at most
    coupons.ASK_SECONDS; no answer: the store's own count is the rule)."""
    code = rules.normalise(text)
    if code is None:
        raise NotACoupon(_("that is not a coupon code"))
    async with db.read() as s:  # an unknown scan takes no write lock to find out
        first = await coupons.find(s, code)
        if first is None:
            raise NotACoupon(_("No coupon %(code)s") % {"code": code})
        phone = await s.scalar(select(Cart.customer_phone).where(
            Cart.id == cart_id, Cart.counter == counter)) or ""
    if hub_online and coupons.chain_key(first, phone) is not None:
        await coupons.ask_hub(db, first, phone)
    async with db.write() as s:
        found = await coupons.find(s, code)
        if found is None:
            raise NotACoupon(_("No coupon %(code)s") % {"code": code})
        cart, products = await cart_state_for_change(s, counter, cart_id)
        entered = cart.coupons.split()
        if code in entered:
            raise PosError(_("Coupon %(code)s is already on this bill") % {"code": code})
        if len(entered) >= rules.MAX_ON_CART:
            raise PosError(ngettext("a bill takes at most %(num)s coupon",
                                    "a bill takes at most %(num)s coupons", rules.MAX_ON_CART)
                           % {"num": rules.MAX_ON_CART})
        why = await coupons.refusal(s, cfg, found, cart.customer_phone)
        if why is not None:
            raise PosError(why)
        cart.coupons = " ".join([*entered, code])
        await _save(s, cart)
        view = await view_of_state(s, cfg, cart, products)
    off = sum(a.discount for a in view.totals.applied
              if a.promotion_id in {p.id for p in found.offers})
    if off > 0:
        return view, _("Coupon %(code)s applied: %(amount)s off") % {
            "code": code, "amount": format_amount(off)}
    return view, _("Coupon %(code)s added: its offer (%(offer)s) does not apply to this bill "
                   "yet") % {"code": code, "offer": found.offers[0].name}


async def set_customer_phone(db: Database, cfg: StoreConfig, counter: str, cart_id: str,
                             phone: str, *, hub_online: bool = False) -> CartView:
    """The cart's mobile number (app/pos/cart.set_customer_phone), then, when it changed
    and the link is `hub_online`, the hub is asked again about every chain coupon limited
    per customer on the cart (at once, at most coupons.ASK_SECONDS): the answer about
    the previous number says nothing of this one, and Complete goes by the hub's count
    only when it has one for the customer on the bill."""
    async with db.read() as s:
        before = await s.scalar(select(Cart.customer_phone).where(
            Cart.id == cart_id, Cart.counter == counter))
    view = await carts.set_customer_phone(db, cfg, counter, cart_id, phone)
    now = view.cart.customer_phone
    if hub_online and now and now != before:
        await ask_hub_about_cart(db, view.cart.coupons, now)
    return view


async def ask_hub_about_cart(db: Database, entered: str, phone: str) -> None:
    """Ask the hub about this customer for each chain coupon on the cart that is limited
    per customer (the questions go out together; the till waits for them at most
    coupons.ASK_SECONDS in all)."""
    found = []
    async with db.read() as s:
        for code in entered.split():
            one = await coupons.find(s, code)
            if one is not None and coupons.chain_key(one, phone) is not None:
                found.append(one)
    if found:
        await asyncio.gather(*(coupons.ask_hub(db, one, phone) for one in found))


async def remove_coupon(db: Database, cfg: StoreConfig, counter: str, cart_id: str,
                        code: str) -> CartView:
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        entered = cart.coupons.split()
        wanted = rules.normalise(code) or ""
        if wanted not in entered:
            raise PosError(_("that coupon is not on this bill"))
        cart.coupons = " ".join(c for c in entered if c != wanted)
        await _save(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def _save(s: Session, cart: CartState) -> None:
    cart.version += 1
    cart.updated_at = utcnow()
    await s.execute(update(Cart).where(Cart.id == cart.id).values(
        coupons=cart.coupons, version=cart.version, updated_at=cart.updated_at))
