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
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select

from app.catalog.models import Product
from app.core import csv_safe
from app.core.db import Database, Session
from app.core.models import User
from app.core.money import to_decimal_string
from app.pos.models import Refund, RefundLine, Sale, SaleLine, SaleTender
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


def _slot(column: Any, offset: int) -> Any:
    """'YYYY-MM-DD HH' of a stored UTC time, in local time at ``offset`` seconds."""
    return func.strftime("%Y-%m-%d %H", column, f"{offset:+d} seconds")


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


async def _lines(s: Session, start: datetime, end: datetime
                 ) -> tuple[list[ProductRow], list[TaxPart], int]:
    """Per product (and per GST rate, for the tax table): what its lines on the range's
    bills sold, and what refunds in the range gave back. Returns products, tax parts
    and the items on the range's bills."""
    inter = (SaleLine.igst_minor != 0).label("inter")
    sold = await s.execute(
        select(SaleLine.product_id, SaleLine.gst_rate_bp, inter, func.sum(SaleLine.quantity),
               func.count(), func.sum(SaleLine.net_minor),
               func.sum(SaleLine.tax_minor), func.max(SaleLine.unit))
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.at >= start, Sale.at < end)
        .group_by(SaleLine.product_id, SaleLine.gst_rate_bp, inter))
    back = await s.execute(
        select(SaleLine.product_id, SaleLine.gst_rate_bp, inter, func.sum(RefundLine.quantity),
               func.sum(RefundLine.amount_minor), func.sum(RefundLine.tax_minor))
        .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
        .join(Refund, Refund.id == RefundLine.refund_id)
        .where(Refund.at >= start, Refund.at < end)
        .group_by(SaleLine.product_id, SaleLine.gst_rate_bp, inter))
    per: dict[str, list[Any]] = {}  # product -> [qty, lines, net, unit, rqty, refunded]
    tax: list[TaxPart] = []
    items = 0
    for pid, rate, is_inter, qty, n, net, t, unit in sold:
        p = per.setdefault(pid, [0, 0, 0, unit, 0, 0])
        p[0] += int(qty)
        p[1] += int(n)
        p[2] += int(net)
        items += int(qty) if unit == "piece" else int(n)
        tax.append(TaxPart(int(rate), bool(is_inter), int(net), int(t)))
    for pid, rate, is_inter, qty, amount, t in back:
        p = per.setdefault(pid, [0, 0, 0, None, 0, 0])
        p[4] += int(qty)
        p[5] += int(amount)
        tax.append(TaxPart(int(rate), bool(is_inter), -int(amount), -int(t)))
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
    return products, tax, items


async def _people_and_tenders(s: Session, start: datetime, end: datetime
                              ) -> tuple[list[PersonRow], list[TenderRow]]:
    sold = {uid: (int(n), int(t)) for uid, n, t in await s.execute(
        select(Sale.cashier_id, func.count(Sale.id), func.sum(Sale.total_minor))
        .where(Sale.at >= start, Sale.at < end).group_by(Sale.cashier_id))}
    back = {uid: (int(n), int(t)) for uid, n, t in await s.execute(
        select(Refund.user_id, func.count(Refund.id), func.sum(Refund.total_minor))
        .where(Refund.at >= start, Refund.at < end).group_by(Refund.user_id))}
    ids = sorted(set(sold) | set(back))
    names = dict((await s.execute(select(User.id, User.name).where(User.id.in_(ids)))).all()) \
        if ids else {}
    people = [PersonRow(uid, names.get(uid, "?"), *sold.get(uid, (0, 0)),
                        refunds=back.get(uid, (0, 0))[1], refund_count=back.get(uid, (0, 0))[0])
              for uid in ids]
    taken = dict((await s.execute(
        select(SaleTender.kind, func.sum(SaleTender.amount_minor))
        .join(Sale, Sale.id == SaleTender.sale_id)
        .where(Sale.at >= start, Sale.at < end).group_by(SaleTender.kind))).all())
    given = dict((await s.execute(
        select(Refund.tender_kind, func.sum(Refund.total_minor))
        .where(Refund.at >= start, Refund.at < end).group_by(Refund.tender_kind))).all())
    tenders = [TenderRow(k, int(taken.get(k) or 0), int(given.get(k) or 0))
               for k in sorted(set(taken) | set(given))]
    return people, tenders


async def _data(s: Session, r: DateRange, tz: tzinfo, detail: bool = True) -> SalesData:
    """The sums of one range; without ``detail`` only the bills and refunds by day and
    hour (what the previous period is compared on), not the lines, people or tenders."""
    start, end = utc_bounds(r, tz)
    sales, refunds = await _buckets(s, start, end, tz)
    if not detail:
        return SalesData(sales, refunds)
    products, tax, items = await _lines(s, start, end)
    if items and sales:  # items are a total: put them on the first bucket
        first = sales[0]
        sales[0] = SalesBucket(first.day, first.hour, first.bills, first.gross,
                               first.discounts, first.rounding, first.total, items)
    people, tenders = await _people_and_tenders(s, start, end)
    return SalesData(sales, refunds, products, people, tenders, tax)


async def load(db: Database, r: DateRange, tz: tzinfo) -> SalesData:
    async with db.read() as s:
        return await _data(s, r, tz)


async def sales_report(db: Database, r: DateRange, tz: tzinfo,
                       compare: bool = True) -> SalesReport:
    """The report for the range and, with ``compare``, its previous period's totals,
    hours and days (the previous period's products and people are not needed)."""
    async with db.read() as s:
        now = await _data(s, r, tz)
        before = await _data(s, r.previous(), tz, detail=False) if compare else None
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
