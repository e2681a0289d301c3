"""Counter screens: the till (/pos), payment, receipt, refunds, shift and audit.

Every form names the cart it acts on; the counter comes from the signed-in
session (chosen when the shift was opened), never from the form, so a cart id
copied from another counter is refused by the service.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from app.catalog import service as catalog
from app.catalog.barcodes import BarcodeError
from app.catalog.units import QuantityError, format_measure, format_quantity, parse_quantity
from app.core import audit, auth
from app.core.auth import LoginError, StaffUser, requires
from app.core.money import MoneyError, format_amount, parse_amount, parse_count
from app.core.routes import client_source, device_key
from app.core.web import Form, current_user, go, page, qr_svg_data_uri, signed_in
from app.pos import cart, credit_notes, discounts, payment, priced_cart, refunds, shifts
from app.pos.common import OVERRIDE_ACTIONS
from app.pos.pricing import Discount, PricingError
from app.pos.receipts import (
    quantity_and_rate,
    refund_tax_rows,
    reprint_receipt,
    sale_line_text,
    tax_rows,
)
from app.pos.till_rules import NeedsApproval, PosError
from app.printing import service as printing
from app.printing.html_render import to_html
from app.printing.layout import parse_layout

CASHIER = requires("cashier")
MANAGER = requires("manager")
COUNTER_KEY = "counter"
LAST_SHIFT_KEY = "last_closed_shift"
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")  # str.isdigit() also takes "²" and 5,000 digits
# This visit's credit note: {"number": refund number, "code": its printed code}. The code is
# kept nowhere else (only its hash), so the pay screen can offer it for this visit only.
EXCHANGE_KEY = "exchange_credit"


def _counter(request: Request) -> str | None:
    return request.session.get(COUNTER_KEY)


def _ctx(request: Request, **extra: Any) -> dict[str, Any]:
    cfg = request.app.state.cfg
    return {
        "user": current_user(request),
        "counter": _counter(request),
        "pos": cfg.pos,
        "store": cfg.store,
        "fq": format_quantity,
        "measure": format_measure,
        "qty_rate": quantity_and_rate,
        "line_text": sale_line_text,
        **extra,
    }


async def _approver(request: Request, data: dict[str, str]) -> StaffUser | None:
    """A manager's PIN typed on this screen, if the form carries one."""
    approver_id, pin = data.get("approver_id", ""), data.get("approver_pin", "")
    if not approver_id and not pin:
        return None
    if not approver_id or not pin:
        raise LoginError("choose the manager and enter their PIN")
    asking = current_user(request)
    return await auth.verify_approver(
        request.app.state.db, request.app.state.cfg, approver_id, pin, device_key(request),
        requester_id=asking.id if asking else None, source=client_source(request),
    )


async def _approval_box(
    request: Request, data: dict[str, str], message: str, target: str = "#cart"
) -> Template:
    """Re-show the same step with a manager PIN box; submitting re-posts the step."""
    fields = {
        k: v for k, v in data.items() if k not in ("approver_id", "approver_pin", "_csrf_token")
    }
    approvers = await auth.list_approvers(request.app.state.db)
    return page(
        request,
        "pos/_approval.html",
        **_ctx(
            request,
            message=message,
            fields=fields,
            action=request.url.path,
            target=target,
            approvers=approvers,
        ),
    )


# ---- the till --------------------------------------------------------------------


@get("/pos", guards=[CASHIER])
async def pos_page(request: Request) -> Template | Redirect:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None or not counter:
        open_counters = {c: await shifts.current_shift(db, c) for c in cfg.pos.counters}
        return page(request, "pos/open_shift.html", **_ctx(request, open_counters=open_counters))
    view = await cart.current_cart(db, cfg, counter, signed_in(request))
    quick = [p for p in [await catalog.get_by_sku(db, sku) for sku in cfg.pos.quick_keys] if p]
    return page(request, "pos/till.html", **_ctx(
        request, view=view, shift=shift, quick=quick,
        printer_alerts=await _printer_alerts(request, counter)))


async def _printer_alerts(request: Request, counter: str) -> list[printing.PrinterAlert]:
    """This counter's receipt printer problems (out of paper, not responding ...)."""
    return await printing.printer_alerts(request.app.state.db, request.app.state.cfg,
                                         request.app.state.print_queue.state, counter)


