"""Purchasing pages for managers: suppliers (form and CSV), the suggested order, purchase
orders (draft, send, cancel, CSV for the supplier, a page to print). Thin: parse the form
with rules.py, call one service function, render."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import ngettext
from app.core.web import Form, UploadProblem, current_user, go, page, upload_text
from app.printing.documents import local_day
from app.purchasing import service, states
from app.purchasing.csv_io import parse_suppliers
from app.purchasing.rules import (
    SupplierError,
    parse_case_cost,
    parse_expected_date,
    parse_order_form,
    parse_pack_size,
    parse_supplier,
)
from app.purchasing.suggest import DEFAULT_COVER_DAYS, SuggestError, parse_cover_days

MANAGER = requires("manager")
Refused = (SupplierError, SuggestError, service.PurchasingError)


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


async def _found(coro: Any) -> Any:
    try:
        return await coro
    except service.NotFound as exc:
        raise NotFoundException(str(exc)) from None


# --- suppliers -------------------------------------------------------------------------


@get("/purchasing", guards=[MANAGER])
async def index(request: Request) -> Template:
    db = request.app.state.db
    return page(request, "purchasing/index.html", user=current_user(request),
                suppliers=await service.list_suppliers(db),
                orders=await service.list_orders(db), labels=states.LABELS, day=local_day)


@get("/purchasing/suppliers/new", guards=[MANAGER])
async def supplier_new(request: Request) -> Template:
    return page(request, "purchasing/supplier_new.html", form={}, error="")


@post("/purchasing/suppliers", guards=[MANAGER])
async def supplier_create(request: Request, data: Form) -> Response | Template:
    try:
        sid = await service.save_supplier(request.app.state.db, parse_supplier(
            name=data.get("name", ""), gstin=data.get("gstin", ""),
            phone=data.get("phone", ""), lead_time_days=data.get("lead_time_days", "1")))
    except Refused as exc:
        return page(request, "purchasing/supplier_new.html", status_code=400, form=data,
                    error=str(exc))
    return go(request, f"/purchasing/suppliers/{sid}")


async def _supplier_page(request: Request, sid: str, *, status_code: int = 200,
                         error: str = "", form: dict[str, str] | None = None,
                         saved: str = "") -> Template:
    view = await _found(service.get_supplier(request.app.state.db, sid))
    return page(request, "purchasing/supplier.html", status_code=status_code, view=view,
                error=error, form=form or {}, saved=saved, cover=DEFAULT_COVER_DAYS)


@get("/purchasing/suppliers/{sid:str}", guards=[MANAGER])
async def supplier_page(request: Request, sid: str, saved: str = "") -> Template:
    return await _supplier_page(request, sid, saved=saved)


@post("/purchasing/suppliers/{sid:str}", guards=[MANAGER])
async def supplier_save(request: Request, sid: str, data: Form) -> Response | Template:
    try:
        await _found(service.save_supplier(request.app.state.db, parse_supplier(
            name=data.get("name", ""), gstin=data.get("gstin", ""),
            phone=data.get("phone", ""), lead_time_days=data.get("lead_time_days", "1")), sid))
    except Refused as exc:
        return await _supplier_page(request, sid, status_code=400, error=str(exc))
    return go(request, f"/purchasing/suppliers/{sid}?saved=supplier")


@post("/purchasing/suppliers/{sid:str}/items", guards=[MANAGER])
async def item_set(request: Request, sid: str, data: Form) -> Response | Template:
    try:
        await _found(service.set_item(request.app.state.db, sid, data.get("sku", ""),
                                      parse_case_cost(data.get("case_cost", "")),
                                      parse_pack_size(data.get("pack_size", ""))))
    except Refused as exc:
        return await _supplier_page(request, sid, status_code=400, error=str(exc), form=data)
    return go(request, f"/purchasing/suppliers/{sid}?saved=product")


@post("/purchasing/suppliers/{sid:str}/items/{pid:str}/remove", guards=[MANAGER])
async def item_remove(request: Request, sid: str, pid: str) -> Response:
    await service.remove_item(request.app.state.db, sid, pid)
    return go(request, f"/purchasing/suppliers/{sid}")


@get("/purchasing/suppliers.csv", guards=[MANAGER])
async def suppliers_csv(request: Request) -> Response:
    stamp = utcnow().astimezone(request.app.state.cfg.tz).strftime("%Y%m%d")
    return _csv(await service.export_suppliers(request.app.state.db), f"suppliers-{stamp}.csv")


@get("/purchasing/import", guards=[MANAGER])
async def import_form(request: Request) -> Template:
    return page(request, "purchasing/import.html", report=None, errors=[], error="")


@post("/purchasing/import", guards=[MANAGER])
async def import_upload(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    try:
        report = await service.import_suppliers(request.app.state.db,
                                                parse_suppliers(await upload_text(data)))
    except UploadProblem as exc:
        return page(request, "purchasing/import.html", status_code=400, report=None,
                    errors=[], error=str(exc))
    except service.ImportRejected as exc:
        return page(request, "purchasing/import.html", status_code=400, report=None,
                    errors=exc.errors[:200], error=str(exc))
    return page(request, "purchasing/import.html", report=report, errors=[], error="")


# --- suggested order and purchase orders -----------------------------------------------


@get("/purchasing/suppliers/{sid:str}/suggest", guards=[MANAGER])
async def suggest_page(request: Request, sid: str, cover: str = "") -> Template:
    error = ""
    try:
        days = parse_cover_days(cover)
    except SuggestError as exc:
        days, error = DEFAULT_COVER_DAYS, str(exc).capitalize() + "."
    got = await _found(service.suggested_order(request.app.state.db, sid, cover_days=days,
                                               tz=request.app.state.cfg.tz))
    return page(request, "purchasing/suggest.html", status_code=400 if error else 200,
                got=got, error=error, form={})


@post("/purchasing/suppliers/{sid:str}/orders", guards=[MANAGER])
async def order_create(request: Request, sid: str, data: Form) -> Response | Template:
    """The manager's (edited) suggestion becomes a draft purchase order."""
    user = current_user(request)
    try:
        po = await _found(service.create_order(
            request.app.state.db, sid, parse_order_form(data),
            parse_expected_date(data.get("expected_on", ""), _today(request)),
            user.id if user else None))
    except Refused as exc:
        got = await _found(service.suggested_order(
            request.app.state.db, sid, cover_days=DEFAULT_COVER_DAYS,
            tz=request.app.state.cfg.tz))
        return page(request, "purchasing/suggest.html", status_code=400, got=got,
                    error=str(exc), form=data)
    return go(request, f"/purchasing/orders/{po}")


