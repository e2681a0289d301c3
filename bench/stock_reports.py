"""Stock reports on one store's database (issue #18): how long valuation, ageing (with
dead stock and days of cover) and stock-outs take, as the page /reports/stock runs them.

`time_stock_reports(db_path)` times them on a given store file (bench/reports.py builds
a year of sales and calls it); run alone, this script builds its own file first:
about 300 bills a day for a year over --products products (weekly deliveries, sales
by a skewed popularity, some products running out), written straight into the
migrated file.

Run: .venv/bin/python bench/stock_reports.py [--db store.db] [--products 3000]
     [--days 365] [--bills 300] [--runs 5]
Target: every figure under 1 s (the page loads in under a second for a year of data).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core import migrate
from app.core.clock import utcnow
from app.core.db import Database
from app.core.ids import uuid7
from app.reports import stock, stock_rules

TZ = ZoneInfo("Asia/Kolkata")
TARGET_MS = 1000.0


class _Stopwatch:
    """Wall and CPU milliseconds (CPU: this process, the worker threads included; on a
    busy machine wall time also counts the time spent waiting for a core)."""

    def __init__(self) -> None:
        self.marks = [(time.perf_counter(), time.process_time())]

    def lap(self) -> tuple[float, float]:
        self.marks.append((time.perf_counter(), time.process_time()))
        (w0, c0), (w1, c1) = self.marks[-2], self.marks[-1]
        return (w1 - w0) * 1000, (c1 - c0) * 1000


async def _time_once(db: Database, now: datetime) -> dict[str, tuple[float, float]]:
    today = now.astimezone(TZ).date()
    watch = _Stopwatch()
    rows = await stock.stock_rows(db, now)
    read = watch.lap()
    v = stock_rules.valuation(rows)
    stock_rules.by_category(v)
    valuation = watch.lap()
    stock_rules.ageing(rows, today, TZ)
    stock_rules.dead_stock(rows, stock_rules.DEAD_DAYS_DEFAULT, today, TZ)
    stock_rules.cover(rows)
    ageing = watch.lap()
    await stock.stock_outs(db, today - timedelta(days=6), today, TZ, now, rows=rows)
    week = watch.lap()
    await stock.stock_outs(db, today - timedelta(days=29), today, TZ, now, rows=rows)
    month = watch.lap()
    await stock.stock_outs(db, today - timedelta(days=stock_rules.MAX_RANGE_DAYS - 1), today,
                           TZ, now, rows=rows)
    year = watch.lap()

    def plus(*parts: tuple[float, float]) -> tuple[float, float]:
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    return {"rows read (levels, costs, last sales)": read,
            "valuation (rows + figures)": plus(read, valuation),
            "ageing, dead stock, cover (rows + figures)": plus(read, ageing),
            "stock-outs, 7 days (the page's default)": week,
            "stock-outs, 30 days": month,
            "stock-outs, 366 days": year,
            "whole page (rows, all figures, 7-day stock-outs)": plus(read, valuation, ageing,
                                                                     week)}


async def _time_all(db_path: Path, runs: int) -> dict[str, list[tuple[float, float]]]:
    db = Database(db_path)
    try:
        now = utcnow()
        figures: dict[str, list[tuple[float, float]]] = {}
        for _ in range(runs):
            for name, value in (await _time_once(db, now)).items():
                figures.setdefault(name, []).append(value)
        return figures
    finally:
        await db.dispose()


def time_stock_reports(db_path: str | Path, runs: int = 5) -> dict[str, float]:
    """Time the stock reports on the store file ``db_path``; print the median wall and
    CPU milliseconds of each figure over ``runs`` runs and return the wall medians."""
    figures = asyncio.run(_time_all(Path(db_path), runs))
    with sqlite3.connect(db_path) as conn:
        moves = conn.execute("SELECT COUNT(*) FROM stock_ledger").fetchone()[0]
        products = conn.execute("SELECT COUNT(*) FROM products").fetchone()[0]
    print(f"stock reports on {db_path}: {products:,} products, {moves:,} ledger moves, "
          f"median of {runs} runs; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    medians = {}
    for name, values in figures.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        medians[name] = wall
        mark = "met" if wall < TARGET_MS else "MISSED"
        print(f"  {name:<50} {wall:8.1f} ms wall {cpu:8.1f} ms CPU  "
              f"({mark}: target {TARGET_MS:.0f} ms)")
    return medians


# ---- a store file of its own (when run alone) ------------------------------------------


def build_store(path: Path, products: int, days: int, bills: int, seed: int = 18) -> int:
    """Migrate ``path`` and fill it: products with costs, one bin each, weekly deliveries
    and ``bills`` bills a day of about 3 lines each. Returns the number of moves."""
    migrate.upgrade(path)
    rng = random.Random(seed)
    now = utcnow()
    today = now.astimezone(TZ).date()
    stamp = now.isoformat(timespec="microseconds")
    pids = [uuid7() for _ in range(products)]
    bins = [uuid7() for _ in range(products)]
    weights = [1.0 / (i + 1) ** 0.9 for i in range(products)]
    cats = ["Staples", "Dairy", "Snacks", "Beverages", "Personal care", "Household"]
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO bins (id, code, zone, aisle, shelf, pick_seq) VALUES (?, ?, '', '', '', ?)",
        [(b, f"B-{i:05d}", i) for i, b in enumerate(bins)])
    con.executemany(
        "INSERT INTO products (id, sku, name, price_minor, gst_rate_bp, hsn, unit, pack_size, "
        "category, active, reorder_level, tracks_expiry, updated_at) "
        "VALUES (?, ?, ?, ?, 500, '', 'piece', '', ?, 1, 0, 0, ?)",
        [(p, f"SKU-{i:05d}", f"Bench product {i:05d}", rng.randint(1000, 50000),
          cats[i % len(cats)], stamp) for i, p in enumerate(pids)])
    daily = [0.0] * products
    total = sum(weights)
    for i, w in enumerate(weights):
        daily[i] = bills * 3 * w / total
    level = [0] * products
    moves: list[tuple[str, str, str, int, str, str]] = []
    sold_lines = bills * 3
    for d in range(days):
        day = today - timedelta(days=days - d)
        opening = datetime(day.year, day.month, day.day, 8, tzinfo=TZ).astimezone(UTC)
        if d % 7 == 0:
            for i in range(products):
                qty = max(1, round(daily[i] * 7 * rng.uniform(0.6, 1.2))) if daily[i] >= 0.05 \
                    else (rng.randint(1, 6) if d == 0 else 0)
                if qty:
                    moves.append((pids[i], bins[i], "receive", qty, "GRN",
                                  opening.isoformat(timespec="microseconds")))
                    level[i] += qty
        for k, i in enumerate(rng.choices(range(products), weights=weights, k=sold_lines)):
            at = opening + timedelta(seconds=(k * 43_200) // sold_lines)
            qty = 1 if rng.random() < 0.8 else 2
            moves.append((pids[i], bins[i], "sale", -qty, "S1-000001",
                          at.isoformat(timespec="microseconds")))
            level[i] -= qty
    moves.sort(key=lambda m: m[5])
    con.executemany(
        "INSERT INTO stock_ledger (id, product_id, bin_id, reason, delta, reference, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(uuid7(), p, b, r, q, ref, at) for p, b, r, q, ref, at in moves])
    con.executemany(
        "INSERT INTO stock_levels (product_id, bin_id, batch, expiry, on_hand) "
        "VALUES (?, ?, '', NULL, ?)", list(zip(pids, bins, level, strict=True)))
    con.executemany(
        "INSERT INTO product_costs (product_id, avg_cost_minor, quantity, value_minor, "
        "updated_at) VALUES (?, ?, 12, ?, ?)",
        [(p, c, c * 12, stamp) for p in pids[: products * 9 // 10]
         for c in [rng.randint(500, 40000)]])
    con.commit()
    con.close()
    return len(moves)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="an existing store file (default: build one)")
    p.add_argument("--products", type=int, default=3000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--bills", type=int, default=300, help="bills a day")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    if args.db:
        medians = time_stock_reports(args.db, args.runs)
    else:
        with tempfile.TemporaryDirectory(prefix="kirana-stockrep-") as tmp:
            path = Path(tmp) / "store.db"
            start = time.perf_counter()
            moves = build_store(path, args.products, args.days, args.bills)
            print(f"built {path.name}: {moves:,} moves in {time.perf_counter() - start:.1f} s")
            medians = time_stock_reports(path, args.runs)
    return 0 if all(v < TARGET_MS for v in medians.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
