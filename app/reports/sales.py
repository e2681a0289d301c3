"""The sales report's queries (issue #18): the database adds up (GROUP BY) the bills,
lines, tenders and refunds of a range of the store's local days; app/reports/sales_rules.py
turns the sums into the report. One read transaction, a handful of queries whatever the
length of the range, each through an index on the time (sales.at, refunds.at).

SQLite has no time zones: times are stored as UTC text. The range's UTC bounds come
from the store's zone (cfg.tz); for the local day and hour of each bill the query
shifts the UTC time by the zone's offset, one fixed offset per stretch of time in which
the zone does not change it (IST never does: one stretch; a zone with daylight saving
gets a stretch on each side of a change).
"""

from __future__ import annotations

import io
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select

from app.catalog.models import Product
from app.core import csv_safe
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.core.models import User
from app.core.money import to_decimal_string
from app.pos.models import Refund, RefundLine, Sale, SaleLine, SaleTender
from app.reports import sales_rollup as rollup
from app.reports.sales_rules import (
    DateRange,
    PersonRow,
    ProductRow,
    RefundBucket,
    SalesBucket,
    SalesData,
    SalesReport,
    TaxPart,
    TenderRow,
    build_report,
    offset_spans,
    utc_bounds,
)

__all__ = ["load", "report_csv", "sales_report"]


def _shift(offset: int) -> str:
    """SQLite's date modifier moving a UTC time by the zone's offset ('+19800 seconds')."""
    return f"{offset:+d}" + " seconds"


def _slot(column: Any, offset: int) -> Any:
    """'YYYY-MM-DD HH' of a stored UTC time, in local time at ``offset`` seconds."""
    return func.strftime("%Y-%m-%d %H", column, _shift(offset))


def _day_hour(slot: str) -> tuple[date, int]:
    return date.fromisoformat(slot[:10]), int(slot[11:13])


async def _buckets(s: Session, start: datetime, end: datetime, tz: tzinfo
                   ) -> tuple[list[SalesBucket], list[RefundBucket]]:
    sales: list[SalesBucket] = []
    refunds: list[RefundBucket] = []
    for a, b, offset in offset_spans(start, end, tz):
        slot = _slot(Sale.at, offset).label("slot")
        rows = await s.execute(
            select(slot, func.count(Sale.id), func.sum(Sale.gross_minor),
                   func.sum(Sale.discount_minor), func.sum(Sale.rounding_minor),
                   func.sum(Sale.total_minor))
            .where(Sale.at >= a, Sale.at < b).group_by(slot))
        for key, bills, gross, disc, rounding, total in rows:
            day, hour = _day_hour(key)
            sales.append(SalesBucket(day, hour, int(bills), int(gross), int(disc),
                                     int(rounding), int(total), 0))
        rslot = _slot(Refund.at, offset).label("slot")
        rrows = await s.execute(
            select(rslot, func.count(Refund.id), func.sum(Refund.total_minor))
            .where(Refund.at >= a, Refund.at < b).group_by(rslot))
        for key, n, total in rrows:
            day, hour = _day_hour(key)
            refunds.append(RefundBucket(day, hour, int(n), int(total)))
    return sales, refunds


@dataclass(frozen=True)
class DayDetail:
    """What the database summed for a range of days: lines sold (product, GST rate,
    inter-state, quantity, lines, net, tax, unit), lines refunded (product, rate,
    inter-state, quantity, amount, tax), bills and refunds per person (id, count, total),
    and tenders taken and paid back (kind, amount)."""

    sold: tuple[tuple[Any, ...], ...] = ()
    back: tuple[tuple[Any, ...], ...] = ()
    cashiers: tuple[tuple[str, int, int], ...] = ()
    refunders: tuple[tuple[str, int, int], ...] = ()
    taken: tuple[tuple[str, int], ...] = ()
    given: tuple[tuple[str, int], ...] = ()


