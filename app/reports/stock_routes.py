"""The stock report page for managers (issue #18): valuation, ageing, dead stock,
stock-outs and days of cover, each with its CSV. Reads in app/reports/stock.py, the
figures in app/reports/stock_rules.py, the words in docs/stock-reports.md."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from app.config import StoreConfig
from app.core.auth import requires
from app.core.clock import utcnow
from app.core.i18n import _
from app.core.money import format_amount
from app.core.svg_charts import Svg, bar_chart, hbar_chart
from app.core.web import current_user, page
from app.reports import stock, stock_rules
from app.reports.stock_rules import OpeningHours, ReportInputError

MANAGER = requires("manager")  # managers and admins
CATEGORY_BARS = 12  # the chart shows the largest categories; the table has them all
SHOWN = 100  # rows of a long table on the page; its CSV has them all


def _opening_hours(cfg: StoreConfig) -> OpeningHours | None:
    """The store's opening hours, when its config has them: stock-outs count only those
    minutes. The store config has no opening hours yet, so stock-outs count the whole
    day; once it does (store.opens / store.closes), build OpeningHours from them here."""
    return None


def _fields(request: Request) -> dict[str, str]:
    """The page's inputs as typed, each cut to 20 characters (more is not a date or a
    number; the rules refuse what is left)."""
    return {k: request.query_params.get(k, "")[:20] for k in ("days", "from", "to")}


def _dead_days(text: str, errors: list[str]) -> int:
    if not text.strip():
        return stock_rules.DEAD_DAYS_DEFAULT
    try:
        return stock_rules.parse_days(text)
    except ReportInputError as exc:
        errors.append(_("Dead stock: %(reason)s") % {"reason": exc})
        return stock_rules.DEAD_DAYS_DEFAULT


def _range(fields: dict[str, str], today: date, errors: list[str]) -> tuple[date, date] | None:
    try:
        return stock_rules.parse_range(fields["from"], fields["to"], today)
    except ReportInputError as exc:
        errors.append(_("Stock-outs: %(reason)s") % {"reason": exc})
        return None


def _minutes(m: int) -> str:
    """412 -> '6 h 52 min'; 3000 -> '2 d 2 h'."""
    if m < 60:
        return f"{m} min"
    if m < 24 * 60:
        return f"{m // 60} h {m % 60} min"
    return f"{m // (24 * 60)} d {m % (24 * 60) // 60} h"


async def _figures(request: Request, now: datetime, with_outs: bool = True) -> dict[str, Any]:
    cfg: StoreConfig = request.app.state.cfg
    db = request.app.state.db
    tz = cfg.tz
    today = now.astimezone(tz).date()
    fields = _fields(request)
    errors: list[str] = []
    days = _dead_days(fields["days"], errors)
    period = _range(fields, today, errors)
    rows = await stock.stock_rows(db, now)
    value = stock_rules.valuation(rows)
    categories = stock_rules.by_category(value)
    buckets = stock_rules.ageing(rows, today, tz)
    outs = None
    if period is not None and with_outs:
        outs = await stock.stock_outs(db, period[0], period[1], tz, now,
                                      _opening_hours(cfg), rows=rows)
    return {"value": value, "categories": categories, "buckets": buckets,
            "dead": stock_rules.dead_stock(rows, days, today, tz), "dead_days": days,
            "outs": outs, "cover": stock_rules.cover(rows), "errors": errors, "fields": fields,
            "today": today, "tz": tz, "hours": _opening_hours(cfg)}


def _category_chart(value: stock_rules.Valuation,
                    categories: list[stock_rules.CategoryValue]) -> Svg | None:
    """The largest categories at cost; at selling price while no cost is known at all
    (bars all at zero would say nothing)."""
    top = categories[:CATEGORY_BARS]
    if not top:
        return None
    if value.cost_total_minor > 0:
        return hbar_chart([c.category for c in top], [c.cost_minor for c in top],
                          title=_("Stock value at cost by category"), fmt=format_amount)
    top = sorted(categories, key=lambda c: -c.selling_minor)[:CATEGORY_BARS]
    return hbar_chart([c.category for c in top], [c.selling_minor for c in top],
                      title=_("Stock value at selling price by category (no costs known yet)"),
                      fmt=format_amount)


@get("/reports/stock", guards=[MANAGER])
async def stock_page(request: Request) -> Template:
    figures = await _figures(request, utcnow())
    category_chart = _category_chart(figures["value"], figures["categories"])
    ageing_chart = bar_chart(
        [_(b.label) for b in figures["buckets"]], [b.products for b in figures["buckets"]],
        title=_("Products in stock by days since their last sale"))
    period = figures["outs"]
    default_from = figures["today"] - timedelta(days=6)
    return page(request, "reports/stock.html", user=current_user(request),
                status_code=400 if figures["errors"] else 200,
                category_chart=category_chart, ageing_chart=ageing_chart,
                minutes=_minutes, shown=SHOWN,
                from_value=period.first.isoformat() if period else (
                    figures["fields"]["from"] or default_from.isoformat()),
                to_value=period.last.isoformat() if period else (
                    figures["fields"]["to"] or figures["today"].isoformat()),
                **figures)


@get("/reports/stock.csv", guards=[MANAGER])
async def stock_csv(request: Request) -> Response:
    section = request.query_params.get("section", "")[:20]
    if section not in stock.SECTIONS:
        return Response("Pick a section: " + ", ".join(stock.SECTIONS) + ".\n", status_code=400,
                        media_type="text/plain")
    figures = await _figures(request, utcnow(), with_outs=section == "stockouts")
    if figures["errors"]:
        return Response("\n".join(figures["errors"]) + "\n", status_code=400,
                        media_type="text/plain")
    if section == "valuation":
        body = stock.valuation_csv(figures["value"])
    elif section == "ageing":
        body = stock.ageing_csv(figures["buckets"])
    elif section == "dead":
        body = stock.dead_csv(figures["dead"], figures["tz"])
    elif section == "stockouts":
        body = stock.stockouts_csv(figures["outs"])
    else:
        body = stock.cover_csv(figures["cover"])
    name = f"kirana-stock-{section}-{figures['today']:%Y%m%d}.csv"
    return Response(body, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [stock_page, stock_csv]
