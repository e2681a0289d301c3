"""Line and bill discounts at the till; above the configured limit they need a
manager's PIN, also when a shrinking line or bill pushes a set amount over it."""

from __future__ import annotations

from collections.abc import Mapping

from app.catalog.service import ProductInfo
from app.config import StoreConfig
from app.core import audit
from app.core.auth import StaffUser
from app.core.db import Database
from app.core.i18n import _
from app.core.money import format_amount
from app.pos.common import is_manager
from app.pos.priced_cart import (
    CartState,
    CartView,
    LineState,
    cart_state_for_change,
    discount_needs_approval,
    line_state_of,
    save_cart_state,
    save_lines,
    totals_for,
    view_of_state,
)
from app.pos.pricing import Discount
from app.pos.till_rules import NeedsApproval, PosError


def recheck_discounts(cfg: StoreConfig, cart: CartState, products: Mapping[str, ProductInfo],
                      user: StaffUser, approver: StaffUser | None) -> list[LineState]:
    """An amount discount set within the limit can exceed it once the line or bill
    shrinks; such a change needs the same approval as setting the discount would.
    Records `approver` on the discounts it approves (on `cart` for the bill's) and
    returns the lines it changed, for the caller to write."""
    if is_manager(user):
        return []
    totals = totals_for(cfg, cart, products)
    changed = []
    for line in cart.lines:
        if line.discount_kind != "amount" or line.discount_approver:
            continue
        discount = Discount("amount", line.discount_value)
        if discount_needs_approval(cfg, discount, totals.line(line.id).gross):
            if approver is None:
                raise NeedsApproval(_(
                    "the line discount would be over %(limit)s%%: a manager's PIN is needed"
                ) % {"limit": cfg.pos.discount_limit_percent})
            line.discount_approver = approver.id
            changed.append(line)
    if cart.bill_discount_kind == "amount" and not cart.bill_discount_approver:
        base = totals.gross - totals.line_discounts
        if discount_needs_approval(cfg, Discount("amount", cart.bill_discount_value), base):
            if approver is None:
                raise NeedsApproval(_(
                    "the bill discount would be over %(limit)s%%: a manager's PIN is needed"
                ) % {"limit": cfg.pos.discount_limit_percent})
            cart.bill_discount_approver = approver.id
    return changed


def _check_discount(cfg: StoreConfig, discount: Discount, base: int, what: str,
                    user: StaffUser, approver: StaffUser | None) -> None:
    """A line or bill discount (on `base`, the line's or bill's amount before it) is
    refused when it is more than `base`, and needs a manager's PIN over the limit."""
    if discount.kind == "amount" and discount.value > base:
        raise PosError((_("the discount is more than the line (%(amount)s)") if what == "line"
                        else _("the discount is more than the bill (%(amount)s)"))
                       % {"amount": format_amount(base)})
    if discount_needs_approval(cfg, discount, base) and not is_manager(user) and approver is None:
        raise NeedsApproval(_("a discount over %(limit)s%% needs a manager's PIN")
                            % {"limit": cfg.pos.discount_limit_percent})


async def set_line_discount(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    line_id: str,
    discount: Discount | None,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        line = line_state_of(cart, line_id)
        gross = totals_for(cfg, cart, products).line(line.id).gross
        if discount is not None:
            _check_discount(cfg, discount, gross, "line", user, approver)
            audit.record(
                s,
                "discount_line",
                f"{products[line.product_id].sku} {discount.kind} {discount.value}",
                user=user, approver=approver,
            )
        line.discount_kind = discount.kind if discount else None
        line.discount_value = discount.value if discount else 0
        line.discount_approver = approver.id if approver and discount else None
        await save_lines(s, [line])
        await save_cart_state(s, cart)
        return await view_of_state(s, cfg, cart, products)


async def set_bill_discount(
    db: Database,
    cfg: StoreConfig,
    counter: str,
    cart_id: str,
    discount: Discount | None,
    user: StaffUser,
    approver: StaffUser | None = None,
) -> CartView:
    async with db.write() as s:
        cart, products = await cart_state_for_change(s, counter, cart_id)
        base = totals_for(cfg, cart, products)
        base_amount = base.gross - base.line_discounts
        if discount is not None:
            _check_discount(cfg, discount, base_amount, "bill", user, approver)
            audit.record(s, "discount_bill", f"{discount.kind} {discount.value}",
                         user=user, approver=approver)
        cart.bill_discount_kind = discount.kind if discount else None
        cart.bill_discount_value = discount.value if discount else 0
        cart.bill_discount_approver = approver.id if approver and discount else None
        await save_cart_state(s, cart)
        return await view_of_state(s, cfg, cart, products)
