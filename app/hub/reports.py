"""The hub's reports (issue #18): the GST rows of every store document (written while a
store's events are applied), the chain overview (every store side by side, the chain's
trend, the store map) and the rows the hub's GSTR-1 is built from. Rules and shapes are
in report_rules.py (pure); this module reads and writes.

SLA, as the store's fulfilment report counts it (app/reports/fulfilment.py): an order is
on time when it was handed over by its promised time. The hub knows the hand-over time
from its order log (the first status entry "handed over", or "delivered" when the hand
over was never reported); database triggers (migration h013) keep per-half-hour sums of
orders, cancelled, handed over and on time in hub_order_slots, and per-day sums of bills
in hub_sale_days, so the overview never reads every order or bill. Orders count on the day (hub's local
date) they were created; an order is *due* once its promised time has passed or it was handed over; cancelled
orders are left out of the SLA (they still count as orders).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, and_, func, literal, select

from app.core.db import Session
from app.hub.db import HubDatabase, upsert
from app.hub.models import (
    HubOrder,
    HubOrderSlot,
    HubReservation,
    HubSale,
    HubSaleDay,
    HubSaleTax,
    HubSkuDay,
    HubStockLevel,
    HubStore,
)
from app.hub.order_states import OPEN
from app.hub.report_rules import (
    DayFigures,
    Document,
    MapDot,
    StoreFigures,
    chain_total,
    days_of,
    document,
    store_map,
    tax_lines,
)

__all__ = ["document", "record_tax_lines", "chain_overview", "Overview"]

STOCK_OUT_WINDOW_DAYS = 28
NOT_HANDED = (*OPEN, "new", "unfulfillable", "split")  # neither handed over nor cancelled


async def record_tax_lines(s: Session, store_id: str, doc_id: str, refund: bool, day: str,
                           data: dict, doc: Document) -> None:
    """A sale's or refund's GST per HSN and rate, in the caller's transaction (the one
    applying the store's events). A replay of the event writes nothing new."""
    lines = tax_lines(data, refund, doc)
    if not lines:
        return
    number = str(data.get("number", ""))[:24]
    await s.execute(upsert(s, HubSaleTax.__table__).on_conflict_do_nothing(
        index_elements=["doc_id", "hsn", "rate_bp"]), [
        {"doc_id": doc_id, "hsn": t.hsn, "rate_bp": t.rate_bp, "store_id": store_id,
         "kind": "refund" if refund else "sale", "number": number, "day": day,
         "doc_kind": doc.doc_kind, "doc_number": doc.doc_number,
         "buyer_gstin": doc.buyer_gstin, "place_of_supply": doc.place_of_supply,
         "quantity": t.quantity, "taxable_minor": t.taxable, "cgst_minor": t.cgst,
         "sgst_minor": t.sgst, "igst_minor": t.igst} for t in lines])


# --- the chain overview ------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    first: date
    last: date
    today: date
    stores: tuple[StoreFigures, ...]
    days: tuple[DayFigures, ...]
    total: StoreFigures
    dots: tuple[MapDot, ...]


def _local_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tz)


def _slot(at: datetime) -> str:
    """The half-hour slot (UTC) a moment falls in, as hub_order_slots keys it."""
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H}:{'00' if at.minute < 30 else '30'}"


def _slot_day(slot: str, tz: tzinfo) -> date:
    return datetime.fromisoformat(slot + ":00+00:00").astimezone(tz).date()


