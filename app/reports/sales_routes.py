"""The reports index and the everyday sales report with its CSV (issue #18).

GET /reports: every report a manager has, with a line on what each is for.
GET /reports/sales?from=YYYY-MM-DD&to=YYYY-MM-DD: the sales of a range of local days with
charts (server-drawn SVG, app/core/svg_charts.py), each with its table under it, and the
previous period of the same length beside it. GET /reports/sales.csv: the same tables.
A range that cannot be (not a date, the wrong way round, over 366 days, not yet come)
gets a plain message and nothing is computed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _, day_text
from app.core.money import format_amount
from app.core.svg_charts import Svg, bar_chart, compact_amount, hbar_chart, line_chart
from app.core.web import TENDER_LABELS, current_user, page, tender_label
from app.reports import sales
from app.reports.sales_rules import (
    MAX_DAYS,
    DateRange,
    RangeError,
    SalesReport,
    parse_range,
    quick_ranges,
)

MANAGER = requires("manager")  # managers and admins
QUERY_LIMIT = 40  # characters of a date a query string may carry before it is cut


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _asked(request: Request) -> tuple[str, str]:
    q = request.query_params
    return (str(q.get("from") or "")[:QUERY_LIMIT], str(q.get("to") or "")[:QUERY_LIMIT])


def reports_list(kind: str) -> list[tuple[str, str, str]]:
    """(title, link, what it answers) for the index; the dark store's own first-hand
    figures only where there are online orders to pick."""
    items = [
        (_("Sales"), "/reports/sales",
         _("Takings by day and hour, by category and product, by cashier and payment, "
           "refunds and discounts, against the period before.")),
        (_("Stock"), "/reports/stock",
         _("What the shelf is worth, what has not sold for a while, stock-outs and days "
           "of cover.")),
        ("GSTR-1", "/reports/gstr1",
         _("The month's outward supplies for the accountant: CSV files and the GST "
           "portal's JSON.")),
        (_("Fulfilment and pickers"), "/reports/fulfilment",
         _("Online orders per hour against the promised time, the minutes each step takes, "
           "and each picker's lines per hour.")),
        (_("Promotions"), "/reports/promotions",
         _("What each offer did: bills, what it gave off, and its products' units and "
           "revenue against the days before it began.")),
        (_("Returns"), "/returns/report",
         _("Online orders' returns: the rate per product, reasons, how units came back, "
           "the refunds and the time the desk takes.")),
    ]
    if kind != "darkstore":
        items[3] = (items[3][0], items[3][1],
                    items[3][2] + _(" (for stores that take online orders)"))
    return items


@get("/reports", guards=[MANAGER])
async def reports_index(request: Request) -> Template:
    cfg = request.app.state.cfg
    return page(request, "reports/index.html", user=current_user(request),
                reports=reports_list(cfg.store.kind))


def _money_fmt(minor: int) -> str:
    return format_amount(minor)


def sales_charts(report: SalesReport) -> dict[str, Svg]:
    """The page's charts, each saying its figures in its title (the tables are under
    them)."""
    days = report.days
    dates = report.range.dates()
    many_months = dates[0].month != dates[-1].month or len(dates) > 31
    day_labels = [day_text(d, "%d %b" if many_months else "%a %d") for d in dates]
    charts: dict[str, Svg] = {}
    if len(days) <= 62:
        charts["days"] = bar_chart(
            day_labels, [s.net for s in days], previous=report.previous_days(),
            title=_("Net sales by day"), fmt=_money_fmt, axis_fmt=compact_amount)
    else:
        charts["days"] = line_chart(day_labels, [s.net for s in days],
                                    title=_("Net sales by day"), fmt=_money_fmt,
                                    axis_fmt=compact_amount)
    charts["hours"] = bar_chart(
        [f"{s.label}" for s in report.hours], [s.net for s in report.hours],
        previous=report.previous_hours(), title=_("Net sales by hour of day"), fmt=_money_fmt,
        axis_fmt=compact_amount)
    charts["categories"] = hbar_chart([c.category for c in report.categories[:12]],
                                      [c.net for c in report.categories[:12]],
                                      title=_("Net sales by category"), fmt=_money_fmt)
    for key, rows, title, money in (
            ("top", report.top_by_revenue, _("Best sellers by net sales"), True),
            ("bottom", report.bottom_by_revenue, _("Slowest sellers by net sales"), True),
            ("top_units", report.top_by_units, _("Best sellers by units"), False),
            ("bottom_units", report.bottom_by_units, _("Slowest sellers by units"), False)):
        charts[key] = hbar_chart([p.name for p in rows],
                                 [p.net if money else p.units for p in rows], title=title,
                                 fmt=_money_fmt if money else str)
    charts["cashiers"] = hbar_chart([c.name for c in report.cashiers],
                                    [c.net for c in report.cashiers],
                                    title=_("Net sales by cashier"), fmt=_money_fmt)
    charts["tenders"] = hbar_chart([tender_label(t.kind) for t in report.tenders],
                                   [t.net for t in report.tenders],
                                   title=_("Net takings by payment"), fmt=_money_fmt)
    return charts


def _picker(request: Request, today: date, asked: tuple[str, str]) -> dict[str, Any]:
    return {"user": current_user(request), "asked_from": asked[0], "asked_to": asked[1],
            "quick": quick_ranges(today), "today": today, "max_days": MAX_DAYS, "day": day_text}


@get("/reports/sales", guards=[MANAGER])
async def sales_page(request: Request) -> Template:
    cfg = request.app.state.cfg
    today = _today(request)
    asked = _asked(request)
    try:
        r = parse_range(*asked, today)
    except RangeError as e:
        return page(request, "reports/sales.html", status_code=400, error=str(e),
                    report=None, **_picker(request, today, asked))
    report = await sales.sales_report(request.app.state.db, r, cfg.tz)
    return page(request, "reports/sales.html", error="", report=report,
                charts=sales_charts(report), range=r,
                **_picker(request, today, (r.start.isoformat(), r.end.isoformat())))


@get("/reports/sales.csv", guards=[MANAGER])
async def sales_csv(request: Request) -> Response:
    cfg = request.app.state.cfg
    try:
        r: DateRange = parse_range(*_asked(request), _today(request))
    except RangeError as e:
        return Response(str(e) + "\n", status_code=400, media_type="text/plain")
    report = await sales.sales_report(request.app.state.db, r, cfg.tz, compare=False)
    name = f"kirana-sales-{r.start.isoformat()}-to-{r.end.isoformat()}.csv"
    return Response(sales.report_csv(report, TENDER_LABELS), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [reports_index, sales_page, sales_csv]