@get("/pos/printer-alerts", guards=[CASHIER])
async def printer_alerts(request: Request) -> Template:
    """The till's printer banner, refreshed every few seconds: it clears by itself."""
    counter = _counter(request) or ""
    return page(request, "pos/_printer_alerts.html",
                printer_alerts=await _printer_alerts(request, counter) if counter else [])


@post("/pos/shift/open", guards=[CASHIER])
async def open_shift(request: Request, data: Form) -> Template | Response:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = data.get("counter", "")
    try:
        float_minor = parse_amount(data.get("float", "0") or "0")
        existing = await shifts.current_shift(db, counter) if counter in cfg.pos.counters else None
        if existing is None:
            await shifts.open_shift(db, cfg, counter, signed_in(request), float_minor)
    except (PosError, MoneyError) as exc:
        return _message(request, str(exc))
    request.session[COUNTER_KEY] = counter  # joining an already open shift is fine
    return go(request, "/pos")


def _message(request: Request, text: str, kind: str = "error", status: int = 200) -> Template:
    return page(request, "pos/_message.html", status_code=status, message=text, kind=kind)


async def _cart_response(
    request: Request,
    view: priced_cart.CartView,
    message: str = "",
    kind: str = "ok",
    suggestions: list | None = None,
) -> Template:
    return page(
        request,
        "pos/_cart.html",
        **_ctx(request, view=view, message=message, kind=kind, suggestions=suggestions or []),
    )