async def _order_figures(s: Session, first: date, last: date, tz: tzinfo, now: datetime
                         ) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    """[orders, due, met] per store and per day index for orders created in the period,
    summed by the database from the half-hour summaries (hub_order_slots), less the few
    open orders not yet due."""
    start, end = _local_start(first, tz), _local_start(last + timedelta(days=1), tz)
    days = {d: i for i, d in enumerate(days_of(first, last))}
    period = and_(HubOrderSlot.slot >= _slot(start), HubOrderSlot.slot < _slot(end))
    sums = (func.sum(HubOrderSlot.orders), func.sum(HubOrderSlot.cancelled),
            func.sum(HubOrderSlot.met))
    by_store: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for sid, orders, cancelled, met in (await s.execute(
            select(HubOrderSlot.store_id, *sums).where(period)
            .group_by(HubOrderSlot.store_id))).all():
        by_store[str(sid)] = [int(orders or 0), int(orders or 0) - int(cancelled or 0),
                              int(met or 0)]
    by_day: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for slot, orders, cancelled, met in (await s.execute(
            select(HubOrderSlot.slot, *sums).where(period)
            .group_by(HubOrderSlot.slot))).all():
        i = days.get(_slot_day(str(slot), tz))
        if i is not None:
            f = by_day[i]
            f[0] += int(orders or 0)
            f[1] += int(orders or 0) - int(cancelled or 0)
            f[2] += int(met or 0)
    for store_id, created in (await s.execute(  # open, promised later than now: not due
            select(HubOrder.store_id, HubOrder.created_at)
            .where(HubOrder.status.in_(NOT_HANDED), HubOrder.promised_by >= now,
                   HubOrder.created_at >= start, HubOrder.created_at < end,
                   HubOrder.store_id.is_not(None)))).all():
        by_store[str(store_id)][1] -= 1
        i = days.get(created.astimezone(tz).date())
        if i is not None:
            by_day[i][1] -= 1
    return by_store, by_day


async def _sales_figures(s: Session, first: date, last: date
                         ) -> list[tuple[str, str, int, int, int]]:
    """(store, day, bills, sales, refunds) for the period, from hub_sale_days."""
    rows = (await s.execute(
        select(HubSaleDay.store_id, HubSaleDay.day, HubSaleDay.bills, HubSaleDay.sales_minor,
               HubSaleDay.refunds_minor)
        .where(HubSaleDay.day >= first.isoformat(), HubSaleDay.day <= last.isoformat()))).all()
    return [(str(a), str(b), int(n), int(t), int(r)) for a, b, n, t, r in rows]


async def _stock_outs(s: Session, today: date) -> dict[str, int]:
    """Each store's SKUs with nothing available now (on hand less what accepted orders
    hold, as the hub last heard) among those it sold in the last 28 days."""
    since = (today - timedelta(days=STOCK_OUT_WINDOW_DAYS - 1)).isoformat()
    held = (select(HubReservation.store_id, HubReservation.sku,
                   func.sum(HubReservation.quantity).label("q"))
            .group_by(HubReservation.store_id, HubReservation.sku).subquery())
    available = HubStockLevel.on_hand - func.coalesce(held.c.q, literal(0, Integer))
    sold = select(HubSkuDay.sku).where(
        HubSkuDay.store_id == HubStockLevel.store_id, HubSkuDay.sku == HubStockLevel.sku,
        HubSkuDay.day >= since, HubSkuDay.sold > 0).exists()
    rows = (await s.execute(
        select(HubStockLevel.store_id, func.count())
        .select_from(HubStockLevel)
        .outerjoin(held, and_(held.c.store_id == HubStockLevel.store_id,
                              held.c.sku == HubStockLevel.sku))
        .where(available <= 0, sold).group_by(HubStockLevel.store_id))).all()
    return {str(sid): int(n) for sid, n in rows}


