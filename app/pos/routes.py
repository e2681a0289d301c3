"""The till (/pos) and its cart steps: scan, search, add, quantity, void, discounts,
customer phone, park/resume. Paying, refunds and the shift have their own route
modules (pay_routes, refund_routes, shift_routes); what they share is in till_web.

Every form names the cart it acts on; the counter comes from the signed-in session,
never from the form (see till_web).
"""

from __future__ import annotations

import re

from litestar import Request, Response, get, post
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from app.catalog import service as catalog
from app.catalog.barcodes import BarcodeError, CheckDigitError
from app.catalog.units import QuantityError, parse_quantity
from app.core.auth import LoginError
from app.core.i18n import _
from app.core.money import MoneyError, format_amount, format_rate, parse_amount
from app.core.web import Form, current_user, go, page, signed_in
from app.pos import cart, coupons, discounts, shifts
from app.pos.common import NoShift
from app.pos.priced_cart import CartView
from app.pos.pricing import Discount, PricingError
from app.pos.till_requests import AlreadyDone
from app.pos.till_rules import NeedsApproval, PosError
from app.pos.till_web import (
    CASHIER,
    COUNTER_KEY,
    WHOLE_NUMBER,
    approval_box,
    approver_of,
    cart_response,
    counter_of,
    ctx,
    notice,
    till_page,
)
from app.pos.till_web import printer_alerts as printer_alerts_of

# ---- the till --------------------------------------------------------------------


@get("/pos", guards=[CASHIER])
async def pos_page(request: Request) -> Template:
    till = await till_page(request)
    if till is not None:
        return till
    db, cfg = request.app.state.db, request.app.state.cfg
    open_counters = {c: await shifts.current_shift(db, c) for c in cfg.pos.counters}
    return page(request, "pos/open_shift.html", **ctx(request, open_counters=open_counters))


@get("/pos/printer-alerts", guards=[CASHIER])
async def printer_alerts(request: Request) -> Template:
    """The till's printer banner, refreshed every few seconds: it clears by itself."""
    counter = counter_of(request) or ""
    return page(request, "pos/_printer_alerts.html",
                printer_alerts=await printer_alerts_of(request, counter) if counter else [])