async def _cart_or_error(request: Request, data: dict[str, str], action) -> Template:
    """Run one cart step; errors and approval requests come back in the cart area."""
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request)
    if not counter:
        return _message(request, "Open a shift first.")
    try:
        approver = await _approver(request, data)
        view = await action(db, cfg, counter, data.get("cart_id", ""), approver)
    except NeedsApproval as exc:
        return await _approval_box(request, data, str(exc))
    except LoginError as exc:
        return await _approval_box(request, data, str(exc))
    except (PosError, PricingError, QuantityError, MoneyError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _cart_response(request, view, str(exc), "error")
    return await _cart_response(request, view)


@post("/pos/scan", guards=[CASHIER])
async def scan(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request)
    if not counter:
        return _message(request, "Open a shift first.")
    code = data.get("code", "").strip()
    user = signed_in(request)
    try:
        view, line = await cart.add_scan(
            db, cfg, counter, user, data.get("cart_id", ""), code, cfg.measure_rules
        )
    except (BarcodeError, catalog.UnknownProduct, PosError) as exc:
        view = await cart.current_cart(db, cfg, counter, user)
        suggestions = []
        if isinstance(exc, catalog.UnknownProduct) or (
            isinstance(exc, BarcodeError) and not code.isdigit()
        ):
            suggestions = await catalog.search(db, code, limit=6) if code else []
        message = str(exc) or "Nothing scanned."
        if isinstance(exc, BarcodeError) and "check digit" in message:
            # Usually a smudged label or a misread: say what to do, keep the detail.
            message = f"That barcode did not read right ({message}). Scan it again or type it."
        return await _cart_response(request, view, message, "error", suggestions)
    product = view.products[line.product_id]
    return await _cart_response(request, view, f"Added {product.name}", "ok")


@get("/pos/search", guards=[CASHIER])
async def search(request: Request, q: str = "") -> Template:
    results = await catalog.search(request.app.state.db, q, limit=12) if q.strip() else []
    return page(request, "pos/_search.html", **_ctx(request, results=results, q=q))


@post("/pos/add", guards=[CASHIER])
async def add(request: Request, data: Form) -> Template:
    """From search or a quick key: SKU plus a quantity (kg/L typed for loose goods)."""
    db = request.app.state.db

    async def action(db_, cfg, counter, cart_id, _approver):
        product = await catalog.get_by_sku(db, data.get("sku", ""))
        if product is None:
            raise PosError("that product is not in the catalogue")
        quantity = parse_quantity(data.get("quantity", "1") or "1", product.unit)
        view, _line = await cart.add_product(db_, cfg, counter, cart_id, product.sku, quantity)
        return view

    return await _cart_or_error(request, data, action)


@post("/pos/lines/{line_id:str}/qty", guards=[CASHIER])
async def line_quantity(request: Request, line_id: str, data: Form) -> Template:
    async def action(db, cfg, counter, cart_id, approver):
        text = data.get("quantity", "").strip()
        step = data.get("step", "")
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        line = next((x for x in view.cart.lines if x.id == line_id), None)
        if line is None:
            raise PosError("that line is not on this cart")
        if step in ("+1", "-1"):
            quantity = line.quantity + int(step)
        else:
            if not WHOLE_NUMBER.fullmatch(text):
                raise PosError(f"{text!r} is not a whole number of pieces")
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
            raise PosError(f"{value!r} is not a percentage like 5 or 12.5") from None
        if bp > 10_000:
            raise PosError("a discount cannot be more than 100 %")
        return Discount("percent", bp)
    if kind == "amount":
        return Discount("amount", parse_amount(value))
    raise PosError("discount must be a percent or an amount")


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
        return await cart.set_customer_phone(db, cfg, counter, cart_id, data.get("phone", ""))

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


# ---- paying ------------------------------------------------------------------------


def upi_uri(vpa: str, payee: str, amount_minor: int, note: str) -> str:
    """The NPCI UPI deep link every UPI app understands (amount in rupees, 2 decimals)."""
    params = {"pa": vpa, "pn": payee, "am": f"{amount_minor / 100:.2f}", "cu": "INR", "tn": note}
    return "upi://pay?" + urlencode(params, quote_via=quote)


async def _pay_panel(
    request: Request, view: priced_cart.CartView, message: str = "", kind: str = "error"
) -> Template:
    cfg = request.app.state.cfg
    remaining = view.remaining
    upi = None
    if cfg.pos.upi_vpa and remaining > 0:
        uri = upi_uri(
            cfg.pos.upi_vpa,
            cfg.pos.upi_payee_name or cfg.store.name,
            remaining,
            f"{cfg.store.id} bill",
        )
        upi = {"uri": uri, "qr": qr_svg_data_uri(uri)}
    quick = (
        sorted({remaining} | {a * 100 for a in cfg.pos.cash_quick_amounts if a * 100 > remaining})[
            :5
        ]
        if remaining
        else []
    )
    settlement = priced_cart.settle_cart(view.cart, view.totals)
    exchange_credit = None
    visit = _visit_credit(request)
    if visit and remaining:
        number = visit["number"]
        left = await credit_notes.credit_to_offer(request.app.state.db, number, view.cart.tenders)
        if left > 0:
            exchange_credit = {"number": number, "code": visit["code"], "left": left}
    return page(
        request,
        "pos/_pay.html",
        **_ctx(
            request,
            view=view,
            remaining=remaining,
            upi=upi,
            quick_cash=quick,
            settlement=settlement,
            key=secrets.token_urlsafe(18),
            message=message,
            kind=kind,
            exchange_credit=exchange_credit,
        ),
    )


@get("/pos/pay", guards=[CASHIER])
async def pay_panel(request: Request) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request)
    if not counter:
        return _message(request, "Open a shift first.")
    view = await cart.current_cart(db, cfg, counter, signed_in(request))
    if not view.cart.lines:
        return await _cart_response(request, view, "Scan something first.", "error")
    return await _pay_panel(request, view)


@post("/pos/pay/tender", guards=[CASHIER])
async def pay_tender(request: Request, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request) or ""
    kind = data.get("kind", "")
    try:
        amount = parse_amount(data["amount"]) if data.get("amount") else None
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
    except (PosError, MoneyError, PricingError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _pay_panel(request, view, str(exc))
    return await _pay_panel(request, view)


@post("/pos/pay/tender/{tender_id:str}/remove", guards=[CASHIER])
async def pay_tender_remove(request: Request, tender_id: str, data: Form) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request) or ""
    try:
        view = await payment.remove_tender(db, cfg, counter, data.get("cart_id", ""), tender_id)
    except PosError as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        return await _pay_panel(request, view, str(exc))
    return await _pay_panel(request, view)


@post("/pos/pay/complete", guards=[CASHIER])
async def pay_complete(request: Request, data: Form) -> Template | Response:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request) or ""
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
        )
    except (PosError, PricingError) as exc:
        view = await cart.current_cart(db, cfg, counter, signed_in(request))
        if not view.cart.lines:
            return _message(request, str(exc))
        return await _pay_panel(request, view, str(exc))
    request.app.state.print_queue.wake()
    return go(request, f"/pos/sales/{sale.id}")