async def _details(s: Session, start: datetime, end: datetime, tz: tzinfo) -> DayDetail:
    """The sums of [start, end) read from the raw rows (every line of the range)."""
    found: dict[str, list[Any]] = {}
    inter = (SaleLine.igst_minor != 0).label("inter")
    for a, b, _offset in offset_spans(start, end, tz):
        for sold_row in await s.execute(
                select(SaleLine.product_id, SaleLine.gst_rate_bp, inter,
                       func.sum(SaleLine.quantity), func.count(), func.sum(SaleLine.net_minor),
                       func.sum(SaleLine.tax_minor), func.max(SaleLine.unit))
                .join(Sale, Sale.id == SaleLine.sale_id)
                .where(Sale.at >= a, Sale.at < b)
                .group_by(SaleLine.product_id, SaleLine.gst_rate_bp, inter)):
            found.setdefault("sold", []).append(tuple(sold_row))
        for back_row in await s.execute(
                select(SaleLine.product_id, SaleLine.gst_rate_bp, inter,
                       func.sum(RefundLine.quantity), func.sum(RefundLine.amount_minor),
                       func.sum(RefundLine.tax_minor))
                .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
                .join(Refund, Refund.id == RefundLine.refund_id)
                .where(Refund.at >= a, Refund.at < b)
                .group_by(SaleLine.product_id, SaleLine.gst_rate_bp, inter)):
            found.setdefault("back", []).append(tuple(back_row))
        for cashiers_row in await s.execute(
                select(Sale.cashier_id, func.count(), func.sum(Sale.total_minor))
                .where(Sale.at >= a, Sale.at < b).group_by(Sale.cashier_id)):
            found.setdefault("cashiers", []).append(tuple(cashiers_row))
        for refunders_row in await s.execute(
                select(Refund.user_id, func.count(), func.sum(Refund.total_minor))
                .where(Refund.at >= a, Refund.at < b).group_by(Refund.user_id)):
            found.setdefault("refunders", []).append(tuple(refunders_row))
        for taken_row in await s.execute(
                select(SaleTender.kind, func.sum(SaleTender.amount_minor))
                .join(Sale, Sale.id == SaleTender.sale_id)
                .where(Sale.at >= a, Sale.at < b).group_by(SaleTender.kind)):
            found.setdefault("taken", []).append(tuple(taken_row))
        # A refund's tender paid its money part; the part given back as loyalty points
        # (or not paid in money: refunds.points_minor) is on the `points` row (issue #21,
        # as the shift's X/Z report; sales_rollup.GIVEN / GIVEN_POINTS).
        for given_row in await s.execute(
                select(Refund.tender_kind, func.sum(Refund.total_minor - Refund.points_minor))
                .where(Refund.at >= a, Refund.at < b).group_by(Refund.tender_kind)):
            found.setdefault("given", []).append(tuple(given_row))
        points_back = await s.scalar(
            select(func.sum(Refund.points_minor))
            .where(Refund.at >= a, Refund.at < b, Refund.points_minor != 0))
        if points_back:
            found.setdefault("given", []).append(("points", int(points_back)))
    return DayDetail(**{k: tuple(v) for k, v in found.items()})


def _rolled_buckets(raw: sqlite3.Connection, r: DateRange
                    ) -> tuple[list[SalesBucket], list[RefundBucket]]:
    sales: list[SalesBucket] = []
    refunds: list[RefundBucket] = []
    for day, hour, bills, gross, disc, rounding, total, n, back in rollup.hours(
            raw, r.start, r.end):
        d = date.fromisoformat(str(day))
        if bills:
            sales.append(SalesBucket(d, int(hour), int(bills), int(gross), int(disc),
                                     int(rounding), int(total), 0))
        if n:
            refunds.append(RefundBucket(d, int(hour), int(n), int(back)))
    return sales, refunds


def _rolled_details(raw: sqlite3.Connection, r: DateRange) -> DayDetail:
    """The range's sums from the rollup (app/reports/sales_rollup.py)."""
    sold, back = [], []
    for pid, rate, inter, unit, qty, n, net, tax, bqty, bn, bamount, btax in rollup.products(
            raw, r.start, r.end):
        if n:
            sold.append((pid, rate, bool(inter), qty, n, net, tax, unit))
        if bn:
            back.append((pid, rate, bool(inter), bqty, bamount, btax))
    cashiers, refunders = [], []
    for uid, bills, total, n, refunded in rollup.people(raw, r.start, r.end):
        if bills:
            cashiers.append((str(uid), int(bills), int(total)))
        if n:
            refunders.append((str(uid), int(n), int(refunded)))
    taken, given = [], []
    for kind, tn, t, gn, g in rollup.tenders(raw, r.start, r.end):
        if tn:
            taken.append((str(kind), int(t)))
        if gn:
            given.append((str(kind), int(g)))
    return DayDetail(tuple(sold), tuple(back), tuple(cashiers), tuple(refunders),
                     tuple(taken), tuple(given))


