"""When to count what, and how well counts go (issue #17): the ABC schedule (A items,
the most sold by value, are counted most often; app/stock/abc.py is the rule) and the
share of lines counted right at the first count, week by week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.catalog.models import Product
from app.core.clock import utcnow
from app.core.db import Database, Session
from app.stock import abc, count_chart, count_rules
from app.stock.models import CountEntry, CountLine, StockLevel, StockMove

SALE_REASONS = ("sale", "order", "refund")


def cost_of(product: Product) -> tuple[int, int]:
    """(price, base units it buys) for valuing a difference: the selling price (per piece,
    or per kg / litre of a weighed product) until cost prices reach the stock layer."""
    return product.price_minor, 1 if product.unit == "piece" else 1000


@dataclass(frozen=True)
class DueProduct:
    product_id: str
    sku: str
    name: str
    cls: abc.AbcClass
    last_counted: date | None


def _local_date(at: datetime, tz: ZoneInfo | None) -> date:
    return at.astimezone(tz).date() if tz is not None else at.date()


async def abc_classes(s: Session, *, days: int = 90) -> tuple[dict[str, abc.AbcClass],
                                                                dict[str, Product]]:
    """Every active product's class by sales value over the last ``days`` days (till
    sales and online orders less refunds, at today's price), ties by SKU."""
    since = utcnow() - timedelta(days=days)
    sold = {p: -int(q) for p, q in (await s.execute(
        select(StockMove.product_id, func.sum(StockMove.delta))
        .where(StockMove.reason.in_(SALE_REASONS), StockMove.at >= since)
        .group_by(StockMove.product_id))).all()}
    products = {p.id: p for p in await s.scalars(
        select(Product).where(Product.active).order_by(Product.sku))}
    values = []
    for pid, product in products.items():
        price, per = cost_of(product)
        values.append((pid, count_rules.variance_value(max(sold.get(pid, 0), 0), price, per)))
    return abc.classify(values), products


async def due_products(db: Database, *, tz: ZoneInfo | None = None,
                       today: date | None = None) -> list[DueProduct]:
    """Products with stock on the book that the ABC schedule says are due for a count,
    most overdue first (never counted first of all)."""
    async with db.read() as s:
        classes, products = await abc_classes(s)
        stocked = set(await s.scalars(
            select(StockLevel.product_id).group_by(StockLevel.product_id)
            .having(func.sum(func.abs(StockLevel.on_hand)) != 0)))
        last: dict[str, date | None] = {}
        for pid, at in (await s.execute(
                select(CountLine.product_id, func.max(CountEntry.at))
                .join(CountEntry, CountEntry.line_id == CountLine.id)
                .group_by(CountLine.product_id))).all():
            last[pid] = _local_date(at, tz)
        for pid, at in (await s.execute(
                select(StockMove.product_id, func.max(StockMove.at))
                .where(StockMove.reason == "count").group_by(StockMove.product_id))).all():
            day = _local_date(at, tz)
            if last.get(pid) is None or day > (last[pid] or day):
                last[pid] = day
    day = today or _local_date(utcnow(), tz)
    wanted = {pid: cls for pid, cls in classes.items() if pid in stocked}
    return [DueProduct(pid, products[pid].sku, products[pid].name, wanted[pid], last.get(pid))
            for pid in abc.due_for_count(wanted, last, day)]


async def accuracy(db: Database, *, weeks: int = 12, tz: ZoneInfo | None = None,
                   today: date | None = None) -> list[count_chart.Week]:
    """Share of lines counted right at the first count, per week."""
    day = today or _local_date(utcnow(), tz)
    since = datetime.combine(day - timedelta(weeks=weeks + 1), datetime.min.time(),
                             tzinfo=tz or ZoneInfo("UTC"))
    async with db.read() as s:
        rows = (await s.execute(
            select(CountEntry.at, CountEntry.counted, CountEntry.expected)
            .where(CountEntry.round == 1, CountEntry.at >= since))).all()
    return count_chart.weekly_accuracy(
        ((_local_date(at, tz), counted == expected) for at, counted, expected in rows), day, weeks)