async def chain_overview(db: HubDatabase, first: date, last: date, today: date, tz: tzinfo,
                         now: datetime) -> Overview:
    """Every store side by side over first..last, the chain's days, and the map of
    today's orders (today's figures whatever the period)."""
    days = days_of(first, last)
    async with db.read() as s:
        stores = (await s.execute(select(HubStore.id, HubStore.name, HubStore.kind,
                                         HubStore.lat, HubStore.lon)
                                  .order_by(HubStore.id))).all()
        sales = await _sales_figures(s, first, last)
        orders, orders_by_day = await _order_figures(s, first, last, tz, now)
        today_orders = (await _order_figures(s, today, today, tz, now))[0]
        outs = await _stock_outs(s, today)
    figures = {sid: StoreFigures(store_id=sid, name=name, kind=kind, lat=lat, lon=lon)
               for sid, name, kind, lat, lon in stores}
    per_day = {d.isoformat(): DayFigures(day=d) for d in days}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # sales, bills, refunds
    for sid, day, bills, sold, refunded in sales:
        t = totals[sid]
        t[0] += sold + refunded
        t[1] += bills
        t[2] -= refunded
        d = per_day.get(day)
        if d is not None:
            per_day[day] = replace(d, sales=d.sales + sold + refunded, bills=d.bills + bills)
    for i, (n, due, met) in orders_by_day.items():
        key = days[i].isoformat()
        d = per_day[key]
        per_day[key] = replace(d, orders=d.orders + n, due=d.due + max(due, 0), met=d.met + met)
    rows = []
    for sid, f in figures.items():
        t, c = totals.get(sid, [0, 0, 0]), orders.get(sid, [0, 0, 0])
        n_today, due_today, met_today = today_orders.get(sid, [0, 0, 0])
        rows.append(replace(f, sales=t[0], bills=t[1], refunds=t[2], orders=c[0],
                            due=max(c[1], 0), met=c[2], stock_outs=outs.get(sid, 0),
                            today_orders=n_today, today_due=max(due_today, 0),
                            today_met=met_today))
    return Overview(first=first, last=last, today=today, stores=tuple(rows),
                    days=tuple(per_day[d.isoformat()] for d in days),
                    total=chain_total(rows), dots=store_map(rows))



# --- GSTR-1 at the hub ---------------------------------------------------------------
#
# A store's GSTIN is kept on hub_stores.gstin (HQ sets it on the GST page): the hub has
# no other source (the store's config stays at the store, and its events do not carry
# it). Stores with one GSTIN (one state registration) file one return together.


@dataclass(frozen=True)
class GstStore:
    store_id: str
    name: str
    gstin: str
    documents: int  # documents of the month with GST rows
    taxable: int
    tax: int
    without_rows: int  # documents of the month that arrived without GST rows


async def gst_month(db: HubDatabase, year: int, month: int) -> list[GstStore]:
    """Each store's month at a glance (SQL sums; the return itself is built on download)."""
    first, last = _month_days(year, month)
    async with db.read() as s:
        stores = (await s.execute(select(HubStore.id, HubStore.name, HubStore.gstin)
                                  .order_by(HubStore.id))).all()
        sums = {str(sid): (int(n), int(t or 0), int(c or 0) + int(g or 0) + int(i or 0))
                for sid, n, t, c, g, i in (await s.execute(
                    select(HubSaleTax.store_id, func.count(func.distinct(HubSaleTax.doc_id)),
                           func.sum(HubSaleTax.taxable_minor), func.sum(HubSaleTax.cgst_minor),
                           func.sum(HubSaleTax.sgst_minor), func.sum(HubSaleTax.igst_minor))
                    .where(HubSaleTax.day >= first, HubSaleTax.day <= last)
                    .group_by(HubSaleTax.store_id))).all()}
        taxed = select(HubSaleTax.doc_id).where(HubSaleTax.doc_id == HubSale.id).exists()
        bare = {str(sid): int(n) for sid, n in (await s.execute(
            select(HubSale.store_id, func.count())
            .where(HubSale.day >= first, HubSale.day <= last, ~taxed)
            .group_by(HubSale.store_id))).all()}
    return [GstStore(sid, name, gstin or "", *sums.get(sid, (0, 0, 0)), bare.get(sid, 0))
            for sid, name, gstin in stores]


def _month_days(year: int, month: int) -> tuple[str, str]:
    return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-31"


