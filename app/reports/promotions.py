"""The promotions report's queries (issue #21): for each offer that ran in a range of the
store's local days, what the bills kept about it (bills, discount: each sale line keeps
its offers and what each took, app/pos/pricing.offers_json) and what its products sold
during it against the same number of days just before it began (from the sales
report's rollup, app/reports/sales_rollup.py: ``sales_product_days``, so a month-long
offer reads a few hundred small rows, not every sale line). The comparison and the
words are pure: app/core/promotion_uplift.py.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import select

from app.catalog.models import Product
from app.core import csv_safe
from app.core import promotion_uplift as uplift
from app.core.db import Database
from app.core.money import to_decimal_string
from app.pos.models import Sale, SaleLine
from app.promotions.models import PromotionRow
from app.promotions.service import KIND_WORDS
from app.reports import sales_rollup as rollup
from app.reports.sales_rules import DateRange, utc_bounds

__all__ = ["OfferReport", "PromotionsReport", "promotions_report", "report_csv"]

IN_CHUNK = 500  # product ids per IN list (SQLite's bound on variables, with room)


@dataclass(frozen=True, slots=True)
class OfferReport:
    """One offer's line on the page."""

    id: str
    name: str
    kind: str
    from_hq: bool
    coupon: str
    targets: uplift.Targets
    offer: uplift.Period  # the days it could run (up to today)
    during: uplift.Period  # those days inside the chosen range
    before: uplift.Period  # the same number of days just before it began
    result: uplift.Uplift
    dates: tuple[date, ...]  # the days measured (its days of the week only, if it has some)
    during_units: tuple[int, ...]  # per day, for the chart
    before_units: tuple[int, ...]

    @property
    def kind_words(self) -> str:
        return KIND_WORDS.get(self.kind, self.kind)

    @property
    def verdict(self) -> str:
        return uplift.verdict(self.result)


@dataclass(frozen=True, slots=True)
class PromotionsReport:
    range: DateRange
    offers: tuple[OfferReport, ...]

    @property
    def discount_minor(self) -> int:
        return sum(o.result.discount_minor for o in self.offers)


def _local(at: datetime | None, tz: tzinfo) -> date | None:
    return at.astimezone(tz).date() if at is not None else None


