"""Paying at the till: the payment panel (UPI QR, quick cash, this visit's exchange
credit), tenders, completing the sale, and the sale's receipt with its print status.

The UPI QR is not drawn into the panel (7 ms of CPU, on every tender's re-render): the
panel links it as an image, drawn once per amount (an LRU here; store pages are no-store)."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.config import StoreConfig
from app.core.i18n import _
from app.core.loyalty import LoyaltyError, parse_points
from app.core.money import MAX_AMOUNT_MINOR, MoneyError, format_amount, parse_amount
from app.core.web import Form, go, is_htmx, page, qr_svg_data_uri, signed_in
from app.loyalty import service as loyalty
from app.pos import cart, coupons, credit_notes, payment, priced_cart
from app.pos.pricing import PricingError
from app.pos.receipts import gst_context, reprint_receipt, tax_rows
from app.pos.till_rules import PosError, accept_tender
from app.pos.till_web import (
    CASHIER,
    WHOLE_NUMBER,
    cart_response,
    counter_of,
    ctx,
    notice,
    pay_key,
    till_page,
    visit_credit,
)
from app.printing import service as printing

# ---- paying ------------------------------------------------------------------------


def upi_uri(vpa: str, payee: str, amount_minor: int, note: str) -> str:
    """The NPCI UPI deep link every UPI app understands (amount in rupees, 2 decimals)."""
    params = {"pa": vpa, "pn": payee, "am": f"{amount_minor / 100:.2f}", "cu": "INR", "tn": note}
    return "upi://pay?" + urlencode(params, quote_via=quote)


def _store_upi_uri(cfg: StoreConfig, amount_minor: int) -> str:
    return upi_uri(cfg.pos.upi_vpa, cfg.pos.upi_payee_name or cfg.store.name, amount_minor,
                   f"{cfg.store.id} bill")


@lru_cache(maxsize=64)
def _upi_qr_svg(uri: str) -> bytes:
    """The QR image of one UPI link: the same amount is not drawn twice (panel re-renders,
    a second till with the same total)."""
    return base64.b64decode(qr_svg_data_uri(uri).partition(",")[2])


def _upi_code(cfg: StoreConfig, amount: int) -> dict[str, Any]:
    """What _upi_code.html shows: the UPI link for `amount` and its QR image's address."""
    return {"uri": _store_upi_uri(cfg, amount), "qr": f"/pos/pay/upi-qr.svg?amount={amount}",
            "amount": amount}


async def _pay_panel(
    request: Request, view: priced_cart.CartView, message: str = "", kind: str = "error"
) -> Template:
    cfg = request.app.state.cfg
    remaining = view.remaining
    upi = _upi_code(cfg, remaining) if cfg.pos.upi_vpa and remaining > 0 else None
    quick = (
        sorted({remaining} | {a * 100 for a in cfg.pos.cash_quick_amounts if a * 100 > remaining})[
            :5
        ]
        if remaining
        else []
    )
    settlement = priced_cart.settle_cart(view.cart, view.totals)
    exchange_credit = None
    visit = visit_credit(request)
    if visit and remaining:
        number = visit["number"]
        left = await credit_notes.credit_to_offer(request.app.state.db, number, view.cart.tenders)
        if left > 0:
            exchange_credit = {"number": number, "code": visit["code"], "left": left}
    points_on_bill = sum(t.amount_minor for t in view.cart.tenders if t.kind == "points")
    points = await loyalty.till_offer(request.app.state.db, cfg, view.cart.customer_phone,
                                      bill_total_minor=view.totals.total,
                                      on_bill_minor=points_on_bill, remaining_minor=remaining)
    key = pay_key()
    return page(
        request,
        "pos/_pay.html",
        **ctx(
            request,
            view=view,
            remaining=remaining,
            upi=upi,
            quick_cash=quick,
            settlement=settlement,
            key=key,
            pay_key=key,  # the summary's "Cash, exact" completes the same payment
            message=message,
            kind=kind,
            exchange_credit=exchange_credit,
            points=points,
            loyalty_on=cfg.loyalty.enabled,
            point_value=cfg.loyalty.point_value_paise,
        ),
    )


