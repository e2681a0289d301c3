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
from app.core.i18n import _, day_text
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
    labels = [day_text(d.day, "%d %b") for d in o.days]
    return {
        "sales_chart": svg_charts.bar_chart(
            labels, [d.sales for d in o.days], title=_("Chain sales per day (net of refunds)"),
            fmt=format_amount, axis_fmt=svg_charts.compact_amount),
        "orders_chart": svg_charts.line_chart(
            labels, [d.orders for d in o.days], title=_("Online orders per day, all stores")),
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
    return page(request, "hub/reports.html", error="", o=o, rows=rows, day=day_text,
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


# --- promotions across the chain (issue #21) ----------------------------------------

CHART_OFFERS = 12  # offers in the summary charts
CHART_DAYS = 62  # an offer's own day-by-day chart, up to this many days


def _promotion_charts(r: Any) -> dict[str, Any]:
    """Chain totals: the change in units per offer (those with days before to compare
    with), what each gave off, and per offer its days beside the days before."""
    every = [*r.offers, *r.own]
    label = lambda o: o.name if o.chain else f"{o.name} ({o.store_id})"  # noqa: E731
    ranked = [o for o in every if o.total.unit_percent is not None][:CHART_OFFERS]
    biggest = sorted(every, key=lambda o: -o.total.discount_minor)[:CHART_OFFERS]
    return {
        "units": svg_charts.hbar_chart(
            [label(o) for o in ranked], [o.total.unit_percent or 0 for o in ranked],
            title=_("Change in units sold against the days before each offer, all stores"),
            fmt=lambda p: f"{p:+d} %") if ranked else None,
        "discount": svg_charts.hbar_chart(
            [label(o) for o in biggest], [o.total.discount_minor for o in biggest],
            title=_("What each offer gave off, all stores"), fmt=format_amount)
        if biggest else None,
        "days": {(o.store_id, o.id): svg_charts.bar_chart(
            [day_text(d, "%d %b") for d in o.dates], list(o.during_units),
            previous=list(o.before_units),
            names=(_("During the offer"), _("The days before it, in order")),
            title=_("%(offer)s: units sold each day of the offer, beside the same day of "
                    "the days before") % {"offer": o.name}) for o in every if len(o.dates) <= CHART_DAYS},
    }


async def _promotions(request: Request, start: str, end: str) -> Any:
    from app.hub import promotion_reports

    first, last = rules.date_range(start, end, _today(request))
    return await promotion_reports.chain_promotions(
        request.app.state.db, first, last, request.app.state.cfg.tz, _today(request))


@get("/hub/reports/promotions", guards=[requires(*HQ)])
async def promotions_page(request: Request, start: str = "", end: str = "") -> Template:
    """What each chain promotion, and each store's own offers, did: bills, discount,
    units and revenue during the offer against the days before it, per store and for
    the chain (figures in promotion_reports.py, rules in app/core/promotion_uplift.py)."""
    try:
        r = await _promotions(request, start, end)
    except rules.RangeError as exc:
        return page(request, "hub/reports_promotions.html", status_code=400, error=str(exc),
                    r=None, start=start[:10], end=end[:10])
    return page(request, "hub/reports_promotions.html", error="", r=r, day=day_text,
                start=r.first.isoformat(), end=r.last.isoformat(),
                charts=_promotion_charts(r))


@get("/hub/reports/promotions.csv", guards=[requires(*HQ)])
async def promotions_csv(request: Request, start: str = "", end: str = "") -> Response:
    from app.hub import promotion_reports

    try:
        r = await _promotions(request, start, end)
    except rules.RangeError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain; charset=utf-8")
    return Response(promotion_reports.report_csv(r), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="chain-promotions-'
                             f'{r.first.isoformat()}-{r.last.isoformat()}.csv"'})


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
        raise NotFoundException(_("No store with that GSTIN or id at this hub."))
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


ROUTES = [reports_page, reports_csv, returns_page, promotions_page, promotions_csv, gst_page,
          gst_file, gst_set_gstin]
