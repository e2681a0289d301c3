"""Stock report reads (issue #18) on the store's SQLite file. The figures themselves are
worked out by the pure rules in app/reports/stock_rules.py; this module only reads rows.

- ``stock_rows``: one pass over products, their levels (summed over bins and batches)
  and moving-average costs, plus two passes over the ledger's time index
  (ix_stock_ledger_at_sold: at, reason, product_id, delta), which holds every column
  read, so no table row is visited: each product's last sale and first move, and the
  units sold in the last VELOCITY_DAYS days.
- ``stock_outs``: the moves of a period, read in time order from the same index, and
  each product's level at the period's start (today's level minus every move since).
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from app.core import csv_safe
from app.core.db import Database, Session, Tx
from app.core.money import to_decimal_string
from app.reports import stock_rules as rules
from app.reports.stock_rules import OpeningHours, StockRow

# A sale is a till sale ('sale') or an online order handed over ('order'); units sold
# are net of refunds, as the suggested order counts them (app/purchasing/service.SOLD).


# A product's last sale and first delivery, one seek each per bin it lives in on the
# (product, bin, reason, at) index (migration 0021). Every move writes a level row, so the
# levels list every (product, bin) the ledger has.
_TIMES = """
SELECT l.product_id,
  (SELECT MAX(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'sale'),
  (SELECT MAX(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'order'),
  (SELECT MIN(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'receive'),
  (SELECT MIN(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'transfer'),
  (SELECT MIN(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'found'),
  (SELECT MIN(at) FROM stock_ledger m WHERE m.product_id = l.product_id
     AND m.bin_id = l.bin_id AND m.reason = 'count')
FROM (SELECT DISTINCT product_id, bin_id FROM stock_levels) l
"""
# Units sold in a period, on the time index alone (at, reason, product_id, delta).
_SOLD = """
SELECT product_id, SUM(delta) FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold
WHERE at >= ? AND reason IN ('sale', 'order', 'refund') GROUP BY product_id
"""
_PRODUCTS = """
SELECT p.id, p.sku, p.name, p.category, p.unit, p.price_minor, p.active, l.on_hand,
       c.quantity, c.value_minor
FROM products p
LEFT JOIN (SELECT product_id, SUM(on_hand) AS on_hand FROM stock_levels
           GROUP BY product_id) l ON l.product_id = p.id
LEFT JOIN product_costs c ON c.product_id = p.id
"""


async def stock_rows(db: Database, now: datetime) -> list[StockRow]:
    """Every active product, and every retired one that still has stock."""
    since = _iso(now - timedelta(days=rules.VELOCITY_DAYS))
    async with db.read() as s:
        return await asyncio.to_thread(_stock_rows, _driver(s), since)


def _driver(s: Session) -> sqlite3.Connection:
    """The read's own sqlite3 connection: the reports read past SQLAlchemy, in a worker
    thread (a year of ledger takes long enough to hold up the tills on the loop). The
    connection is ours alone until the read ends; it was made with check_same_thread off."""
    if not isinstance(s, Tx):
        raise TypeError("the stock reports read the store's SQLite file")
    return s.driver()


def _stock_rows(raw: sqlite3.Connection, since: str) -> list[StockRow]:
    times: dict[str, tuple[str | None, str | None]] = {}
    for product_id, sale, order, *ins in raw.execute(_TIMES):
        last = max((t for t in (sale, order) if t), default=None)
        first = min((t for t in ins if t), default=None)
        old_last, old_first = times.get(product_id, (None, None))
        times[product_id] = (max((t for t in (last, old_last) if t), default=None),
                             min((t for t in (first, old_first) if t), default=None))
    net = {p: -int(d or 0) for p, d in raw.execute(_SOLD, (since,))}
    out = []
    for (product_id, sku, name, category, unit, price, active, on_hand, cost_qty,
         cost_value) in raw.execute(_PRODUCTS):
        qty = int(on_hand or 0)
        if not active and qty == 0:
            continue
        last, first = times.get(product_id, (None, None))
        out.append(StockRow(product_id, sku, name, category or "", unit, qty, int(price),
                            cost_qty, cost_value, _at(last), _at(first),
                            net.get(product_id, 0)))
    return out


def _at(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def _iso(at: datetime) -> str:
    """How UTCDateTime stores a time (app/core/db.py): comparable as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class StockOutRow:
    row: StockRow
    out: rules.StockOut


@dataclass(frozen=True, slots=True)
class StockOutReport:
    first: date
    last: date
    start: datetime
    end: datetime
    open_minutes: int  # minutes the store was open in the period (all of it without hours)
    rows: list[StockOutRow]  # products that sell and were out at all, most minutes first
    selling: int  # products that sell (sold in the VELOCITY_DAYS days to the period's end)


_SELLING = """
SELECT DISTINCT product_id FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold
WHERE at >= ? AND at < ? AND reason IN ('sale', 'order')
"""
# Per product: the sum of every move since the period's start, or before it (the
# shorter side of the ledger is summed: a level is its ledger's sum).
_SINCE = """
SELECT product_id, SUM(delta) FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold
WHERE at >= ? GROUP BY product_id
"""
_BEFORE = """
SELECT product_id, SUM(delta) FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold
WHERE at < ? GROUP BY product_id
"""
_FIRST_AT = "SELECT MIN(at) FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold"
_MOVES = """
SELECT product_id, at, delta FROM stock_ledger INDEXED BY ix_stock_ledger_at_sold
WHERE at >= ? AND at < ? ORDER BY at
"""
_LEVELS = "SELECT product_id, SUM(on_hand) FROM stock_levels GROUP BY product_id"


async def stock_outs(db: Database, first: date, last: date, tz: tzinfo, now: datetime,
                     hours: OpeningHours | None = None,
                     rows: Iterable[StockRow] | None = None) -> StockOutReport:
    """Minutes each selling product spent at zero or below (all bins together) in the
    local dates ``first`` to ``last``, during ``hours`` if the store has them."""
    start, end = rules.period_bounds(first, last, tz, now)
    windows = rules.open_windows(start, end, tz, hours)
    by_id = {r.product_id: r for r in (rows if rows is not None else await stock_rows(db, now))}
    velocity_from = end - timedelta(days=rules.VELOCITY_DAYS)
    async with db.read() as s:
        moves = await asyncio.to_thread(_period_moves, _driver(s), _iso(start), _iso(end),
                                        _iso(velocity_from))
    out = []
    for product_id, kept in moves.items():
        row = by_id.get(product_id)
        if row is None:
            continue
        period = [(datetime.fromisoformat(at), delta) for at, delta in kept.moves()]
        result = rules.stock_out(product_id, kept.level - rules.replay(0, period), period,
                                 start, end, windows)
        if result.minutes > 0:
            out.append(StockOutRow(row, result))
    out.sort(key=lambda r: (-r.out.minutes, r.row.name, r.row.product_id))
    open_minutes = int(sum((b - a).total_seconds() for a, b in windows) // 60)
    return StockOutReport(first, last, start, end, open_minutes, out, len(moves))


def _period_moves(raw: sqlite3.Connection, start: str, end: str, velocity_from: str
                  ) -> dict[str, rules.Crossings[str]]:
    """For each product that sells: the period's moves where it ran out or came back
    (rules.Crossings), from its level at the start (today's level minus every move
    since). ``level`` of each is the level at the period's end."""
    selling = {p for (p,) in raw.execute(_SELLING, (velocity_from, end))}
    current = dict(raw.execute(_LEVELS).fetchall())
    oldest = raw.execute(_FIRST_AT).fetchone()[0] or start
    if _seconds(oldest, start) < _seconds(start, end):  # fewer moves before the start
        before = dict(raw.execute(_BEFORE, (start,)).fetchall())
        at_start = {p: int(before.get(p) or 0) for p in selling}
    else:
        since = dict(raw.execute(_SINCE, (start,)).fetchall())
        at_start = {p: rules.level_at_start(int(current.get(p) or 0),
                                            [(start, int(since.get(p) or 0))])
                    for p in selling}
    crossings = {p: rules.Crossings[str](at_start[p]) for p in selling}
    for product_id, at, delta in raw.execute(_MOVES, (start, end)):
        c = crossings.get(product_id)
        if c is not None:
            c.add(at, delta)
    return crossings


# ---- CSV --------------------------------------------------------------------------------

SECTIONS = ("valuation", "ageing", "dead", "stockouts", "cover")


def _money(minor: int | None) -> str:
    return "" if minor is None else to_decimal_string(minor)


def _when(at: datetime | None, tz: tzinfo) -> str:
    return "" if at is None else at.astimezone(tz).date().isoformat()


def valuation_csv(v: rules.Valuation) -> str:
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["sku", "product", "category", "unit", "on_hand", "value_at_cost",
                "value_at_selling_price", "status"])
    for item in v.rows:
        r = item.row
        w.writerow([r.sku, r.name, r.category, r.unit, r.on_hand, _money(item.cost_minor),
                    _money(item.selling_minor), item.status])
    w.writerow(["", "Total", "", "", "", _money(v.cost_total_minor),
                _money(v.selling_total_minor), f"{v.no_cost} without a cost"])
    return out.getvalue()


def ageing_csv(buckets: list[rules.AgeBucket]) -> str:
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["days_since_last_sale", "products", "value_at_cost", "value_at_selling_price",
                "products_without_cost"])
    for b in buckets:
        w.writerow([b.label, b.products, _money(b.cost_minor), _money(b.selling_minor),
                    b.no_cost])
    return out.getvalue()


def dead_csv(rows: list[rules.DeadRow], tz: tzinfo) -> str:
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["sku", "product", "category", "on_hand", "days_since_last_sale", "last_sale",
                "value_at_cost", "value_at_selling_price"])
    for d in rows:
        r = d.row
        w.writerow([r.sku, r.name, r.category, r.on_hand,
                    "never sold" if d.days is None else d.days, _when(r.last_sale, tz),
                    _money(d.cost_minor), _money(d.selling_minor)])
    return out.getvalue()


def stockouts_csv(report: StockOutReport) -> str:
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["sku", "product", "category", "minutes_out", "times_out", "out_at_end",
                "from", "to"])
    for item in report.rows:
        r = item.row
        w.writerow([r.sku, r.name, r.category, item.out.minutes, item.out.times,
                    "yes" if item.out.out_now else "no", report.first.isoformat(),
                    report.last.isoformat()])
    return out.getvalue()


def cover_csv(rows: list[rules.CoverRow]) -> str:
    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(["sku", "product", "category", "on_hand", "sold_per_day", "days_of_cover"])
    for c in rows:
        r = c.row
        w.writerow([r.sku, r.name, r.category, r.on_hand, f"{c.per_day:.2f}",
                    "no sales" if c.days is None else f"{c.days:.1f}"])
    return out.getvalue()
