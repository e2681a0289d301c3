"""Returns figures for managers (issue #19): the return rate per product (units come
back against units sent out on online orders), returns per reason and grade, and the
time a return takes at the desk. Read-only; one read transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.db import Database
from app.returns.models import OnlineReturn, OnlineReturnLine
from app.stock.models import StockMove

GRADE_COLUMNS = ("resellable", "damaged", "customer_damaged", "expired", "wrong_item")
MAX_DAYS = 366


@dataclass(frozen=True)
class ProductRate:
    sku: str
    name: str
    sent: int          # base units that left on online orders in the period
    returned: int      # base units received back at the desk
    refund_minor: int

    @property
    def rate_percent(self) -> float | None:
        return round(100 * self.returned / self.sent, 1) if self.sent else None


@dataclass(frozen=True)
class ReturnsFigures:
    days: int
    finished: int
    open: int
    refund_minor: int
    grades: dict[str, int]
    reasons: list[tuple[str, int]]        # (reason, returns), most first
    products: list[ProductRate]           # most returned first
    minutes_median: float | None          # first unit graded -> finished
    minutes_p90: float | None
    hours_requested_median: float | None  # requested -> finished


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def figures(db: Database, days: int = 30, *, now: datetime | None = None
                  ) -> ReturnsFigures:
    days = max(1, min(days, MAX_DAYS))
    since = (now or utcnow()) - timedelta(days=days)
    async with db.read() as s:
        finished = list(await s.scalars(select(OnlineReturn).where(
            OnlineReturn.state.in_(("completed", "rejected")),
            OnlineReturn.finished_at >= since)))
        open_count = await s.scalar(select(func.count()).select_from(OnlineReturn).where(
            OnlineReturn.state.in_(("expected", "receiving", "awaiting_approval")))) or 0
        sent = dict((await s.execute(
            select(Product.sku, -func.sum(StockMove.delta))
            .join(Product, Product.id == StockMove.product_id)
            .where(StockMove.reason == "order", StockMove.at >= since)
            .group_by(Product.sku))).all())
        names = dict((await s.execute(select(Product.sku, Product.name))).all())
    grades = dict.fromkeys(GRADE_COLUMNS, 0)
    reasons: dict[str, int] = {}
    per_sku: dict[str, list[int]] = {}
    took, waited = [], []
    for ret in finished:
        reason = (ret.reason.strip() or ("failed delivery" if ret.kind == "rto" else "—"))
        reasons[reason[:60]] = reasons.get(reason[:60], 0) + 1
        line: OnlineReturnLine
        for line in ret.lines:
            for grade in GRADE_COLUMNS:
                grades[grade] += getattr(line, grade)
            row = per_sku.setdefault(line.sku, [0, 0])
            row[0] += line.received
            row[1] += line.refund_minor
        if ret.finished_at and ret.received_at:
            took.append((ret.finished_at - ret.received_at).total_seconds() / 60)
        if ret.finished_at:
            waited.append((ret.finished_at - ret.requested_at).total_seconds() / 3600)
    products = sorted(
        (ProductRate(sku, names.get(sku, sku), int(sent.get(sku) or 0), units, refund)
         for sku, (units, refund) in per_sku.items() if units),
        key=lambda p: (-p.returned, p.sku))
    return ReturnsFigures(
        days=days, finished=len(finished), open=open_count,
        refund_minor=sum(r.refund_total_minor for r in finished), grades=grades,
        reasons=sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:20],
        products=products[:50], minutes_median=_quantile(took, 0.5),
        minutes_p90=_quantile(took, 0.9), hours_requested_median=_quantile(waited, 0.5))
