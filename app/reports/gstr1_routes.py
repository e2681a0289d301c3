"""The GSTR-1 page (issue #18): a month's sections, the check against the Z reports, and
the files to download (one CSV per section, the offline tool's JSON). Manager and admin.
The routes only parse the month and hand over; app/reports/gstr1_data.py reads."""

from __future__ import annotations

from datetime import date

from litestar import Request, Response, get
from litestar.response import Template

from app.core import gstr1_export
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.gstr1 import parse_month
from app.core.i18n import N_, _
from app.core.web import current_user, page
from app.reports import gstr1_data

MANAGER = requires("manager")
SECTION_NAMES = (("b2b", N_("B2B invoices (4A)")), ("b2cl", N_("B2C large (5)")),
                 ("b2cs", N_("B2C small, net of refunds (7)")), ("nil", N_("Nil-rated (8)")),
                 ("cdnr", N_("Credit notes to registered buyers (9B)")),
                 ("cdnur", N_("Credit notes to unregistered buyers (9B)")))


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _default_month(today: date) -> str:
    """Last month: the return a shop files in the first days of a month."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def _month(request: Request) -> tuple[str, tuple[int, int] | None, str]:
    """(text as asked, (year, month) or None, the error line)."""
    today = _today(request)
    text = request.query_params.get("month") or _default_month(today)
    try:
        return text, parse_month(text, today), ""
    except ValueError as exc:
        return text[:20], None, str(exc)


@get("/reports/gstr1", guards=[MANAGER])
async def gstr1_page(request: Request) -> Template:
    text, ym, error = _month(request)
    user = current_user(request)
    if ym is None:
        return page(request, "reports/gstr1.html", status_code=400, user=user, month=text,
                    error=error, ret=None, rec=None, sections=(), files=())
    cfg, db = request.app.state.cfg, request.app.state.db
    ret, rec = await gstr1_data.month_report(db, cfg, *ym)
    figures = ret.section_figures()
    sections = [(_(label), figures[key]) for key, label in SECTION_NAMES]
    month = f"{ym[0]:04d}-{ym[1]:02d}"
    return page(request, "reports/gstr1.html", user=user, month=month, error="", ret=ret,
                rec=rec, sections=sections, files=gstr1_export.SECTIONS)


def _download_name(kind: str, ym: tuple[int, int], ext: str) -> str:
    return f"kirana-gstr1-{ym[0]:04d}-{ym[1]:02d}-{kind}.{ext}"


@get("/reports/gstr1.csv", guards=[MANAGER])
async def gstr1_csv(request: Request) -> Response:
    _text, ym, error = _month(request)
    section = request.query_params.get("section", "")
    if ym is None or section not in gstr1_export.SECTIONS:
        return Response(error or _("No such section: choose one of the links on the GSTR-1 "
                                   "page."),
                        status_code=400, media_type="text/plain")
    ret = await gstr1_data.load_month(request.app.state.db, request.app.state.cfg, *ym)
    return Response(gstr1_export.section_csv(ret, section), media_type="text/csv",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_download_name(section, ym, "csv")}"'})


@get("/reports/gstr1.json", guards=[MANAGER])
async def gstr1_json(request: Request) -> Response:
    _text, ym, error = _month(request)
    if ym is None:
        return Response(error, status_code=400, media_type="text/plain")
    ret = await gstr1_data.load_month(request.app.state.db, request.app.state.cfg, *ym)
    return Response(gstr1_export.to_json(ret), media_type="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="{_download_name("offline-tool", ym, "json")}"'})


ROUTES = [gstr1_page, gstr1_csv, gstr1_json]
