"""The rider desk: bags handed over one by one, the rest by the order's code after a
confirmation, and orders found by their number or the customer's phone.

Each bag label's QR carries that bag's own code (bags.py): scanning it hands over that
bag only. When every bag is in, the order is handed over: its stock leaves the bins it
was picked from (reason "order") and its reservations end, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import SQLColumnExpression, func, select

from app.catalog.models import Product
from app.config import StoreConfig
from app.core.auth import StaffUser, role_allows
from app.core.clock import utcnow
from app.core.db import Database, MissingRow, Session, get_existing
from app.core.i18n import _, ngettext
from app.core.words import count_of
from app.orders import service as orders
from app.orders.models import Order
from app.orders.states import LABELS
from app.picking import bags
from app.picking.models import PickTaskRow
from app.picking.service import PickError
from app.stock.models import Bin
from app.stock.service import take_fefo

HANDOVER_ROLES = ("picker",)  # who may use the rider desk (managers and admins too)
MAX_FOUND = 10


def may_hand_over(user: StaffUser | None) -> bool:
    """One rule for the rider desk's guard and for who is shown an order's handover code."""
    return user is not None and role_allows(user.role, HANDOVER_ROLES)


def handed(order: Order) -> set[int]:
    return {int(b) for b in order.bags_handed.split(",") if b}


def bags_left(order: Order) -> int:
    return order.bag_count - len(handed(order))


def _plural(n: int) -> str:
    return ngettext("%(num)d more bag to scan", "%(num)d more bags to scan", n) % {"num": n}


@dataclass(frozen=True)
class HandoverScan:
    order: Order
    bag_no: int | None  # the bag just handed over; None when the order's code was used
    bags_left: int
    confirm: bool = False  # the order's code was typed: ask before handing over the rest


def _not_for_rider(order: Order) -> PickError:
    if order.state in ("handed_over", "delivered"):
        return PickError(_("Order %(number)s was already handed over. Nothing changed.")
                         % {"number": order.number})
    if order.state == "cancelled":
        return PickError(_("Order %(number)s was cancelled: keep its bags here, "
                           "do not give them to the rider.") % {"number": order.number})
    label = _(LABELS[state]) if (state := order.state) in LABELS else state
    return PickError(_("Order %(number)s is %(state)s, not ready for a rider.")
                     % {"number": order.number, "state": label.lower()})


async def handover_scan(db: Database, cfg: StoreConfig, staff: StaffUser, code: str,
                        confirm: str = "") -> HandoverScan:
    """A bag label (its own code) or the order's 6-letter code typed by staff. The order's
    code hands over the bags not yet scanned, only once `confirm` names the order."""
    text = code.strip().upper()[:60]
    if not text:
        raise PickError(_("Scan a bag label, or type the order's code."))
    async with db.write() as s:
        if "/" in text:
            return await _bag_scanned(s, cfg, staff, text)
        return await _code_typed(s, cfg, staff, text, confirm.strip().upper())


async def _bag_scanned(s: Session, cfg: StoreConfig, staff: StaffUser, text: str) -> HandoverScan:
    try:
        code = bags.parse_bag_code(text)
    except bags.NotABagCode:
        raise PickError(_("That is not a bag label of ours: scan the QR code on the bag.")
                        ) from None
    if code.store_id != cfg.store.id:
        raise PickError(_("This bag label is from store %(store)s, not this store "
                          "(%(here)s). Do not hand it over here.")
                        % {"store": code.store_id, "here": cfg.store.id})
    order = await s.scalar(select(Order).where(Order.number == code.number))
    if order is None:
        raise PickError(_("No order %(number)s in this store: the label is not ours.")
                        % {"number": code.number})
    if order.bag_count and code.bag_no > order.bag_count:
        raise PickError(ngettext(
            "Order %(number)s has %(num)d bag, not %(bag)s: this label is not one of them.",
            "Order %(number)s has %(num)d bags, not %(bag)s: this label is not one of them.",
            order.bag_count) % {"number": order.number, "num": order.bag_count,
                                "bag": code.bag_no})
    if not bags.verifies(order.bag_key, code):
        raise PickError(_("This label is not one of the bags of order %(number)s: "
                          "it may be copied or altered. Find the order and check its bags.")
                        % {"number": order.number})
    if order.state != "ready":
        if order.state in ("handed_over", "delivered"):
            raise PickError(_("Bag %(bag)s of %(number)s was already handed over. "
                              "Nothing changed.") % {"bag": code.bag_no, "number": order.number})
        raise _not_for_rider(order)
    done = handed(order)
    if code.bag_no in done:
        raise PickError(_("Bag %(bag)s of %(number)s was already handed over; %(left)s.")
                        % {"bag": code.bag_no, "number": order.number,
                           "left": _plural(bags_left(order))})
    done.add(code.bag_no)
    order.bags_handed = ",".join(str(b) for b in sorted(done))
    left = bags_left(order)
    if left == 0:
        await _hand_over(s, cfg, order, staff, f"{count_of(order.bag_count, 'bag')} scanned")
    return HandoverScan(order, code.bag_no, left)


async def _code_typed(s: Session, cfg: StoreConfig, staff: StaffUser, text: str, confirm: str,
                      ) -> HandoverScan:
    found = list(await s.scalars(select(Order).where(Order.handover_code == text)
                                 .order_by(Order.created_at.desc()).limit(5)))
    if not found:
        raise PickError(_("No order has that code. Scan a bag label, or find the order by "
                          "its number or the customer's phone."))
    ready = [o for o in found if o.state == "ready"]
    if len(ready) > 1:
        raise PickError(_("Two ready orders share that code: scan their bag labels instead."))
    if not ready:
        raise _not_for_rider(found[0])
    order = ready[0]
    left = bags_left(order)
    if confirm != order.number:
        return HandoverScan(order, None, left, confirm=True)  # nothing changes yet
    scanned = order.bag_count - left
    order.bags_handed = ",".join(str(b) for b in range(1, order.bag_count + 1))
    await _hand_over(s, cfg, order, staff, f"{scanned} of {count_of(order.bag_count, 'bag')} scanned, "
                                      f"{left} by the order code (confirmed)")
    return HandoverScan(order, None, 0)


async def _hand_over(s: Session, cfg: StoreConfig, order: Order, staff: StaffUser, reason: str,
                     ) -> None:
    await _stock_leaves(s, order, staff, utcnow().astimezone(cfg.tz).date())
    orders.transition(s, order, "handed_over", staff.name, reason)
    await orders.release_reservations(s, order)


async def _stock_leaves(s: Session, order: Order, staff: StaffUser, today: date) -> None:
    """The picked quantities leave the bins they were picked from."""
    tasks = list(await s.scalars(select(PickTaskRow).where(PickTaskRow.order_id == order.id,
                                                           PickTaskRow.picked > 0)))
    for task in tasks:
        product = await get_existing(s, Product, task.product_id)
        bin_ = await s.scalar(select(Bin).where(Bin.code == task.bin_code))
        if bin_ is None:
            raise MissingRow(f"bin {task.bin_code} of a picked task is missing")
        # Batch by batch, earliest expiry first, from the bin it was picked in.
        await take_fefo(s, product=product, quantity=task.picked, reason="order",
                        reference=order.number, user_id=staff.id, bin=bin_, today=today)


# ---- finding an order -----------------------------------------------------------------


def _phone_column() -> SQLColumnExpression[str]:
    col: SQLColumnExpression[str] = Order.customer_phone
    for ch in (" ", "-", "+", "(", ")"):
        col = func.replace(col, ch, "")
    return col


async def find_orders(db: Database, cfg: StoreConfig, query: str) -> list[Order]:
    """Orders whose number is `query` (D2-4711, or 4711 at store D2) and orders whose
    customer's phone ends with its digits (at least 4), newest first, at most MAX_FOUND."""
    query = query.strip()[:40]
    number = bags.order_number(cfg.store.id, query)
    digits = bags.phone_digits(query)
    if number is None and digits is None:
        raise PickError(_("Type an order number (like 4711) or at least the last "
                          "%(num)s digits of the customer's phone.")
                        % {"num": bags.MIN_PHONE_DIGITS})
    async with db.read() as s:
        found: list[Order] = []
        if number is not None:
            found += list(await s.scalars(select(Order).where(Order.number == number)))
        if digits is not None:
            found += [o for o in await s.scalars(
                select(Order).where(_phone_column().like(f"%{digits}"))
                .order_by(Order.created_at.desc()).limit(MAX_FOUND + 1)) if o not in found]
        return found[:MAX_FOUND + 1]  # one more than shown: the page says "more"