async def _order_page(request: Request, po: str, *, status_code: int = 200,
                      error: str = "", note: str = "") -> Template:
    view = await _found(service.get_order(request.app.state.db, po))
    offered = (await service.get_supplier(request.app.state.db, view.supplier.id)).items
    return page(request, "purchasing/order.html", status_code=status_code, view=view,
                offered=offered, labels=states.LABELS, error=error, note=note,
                day=local_day)


@get("/purchasing/orders/{po:str}", guards=[MANAGER])
async def order_page(request: Request, po: str) -> Template:
    return await _order_page(request, po)


@post("/purchasing/orders/{po:str}", guards=[MANAGER])
async def order_save(request: Request, po: str, data: Form) -> Response | Template:
    try:
        await _found(service.edit_order(
            request.app.state.db, po, parse_order_form(data),
            parse_expected_date(data.get("expected_on", ""), _today(request))))
    except Refused as exc:
        return await _order_page(request, po, status_code=400, error=str(exc))
    return go(request, f"/purchasing/orders/{po}")


@post("/purchasing/orders/{po:str}/status", guards=[MANAGER])
async def order_move(request: Request, po: str, data: Form) -> Response | Template:
    try:
        user = current_user(request)
        await _found(service.move_order(request.app.state.db, po, data.get("to", ""),
                                        user.id if user else None))
    except Refused as exc:
        return await _order_page(request, po, status_code=400, error=str(exc))
    return go(request, f"/purchasing/orders/{po}")


@get("/purchasing/orders/{po:str}/csv", guards=[MANAGER])
async def order_csv(request: Request, po: str) -> Response:
    name, text = await _found(service.order_csv(request.app.state.db, po))
    return _csv(text, name)


@get("/purchasing/orders/{po:str}/print", guards=[MANAGER])
async def order_print(request: Request, po: str) -> Template:
    view = await _found(service.get_order(request.app.state.db, po))
    return page(request, "purchasing/print.html", view=view, labels=states.LABELS,
                day=local_day, store=request.app.state.cfg.store)


@post("/purchasing/orders/{po:str}/print-slip", guards=[MANAGER])
async def order_print_slip(request: Request, po: str) -> Template:
    """The order on the pick-list printer (ESC/POS), through the print queue."""
    user = current_user(request)
    try:
        jobs = await _found(service.print_order(request.app.state.db, request.app.state.cfg,
                                                po, user.id if user else None))
    except Refused as exc:
        return await _order_page(request, po, status_code=400, error=str(exc))
    return await _order_page(request, po, note=ngettext("Sent to %(num)d printer.",
                                                                "Sent to %(num)d printers.", jobs)
                             % {"num": jobs})


ROUTES = [index, supplier_new, supplier_create, supplier_page, supplier_save, item_set,
          item_remove, suppliers_csv, import_form, import_upload, suggest_page, order_create,
          order_page, order_save, order_move, order_csv, order_print, order_print_slip]
