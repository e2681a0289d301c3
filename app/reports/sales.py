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
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select

from app.catalog.models import Product
from app.core import csv_safe
from app.core.clock import utcnow
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
    """What the database summed for one local day: lines sold (product, GST rate,
    inter-state, quantity, lines, net, tax, unit), lines refunded (product, rate,
    inter-state, quantity, amount, tax), bills and refunds per person, and tenders taken
    and paid back. A day that has ended never changes (refunds count on their own day),
    so these are kept in memory, checked against the day's bills and refunds."""

    sold: tuple[tuple[Any, ...], ...] = ()
    back: tuple[tuple[Any, ...], ...] = ()
    cashiers: tuple[tuple[str, int, int], ...] = ()
    refunders: tuple[tuple[str, int, int], ...] = ()
    taken: tuple[tuple[str, int], ...] = ()
    given: tuple[tuple[str, int], ...] = ()


EMPTY = DayDetail()
Checksum = tuple[int, int, int, int]  # bills, their total, refunds, their total
_KEEP_STORES = 4
_KEEP_DAYS = 800
_DAYS: OrderedDict[tuple[str, str], dict[date, tuple[Checksum, DayDetail]]] = OrderedDict()


def _cache(key: tuple[str, str]) -> dict[date, tuple[Checksum, DayDetail]]:
    days = _DAYS.pop(key, None) or {}
    _DAYS[key] = days
    while len(_DAYS) > _KEEP_STORES:
        _DAYS.popitem(last=False)
    if len(days) > _KEEP_DAYS:
        for d in sorted(days)[: len(days) - _KEEP_DAYS]:
            del days[d]
    return days


def forget_cached_days() -> None:
    """Drop every kept day (tests; a restored backup is caught by the checksums)."""
    _DAYS.clear()
    _MONTHS.clear()


async def _details(s: Session, start: datetime, end: datetime, tz: tzinfo
                   ) -> dict[date, DayDetail]:
    """The day-by-day sums of [start, end) (whole local days)."""
    parts: dict[date, dict[str, list[Any]]] = {}

    def add(day: str, what: str, row: tuple[Any, ...]) -> None:
        slot = parts.setdefault(date.fromisoformat(day), {})
        slot.setdefault(what, []).append(row)

    inter = (SaleLine.igst_minor != 0).label("inter")
    for a, b, offset in offset_spans(start, end, tz):
        sday = func.strftime("%Y-%m-%d", Sale.at, _shift(offset)).label("d")
        rday = func.strftime("%Y-%m-%d", Refund.at, _shift(offset)).label("d")
        for d, *row in await s.execute(
                select(sday, SaleLine.product_id, SaleLine.gst_rate_bp, inter,
                       func.sum(SaleLine.quantity), func.count(), func.sum(SaleLine.net_minor),
                       func.sum(SaleLine.tax_minor), func.max(SaleLine.unit))
                .join(Sale, Sale.id == SaleLine.sale_id)
                .where(Sale.at >= a, Sale.at < b)
                .group_by(sday, SaleLine.product_id, SaleLine.gst_rate_bp, inter)):
            add(d, "sold", tuple(row))
        for d, *row in await s.execute(
                select(rday, SaleLine.product_id, SaleLine.gst_rate_bp, inter,
                       func.sum(RefundLine.quantity), func.sum(RefundLine.amount_minor),
                       func.sum(RefundLine.tax_minor))
                .join(SaleLine, SaleLine.id == RefundLine.sale_line_id)
                .join(Refund, Refund.id == RefundLine.refund_id)
                .where(Refund.at >= a, Refund.at < b)
                .group_by(rday, SaleLine.product_id, SaleLine.gst_rate_bp, inter)):
            add(d, "back", tuple(row))
        for d, *row in await s.execute(
                select(sday, Sale.cashier_id, func.count(), func.sum(Sale.total_minor))
                .where(Sale.at >= a, Sale.at < b).group_by(sday, Sale.cashier_id)):
            add(d, "cashiers", tuple(row))
        for d, *row in await s.execute(
                select(rday, Refund.user_id, func.count(), func.sum(Refund.total_minor))
                .where(Refund.at >= a, Refund.at < b).group_by(rday, Refund.user_id)):
            add(d, "refunders", tuple(row))
        for d, *row in await s.execute(
                select(sday, SaleTender.kind, func.sum(SaleTender.amount_minor))
                .join(Sale, Sale.id == SaleTender.sale_id)
                .where(Sale.at >= a, Sale.at < b).group_by(sday, SaleTender.kind)):
            add(d, "taken", tuple(row))
        for d, *row in await s.execute(
                select(rday, Refund.tender_kind, func.sum(Refund.total_minor))
                .where(Refund.at >= a, Refund.at < b).group_by(rday, Refund.tender_kind)):
            add(d, "given", tuple(row))
    return {day: DayDetail(**{k: tuple(v) for k, v in found.items()})
            for day, found in parts.items()}


