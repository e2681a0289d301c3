"""Printers page for managers, job previews, and the public e-receipt page."""

from __future__ import annotations

from datetime import timedelta

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import select

from app.catalog.units import format_measure, format_quantity
from app.core.auth import PUBLIC, requires
from app.core.clock import utcnow
from app.core.money import format_amount
from app.core.web import current_user, page
from app.pos import service as pos_service
from app.pos.models import Sale
from app.pos.receipts import sale_line_text, tax_rows, templates_for
from app.printing import service
from app.printing.html_render import to_html
from app.printing.layout import parse_layout

MANAGER = requires("manager")


def _queue(request: Request):
    return request.app.state.print_queue


async def _printers_context(request: Request, message: str = "", kind: str = "ok") -> dict:
    db, cfg = request.app.state.db, request.app.state.cfg
    return {
        "user": current_user(request), "printers": cfg.printers,
        "states": _queue(request).state, "depth": await service.queue_depth(db),
        "jobs": await service.jobs(db, limit=60), "message": message, "kind": kind,
        "problems": templates_for(cfg).problems,
    }


@get("/printers", guards=[MANAGER])
async def printers_page(request: Request) -> Template:
    return page(request, "printing/printers.html", fragment="printing/_printers.html",
                **await _printers_context(request))


@post("/printers/{name:str}/test", guards=[MANAGER])
async def test_print(request: Request, name: str) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    try:
        printer = service.printer_named(cfg, name)
    except service.PrintError as exc:
        return page(request, "printing/_printers.html", **await _printers_context(
            request, str(exc), "error"))
    layout = templates_for(cfg).render("test", printer=printer, at=utcnow())
    async with db.write() as s:
        service.enqueue(s, printer.name, "test", layout, title="Test page")
    _queue(request).wake(printer.name)
    return page(request, "printing/_printers.html", **await _printers_context(
        request, f"Test page sent to {printer.name}."))


@post("/printers/{name:str}/check", guards=[MANAGER])
async def check_printer(request: Request, name: str) -> Template:
    cfg = request.app.state.cfg
    try:
        printer = service.printer_named(cfg, name)
    except service.PrintError as exc:
        return page(request, "printing/_printers.html", **await _printers_context(
            request, str(exc), "error"))
    result = await _queue(request).check(printer)  # and wakes its worker
    return page(request, "printing/_printers.html", **await _printers_context(
        request, f"{printer.name}: {result.detail}", "ok" if result.online else "error"))


@post("/printers/jobs/{job_id:str}/{action:str}", guards=[MANAGER])
async def job_action(request: Request, job_id: str, action: str) -> Template:
    db = request.app.state.db
    actions = {"retry": service.retry, "cancel": service.cancel, "reprint": service.reprint}
    if action not in actions:
        raise NotFoundException()
    try:
        job = await actions[action](db, job_id)
    except service.PrintError as exc:
        return page(request, "printing/_printers.html", **await _printers_context(
            request, str(exc), "error"))
    _queue(request).wake(job.printer)
    done = {"retry": "queued again", "cancel": "cancelled", "reprint": "reprinted (DUPLICATE)"}
    return page(request, "printing/_printers.html", **await _printers_context(
        request, f"{job.title or 'Job'} {done[action]}."))


@get("/printers/jobs/{job_id:str}/preview", guards=[MANAGER])
async def job_preview(request: Request, job_id: str) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    job = await service.get_job(db, job_id)
    if job is None:
        raise NotFoundException("No such print job.")
    columns = service.printer_named(cfg, job.printer).columns if any(
        p.name == job.printer for p in cfg.printers) else 48
    return page(request, "printing/preview.html", user=current_user(request), job=job,
                paper=to_html(parse_layout(job.layout), columns=columns))


@get("/r/{token:str}", opt=PUBLIC)
async def e_receipt(request: Request, token: str) -> Response | Template:
    """The customer's copy: public, found only by its unguessable token, for
    [receipts] e_receipt_days after the sale (the access log shows /r/…, core/log_redact)."""
    db = request.app.state.db
    cfg = request.app.state.cfg
    if len(token) < 20:
        raise NotFoundException("This receipt link is not valid.")
    async with db.read() as s:
        sale = await s.scalar(select(Sale).where(Sale.receipt_token == token))
        if sale is None:
            raise NotFoundException("This receipt link is not valid.")
        if utcnow() - sale.at > timedelta(days=cfg.receipts.e_receipt_days):
            return page(request, "errors/error.html", status_code=410,
                        title="Receipt link expired",
                        message="This receipt link has expired; ask the store for a copy.",
                        user=None)
        _ = sale.lines, sale.tenders  # loaded before the transaction ends
    return page(request, "printing/e_receipt.html", sale=sale, store=cfg.store,
                tax_rows=tax_rows(sale.lines), money=format_amount, qty=format_quantity,
                line_text=sale_line_text, measure=format_measure,
                refunds=await pos_service.refunds_of_sale(db, sale.id))


ROUTES = [printers_page, test_print, check_printer, job_action, job_preview, e_receipt]
