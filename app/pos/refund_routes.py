"""Refunds and exchanges at the till: find the receipt, choose what comes back, the
refund receipt (with this visit's credit note code when the refund was an exchange)."""

from __future__ import annotations

import re
import secrets

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.catalog.units import QuantityError, parse_quantity
from app.core import auth
from app.core.auth import LoginError
from app.core.i18n import _
from app.core.money import format_amount
from app.core.web import Form, go, page, qr_svg_data_uri, signed_in
from app.pos import payment, refunds
from app.pos.receipts import gst_context, refund_tax_rows
from app.pos.till_rules import PosError
from app.pos.till_web import (
    CASHIER,
    EXCHANGE_KEY,
    WHOLE_NUMBER,
    approver_of,
    counter_of,
    ctx,
    notice,
    visit_credit,
)

# ---- refunds ------------------------------------------------------------------------


@get("/pos/refund", guards=[CASHIER])
async def refund_page(request: Request) -> Template:
    recent = await payment.recent_sales(request.app.state.db, limit=10)
    return page(request, "pos/refund_find.html", **ctx(request, recent=recent))


@post("/pos/refund/find", guards=[CASHIER])
async def refund_find(request: Request, data: Form) -> Template | Response:
    sale = await payment.find_sale(
        request.app.state.db, request.app.state.cfg, data.get("code", "")
    )
    if sale is None:
        return notice(
            request,
            _("No receipt %(code)s in this store. Check the number on the receipt "
              "(like S1-000123).") % {"code": repr(data.get("code", "").strip())},
        )
    return go(request, f"/pos/refund/{sale.id}")


async def _refund_form(
    request: Request, sale_id: str, message: str = "", values: dict[str, str] | None = None
) -> Template:
    db = request.app.state.db
    sale = await payment.get_sale(db, sale_id)
    if sale is None:
        raise NotFoundException(_("No such sale."))
    lines = await refunds.refundable_lines(db, sale_id)
    return page(
        request,
        "pos/refund_lines.html",
        **ctx(
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
                    raise PosError(_("that item is not on this receipt"))
                requests_.append(refunds.RefundRequest(
                    line_id, _refund_quantity(value, line.name, line.unit),
                    data.get(f"restock-{line_id}", "resaleable")))
        approver = await approver_of(request, data)
        refund = await refunds.refund(
            db,
            cfg,
            counter_of(request) or "",
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


NOTHING = re.compile(r"|0+(\.0{0,3})?")  # an untouched refund field: nothing of that line


def _refund_quantity(text: str, name: str, unit: str) -> int:
    """Pieces as a whole number; weighed lines in the unit they were sold in (kg or L, up
    to three decimals), like the sale shows them; stored in grams or ml."""
    text = text.strip()
    if unit == "piece":
        if not WHOLE_NUMBER.fullmatch(text):
            raise PosError(_("%(name)s: %(text)s is not a whole number to refund") % {
                "name": name, "text": repr(text[:20])})
        return int(text)
    shown = "kg" if unit == "kg" else "L"
    try:
        return parse_quantity(text[:20], unit)
    except QuantityError:
        raise PosError(_("%(name)s: %(text)s is not a quantity in %(unit)s like 0.500 "
                         "(sold by the %(unit)s)") % {
            "name": name, "text": repr(text[:20]), "unit": shown}) from None


@get("/pos/refunds/{refund_id:str}", guards=[CASHIER])
async def refund_receipt(request: Request, refund_id: str) -> Template:
    found = await refunds.get_refund(request.app.state.db, refund_id)
    if found is None:
        raise NotFoundException(_("No such refund."))
    refund, sale = found
    lines = {
        r.line.id: r.line for r in await refunds.refundable_lines(request.app.state.db, sale.id)
    }
    visit = visit_credit(request)
    credit = None  # the code is shown only in the visit that made it, never on a later look
    if visit and visit["number"] == refund.number:
        credit = {"code": visit["code"], "qr": qr_svg_data_uri(visit["code"])}
    return page(
        request,
        "pos/refund_receipt.html",
        **ctx(request, refund=refund, sale=sale, sale_lines=lines, money=format_amount,
               credit=credit, tax_rows=refund_tax_rows(refund, lines), **gst_context(sale)),
    )

ROUTES = [
    refund_page,
    refund_find,
    refund_lines,
    refund_submit,
    refund_receipt,
]