def _spans(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for d in days:
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


async def _day_details(s: Session, r: DateRange, tz: tzinfo, key: str,
                       sums: dict[date, Checksum]) -> list[DayDetail]:
    """Every day of the range: kept days whose bills and refunds still add up to what
    was kept, the rest (and today, which is not over) read again."""
    today = utcnow().astimezone(tz).date()
    kept = _cache((key, str(tz)))
    out: dict[date, DayDetail] = {}
    need = []
    for d in r.dates():
        hit = kept.get(d)
        if d < today and hit is not None and hit[0] == sums.get(d, (0, 0, 0, 0)):
            out[d] = hit[1]
        else:
            need.append(d)
    for first, last in _spans(need):
        start, end = utc_bounds(DateRange(first, last), tz)
        fetched = await _details(s, start, end, tz)
        for i in range((last - first).days + 1):
            d = first + timedelta(days=i)
            out[d] = fetched.get(d, EMPTY)
            if d < today:
                kept[d] = (sums.get(d, (0, 0, 0, 0)), out[d])
    return [out[d] for d in r.dates()]


def _merge(days: list[DayDetail]) -> DayDetail:
    """Several days' sums as one (rows of one product, rate and kind added up)."""
    sold: dict[tuple[Any, ...], list[Any]] = {}
    back: dict[tuple[Any, ...], list[int]] = {}
    people: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
    money: tuple[dict[str, int], dict[str, int]] = ({}, {})
    for day in days:
        for pid, rate, is_inter, qty, n, net, t, unit in day.sold:
            x = sold.setdefault((pid, rate, is_inter), [0, 0, 0, 0, unit])
            x[0] += qty
            x[1] += n
            x[2] += net
            x[3] += t
        for pid, rate, is_inter, qty, amount, t in day.back:
            y = back.setdefault((pid, rate, is_inter), [0, 0, 0])
            y[0] += qty
            y[1] += amount
            y[2] += t
        for into, rows in zip(people, (day.cashiers, day.refunders), strict=True):
            for uid, n, total in rows:
                c = into.setdefault(uid, [0, 0])
                c[0] += n
                c[1] += total
        for into2, rows2 in zip(money, (day.taken, day.given), strict=True):
            for kind, amount in rows2:
                into2[kind] = into2.get(kind, 0) + amount
    return DayDetail(
        sold=tuple((*k, *v) for k, v in sold.items()),
        back=tuple((*k, *v) for k, v in back.items()),
        cashiers=tuple((u, n, t) for u, (n, t) in people[0].items()),
        refunders=tuple((u, n, t) for u, (n, t) in people[1].items()),
        taken=tuple(money[0].items()), given=tuple(money[1].items()))


_MONTHS: dict[tuple[str, str, int, int], tuple[tuple[Checksum, ...], DayDetail]] = {}


async def _range_details(s: Session, r: DateRange, tz: tzinfo, key: str,
                         sums: dict[date, Checksum]) -> list[DayDetail]:
    """The range's sums, a month at a time: a whole month that has ended is kept merged
    (checked against its days' bills and refunds), so a year is twelve rows per product
    to add, not 365."""
    today = utcnow().astimezone(tz).date()
    zero: Checksum = (0, 0, 0, 0)
    out: list[DayDetail] = []
    dates = r.dates()
    months: dict[tuple[int, int], list[date]] = {}
    for d in dates:
        months.setdefault((d.year, d.month), []).append(d)
    for (y, m), days in months.items():
        whole = days[0].day == 1 and (days[-1] + timedelta(days=1)).month != m \
            and days[-1] < today
        check = tuple(sums.get(d, zero) for d in days)
        mkey = (key, str(tz), y, m)
        hit = _MONTHS.get(mkey) if whole else None
        if hit is not None and hit[0] == check:
            out.append(hit[1])
            continue
        merged = _merge(await _day_details(s, DateRange(days[0], days[-1]), tz, key, sums))
        if whole:
            if len(_MONTHS) > _KEEP_STORES * 30:
                _MONTHS.clear()
            _MONTHS[mkey] = (check, merged)
        out.append(merged)
    return out


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
                key: str = "") -> SalesData:
    """The sums of one range; without ``detail`` only the bills and refunds by day and
    hour (what the previous period is compared on), not the lines, people or tenders."""
    start, end = utc_bounds(r, tz)
    sales, refunds = await _buckets(s, start, end, tz)
    if not detail:
        return SalesData(sales, refunds)
    sums: dict[date, list[int]] = {}
    for b in sales:
        c = sums.setdefault(b.day, [0, 0, 0, 0])
        c[0] += b.bills
        c[1] += b.total
    for rb in refunds:
        c = sums.setdefault(rb.day, [0, 0, 0, 0])
        c[2] += rb.refunds
        c[3] += rb.total
    checks: dict[date, Checksum] = {d: (v[0], v[1], v[2], v[3]) for d, v in sums.items()}
    days = await _range_details(s, r, tz, key, checks)
    products, tax, items, people, tenders = await _combine(s, days)
    if items and sales:  # items are a total: put them on the first bucket
        first = sales[0]
        sales[0] = SalesBucket(first.day, first.hour, first.bills, first.gross,
                               first.discounts, first.rounding, first.total, items)
    return SalesData(sales, refunds, products, people, tenders, tax)


async def load(db: Database, r: DateRange, tz: tzinfo) -> SalesData:
    async with db.read() as s:
        return await _data(s, r, tz, key=str(db.path))


async def sales_report(db: Database, r: DateRange, tz: tzinfo,
                       compare: bool = True) -> SalesReport:
    """The report for the range and, with ``compare``, its previous period's totals,
    hours and days (the previous period's products and people are not needed)."""
    async with db.read() as s:
        now = await _data(s, r, tz, key=str(db.path))
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
