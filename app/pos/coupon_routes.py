"""The till's coupon box (issue #21): apply a typed code, take one off. Cashiers and
up, like every cart step; the counter comes from the session (till_web)."""

from __future__ import annotations

from litestar import Request, post
from litestar.response import Template

from app.core.i18n import _
from app.core.web import Form, signed_in
from app.pos import cart, coupons
from app.pos.till_rules import PosError
from app.pos.till_web import CASHIER, cart_response, counter_of, notice


@post("/pos/cart/coupon", guards=[CASHIER])
async def apply_coupon(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    try:
        view, said = await coupons.add_coupon(db, cfg, counter, data.get("cart_id", "")[:64],
                                              data.get("code", ""),
                                              hub_online=coupons.hub_online(request.app.state))
    except PosError as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await cart_response(request, view, str(exc), "error")
    return await cart_response(request, view, said, "ok")


@post("/pos/cart/coupon/remove", guards=[CASHIER])
async def remove_coupon(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    try:
        view = await coupons.remove_coupon(db, cfg, counter, data.get("cart_id", "")[:64],
                                           data.get("code", ""))
    except PosError as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await cart_response(request, view, str(exc), "error")
    return await cart_response(request, view, _("Coupon removed"), "ok")


ROUTES = [apply_coupon, remove_coupon]
