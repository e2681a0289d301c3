"""The promotions report (issue #21): what each offer did, for managers and admins.

GET /reports/promotions?from=YYYY-MM-DD&to=YYYY-MM-DD: every offer that ran in the range
(the last 30 days if none is given): bills it applied to, what it gave off, and its
products' units and revenue during it against the same number of days just before it
began, with a sentence in plain words, a chart of the changes and, per offer, its days
beside the days before. GET /reports/promotions.csv: the same, one row per offer.
The range follows the reports' one rule (app/core/date_ranges.py); a range that cannot
be gets a plain message and nothing is computed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from app.core.auth import requires
from app.core.clock import utcnow
from app.core.date_ranges import MAX_DAYS, RangeError, parse_date_range
from app.core.i18n import N_, _, day_text
from app.core.money import format_amount
from app.core.svg_charts import Svg, bar_chart, hbar_chart
from app.core.web import current_user, page
from app.reports import promotions
from app.reports.sales_rules import DateRange

MANAGER = requires("manager")  # managers and admins
QUERY_LIMIT = 40  # characters of a date a query string may carry before it is cut
DEFAULT_DAYS = 30
CHART_DAYS = 62  # an offer's own day-by-day chart, up to this many days
CHART_OFFERS = 12  # offers in the summary charts


def _today(request: Request) -> date:
    return utcnow().astimezone(request.app.state.cfg.tz).date()


def _asked(request: Request) -> tuple[str, str]:
    q = request.query_params
    return (str(q.get("from") or "")[:QUERY_LIMIT], str(q.get("to") or "")[:QUERY_LIMIT])


def parse(asked: tuple[str, str], today: date) -> DateRange:
    """The range asked for: nothing, the last 30 days; only a start, from it to today;
    never past today (an offer's days to come have no sales)."""
    return DateRange(*parse_date_range(*asked, today, default_days=DEFAULT_DAYS,
                                       max_days=MAX_DAYS, what="bill"))


def _percent(value: int) -> str:
    return f"{value:+d} %"


def charts(report: promotions.PromotionsReport) -> dict[str, Any]:
    """The change in units per offer (those with days before to compare with), what each
    gave off, and per offer (up to CHART_DAYS days) its days beside the days before."""
    ranked = [o for o in report.offers if o.result.unit_percent is not None][:CHART_OFFERS]
    out: dict[str, Any] = {
        "units": hbar_chart([o.name for o in ranked],
                            [o.result.unit_percent or 0 for o in ranked],
                            title=_("Change in units sold against the days before each offer"),
                            fmt=_percent) if ranked else None,
        "discount": hbar_chart([o.name for o in report.offers[:CHART_OFFERS]],
                               [o.result.discount_minor for o in report.offers[:CHART_OFFERS]],
                               title=_("What each offer gave off"), fmt=format_amount),
    }
    days: dict[str, Svg] = {}
    for o in report.offers:
        if len(o.dates) <= CHART_DAYS:
            days[o.id] = bar_chart(
                [day_text(d, "%d %b") for d in o.dates], list(o.during_units),
                previous=list(o.before_units),
                names=(_("During the offer"), _("The days before it, in order")),
                title=_("%(offer)s: units sold each day of the offer, beside the same day "
                        "of the days before") % {"offer": o.name})
    out["days"] = days
    return out


def _context(request: Request, today: date, asked: tuple[str, str]) -> dict[str, Any]:
    quick = [(label, DateRange(*parse_date_range("", "", today, default_days=n)))
             for label, n in ((N_("Last 7 days"), 7), (N_("Last 30 days"), 30),
                              (N_("Last 90 days"), 90))]
    return {"user": current_user(request), "asked_from": asked[0], "asked_to": asked[1],
            "quick": quick, "today": today, "max_days": MAX_DAYS, "day": day_text}


@get("/reports/promotions", guards=[MANAGER])
async def promotions_page(request: Request) -> Template:
    cfg = request.app.state.cfg
    today = _today(request)
    asked = _asked(request)
    try:
        r = parse(asked, today)
    except RangeError as e:
        return page(request, "reports/promotions.html", status_code=400, error=str(e),
                    report=None, **_context(request, today, asked))
    report = await promotions.promotions_report(request.app.state.db, r, cfg.tz, today)
    return page(request, "reports/promotions.html", error="", report=report,
                charts=charts(report),
                **_context(request, today, (r.start.isoformat(), r.end.isoformat())))


@get("/reports/promotions.csv", guards=[MANAGER])
async def promotions_csv(request: Request) -> Response:
    cfg = request.app.state.cfg
    today = _today(request)
    try:
        r = parse(_asked(request), today)
    except RangeError as e:
        return Response(str(e) + "\n", status_code=400, media_type="text/plain")
    report = await promotions.promotions_report(request.app.state.db, r, cfg.tz, today)
    name = f"kirana-promotions-{r.start.isoformat()}-to-{r.end.isoformat()}.csv"
    return Response(promotions.report_csv(report), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [promotions_page, promotions_csv]