async def _combine(s: Session, days: list[DayDetail]
                   ) -> tuple[list[ProductRow], list[TaxPart], int, list[PersonRow],
                              list[TenderRow]]:
    per: dict[str, list[Any]] = {}  # product -> [qty, lines, net, unit, rqty, refunded]
    tax: dict[tuple[int, bool], list[int]] = {}
    items = 0
    sold_by: dict[str, list[int]] = {}
    back_by: dict[str, list[int]] = {}
    taken: dict[str, int] = {}
    given: dict[str, int] = {}
    for day in days:
        for pid, rate, is_inter, qty, n, net, t, unit in day.sold:
            p = per.setdefault(pid, [0, 0, 0, unit, 0, 0])
            p[0] += int(qty)
            p[1] += int(n)
            p[2] += int(net)
            p[3] = p[3] or unit
            items += int(qty) if unit == "piece" else int(n)
            x = tax.setdefault((int(rate), bool(is_inter)), [0, 0])
            x[0] += int(net)
            x[1] += int(t)
        for pid, rate, is_inter, qty, amount, t in day.back:
            p = per.setdefault(pid, [0, 0, 0, None, 0, 0])
            p[4] += int(qty)
            p[5] += int(amount)
            x = tax.setdefault((int(rate), bool(is_inter)), [0, 0])
            x[0] -= int(amount)
            x[1] -= int(t)
        for uid, n, total in day.cashiers:
            c = sold_by.setdefault(uid, [0, 0])
            c[0] += int(n)
            c[1] += int(total)
        for uid, n, total in day.refunders:
            c = back_by.setdefault(uid, [0, 0])
            c[0] += int(n)
            c[1] += int(total)
        for kind, amount in day.taken:
            taken[kind] = taken.get(kind, 0) + int(amount)
        for kind, amount in day.given:
            given[kind] = given.get(kind, 0) + int(amount)
    info = {}
    ids = list(per)
    for i in range(0, len(ids), 500):  # bound the IN list
        for pid, sku, name, category, unit in await s.execute(
                select(Product.id, Product.sku, Product.name, Product.category, Product.unit)
                .where(Product.id.in_(ids[i:i + 500]))):
            info[pid] = (sku, name, category, unit)
    products = []
    for pid, (qty, n, net, unit, rqty, refunded) in per.items():
        sku, name, category, product_unit = info.get(pid, ("?", "?", "", "piece"))
        products.append(ProductRow(pid, sku, name, category, unit or product_unit, qty, n, net,
                                   rqty, refunded))
    uids = sorted(set(sold_by) | set(back_by))
    names = dict((await s.execute(select(User.id, User.name).where(User.id.in_(uids)))).all()) \
        if uids else {}
    people = [PersonRow(uid, names.get(uid, "?"), sold_by.get(uid, [0, 0])[0],
                        sold_by.get(uid, [0, 0])[1], refunds=back_by.get(uid, [0, 0])[1],
                        refund_count=back_by.get(uid, [0, 0])[0]) for uid in uids]
    tenders = [TenderRow(k, taken.get(k, 0), given.get(k, 0))
               for k in sorted(set(taken) | set(given))]
    parts = [TaxPart(rate, inter, a, t) for (rate, inter), (a, t) in tax.items()]
    return products, parts, items, people, tenders


async def _data(s: Session, r: DateRange, tz: tzinfo, detail: bool = True,
                rolled: bool = True) -> SalesData:
    """The sums of one range, from the rollup (``rolled``) or from the raw rows; without
    ``detail`` only the bills and refunds by day and hour (what the previous period is
    compared on), not the lines, people or tenders."""
    if rolled:
        raw = rollup.raw_of(s)
        sales, refunds = _rolled_buckets(raw, r)
    else:
        start, end = utc_bounds(r, tz)
        sales, refunds = await _buckets(s, start, end, tz)
    if not detail:
        return SalesData(sales, refunds)
    if rolled:
        day = _rolled_details(rollup.raw_of(s), r)
    else:
        day = await _details(s, *utc_bounds(r, tz), tz)
    products, tax, items, people, tenders = await _combine(s, [day])
    if items and sales:  # items are a total: put them on the first bucket
        first = sales[0]
        sales[0] = SalesBucket(first.day, first.hour, first.bills, first.gross,
                               first.discounts, first.rounding, first.total, items)
    return SalesData(sales, refunds, products, people, tenders, tax)