@get("/pos/pay", guards=[CASHIER])
async def pay_panel(request: Request) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request)
    if not counter:
        return notice(request, _("Open a shift first."))
    view = await cart.current_cart(db, cfg, counter, signed_in(request))
    if not view.cart.lines:
        return await cart_response(request, view, _("Scan something first."), "error")
    return await _pay_panel(request, view)


@get("/pos/pay/upi-qr.svg", guards=[CASHIER])
async def pay_upi_qr(request: Request, amount: int) -> Response[bytes]:
    """The UPI QR for an amount, as the pay panel links it. Only this store's own link
    is drawn: the payee comes from the config, never from the request."""
    cfg = request.app.state.cfg
    if not cfg.pos.upi_vpa or not 0 < amount <= MAX_AMOUNT_MINOR:
        raise NotFoundException(_("No UPI QR for that amount."))
    return Response(_upi_qr_svg(_store_upi_uri(cfg, amount)), media_type="image/svg+xml")


@get("/pos/pay/upi-code", guards=[CASHIER])
async def pay_upi_code(request: Request, amount: str = "") -> Template:
    """The UPI QR for the amount typed in the UPI field (a split pays part by UPI): the
    customer's app must ask for what the cashier will record, not all that is due. An
    amount the UPI tender would refuse shows why instead of a QR."""
    db, cfg = request.app.state.db, request.app.state.cfg
    view = await cart.current_cart(db, cfg, counter_of(request) or "", signed_in(request))
    upi, problem = None, ""
    try:
        typed = parse_amount(amount) if amount.strip() else None
        taken = accept_tender("upi", typed, None, view.remaining)
        if not cfg.pos.upi_vpa:
            raise PosError(_("this store has no UPI id set up"))
        upi = _upi_code(cfg, taken.amount)
    except (PosError, MoneyError) as exc:
        problem = str(exc)
    return page(request, "pos/_upi_code.html", upi=upi, upi_problem=problem)