@get("/pos/pay/back", guards=[CASHIER])
async def pay_back(request: Request) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    view = await cart.current_cart(db, cfg, _counter(request) or "", signed_in(request))
    return await _cart_response(request, view)


@get("/pos/sales/{sale_id:str}", guards=[CASHIER])
async def sale_receipt(request: Request, sale_id: str) -> Template:
    db = request.app.state.db
    sale = await payment.get_sale(db, sale_id)
    if sale is None:
        raise NotFoundException("No such sale.")
    return page(request, "pos/receipt.html", **_ctx(
        request, sale=sale, money=format_amount, tax_rows=tax_rows(sale.lines),
        **await _print_status(request, sale.id)))


async def _print_status(request: Request, ref: str) -> dict[str, Any]:
    """The receipt's print jobs, and the paper preview when a printer is a preview one."""
    cfg = request.app.state.cfg
    jobs = await printing.jobs_for(request.app.state.db, ref)
    previews = {p.name: p.columns for p in cfg.printers if p.kind == "preview"}
    preview = next((to_html(parse_layout(j.layout), columns=previews[j.printer])
                    for j in jobs if j.printer in previews), "")
    return {"print_jobs": jobs, "paper_preview": preview}


@get("/pos/sales/{sale_id:str}/print-status", guards=[CASHIER])
async def sale_print_status(request: Request, sale_id: str) -> Template:
    return page(request, "pos/_print_status.html", **await _print_status(request, sale_id))


@post("/pos/sales/{sale_id:str}/reprint", guards=[CASHIER])
async def sale_reprint(request: Request, sale_id: str) -> Template:
    """A copy for the customer, marked DUPLICATE (logged: reprints can hide fraud)."""
    db, cfg = request.app.state.db, request.app.state.cfg
    printers = await reprint_receipt(db, cfg, sale_id, signed_in(request))
    if printers is None:
        raise NotFoundException("No such sale.")
    if printers:
        request.app.state.print_queue.wake()
    return page(request, "pos/_print_status.html", **await _print_status(request, sale_id))


# ---- refunds ------------------------------------------------------------------------


@get("/pos/refund", guards=[CASHIER])
async def refund_page(request: Request) -> Template:
    recent = await payment.recent_sales(request.app.state.db, limit=10)
    return page(request, "pos/refund_find.html", **_ctx(request, recent=recent))


@post("/pos/refund/find", guards=[CASHIER])
async def refund_find(request: Request, data: Form) -> Template | Response:
    sale = await payment.find_sale(
        request.app.state.db, request.app.state.cfg, data.get("code", "")
    )
    if sale is None:
        return _message(
            request,
            f"No receipt {data.get('code', '').strip()!r} in this store. "
            "Check the number on the receipt (like S1-000123).",
        )
    return go(request, f"/pos/refund/{sale.id}")


async def _refund_form(
    request: Request, sale_id: str, message: str = "", values: dict[str, str] | None = None
) -> Template:
    db = request.app.state.db
    sale = await payment.get_sale(db, sale_id)
    if sale is None:
        raise NotFoundException("No such sale.")
    lines = await refunds.refundable_lines(db, sale_id)
    return page(
        request,
        "pos/refund_lines.html",
        **_ctx(
            request,
            sale=sale,
            lines=lines,
            message=message,
            key=secrets.token_urlsafe(18),
            values=values or {},
            approvers=await auth.list_approvers(db),
            money=format_amount,
        ),
    )


@get("/pos/refund/{sale_id:str}", guards=[CASHIER])
async def refund_lines(request: Request, sale_id: str) -> Template:
    return await _refund_form(request, sale_id)


@post("/pos/refund/{sale_id:str}", guards=[CASHIER])
async def refund_submit(request: Request, sale_id: str, data: Form) -> Template | Response:
    db, cfg = request.app.state.db, request.app.state.cfg
    requests_: list[refunds.RefundRequest] = []
    try:
        sold = {r.line.id: r.line for r in await refunds.refundable_lines(db, sale_id)}
        for key, value in data.items():
            if key.startswith("qty-") and not NOTHING.fullmatch(value.strip()):
                line_id = key[4:]
                line = sold.get(line_id)
                if line is None:
                    raise PosError("that item is not on this receipt")
                requests_.append(refunds.RefundRequest(
                    line_id, _refund_quantity(value, line.name, line.unit),
                    data.get(f"restock-{line_id}", "resaleable")))
        approver = await _approver(request, data)
        refund = await refunds.refund(
            db,
            cfg,
            _counter(request) or "",
            sale_id,
            requests_,
            data.get("tender", "cash"),
            data.get("key", ""),
            signed_in(request),
            approver,
            data.get("reason", ""),
        )
    except (PosError, LoginError) as exc:
        return await _refund_form(request, sale_id, str(exc), data)
    request.app.state.print_queue.wake()
    code = getattr(refund, "credit_code", "")
    if refund.tender_kind == "exchange" and code:
        request.session[EXCHANGE_KEY] = {"number": refund.number, "code": code}
    return go(request, f"/pos/refunds/{refund.id}")