async def _ready(db: Database, tz: tzinfo) -> None:
    """The rollup holds this zone's days (rebuilt once after a change of zone)."""
    await rollup.ensure(db, str(tz), utcnow().astimezone(tz).date())


async def load(db: Database, r: DateRange, tz: tzinfo) -> SalesData:
    await _ready(db, tz)
    async with db.read() as s:
        return await _data(s, r, tz)


async def sales_report(db: Database, r: DateRange, tz: tzinfo,
                       compare: bool = True, rolled: bool = True) -> SalesReport:
    """The report for the range and, with ``compare``, its previous period's totals,
    hours and days (the previous period's products and people are not needed). It reads
    the rollup; ``rolled=False`` reads every raw row instead (the reference the rollup's
    tests and `bench/reports.py` compare with: both give the same report)."""
    if rolled:
        await _ready(db, tz)
    async with db.read() as s:
        now = await _data(s, r, tz, rolled=rolled)
        before = await _data(s, r.previous(), tz, detail=False, rolled=rolled) \
            if compare else None
    return build_report(r, now, before)


# ---- CSV -----------------------------------------------------------------------------


def report_csv(report: SalesReport, tender_labels: dict[str, str] | None = None) -> str:
    """The page's tables in one CSV, one block per table (its own header row, a blank
    row between blocks); amounts in rupees with two decimals, as the page's tables show
    them; every cell goes through csv_safe (a product named '=HYPERLINK(...)' stays
    text in a spreadsheet)."""
    labels = tender_labels or {}
    m = to_decimal_string
    out = io.StringIO()
    w = csv_safe.writer(out)
    t = report.totals
    w.writerow(["Sales report", report.range.start.isoformat(), report.range.end.isoformat()])
    w.writerow([])
    w.writerow(["Figure", "Value"])
    for name, value in (("Bills", t.bills), ("Gross sales", m(t.gross)),
                        ("Discounts", m(t.discounts)), ("Rounding", m(t.rounding)),
                        ("Sales (bills' totals)", m(t.sales)), ("Refunds", m(t.refunds)),
                        ("Number of refunds", t.refund_count), ("Net sales", m(t.net)),
                        ("GST in net sales", m(t.tax)), ("Average bill", m(t.average_bill)),
                        ("Items per bill", f"{t.items_per_bill_tenths / 10:.1f}")):
        w.writerow([name, value])
    w.writerow([])
    w.writerow(["Hour", "Bills", "Sales", "Refunds", "Net"])
    for slot in report.hours:
        w.writerow([f"{slot.label}:00", slot.bills, m(slot.sales), m(slot.refunds), m(slot.net)])
    w.writerow([])
    w.writerow(["Day", "Bills", "Sales", "Refunds", "Net"])
    for day, slot in zip(report.range.dates(), report.days, strict=True):
        w.writerow([day.isoformat(), slot.bills, m(slot.sales), m(slot.refunds), m(slot.net)])
    w.writerow([])
    w.writerow(["Category", "Products", "Units", "Net"])
    for c in report.categories:
        w.writerow([c.category, c.products, c.units, m(c.net)])
    w.writerow([])
    w.writerow(["SKU", "Product", "Category", "Units", "Sold", "Refunded", "Net"])
    for p in report.products:
        w.writerow([p.sku, p.name, p.category, p.units, m(p.sold_net), m(p.refunded), m(p.net)])
    w.writerow([])
    w.writerow(["Cashier", "Bills", "Sales", "Refunds", "Net"])
    for person in report.cashiers:
        w.writerow([person.name, person.bills, m(person.sales), m(person.refunds),
                    m(person.net)])
    w.writerow([])
    w.writerow(["Tender", "Taken", "Refunded", "Net"])
    for tender in report.tenders:
        w.writerow([labels.get(tender.kind, tender.kind), m(tender.taken), m(tender.refunded),
                    m(tender.net)])
    w.writerow([])
    w.writerow(["GST rate", "Taxable", "CGST", "SGST", "IGST", "Total"])
    for row in report.tax_rows:
        w.writerow([f"{row.rate_bp / 100:g}%", m(row.taxable), m(row.cgst), m(row.sgst),
                    m(row.igst), m(row.total)])
    return out.getvalue()