async def _cart_or_error(request: Request, data: dict[str, str], action,
                         latest: list[str] | None = None) -> Template:
    """Run one cart step; errors and approval requests come back in the cart area.
    `latest` gets the id of a line the step added (the line list scrolls to it)."""
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    try:
        approver = await approver_of(request, data)
        view = await action(db, cfg, counter, data.get("cart_id", ""), approver)
    except (NeedsApproval, LoginError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await approval_box(request, data, str(exc), view=view,
                                  what=_what_is_approved(request.url.path, data, view))
    except (PosError, PricingError, QuantityError, MoneyError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await cart_response(request, view, str(exc), "error")
    return await cart_response(request, view, latest=latest[0] if latest else "")


_LINE_STEP = re.compile(r"/pos/lines/([^/]+)/(qty|void|discount)")


def _what_is_approved(path: str, data: dict[str, str], view: CartView) -> str:
    """The manager's PIN box names the line and the amount it approves (issue #16): read
    from the step being re-posted (its path and form) and the cart as it is now."""
    totals = view.totals
    try:
        step = _LINE_STEP.fullmatch(path)
        if step:
            line = next((x for x in view.cart.lines if x.id == step[1]), None)
            if line is None:
                return ""
            name = view.products[line.product_id].name
            price = totals.line(line.id)
            if step[2] == "void":
                return _("Remove %(name)s from the bill: %(amount)s") % {
                    "name": name, "amount": format_amount(price.gross - price.line_discount)}
            if step[2] == "qty":
                wanted = data.get("quantity", "").strip()
                if data.get("step") in ("+1", "-1"):
                    wanted = str(line.quantity + int(data["step"]))
                return _("%(name)s: quantity %(before)s → %(after)s") % {
                    "name": name, "before": line.quantity, "after": wanted}
            discount = _discount_from(data)
            if discount is None:
                return _("%(name)s: no discount") % {"name": name}
            return _("%(name)s: %(discount)s off, %(amount)s off %(base)s") % {
                "name": name, "discount": _discount_value(discount),
                "amount": format_amount(discount.of(price.gross)),
                "base": format_amount(price.gross)}
        if path == "/pos/cart/discount":
            base = totals.gross - totals.line_discounts
            discount = _discount_from(data)
            if discount is None:
                return _("The bill: no discount")
            return _("The bill: %(discount)s off, %(amount)s off %(base)s") % {
                "discount": _discount_value(discount),
                "amount": format_amount(discount.of(base)), "base": format_amount(base)}
        if path == "/pos/cart/void":
            return _("Void the whole bill: %(amount)s") % {"amount": format_amount(totals.total)}
    except (PosError, PricingError, MoneyError):
        return ""
    return ""


def _discount_value(discount: Discount) -> str:
    """What the discount takes ("5%" or "₹20.00"), for the sentence that says it."""
    if discount.kind == "percent":
        return format_rate(discount.value)
    return format_amount(discount.value)


@post("/pos/scan", guards=[CASHIER])
async def scan(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    code = data.get("code", "").strip()
    user = signed_in(request)
    try:
        view, line = await cart.add_scan(
            db, cfg, counter, user, data.get("cart_id", ""), code, cfg.measure_rules,
            request_id=data.get("request_id", ""), approver=await approver_of(request, data),
        )
    except (cart.ExpiredScan, LoginError) as exc:  # expired (GS1 AI 17): a manager's PIN
        view = await cart.current_cart(db, cfg, counter, user)
        what = exc.what if isinstance(exc, cart.ExpiredScan) else ""
        return await approval_box(request, data, str(exc), view=view, what=what)
    except AlreadyDone:  # sent again after a lost answer: it is on the bill once
        view = await cart.current_cart(db, cfg, counter, user)
        return await cart_response(request, view,
                                   _("Already on the bill: %(code)s") % {"code": code}, "ok")
    except (BarcodeError, catalog.UnknownProduct, PosError) as exc:
        if not isinstance(exc, PosError):  # not a product: maybe a coupon (issue #21)
            try:
                view, said = await coupons.add_coupon(
                    db, cfg, counter, data.get("cart_id", ""), code,
                    hub_online=coupons.hub_online(request.app.state))
                return await cart_response(request, view, said, "ok")
            except coupons.NotACoupon:
                pass
            except PosError as refused:
                view = await cart.current_cart(db, cfg, counter, user)
                return await cart_response(request, view, str(refused), "error")
        view = await cart.current_cart(db, cfg, counter, user)
        suggestions = []
        if isinstance(exc, catalog.UnknownProduct) or (
            isinstance(exc, BarcodeError) and not code.isdigit()
        ):
            suggestions = await catalog.search(db, code, limit=6) if code else []
        message = str(exc) or _("Nothing scanned.")
        if isinstance(exc, CheckDigitError):
            # Usually a smudged label or a misread: say what to do, keep the detail.
            message = _("That barcode did not read right (%(detail)s). Scan it again or "
                        "type it.") % {"detail": message}
        return await cart_response(request, view, message, "error", suggestions)
    product = view.products[line.product_id]
    return await cart_response(request, view, _("Added %(name)s") % {"name": product.name},
                               "ok", latest=line.id)


@get("/pos/search", guards=[CASHIER])
async def search(request: Request, q: str = "") -> Template:
    results = await catalog.search(request.app.state.db, q, limit=12) if q.strip() else []
    return page(request, "pos/_search.html", **ctx(request, results=results, q=q))


@post("/pos/add", guards=[CASHIER])
async def add(request: Request, data: Form) -> Template:
    """From search or a quick key: SKU plus a quantity (kg/L typed for loose goods).
    Once added, the response says so (HX-Trigger: kirana-added): the quick key's weight
    panel then closes and clears, so a second tap cannot add the same weight again."""
    db = request.app.state.db
    added: list[str] = []

    async def action(db_, cfg, counter, cart_id, _approver):
        product = await catalog.get_by_sku(db, data.get("sku", ""))
        if product is None:
            raise PosError(_("that product is not in the catalogue"))
        quantity = parse_quantity(data.get("quantity", "1") or "1", product.unit)
        try:
            view, line = await cart.add_product(db_, cfg, counter, cart_id, product.sku,
                                                quantity, data.get("request_id", ""))
        except AlreadyDone:  # sent again after a lost answer: it is on the bill once
            added.append("")
            return await cart.current_cart(db_, cfg, counter, signed_in(request))
        added.append(line.id)
        return view

    response = await _cart_or_error(request, data, action, added)
    if added:
        response.headers["HX-Trigger"] = "kirana-added"
    return response


@post("/pos/lines/{line_id:str}/qty", guards=[CASHIER])
async def line_quantity(request: Request, line_id: str, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        text = data.get("quantity", "").strip()
        step = data.get("step", "")
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        line = next((x for x in view.cart.lines if x.id == line_id), None)
        if line is None:
            raise PosError(_("that line is not on this cart"))
        if step in ("+1", "-1"):
            quantity = line.quantity + int(step)
        else:
            if not WHOLE_NUMBER.fullmatch(text):
                raise PosError(_("%(text)s is not a whole number of pieces") % {"text": repr(text)})
            quantity = int(text)
        return await cart.set_quantity(
            db, cfg, counter, cart_id, line_id, quantity, signed_in(request), approver
        )

    return await _cart_or_error(request, data, action)


@post("/pos/lines/{line_id:str}/void", guards=[CASHIER])
async def line_void(request: Request, line_id: str, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        return await cart.void_line(db, cfg, counter, cart_id, line_id, signed_in(request), approver)

    return await _cart_or_error(request, data, action)


def _discount_from(data: dict[str, str]) -> Discount | None:
    kind = data.get("kind", "percent")
    value = data.get("value", "").strip()
    if value in ("", "0", "0.00"):
        return None
    if kind == "percent":
        try:
            bp = parse_amount(value)  # "12.5" -> 1250 basis points, same two-decimals rule
        except MoneyError:
            raise PosError(_("%(value)s is not a percentage like 5 or 12.5")
                           % {"value": repr(value)}) from None
        if bp > 10_000:
            raise PosError(_("a discount cannot be more than 100 %"))
        return Discount("percent", bp)
    if kind == "amount":
        return Discount("amount", parse_amount(value))
    raise PosError(_("discount must be a percent or an amount"))


@post("/pos/lines/{line_id:str}/discount", guards=[CASHIER])
async def line_discount(request: Request, line_id: str, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        return await discounts.set_line_discount(
            db, cfg, counter, cart_id, line_id, _discount_from(data), signed_in(request), approver
        )

    return await _cart_or_error(request, data, action)


@post("/pos/cart/discount", guards=[CASHIER])
async def bill_discount(request: Request, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        return await discounts.set_bill_discount(
            db, cfg, counter, cart_id, _discount_from(data), signed_in(request), approver
        )

    return await _cart_or_error(request, data, action)


@post("/pos/cart/customer", guards=[CASHIER])
async def customer(request: Request, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, _approver):
        return await coupons.set_customer_phone(  # asks the hub again (chain coupons)
            db, cfg, counter, cart_id, data.get("phone", ""),
            hub_online=coupons.hub_online(request.app.state))

    return await _cart_or_error(request, data, action)


@post("/pos/cart/buyer", guards=[CASHIER])
async def buyer(request: Request, data: Form) -> Template:
    """A business bill (issue #18): the buyer's GSTIN, name and address on the cart. A
    refused buyer comes back in the open form as typed (the GSTIN to correct, the name
    and address kept), with what is wrong; nothing is written."""
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    typed = {k: data.get(k, "")[:200] for k in ("gstin", "name", "address")}
    try:
        view = await cart.set_buyer(db, cfg, counter, data.get("cart_id", ""), typed["gstin"],
                                    typed["name"], typed["address"])
    except PosError as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await cart_response(request, view, str(exc), "error", buyer_form=typed)
    done = (_("Business bill: a bill of supply to %(buyer)s") if cfg.store.composition_scheme
            else _("Business bill: a tax invoice to %(buyer)s"))
    return await cart_response(request, view, done % {"buyer": view.cart.buyer_name})


@post("/pos/cart/buyer/remove", guards=[CASHIER])
async def buyer_remove(request: Request, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, _approver):
        return await cart.remove_buyer(db, cfg, counter, cart_id)

    return await _cart_or_error(request, data, action)


@post("/pos/cart/park", guards=[CASHIER])
async def park(request: Request, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, _approver):
        return await cart.park_cart(
            db, cfg, counter, cart_id, signed_in(request), data.get("note", "")
        )

    return await _cart_or_error(request, data, action)


@post("/pos/carts/{parked_id:str}/resume", guards=[CASHIER])
async def resume(request: Request, parked_id: str, data: Form) -> Template:
    async def action(db, cfg, counter, _cart_id, _approver):
        return await cart.resume_cart(db, cfg, counter, parked_id, signed_in(request))

    return await _cart_or_error(request, data, action)


@post("/pos/cart/void", guards=[CASHIER])
async def cart_void(request: Request, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        await cart.void_cart(db, cfg, counter, cart_id, signed_in(request), approver)
        return await cart.current_cart(db, cfg, counter, signed_in(request))

    return await _cart_or_error(request, data, action)


def pos_error_handler(request: Request, exc: PosError) -> Response:
    """A refusal that escaped a route (the shift was closed on another tablet, say):
    the till starts over at its first screen instead of showing a server error."""
    if isinstance(exc, NoShift):  # by its class: the message may be in Hindi
        request.session.pop(COUNTER_KEY, None)
        return go(request, "/pos")
    return page(request, "errors/error.html", fragment="errors/_error.html", status_code=409,
                title=_("Please check"), message=str(exc), user=current_user(request))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {PosError: pos_error_handler}

ROUTES = [
    pos_page,
    printer_alerts,
    scan,
    search,
    add,
    line_quantity,
    line_void,
    line_discount,
    bill_discount,
    customer,
    buyer,
    buyer_remove,
    park,
    resume,
    cart_void,
]
