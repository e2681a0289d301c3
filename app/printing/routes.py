"""Printers page for managers and job previews. Thin: every read and write is a
service.py call (routes run no SQL and open no transaction); the e-receipt page is the
till's (app/pos/receipt_pages.py)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core.auth import requires
from app.core.i18n import _
from app.core.web import current_user, page
from app.printing import service
from app.printing.html_render import to_html
from app.printing.layout import parse_layout
from app.printing.status import job_error, job_status

MANAGER = requires("manager")


def _queue(request: Request):
    return request.app.state.print_queue


async def _printers_context(request: Request, message: str = "", kind: str = "ok") -> dict:
    db, cfg = request.app.state.db, request.app.state.cfg
    return {
        "user": current_user(request), "printers": cfg.printers,
        "states": _queue(request).state, "depth": await service.queue_depth(db),
        "jobs": await service.jobs(db, limit=60), "message": message, "kind": kind,
        "problems": service.template_problems(cfg),
        "job_title": service.job_title, "job_status": job_status, "job_error": job_error,
    }


@get("/printers", guards=[MANAGER])
async def printers_page(request: Request) -> Template:
    return page(request, "printing/printers.html", fragment="printing/_printers.html",
                **await _printers_context(request))


@post("/printers/{name:str}/test", guards=[MANAGER])
async def test_print(request: Request, name: str) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    try:
        job = await service.send_test_page(db, cfg, name)
    except service.PrintError as exc:
        return page(request, "printing/_printers.html", **await _printers_context(
            request, str(exc), "error"))
    _queue(request).wake(job.printer)
    return page(request, "printing/_printers.html", **await _printers_context(
        request, _("Test page sent to %(printer)s.") % {"printer": job.printer}))


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
    actions = {"retry": service.retry, "cancel": service.cancel,
               "reprint": lambda db, job_id: service.reprint(db, job_id, request.app.state.cfg)}
    if action not in actions:
        raise NotFoundException()
    try:
        job = await actions[action](db, job_id)
    except service.PrintError as exc:
        return page(request, "printing/_printers.html", **await _printers_context(
            request, str(exc), "error"))
    _queue(request).wake(job.printer)
    done = {"retry": _("%(job)s queued again."), "cancel": _("%(job)s cancelled."),
            "reprint": _("%(job)s reprinted (DUPLICATE).")}
    title = service.job_title(job) if job.title else _("Job")
    return page(request, "printing/_printers.html", **await _printers_context(
        request, done[action] % {"job": title}))


@get("/printers/jobs/{job_id:str}/preview", guards=[MANAGER])
async def job_preview(request: Request, job_id: str) -> Template:
    db, cfg = request.app.state.db, request.app.state.cfg
    job = await service.get_job(db, job_id)
    if job is None:
        raise NotFoundException(_("No such print job."))
    columns = service.printer_named(cfg, job.printer).columns if any(
        p.name == job.printer for p in cfg.printers) else 48
    return page(request, "printing/preview.html", user=current_user(request), job=job,
                job_title=service.job_title, job_status=job_status,
                paper=to_html(parse_layout(job.layout), columns=columns))


ROUTES = [printers_page, test_print, check_printer, job_action, job_preview]
