"""HQ's report pages at the hub (issue #18): the chain overview (every store side by side,
the chain's trend, the store map, CSV) and GSTR-1 per store and per GSTIN (JSON for the
GST offline tool, CSV files in a zip). Thin: figures in reports.py, rules in
report_rules.py, the return in app/core/gstr1.py and gstr1_export.py."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template

from app.core import csv_safe, svg_charts
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.money import format_amount
from app.core.web import Form, go, page
from app.hub import report_rules as rules
from app.hub import reports

HQ = ("manager",)  # admins may do everything



def _today(request: Request) -> Any:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _sort(sort: str, direction: str) -> tuple[str, bool]:
    column = sort if sort in rules.SORTS else "sales"
    return column, direction != "asc"


async def _overview(request: Request, start: str, end: str) -> reports.Overview:
    cfg = request.app.state.cfg
    first, last = rules.date_range(start, end, _today(request))
    return await reports.chain_overview(request.app.state.db, first, last, _today(request),
                                        cfg.tz, utcnow())


def _charts(o: reports.Overview) -> dict[str, Any]:
    labels = [d.day.strftime("%d %b") for d in o.days]
    return {
        "sales_chart": svg_charts.bar_chart(
            labels, [d.sales for d in o.days], title="Chain sales per day (net of refunds)",
            fmt=format_amount, axis_fmt=svg_charts.compact_amount),
        "orders_chart": svg_charts.line_chart(
            labels, [d.orders for d in o.days], title="Online orders per day, all stores"),
    }


@get("/hub/reports", guards=[requires(*HQ)])
async def reports_page(request: Request, start: str = "", end: str = "", sort: str = "sales",
                       dir: str = "desc") -> Template:
    column, descending = _sort(sort, dir)
    try:
        o = await _overview(request, start, end)
    except rules.RangeError as exc:
        return page(request, "hub/reports.html", status_code=400, error=str(exc), o=None,
                    start=start[:10], end=end[:10], sort=column, descending=descending)
    rows = rules.sort_stores(o.stores, column, descending)
    query = {"start": o.first.isoformat(), "end": o.last.isoformat()}
    return page(request, "hub/reports.html", error="", o=o, rows=rows,
                start=query["start"], end=query["end"], sort=column, descending=descending,
                sorts=rules.SORTS, query=urlencode(query), band=rules.sla_band,
                bands=rules.SLA_BANDS, no_sla=rules.NO_SLA, **_charts(o))


@get("/hub/reports.csv", guards=[requires(*HQ)])
async def reports_csv(request: Request, start: str = "", end: str = "", sort: str = "sales",
                      dir: str = "desc") -> Response:
    column, descending = _sort(sort, dir)
    try:
        o = await _overview(request, start, end)
    except rules.RangeError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerows(rules.csv_rows(rules.sort_stores(o.stores, column, descending)))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition":
            f'attachment; filename="chain-{o.first.isoformat()}-{o.last.isoformat()}.csv"'})


@get("/hub/reports/returns", guards=[requires(*HQ)])
async def returns_page(request: Request, start: str = "", end: str = "") -> Template:
    """Returns of online orders across the chain (issue #19): per store, per product,
    per reason, time to complete and refunds (figures in return_reports.py)."""
    from app.hub import return_reports

    try:
        first, last = rules.date_range(start, end, _today(request))
    except rules.RangeError as exc:
        return page(request, "hub/reports_returns.html", status_code=400, error=str(exc),
                    r=None, start=start[:10], end=end[:10])
    figures = await return_reports.chain_returns(request.app.state.db, first, last,
                                                 request.app.state.cfg.tz)
    return page(request, "hub/reports_returns.html", error="", r=figures,
                start=first.isoformat(), end=last.isoformat())


# --- GSTR-1 --------------------------------------------------------------------------


def _month(request: Request, month: str) -> tuple[int, int]:
    from app.core.gstr1 import parse_month

    today = _today(request)
    return parse_month(month or f"{today.year:04d}-{today.month:02d}", today)


def _groups(stores: list[reports.GstStore]) -> list[tuple[str, list[reports.GstStore]]]:
    """Stores by GSTIN (a registration's stores file one return); those without one
    are left for HQ to fill in."""
    by: dict[str, list[reports.GstStore]] = {}
    for st in stores:
        if st.gstin:
            by.setdefault(st.gstin, []).append(st)
    return sorted(by.items())


@get("/hub/reports/gst", guards=[requires(*HQ)])
async def gst_page(request: Request, month: str = "") -> Template:
    try:
        year, mon = _month(request, month)
    except ValueError as exc:
        today = _today(request)
        return page(request, "hub/reports_gst.html", status_code=400, error=str(exc),
                    month=f"{today.year:04d}-{today.month:02d}", groups=[], missing=[],
                    stores=[], saved="")
    stores = await reports.gst_month(request.app.state.db, year, mon)
    return page(request, "hub/reports_gst.html", error=request.query_params.get(
                    "error", "")[:300], month=f"{year:04d}-{mon:02d}", groups=_groups(stores),
                missing=[st for st in stores if not st.gstin], stores=stores,
                saved=request.query_params.get("saved", "")[:8])


async def _return_for(request: Request, month: str, gstin: str, store: str) -> Any:
    from app.core import gstr1

    year, mon = _month(request, month)
    stores = await reports.gst_month(request.app.state.db, year, mon)
    if store:
        chosen = [st for st in stores if st.store_id == store.strip().upper()[:8]]
        number = chosen[0].gstin if chosen else ""
    else:
        number = gstin.strip().upper()[:15]
        chosen = [st for st in stores if st.gstin and st.gstin == number]
    if not chosen:
        raise NotFoundException("No store with that GSTIN or id at this hub.")
    state = number[:2] if number else ""
    docs = await reports.gstr1_documents(request.app.state.db, year, mon,
                                         [st.store_id for st in chosen], state)
    name = number or chosen[0].store_id
    return gstr1.build(year, mon, number, docs), f"gstr1-{name}-{year:04d}-{mon:02d}"


@get("/hub/reports/gst/file", guards=[requires(*HQ)])
async def gst_file(request: Request, month: str = "", gstin: str = "", store: str = "",
                   format: str = "json") -> Response:
    """One return: for a GSTIN (its stores together) or for one store; `format` json
    (the GST offline tool's layout) or zip (one CSV per section)."""
    from app.core import gstr1_export

    try:
        built, name = await _return_for(request, month, gstin, store)
    except NotFoundException:  # (a ValueError too, in Litestar)
        raise
    except ValueError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    if format == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for file_name, text in gstr1_export.csv_files(built).items():
                z.writestr(file_name, text)
        return Response(buffer.getvalue(), media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{name}-csv.zip"'})
    return Response(gstr1_export.to_json(built), media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}.json"'})


@post("/hub/reports/gst/gstin", guards=[requires("admin")])
async def gst_set_gstin(request: Request, data: Form) -> Response:
    """An admin records the GSTIN a store files under (what is filed with the tax
    department: admins only). Checked with its check character; empty clears it."""
    from app.core.gst_invoice import GstinError, parse_gstin

    month = data.get("month", "")[:7]
    store = data.get("store", "").strip().upper()[:8]
    text = data.get("gstin", "")
    back = f"/hub/reports/gst?month={quote(month)}"
    try:
        number = parse_gstin(text).number if text.strip() else ""
        await reports.set_store_gstin(request.app.state.db, store, number)
    except (GstinError, LookupError) as exc:
        return go(request, f"{back}&error={quote(str(exc)[:300])}")
    return go(request, f"{back}&saved={quote(store)}")


ROUTES = [reports_page, reports_csv, returns_page, gst_page, gst_file, gst_set_gstin]