@post("/pos/pay/tender", guards=[CASHIER])
async def pay_tender(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request) or ""
    kind = data.get("kind", "")
    try:
        amount = parse_amount(data["amount"]) if data.get("amount") else None
        if kind == "points":  # counted in points; the tender is their value
            amount = parse_points(data.get("points", "")) * cfg.loyalty.point_value_paise
        given = parse_amount(data["given"]) if data.get("given") else None
        view = await payment.add_tender(
            db,
            cfg,
            counter,
            data.get("cart_id", ""),
            kind,
            amount,
            given,
            data.get("reference", ""),
        )
    except (PosError, MoneyError, PricingError, LoyaltyError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _pay_panel(request, view, str(exc))
    return await _pay_panel(request, view)


@post("/pos/pay/customer", guards=[CASHIER])
async def pay_customer(request: Request, data: Form) -> Template:
    """The loyalty customer for this bill, by mobile number or card (issue #21): the
    cart keeps the number (a card stands for its holder's number)."""
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request) or ""
    try:
        phone = await loyalty.phone_for(db, cfg, data.get("customer", "")[:64])
        view = await coupons.set_customer_phone(  # asks the hub again (chain coupons)
            db, cfg, counter, data.get("cart_id", ""), phone,
            hub_online=coupons.hub_online(request.app.state))
    except (PosError, LoyaltyError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _pay_panel(request, view, str(exc))
    return await _pay_panel(request, view)


@post("/pos/pay/tender/{tender_id:str}/remove", guards=[CASHIER])
async def pay_tender_remove(request: Request, tender_id: str, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request) or ""
    try:
        view = await payment.remove_tender(db, cfg, counter, data.get("cart_id", ""), tender_id)
    except PosError as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _pay_panel(request, view, str(exc))
    return await _pay_panel(request, view)


@post("/pos/pay/complete", guards=[CASHIER])
async def pay_complete(request: Request, data: Form) -> Template | Response:
    return await _complete(request, data, exact_cash=False)


@post("/pos/pay/cash-exact", guards=[CASHIER])
async def pay_cash_exact(request: Request, data: Form) -> Template | Response:
    """The till's one-tap "Cash, exact": the customer hands over exactly the total; the
    cash tender and the sale are one transaction, with the key the button was drawn with
    (a double tap or a retry after the connection came back makes one sale)."""
    return await _complete(request, data, exact_cash=True)


async def _complete(request: Request, data: dict[str, str], *, exact_cash: bool
                    ) -> Template | Response:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = counter_of(request) or ""
    version = data.get("version", "")
    try:
        sale = await payment.complete_sale(
            db,
            cfg,
            counter,
            data.get("cart_id", ""),
            data.get("key", ""),
            signed_in(request),
            expected_version=int(version) if WHOLE_NUMBER.fullmatch(version) else None,
            exact_cash=exact_cash,
        )
    except (PosError, PricingError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        if not view.cart.lines:
            return notice(request, str(exc))
        if exact_cash:  # tapped on the cart: stay on it, say why
            return await cart_response(request, view, str(exc), "error")
        return await _pay_panel(request, view, str(exc))
    request.app.state.print_queue.wake()
    return go(request, f"/pos/sales/{sale.id}")


@get("/pos/pay/back", guards=[CASHIER])
async def pay_back(request: Request) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    view = await cart.current_cart(db, cfg, counter_of(request) or "", signed_in(request))
    return await cart_response(request, view)


@get("/pos/sales/{sale_id:str}", guards=[CASHIER])
async def sale_receipt(request: Request, sale_id: str) -> Template:
    """A sale's receipt. Right after this counter's sale it shows inside the till (while
    the next cart is empty), so the next scan or tap starts the next sale."""
    db = request.app.state.db
    sale = await payment.get_sale(db, sale_id)
    if sale is None:
        raise NotFoundException(_("No such sale."))
    receipt = {"sale": sale, "money": format_amount, "tax_rows": tax_rows(sale.lines),
               "loyalty_points": await loyalty.points_of_sale(db, sale.id),
               **gst_context(sale), **await _print_status(request, sale.id)}
    if sale.counter == counter_of(request) and not is_htmx(request):
        till = await till_page(request, done=receipt)
        if till is not None:
            return till
    return page(request, "pos/receipt.html", **ctx(request, **receipt))


async def _print_status(request: Request, ref: str) -> dict[str, Any]:
    """The receipt's print jobs, and the paper preview when a printer is a preview one."""
    jobs = await printing.jobs_for(request.app.state.db, ref)
    return {"print_jobs": jobs, "paper_preview": printing.paper_preview(request.app.state.cfg, jobs)}


@get("/pos/sales/{sale_id:str}/print-status", guards=[CASHIER])
async def sale_print_status(request: Request, sale_id: str) -> Template:
    return page(request, "pos/_print_status.html", **await _print_status(request, sale_id))


@post("/pos/sales/{sale_id:str}/reprint", guards=[CASHIER])
async def sale_reprint(request: Request, sale_id: str) -> Template:
    """A copy for the customer, marked DUPLICATE (logged: reprints can hide fraud)."""
    db, cfg = request.app.state.db, request.app.state.cfg
    printers = await reprint_receipt(db, cfg, sale_id, signed_in(request))
    if printers is None:
        raise NotFoundException(_("No such sale."))
    if printers:
        request.app.state.print_queue.wake()
    return page(request, "pos/_print_status.html", **await _print_status(request, sale_id))

ROUTES = [
    pay_panel,
    pay_upi_qr,
    pay_upi_code,
    pay_tender,
    pay_customer,
    pay_tender_remove,
    pay_complete,
    pay_cash_exact,
    pay_back,
    sale_receipt,
    sale_print_status,
    sale_reprint,
]
