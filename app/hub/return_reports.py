"""Returns of online orders across the chain (issue #19), for HQ's reports: returns per
store, the return rate per product and the returns per reason, the time from the
channel's request to the last store's answer (median and 90th percentile) and the
refunds. Read-only, one read transaction; the store's own view is /returns/report
(app/returns/metrics.py).

The period is the returns *requested* on the hub's local days first..last. A product's
rate is units asked back by customers (not failed deliveries) against units on the
orders created in the period that were delivered (a split order counted by its parts,
so nothing twice). RTO returns are counted apart: the customer never had the goods."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.catalog.models import Product
from app.hub.db import HubDatabase
from app.hub.models import HubOrder, HubOrderLine, HubReturn, HubReturnLine, HubStore

RTO_REASON = "failed delivery (RTO)"
MAX_ROWS = 50
REASON_CHARS = 60


@dataclass(frozen=True)
class StoreReturns:
    store_id: str
    name: str
    returns: int  # returns with goods going to this store
    units: int  # asked back
    received: int  # of those, received at the desk so far
    open: int  # returns the store has not answered yet
    refund_minor: int  # refunded by this store's answers


@dataclass(frozen=True)
class ProductReturns:
    sku: str
    name: str
    delivered: int  # base units delivered on the period's orders
    returned: int  # base units customers asked back
    refund_minor: int

    @property
    def rate_percent(self) -> float | None:
        return round(100 * self.returned / self.delivered, 1) if self.delivered else None


@dataclass(frozen=True)
class ReasonReturns:
    reason: str
    returns: int
    units: int
    refund_minor: int
    share_percent: float  # of all returns in the period


@dataclass(frozen=True)
class ChainReturns:
    first: date
    last: date
    returns: int
    customer: int
    rto: int
    completed: int
    open: int
    refund_minor: int
    hours_median: float | None  # requested -> completed, completed returns only
    hours_p90: float | None
    stores: list[StoreReturns]
    products: list[ProductReturns]
    reasons: list[ReasonReturns]


def quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile (the store's returns report's rule), rounded to 0.1."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def reason_key(kind: str, reason: str) -> str:
    """Reasons grouped as people type them: case and spacing do not make a new one."""
    if kind == "rto":
        return RTO_REASON
    return " ".join(reason.split()).lower()[:REASON_CHARS] or "—"


def _bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return (datetime.combine(first, time(0), tz),
            datetime.combine(last + timedelta(days=1), time(0), tz))


async def chain_returns(db: HubDatabase, first: date, last: date, tz: tzinfo) -> ChainReturns:
    since, until = _bounds(first, last, tz)
    async with db.read() as s:
        rets = list(await s.scalars(select(HubReturn).where(
            HubReturn.created_at >= since, HubReturn.created_at < until)))
        ids = [r.id for r in rets]
        lines = list(await s.scalars(select(HubReturnLine).where(
            HubReturnLine.return_id.in_(ids)))) if ids else []
        stores = dict((await s.execute(select(HubStore.id, HubStore.name))).all())
        part = aliased(HubOrder)
        has_parts = select(part.id).where(part.parent_id == HubOrder.id).exists()
        delivered = dict((await s.execute(
            select(HubOrderLine.sku, func.sum(HubOrderLine.quantity))
            .join(HubOrder, HubOrder.id == HubOrderLine.order_id)
            .where(HubOrder.created_at >= since, HubOrder.created_at < until,
                   HubOrder.status == "delivered", ~has_parts)
            .group_by(HubOrderLine.sku))).all())
        skus = sorted({ln.sku for ln in lines})
        names = dict((await s.execute(select(Product.sku, Product.name).where(
            Product.sku.in_(skus)))).all()) if skus else {}
    by_id = {r.id: r for r in rets}
    per_store: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    store_returns: dict[str, set[str]] = defaultdict(set)
    per_sku: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_reason: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for ln in lines:
        ret = by_id[ln.return_id]
        store_returns[ln.store_id].add(ret.id)
        row = per_store[ln.store_id]
        row[0] += ln.quantity
        row[1] += ln.received or 0
        row[2] += ln.refund_minor or 0
        if ret.kind == "customer":
            per_sku[ln.sku][0] += ln.quantity
            per_sku[ln.sku][1] += ln.refund_minor or 0
        reason = per_reason[reason_key(ret.kind, ret.reason)]
        reason[1] += ln.quantity
        reason[2] += ln.refund_minor or 0
    for ret in rets:
        per_reason[reason_key(ret.kind, ret.reason)][0] += 1
    open_at: dict[str, set[str]] = defaultdict(set)
    for ln in lines:
        if ln.completed_at is None:
            open_at[ln.store_id].add(ln.return_id)
    done = [r for r in rets if r.state == "completed" and r.completed_at is not None]
    hours = [(r.completed_at - r.created_at).total_seconds() / 3600 for r in done
             if r.completed_at is not None]
    total = len(rets)
    return ChainReturns(
        first=first, last=last, returns=total,
        customer=sum(1 for r in rets if r.kind == "customer"),
        rto=sum(1 for r in rets if r.kind == "rto"), completed=len(done),
        open=total - len(done), refund_minor=sum(r.refund_total_minor for r in done),
        hours_median=quantile(hours, 0.5), hours_p90=quantile(hours, 0.9),
        stores=sorted((StoreReturns(sid, stores.get(sid, sid), len(store_returns[sid]),
                                    units, received, len(open_at[sid]), refund)
                       for sid, (units, received, refund) in per_store.items()),
                      key=lambda st: (-st.returns, st.store_id)),
        products=sorted((ProductReturns(sku, names.get(sku, sku), int(delivered.get(sku) or 0),
                                        units, refund)
                         for sku, (units, refund) in per_sku.items()),
                        key=lambda p: (-p.returned, p.sku))[:MAX_ROWS],
        reasons=sorted((ReasonReturns(reason, n, units, refund,
                                      round(100 * n / total, 1) if total else 0.0)
                        for reason, (n, units, refund) in per_reason.items()),
                       key=lambda r: (-r.returns, r.reason))[:MAX_ROWS])