def _visit_credit(request: Request) -> dict[str, str] | None:
    found = request.session.get(EXCHANGE_KEY)
    if isinstance(found, dict) and found.get("number") and found.get("code"):
        return {"number": str(found["number"]), "code": str(found["code"])}
    return None


NOTHING = re.compile(r"|0+(\.0{0,3})?")  # an untouched refund field: nothing of that line


def _refund_quantity(text: str, name: str, unit: str) -> int:
    """Pieces as a whole number; weighed lines in the unit they were sold in (kg or L, up
    to three decimals), like the sale shows them; stored in grams or ml."""
    text = text.strip()
    if unit == "piece":
        if not WHOLE_NUMBER.fullmatch(text):
            raise PosError(f"{name}: {text[:20]!r} is not a whole number to refund")
        return int(text)
    shown = "kg" if unit == "kg" else "L"
    try:
        return parse_quantity(text[:20], unit)
    except QuantityError:
        raise PosError(f"{name}: {text[:20]!r} is not a quantity in {shown} "
                       f"like 0.500 (sold by the {shown})") from None


@get("/pos/refunds/{refund_id:str}", guards=[CASHIER])
async def refund_receipt(request: Request, refund_id: str) -> Template:
    found = await refunds.get_refund(request.app.state.db, refund_id)
    if found is None:
        raise NotFoundException("No such refund.")
    refund, sale = found
    lines = {
        r.line.id: r.line for r in await refunds.refundable_lines(request.app.state.db, sale.id)
    }
    visit = _visit_credit(request)
    credit = None  # the code is shown only in the visit that made it, never on a later look
    if visit and visit["number"] == refund.number:
        credit = {"code": visit["code"], "qr": qr_svg_data_uri(visit["code"])}
    return page(
        request,
        "pos/refund_receipt.html",
        **_ctx(request, refund=refund, sale=sale, sale_lines=lines, money=format_amount,
               credit=credit, tax_rows=refund_tax_rows(refund, lines)),
    )


# ---- shift ----------------------------------------------------------------------------