def _list(text: str) -> list[str]:
    """A stored JSON list of strings ([] if it is not one: the report never stops on a
    row written by hand)."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


def _per_day(raw: sqlite3.Connection, period: uplift.Period, ids: Sequence[str] | None
             ) -> dict[date, uplift.Figures]:
    """Units and revenue per local day of the period from the rollup, for the products
    ``ids`` (None: every product)."""
    sql = ("SELECT day, sum(CASE WHEN unit = 'piece' THEN qty ELSE lines END), sum(net) "
           "FROM sales_product_days WHERE day >= ? AND day <= ?")
    bounds = [period.first.isoformat(), period.last.isoformat()]
    chunks: list[list[Any]] = [[]] if ids is None else [
        list(ids[i:i + IN_CHUNK]) for i in range(0, len(ids), IN_CHUNK)]
    out: dict[date, uplift.Figures] = {}
    for chunk in chunks:
        where = f" AND product_id IN ({', '.join('?' * len(chunk))})" if chunk else ""
        for day, units, net in raw.execute(sql + where + " GROUP BY day", [*bounds, *chunk]):
            d = date.fromisoformat(str(day))
            out[d] = out.get(d, uplift.Figures()) + uplift.Figures(int(units or 0),
                                                                   int(net or 0))
    return out


async def promotions_report(db: Database, r: DateRange, tz: tzinfo, today: date
                            ) -> PromotionsReport:
    """Every offer with a day inside ``r`` (or kept on a bill of ``r``), in one read."""
    await rollup.ensure(db, str(tz), today)
    start, end = utc_bounds(r, tz)
    async with db.read() as s:
        rows = (await s.execute(select(PromotionRow).order_by(PromotionRow.id))).scalars().all()
        kept = (await s.execute(
            select(SaleLine.sale_id, SaleLine.promotions)
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(Sale.at >= start, Sale.at < end, SaleLine.promotions != ""))).all()
        took = uplift.applied([(str(a), str(b)) for a, b in kept])
        products = [(str(pid), str(sku), str(cat or "")) for pid, sku, cat in await s.execute(
            select(Product.id, Product.sku, Product.category))]
        raw = rollup.raw_of(s)
        offers = []
        for row in rows:
            ended = _local(row.ended_at, tz) or (None if row.active else _local(row.updated_at,
                                                                                tz))
            days = uplift.offer_days(row.starts, row.ends, _local(row.created_at, tz) or today,
                                     ended, today)
            during = uplift.measured(days, r.start, r.end) if days else None
            if days is None or during is None:
                continue
            targets = uplift.targets_of(row.kind, _list(row.target_skus),
                                        _list(row.target_categories), _list(row.get_skus),
                                        _list(row.get_categories))
            ids = None if targets.everything else [
                pid for pid, sku, cat in products if targets.covers(sku, cat)]
            weekdays = uplift.weekdays_of(row.days or "")
            now_dates = uplift.offer_dates(during, weekdays)
            if not now_dates:  # the range holds none of its days of the week
                continue
            then_dates = uplift.baseline_dates(days.first, len(now_dates), weekdays)
            before = uplift.Period(then_dates[0], then_dates[-1])
            now_days = _per_day(raw, during, ids) if ids is None or ids else {}
            then_days = _per_day(raw, before, ids) if ids is None or ids else {}
            got = took.get(row.id, uplift.Applied())
            result = uplift.Uplift(len(now_dates), uplift.total(now_days, now_dates),
                                   uplift.total(then_days, then_dates), got.discount_minor,
                                   got.bills, weekdays_only=bool(weekdays))
            offers.append(OfferReport(
                row.id, row.name, row.kind, row.source == "hub", row.coupon or "", targets,
                days, during, before, result, tuple(now_dates),
                tuple(uplift.series(now_days, now_dates)),
                tuple(uplift.series(then_days, then_dates))))
    offers.sort(key=lambda o: (-o.result.discount_minor, -o.result.bills, o.name, o.id))
    return PromotionsReport(r, tuple(offers))


# ---- CSV -----------------------------------------------------------------------------

HEADER = ["Promotion", "Kind", "From HQ", "Coupon", "Covers", "Offer from", "Offer to",
          "Measured from", "Measured to", "Baseline from", "Baseline to", "Bills",
          "Discount given", "Units during", "Units before", "Units change %",
          "Revenue during", "Revenue before", "Revenue change %", "In words",
          "Days compared", "Its days of the week only"]


def report_csv(report: PromotionsReport) -> str:
    """One row per offer; amounts in rupees with two decimals; a change with nothing
    before it is left empty (the words say why); every cell through csv_safe, so an
    offer named '=HYPERLINK(...)' stays text in a spreadsheet."""
    m = to_decimal_string
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["Promotions report", report.range.start.isoformat(),
                report.range.end.isoformat(),
                "Baseline: the same number of days just before each offer began"])
    w.writerow([])
    w.writerow(HEADER)
    for o in report.offers:
        u = o.result
        w.writerow([
            o.name, o.kind_words, "yes" if o.from_hq else "no", o.coupon, o.targets.words(),
            o.offer.first.isoformat(), o.offer.last.isoformat(),
            o.during.first.isoformat(), o.during.last.isoformat(),
            o.before.first.isoformat(), o.before.last.isoformat(),
            u.bills, m(u.discount_minor), u.during.units, u.before.units,
            "" if u.unit_percent is None else u.unit_percent,
            m(u.during.revenue_minor), m(u.before.revenue_minor),
            "" if u.revenue_percent is None else u.revenue_percent, o.verdict,
            u.days, "yes" if u.weekdays_only else "no"])
    return out.getvalue()