async def _units_by_hsn(s: Session) -> dict[str, str]:
    """The catalogue's unit of each HSN (the commonest where products differ): hub rows
    carry HSN and rate, not the product, and GSTR-1's HSN table wants a unit (UQC)."""
    from app.catalog.models import Product

    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for hsn, unit, n in (await s.execute(select(Product.hsn, Product.unit, func.count())
                                         .group_by(Product.hsn, Product.unit))).all():
        counts[str(hsn)][str(unit)] = int(n)
    return {hsn: max(units, key=lambda u: (units[u], u)) for hsn, units in counts.items()}


async def gstr1_documents(db: HubDatabase, year: int, month: int, store_ids: list[str],
                          store_state: str) -> list[Any]:
    """The month's documents of these stores for app/core/gstr1.build: one Document per
    sale or refund with its HSN/rate rows as lines (a credit note's positive, as the
    builder wants them), a credit note naming its bill's number, date and value."""
    from app.core import gstr1

    first, last = _month_days(year, month)
    async with db.read() as s:
        units = await _units_by_hsn(s)
        rows = (await s.execute(
            select(HubSaleTax, HubSale.total_minor, HubSale.buyer_name, HubSale.sale_number)
            .join(HubSale, HubSale.id == HubSaleTax.doc_id)
            .where(HubSaleTax.store_id.in_(store_ids), HubSaleTax.day >= first,
                   HubSaleTax.day <= last)
            .order_by(HubSaleTax.day, HubSaleTax.doc_id, HubSaleTax.hsn,
                      HubSaleTax.rate_bp))).all()
        wanted: dict[str, set[str]] = defaultdict(set)
        for tax, _total, _name, sale_number in rows:
            if tax.kind == "refund" and sale_number:
                wanted[tax.store_id].add(sale_number)
        originals: dict[tuple[str, str], tuple[str, str, int]] = {}
        for sid, numbers in wanted.items():
            listed = sorted(numbers)
            for i in range(0, len(listed), 500):
                for number, doc_number, day, total in (await s.execute(
                        select(HubSale.number, HubSale.doc_number, HubSale.day,
                               HubSale.total_minor)
                        .where(HubSale.store_id == sid, HubSale.kind == "sale",
                               HubSale.number.in_(listed[i:i + 500])))).all():
                    originals[(sid, number)] = (doc_number or number, day, int(total))
    docs: dict[str, Any] = {}
    lines: dict[str, list[Any]] = defaultdict(list)
    for tax, total, buyer_name, sale_number in rows:
        sign = -1 if tax.kind == "refund" else 1
        lines[tax.doc_id].append(gstr1.Line(
            tax.hsn, units.get(tax.hsn, "piece"), sign * tax.quantity, tax.rate_bp,
            sign * tax.taxable_minor, sign * tax.cgst_minor, sign * tax.sgst_minor,
            sign * tax.igst_minor))
        if tax.doc_id in docs:
            continue
        original = originals.get((tax.store_id, sale_number))
        docs[tax.doc_id] = dict(
            kind="credit_note" if sign < 0 else "invoice",
            number=tax.doc_number or tax.number, date=date.fromisoformat(tax.day),
            doc_kind=tax.doc_kind, store_state=store_state, buyer_gstin=tax.buyer_gstin,
            buyer_name=buyer_name, place_of_supply=tax.place_of_supply, value=abs(total),
            original_number=original[0] if original else sale_number,
            original_date=date.fromisoformat(original[1]) if original else None,
            original_value=original[2] if original else 0)
    return [gstr1.Document(lines=tuple(lines[doc_id]), **fields)
            for doc_id, fields in docs.items()]


async def set_store_gstin(db: HubDatabase, store_id: str, gstin: str) -> None:
    """HQ records the GSTIN a store files under ('' clears it). Checked by the caller."""
    async with db.write() as s:
        store = await s.get(HubStore, store_id)
        if store is None:
            raise LookupError(f"No store {store_id[:8]} at this hub")
        store.gstin = gstin
