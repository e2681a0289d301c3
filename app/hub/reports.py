"""The hub's reports (issue #18): the GST rows of every store document (written while a
store's events are applied), the chain overview (every store side by side, the chain's
trend, the store map) and the rows the hub's GSTR-1 is built from. Rules and shapes are
in report_rules.py (pure); this module reads and writes.

SLA, as the store's fulfilment report counts it (app/reports/fulfilment.py): an order is
on time when it was handed over by its promised time. The hub knows the hand-over time
from its order log (the first status entry "handed over", or "delivered" when the hand
over was never reported). Orders count on the day (hub's local date) they were created;
an order is *due* once its promised time has passed or it was handed over; cancelled
orders are left out of the SLA (they still count as orders).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select

from app.core.db import Session
from app.hub.db import HubDatabase, upsert
from app.hub.models import (
    HubOrder,
    HubOrderLog,
    HubReservation,
    HubSale,
    HubSaleTax,
    HubSkuDay,
    HubStockLevel,
    HubStore,
)
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

# The order log's detail of a status change, as app/hub/placement.py writes it.
DONE_DETAILS = tuple(json.dumps({"status": s}) for s in ("handed_over", "delivered"))
STOCK_OUT_WINDOW_DAYS = 28


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


def _day_case(column: Any, first: date, last: date, tz: tzinfo) -> Any:
    """SQL giving the index (0 = first) of the local day a UTC timestamp falls on: one
    comparison per day boundary, so it is right across a DST change and needs no
    time-zone support in the database."""
    days = days_of(first, last)
    whens = [(column < _local_start(d + timedelta(days=1), tz), i)
             for i, d in enumerate(days)]
    return case(*whens, else_=literal(len(days) - 1))


async def _order_figures(s: Session, first: date, last: date, tz: tzinfo, now: datetime
                         ) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(store, day index) -> (orders, due, met) for orders created in the period."""
    start, end = _local_start(first, tz), _local_start(last + timedelta(days=1), tz)
    done = (select(HubOrderLog.order_id, func.min(HubOrderLog.at).label("done"))
            .where(HubOrderLog.kind == "status", HubOrderLog.at >= start,
                   HubOrderLog.detail.in_(DONE_DETAILS))
            .group_by(HubOrderLog.order_id).subquery())
    live = HubOrder.status != "cancelled"
    due = and_(live, (done.c.done.is_not(None)) | (HubOrder.promised_by < now))
    met = and_(live, done.c.done.is_not(None), done.c.done <= HubOrder.promised_by)
    day = _day_case(HubOrder.created_at, first, last, tz).label("d")
    rows = (await s.execute(
        select(HubOrder.store_id, day, func.count(),
               func.sum(case((due, 1), else_=0)), func.sum(case((met, 1), else_=0)))
        .select_from(HubOrder).outerjoin(done, done.c.order_id == HubOrder.id)
        .where(HubOrder.created_at >= start, HubOrder.created_at < end,
               HubOrder.store_id.is_not(None))
        .group_by(HubOrder.store_id, day))).all()
    return {(str(sid), int(d)): (int(n), int(du or 0), int(m or 0))
            for sid, d, n, du, m in rows}


async def _sales_figures(s: Session, first: date, last: date
                         ) -> list[tuple[str, str, str, int, int]]:
    """(store, day, kind, count, total) for the period's sales and refunds."""
    rows = (await s.execute(
        select(HubSale.store_id, HubSale.day, HubSale.kind, func.count(),
               func.sum(HubSale.total_minor))
        .where(HubSale.day >= first.isoformat(), HubSale.day <= last.isoformat())
        .group_by(HubSale.store_id, HubSale.day, HubSale.kind))).all()
    return [(str(a), str(b), str(c), int(n), int(t or 0)) for a, b, c, n, t in rows]


async def _stock_outs(s: Session, today: date) -> dict[str, int]:
    """Each store's SKUs with nothing available now (on hand less what accepted orders
    hold, as the hub last heard) among those it sold in the last 28 days."""
    since = (today - timedelta(days=STOCK_OUT_WINDOW_DAYS - 1)).isoformat()
    sold = (select(HubSkuDay.store_id, HubSkuDay.sku)
            .where(HubSkuDay.day >= since, HubSkuDay.sold > 0).distinct().subquery())
    held = (select(HubReservation.store_id, HubReservation.sku,
                   func.sum(HubReservation.quantity).label("q"))
            .group_by(HubReservation.store_id, HubReservation.sku).subquery())
    available = (func.coalesce(HubStockLevel.on_hand, 0)
                 - func.coalesce(held.c.q, literal(0, Integer)))
    rows = (await s.execute(
        select(sold.c.store_id, func.count())
        .select_from(sold)
        .outerjoin(HubStockLevel, and_(HubStockLevel.store_id == sold.c.store_id,
                                       HubStockLevel.sku == sold.c.sku))
        .outerjoin(held, and_(held.c.store_id == sold.c.store_id, held.c.sku == sold.c.sku))
        .where(available <= 0).group_by(sold.c.store_id))).all()
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
        orders = await _order_figures(s, first, last, tz, now)
        today_orders = ({(sid, 0): v for (sid, i), v in orders.items() if days[i] == today}
                        if first <= today <= last
                        else await _order_figures(s, today, today, tz, now))
        outs = await _stock_outs(s, today)
    figures = {sid: StoreFigures(store_id=sid, name=name, kind=kind, lat=lat, lon=lon)
               for sid, name, kind, lat, lon in stores}
    per_day = {d.isoformat(): DayFigures(day=d) for d in days}
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # sales, bills, refunds
    for sid, day, kind, n, total in sales:
        t = totals[sid]
        t[0] += total
        if kind == "sale":
            t[1] += n
        else:
            t[2] -= total
        d = per_day.get(day)
        if d is not None:
            per_day[day] = replace(d, sales=d.sales + total,
                                   bills=d.bills + (n if kind == "sale" else 0))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (sid, i), (n, due, met) in orders.items():
        c = counts[sid]
        c[0], c[1], c[2] = c[0] + n, c[1] + due, c[2] + met
        key = days[i].isoformat()
        d = per_day[key]
        per_day[key] = replace(d, orders=d.orders + n, due=d.due + due, met=d.met + met)
    rows = []
    for sid, f in figures.items():
        t, c = totals.get(sid, [0, 0, 0]), counts.get(sid, [0, 0, 0])
        n_today, due_today, met_today = today_orders.get((sid, 0), (0, 0, 0))
        rows.append(replace(f, sales=t[0], bills=t[1], refunds=t[2], orders=c[0], due=c[1],
                            met=c[2], stock_outs=outs.get(sid, 0), today_orders=n_today,
                            today_due=due_today, today_met=met_today))
    return Overview(first=first, last=last, today=today, stores=tuple(rows),
                    days=tuple(per_day[d.isoformat()] for d in days),
                    total=chain_total(rows), dots=store_map(rows))