@get("/pos/shift", guards=[CASHIER])
async def shift_page(request: Request) -> Template | Response:
    db = request.app.state.db
    counter = _counter(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return go(request, "/pos")
    report = await shifts.shift_report(db, shift.id, request.app.state.cfg)
    return page(
        request,
        "pos/shift.html",
        **_ctx(
            request, report=report, money=format_amount, message=request.query_params.get("msg", "")
        ),
    )


@post("/pos/shift/cash", guards=[CASHIER])
async def shift_cash(request: Request, data: Form) -> Response | Template:
    try:
        amount = parse_amount(data.get("amount", ""))
        sign = -1 if data.get("direction") == "out" else 1
        approver = await _approver(request, data)
        await shifts.cash_movement(
            request.app.state.db,
            _counter(request) or "",
            signed_in(request),
            sign * amount,
            data.get("reason", ""),
            approver,
            cfg=request.app.state.cfg,
        )
    except (NeedsApproval, LoginError) as exc:
        return await _approval_box(request, data, str(exc), target="#shift-msg")
    except (PosError, MoneyError) as exc:
        return _message(request, str(exc))
    return go(request, "/pos/shift?msg=Cash+recorded")


@post("/pos/shift/no-sale", guards=[CASHIER])
async def shift_no_sale(request: Request, data: Form) -> Response | Template:
    try:
        await shifts.no_sale(
            request.app.state.db, _counter(request) or "", signed_in(request), data.get("reason", "")
        )
    except PosError as exc:
        return _message(request, str(exc))
    return go(request, "/pos/shift?msg=Drawer+opening+logged")


@post("/pos/shift/close", guards=[CASHIER])
async def shift_close(request: Request, data: Form) -> Response | Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    counter = _counter(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return _message(request, "This counter has no open shift (was it closed already?).")
    counts: dict[int, int] = {}
    try:
        for denom in cfg.pos.denominations:
            text = data.get(f"d{denom}", "").strip() or "0"
            try:
                counts[denom] = parse_count(text, "a count")
            except MoneyError as exc:
                raise PosError(f"₹{denom}: {exc}") from None
        await shifts.close_shift(db, cfg, shift.id, signed_in(request), counts)
    except PosError as exc:
        return _message(request, str(exc))
    request.session.pop(COUNTER_KEY, None)
    request.session[LAST_SHIFT_KEY] = shift.id
    return go(request, f"/pos/shifts/{shift.id}")


def _may_see_report(request: Request, shift_id: str) -> None:
    """A cashier sees the Z report of the shift they just closed; others are the manager's."""
    closed_here = request.session.get(LAST_SHIFT_KEY) == shift_id
    if signed_in(request).role not in ("manager", "admin") and not closed_here:
        raise PermissionDeniedException("Shift reports of other counters are for managers.")


@get("/pos/shifts/{shift_id:str}", guards=[CASHIER])
async def shift_report_page(request: Request, shift_id: str) -> Template:
    try:
        report = await shifts.shift_report(request.app.state.db, shift_id,
                                            request.app.state.cfg)
    except PosError:
        raise NotFoundException("No such shift.") from None
    _may_see_report(request, shift_id)
    return page(request, "pos/z_report.html", **_ctx(request, report=report, money=format_amount))


@post("/pos/shift/print", guards=[CASHIER])
async def shift_print(request: Request) -> Template:
    """The X report of this counter's open shift, on paper."""
    db = request.app.state.db
    counter = _counter(request)
    shift = await shifts.current_shift(db, counter) if counter else None
    if shift is None:
        return _message(request, "This counter has no open shift (was it closed already?).")
    return await _print_report(request, shift.id)


@post("/pos/shifts/{shift_id:str}/print", guards=[CASHIER])
async def shift_report_print(request: Request, shift_id: str) -> Template:
    """A shift's report again: its X while open, a DUPLICATE of its Z once closed."""
    _may_see_report(request, shift_id)
    return await _print_report(request, shift_id)


async def _print_report(request: Request, shift_id: str) -> Template:
    try:
        report, printers = await shifts.print_shift_report(
            request.app.state.db, request.app.state.cfg, shift_id, signed_in(request))
    except PosError as exc:
        return _message(request, str(exc))
    request.app.state.print_queue.wake()
    label = "Z report (copy)" if report.shift.closed_at else "X report"
    return _message(request, f"{label} sent to {', '.join(printers)}.", "ok")


@get("/pos/audit", guards=[MANAGER])
async def audit_page(request: Request) -> Template:
    entries = await audit.named_entries(request.app.state.db, OVERRIDE_ACTIONS)
    recent = await shifts.recent_shifts(request.app.state.db)
    return page(
        request,
        "pos/audit.html",
        **_ctx(request, entries=entries, shifts=recent, money=format_amount),
    )


def pos_error_handler(request: Request, exc: PosError) -> Response:
    """A refusal that escaped a route (the shift was closed on another tablet, say):
    the till starts over at its first screen instead of showing a server error."""
    if "no open shift" in str(exc):
        request.session.pop(COUNTER_KEY, None)
        return go(request, "/pos")
    return page(request, "errors/error.html", fragment="errors/_error.html", status_code=409,
                title="Please check", message=str(exc), user=current_user(request))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {PosError: pos_error_handler}

ROUTES = [
    pos_page,
    printer_alerts,
    open_shift,
    scan,
    search,
    add,
    line_quantity,
    line_void,
    line_discount,
    bill_discount,
    customer,
    park,
    resume,
    cart_void,
    pay_panel,
    pay_tender,
    pay_tender_remove,
    pay_complete,
    pay_back,
    sale_receipt,
    refund_page,
    refund_find,
    refund_lines,
    refund_submit,
    refund_receipt,
    sale_print_status,
    sale_reprint,
    shift_page,
    shift_cash,
    shift_no_sale,
    shift_close,
    shift_report_page,
    shift_print,
    shift_report_print,
    audit_page,
]
