"""Hub reports benchmark (issue #18): the chain overview over 100 stores x 30 days.

Generates, deterministically (one seed), a hub database holding N stores with D days of
till sales (hub_sales: B bills a day per store, a refund for every 50th), online orders
(hub_orders: O a day per store, most handed over, some late, some still open, some
cancelled) with their order-log entries (an allocation entry and the status changes
"handed over" and "delivered"), each store's SKU sales per day (hub_sku_days) and stock
levels. Rows are written straight into the tables (COPY on PostgreSQL), not through
the sync link; the database's own triggers (migration h013) fill the per-day sales and
per-half-hour order summaries as they would for rows the link writes. Then it times
`app.hub.reports.chain_overview` for the last D days (the page's default period): the
first call and the median of the next ones, plus the overview's CSV rows. Target: under
2 s on PostgreSQL (the median; the first call, with cold caches right after the load, is
printed beside it).

Run: .venv/bin/python bench/hub_reports.py [--backend postgresql|sqlite] [--stores 100]
     [--days 30] [--bills 300] [--orders 100] [--skus 100] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import format_table, machine_info

TARGET_S = 2.0
TZ = ZoneInfo("Asia/Kolkata")
SEED = 1818
TODAY = date(2026, 11, 30)
NOW = datetime.combine(TODAY, dtime(18, 0), TZ).astimezone(UTC)


def _ts(at: datetime) -> str:
    """As the hub's UTCDateTime columns store it."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def generate(stores: int, days: int, bills: int, orders: int, skus: int
             ) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every table's (columns, rows), the same for the same sizes."""
    rng = random.Random(SEED)
    out: dict[str, tuple[list[str], list[tuple]]] = {}
    store_rows, sale_rows, order_rows, log_rows, sku_rows, level_rows = [], [], [], [], [], []
    first = TODAY - timedelta(days=days - 1)
    n_order = n_log = 0
    for i in range(stores):
        sid = f"S{i + 1}"
        store_rows.append((sid, f"Store {i + 1}", "darkstore" if i % 3 == 0 else "counter",
                           12.85 + rng.random() * 0.25, 77.50 + rng.random() * 0.25, "", 0,
                           10, True, f"hash{i:060d}", _ts(NOW - timedelta(days=400)), None,
                           0, 0, 0, None, "", None, None, "", None, None, "", ""))
        for d in range(days):
            day = first + timedelta(days=d)
            open_at = datetime.combine(day, dtime(8, 0), TZ)
            last_hour = 14 if day == TODAY else 22 - 8  # today: up to 18:00 local
            for b in range(bills):
                at = open_at + timedelta(seconds=rng.randrange(last_hour * 3600))
                total = rng.randrange(2_000, 150_000)
                number = f"{sid}-{d * bills + b + 1:06d}"
                sale_rows.append((f"{sid}-s{d}-{b}", sid, "sale", number, _ts(at),
                                  day.isoformat(), total, "b2c", None, "", "", "", ""))
                if b % 50 == 49:
                    sale_rows.append((f"{sid}-r{d}-{b}", sid, "refund", f"{sid}-R{d}{b}",
                                      _ts(at + timedelta(minutes=30)), day.isoformat(),
                                      -(total // 3), "b2c", None, "", "", "", number))
            for _o in range(orders):
                n_order += 1
                created = open_at + timedelta(seconds=rng.randrange(last_hour * 3600))
                promised = created + timedelta(minutes=30)
                roll = rng.random()
                status = ("cancelled" if roll < 0.03 else
                          "picking" if created > NOW - timedelta(hours=1) else
                          "delivered" if roll < 0.9 else "handed_over")
                oid = f"o{n_order:09d}"
                order_rows.append((oid, f"HQ-{n_order:07d}", "web", f"x{n_order}", status, sid,
                                   "Porter", _ts(created), 0, sid, "", "Kavya", "9800000000",
                                   "4th Cross", "560038", None, None, _ts(promised), "paid", 0,
                                   "", 10_000, None, _ts(created), _ts(created)))
                n_log += 1
                log_rows.append((f"l{n_log:010d}", oid, _ts(created), "allocation",
                                 f"Sent to {sid}", ""))
                if status in ("delivered", "handed_over"):
                    handed = created + timedelta(minutes=rng.choice((12, 18, 22, 26, 29, 35,
                                                                     45)))
                    n_log += 1
                    log_rows.append((f"l{n_log:010d}", oid, _ts(handed), "status",
                                     "Status: Handed over", json.dumps({"status": "handed_over"})))
                    if status == "delivered":
                        n_log += 1
                        log_rows.append((f"l{n_log:010d}", oid, _ts(handed + timedelta(
                            minutes=15)), "status", "Status: Delivered",
                            json.dumps({"status": "delivered"})))
            for k in range(skus):
                if rng.random() < 0.7:
                    sku_rows.append((sid, f"SKU-{k:05d}", day.isoformat(), rng.randrange(1, 20)))
        for k in range(skus):
            level_rows.append((sid, f"SKU-{k:05d}", max(0, rng.randrange(-5, 40)), _ts(NOW)))
    out["hub_stores"] = (["id", "name", "kind", "lat", "lon", "pincodes", "priority",
                          "pickers", "active", "token_hash", "created_at", "epoch",
                          "acked_up", "down_seq", "down_acked", "last_seen_at", "version",
                          "last_event_at", "last_applied_at", "alert", "alert_at",
                          "rejected_epoch", "rejected_link", "gstin"], store_rows)
    out["hub_sales"] = (["id", "store_id", "kind", "number", "at", "day", "total_minor",
                         "doc_kind", "doc_number", "buyer_gstin", "buyer_name",
                         "place_of_supply", "sale_number"], sale_rows)
    out["hub_orders"] = (["id", "number", "channel", "external_id", "status", "store_id",
                          "courier", "assigned_at", "hops", "tried", "reason",
                          "customer_name", "customer_phone", "address", "pincode", "lat",
                          "lon", "promised_by", "payment", "cod_amount_minor", "notes",
                          "value_minor", "parent_id", "created_at", "updated_at"], order_rows)
    out["hub_order_log"] = (["id", "order_id", "at", "kind", "text", "detail"], log_rows)
    out["hub_sku_days"] = (["store_id", "sku", "day", "sold"], sku_rows)
    out["hub_stock_levels"] = (["store_id", "sku", "on_hand", "updated_at"], level_rows)
    return out


async def load_postgresql(url: str, tables: dict[str, tuple[list[str], list[tuple]]]) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
    try:
        # The config-version triggers (h007) fire per row on hub_stores: fine for 100.
        for table, (columns, rows) in tables.items():
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def load_sqlite(path: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> None:
    con = sqlite3.connect(path)
    try:
        for table, (columns, rows) in tables.items():
            marks = ",".join("?" * len(columns))
            con.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
        con.commit()
        con.execute("ANALYZE")
    finally:
        con.close()


async def time_overview(url: str, days: int, repeat: int) -> tuple[float, list[float], object]:
    from sqlalchemy import text

    from app.hub import report_rules, reports
    from app.hub.db import open_hub_database

    db = open_hub_database(url)
    try:
        async with db.read() as s:  # the pool's first connection is not the overview's
            await s.execute(text("SELECT 1"))
        first = TODAY - timedelta(days=days - 1)
        times = []
        overview = None
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            overview = await reports.chain_overview(db, first, TODAY, TODAY, TZ, NOW)
            report_rules.csv_rows(report_rules.sort_stores(overview.stores, "sla", True))
            times.append(time.perf_counter() - t0)
        return times[0], times[1:], overview
    finally:
        await db.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    p.add_argument("--stores", type=int, default=100)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--bills", type=int, default=300)
    p.add_argument("--orders", type=int, default=100)
    p.add_argument("--skus", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = p.parse_args()

    t0 = time.perf_counter()
    tables = generate(args.stores, args.days, args.bills, args.orders, args.skus)
    generated = time.perf_counter() - t0
    counts = {t: len(rows) for t, (_c, rows) in tables.items()}
    url, cleanup = "", None
    if args.backend == "postgresql":
        from tests import pg

        if not pg.reachable():
            print(pg.NOT_REACHABLE)
            return 2
        url = pg.create_database()
        if args.keep:
            print(f"database kept: {url}")
        else:
            cleanup = url
        t1 = time.perf_counter()
        asyncio.run(load_postgresql(url, tables))
    else:
        from app.core import migrate

        path = Path(tempfile.mkdtemp(prefix="hubrep-")) / "hub.db"
        url = f"sqlite:///{path}"
        migrate.hub_upgrade(url)
        t1 = time.perf_counter()
        load_sqlite(path, tables)
    loaded = time.perf_counter() - t1
    try:
        first, rest, overview = asyncio.run(time_overview(url, args.days, args.repeat))
    finally:
        if cleanup:
            from tests import pg

            pg.drop_database(cleanup)
    median = statistics.median(rest) if rest else first
    total = overview.total  # type: ignore[attr-defined]
    print(f"Hub chain overview, {args.backend}: {args.stores} stores x {args.days} days")
    print(format_table(["table", "rows"], sorted(counts.items())))
    print()
    print(format_table(["figure", "value"], [
        ("generate rows (s)", f"{generated:.1f}"),
        ("load rows (s)", f"{loaded:.1f}"),
        ("overview, first call (s)", f"{first:.3f}"),
        (f"overview, median of {len(rest)} (s)", f"{median:.3f}"),
        ("overview, slowest (s)", f"{max([first, *rest]):.3f}"),
        ("target (s)", f"{TARGET_S:.1f}"),
        ("chain sales (Rs)", f"{total.sales // 100:,}"),
        ("bills", f"{total.bills:,}"),
        ("online orders", f"{total.orders:,}"),
        ("SLA met (%)", f"{total.sla}"),
        ("stock-outs now", f"{total.stock_outs:,}"),
    ], numeric=False))
    print()
    print(format_table(["machine", ""], machine_info(("SQLAlchemy", "asyncpg")),
                       numeric=False))
    ok = median < TARGET_S
    print(f"\n{'MET' if ok else 'MISSED'}: the overview's median under {TARGET_S:.0f} s "
          f"(first call after loading: {first:.2f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
