"""A year of one store's sales for the report benchmarks (issue #18), written fast and
deterministically straight into a migrated SQLite file.

`build(db_path, ...)` migrates the file (through the project's Alembic chain), puts in
the demo catalogue (store_config/demo_catalog.csv), three cashiers and a manager, one
shift a day per counter, and then about 300 bills a day for 365 days with executemany:
baskets of 1 to 12 lines drawn by a skewed popularity (staples sell more), loose
produce by weight, a line discount on about 5 % of bills, cash / UPI / card, and about
1 % of bills partly refunded a day or two later. Every line's GST follows the one rule
(app.core.money.gst_in_inclusive, equal halves), so the Z reports and the sales report
agree on this data as they do on the till's. Same seed, same file.

Run alone: .venv/bin/python bench/report_data.py out.db [--days 365] [--bills 300]
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core import migrate  # noqa: E402
from app.core.money import gst_in_inclusive  # noqa: E402

CATALOG = ROOT / "store_config" / "demo_catalog.csv"
TZ = ZoneInfo("Asia/Kolkata")
CASHIERS = ("Asha", "Bilal", "Chitra")
# Bills per local hour of an ordinary day (weights): a morning and an evening rush.
HOUR_WEIGHTS = {8: 3, 9: 6, 10: 9, 11: 10, 12: 8, 13: 6, 14: 5, 15: 5, 16: 6, 17: 9,
                18: 12, 19: 13, 20: 10, 21: 6}


@dataclass(frozen=True)
class Item:
    id: str
    sku: str
    name: str
    hsn: str
    unit: str
    price: int
    rate_bp: int
    category: str


@dataclass(frozen=True)
class Built:
    path: Path
    first_day: date
    last_day: date
    bills: int
    lines: int
    refunds: int
    seconds: float


def _ids(rng: random.Random):
    def make() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return make


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _catalogue(new_id) -> list[Item]:
    items = []
    with CATALOG.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["active"].strip().lower() not in ("yes", "true", "1"):
                continue
            rupees, _, paise = row["price"].partition(".")
            price = int(rupees) * 100 + int((paise + "00")[:2])
            rate = int(round(float(row["gst_rate"]) * 100))
            items.append(Item(new_id(), row["sku"], row["name"], row["hsn"], row["unit"],
                              price, rate, row["category"]))
    return items


def build(path: Path, days: int = 365, bills_per_day: int = 300, seed: int = 18,
          last_day: date | None = None) -> Built:
    """Write the store into ``path`` (created and migrated; must not exist yet)."""
    started = time.perf_counter()
    if path.exists():
        raise FileExistsError(f"{path} exists; the generator writes a new file")
    migrate.upgrade(path)
    rng = random.Random(seed)
    new_id = _ids(rng)
    last = last_day or datetime.now(TZ).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    items = _catalogue(new_id)
    weights = [1.0 / (i + 3) ** 0.9 for i in range(len(items))]
    rng.shuffle(weights)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA foreign_keys=OFF")
    made = _iso(datetime.combine(first, datetime.min.time(), TZ))
    con.executemany(
        "INSERT INTO products (id, sku, name, price_minor, gst_rate_bp, hsn, unit, pack_size,"
        " category, active, reorder_level, updated_at, tracks_expiry)"
        " VALUES (?,?,?,?,?,?,?,'',?,1,0,?,0)",
        [(p.id, p.sku, p.name, p.price, p.rate_bp, p.hsn, p.unit, p.category, made)
         for p in items])
    people = [(new_id(), name, "cashier") for name in CASHIERS] + [(new_id(), "Meena",
                                                                    "manager")]
    con.executemany("INSERT INTO users (id, name, role, pin_hash, active, created_at)"
                    " VALUES (?,?,?,'x',1,?)", [(*p, made) for p in people])
    manager = people[-1][0]
    sales, lines, tenders, carts, shifts, refunds, refund_lines = [], [], [], [], [], [], []
    hours = list(HOUR_WEIGHTS)
    hour_w = list(HOUR_WEIGHTS.values())
    bill_no = refund_no = 0
    pending: list[tuple[date, str, str, tuple]] = []  # refunds due: day, sale, shift slot
    for d in range(days):
        day = first + timedelta(days=d)
        season = 1.0 + 0.25 * (day.weekday() >= 5) + rng.uniform(-0.1, 0.1)
        n_bills = max(1, int(bills_per_day * season))
        day_shifts = {}
        for counter in ("C1", "C2"):
            sid = new_id()
            opened = datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=7, minutes=45)
            closed = opened + timedelta(hours=14, minutes=45)
            cashier = people[(d + (counter == "C2")) % len(CASHIERS)][0]
            shifts.append((sid, f"{counter}-{day.isoformat()}", counter, cashier, _iso(opened),
                           100_000, manager, _iso(closed)))
            day_shifts[counter] = (sid, cashier)
        times = sorted(
            datetime.combine(day, datetime.min.time(), TZ)
            + timedelta(hours=rng.choices(hours, hour_w)[0], seconds=rng.randrange(3600))
            for _ in range(n_bills))
        for at in times:
            bill_no += 1
            counter = "C1" if bill_no % 3 else "C2"
            sid, cashier = day_shifts[counter]
            sale_id, cart_id = new_id(), new_id()
            n_lines = min(12, max(1, int(rng.expovariate(1 / 3.5)) + 1))
            chosen = rng.choices(items, weights, k=n_lines)
            seen: set[str] = set()
            gross_sum = disc_sum = net_sum = tax_sum = 0
            line_rows = []
            discounted = rng.random() < 0.05
            for pos, p in enumerate(chosen):
                if p.id in seen:
                    continue
                seen.add(p.id)
                qty = rng.choice((250, 500, 750, 1000, 1500)) if p.unit != "piece" \
                    else rng.choices((1, 2, 3, 4), (70, 20, 7, 3))[0]
                gross = p.price * qty // 1000 if p.unit != "piece" else p.price * qty
                disc = gross * 5 // 100 if discounted and pos == 0 else 0
                net = gross - disc
                split = gst_in_inclusive(net, p.rate_bp)
                lid = new_id()
                line_rows.append((lid, sale_id, pos, p.id, p.sku, p.name, p.hsn, p.unit, qty,
                                  p.price, gross, disc, net, p.rate_bp, split.tax,
                                  split.half, split.half))
                gross_sum += gross
                disc_sum += disc
                net_sum += net
                tax_sum += split.tax
            rounding = -(net_sum % 100) if net_sum % 100 < 50 else 100 - net_sum % 100
            total = net_sum + rounding
            kind = rng.choices(("cash", "upi", "card"), (50, 35, 15))[0]
            given = ((total + 49_999) // 50_000) * 50_000 if kind == "cash" else None
            at_iso = _iso(at)
            carts.append((cart_id, counter, cashier, at_iso, at_iso))
            sales.append((sale_id, f"S{counter[1]}-{bill_no:07d}", f"bench-{bill_no}", cart_id,
                          sid, counter, cashier, at_iso, gross_sum, disc_sum, rounding, total,
                          tax_sum, (given - total) if given else 0, f"t{bill_no}"))
            tenders.append((new_id(), sale_id, 0, kind, total, given,
                            "" if kind == "cash" else f"R{bill_no}"))
            lines.extend(line_rows)
            if rng.random() < 0.01:
                back = day + timedelta(days=rng.choice((0, 1, 2)))
                if back <= last:
                    pending.append((back, sale_id, kind, line_rows[0]))
        for due in [x for x in pending if x[0] == day]:
            pending.remove(due)
            _d, sale_id, kind, line = due
            refund_no += 1
            rid = new_id()
            sid, _cashier = day_shifts["C1"]
            at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(
                hours=rng.choice((12, 16, 20)), minutes=rng.randrange(60))
            refunds.append((rid, f"S1-R{refund_no:06d}", f"bench-r{refund_no}", sale_id, sid,
                            manager, _iso(at), kind, line[12], line[14]))
            refund_lines.append((new_id(), rid, line[0], line[8], line[12], line[14]))
    con.executemany("INSERT INTO shifts (id, number, counter, opened_by, opened_at,"
                    " float_minor, closed_by, closed_at) VALUES (?,?,?,?,?,?,?,?)", shifts)
    con.executemany("INSERT INTO carts (id, counter, status, user_id, customer_phone,"
                    " bill_discount_value, version, note, created_at, updated_at)"
                    " VALUES (?,?,'paid',?,'',0,1,'',?,?)", carts)
    con.executemany("INSERT INTO sales (id, number, idempotency_key, cart_id, shift_id,"
                    " counter, cashier_id, at, customer_phone, gross_minor, discount_minor,"
                    " rounding_minor, total_minor, tax_minor, change_minor, receipt_token)"
                    " VALUES (?,?,?,?,?,?,?,?,'',?,?,?,?,?,?,?)", sales)
    con.executemany("INSERT INTO sale_lines (id, sale_id, position, product_id, sku, name,"
                    " hsn, unit, quantity, unit_price_minor, gross_minor, discount_minor,"
                    " net_minor, gst_rate_bp, tax_minor, cgst_minor, sgst_minor)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", lines)
    con.executemany("INSERT INTO sale_tenders (id, sale_id, position, kind, amount_minor,"
                    " given_minor, reference) VALUES (?,?,?,?,?,?,?)", tenders)
    con.executemany("INSERT INTO refunds (id, number, idempotency_key, sale_id, shift_id,"
                    " user_id, at, tender_kind, total_minor, tax_minor, reason)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,'bench')", refunds)
    con.executemany("INSERT INTO refund_lines (id, refund_id, sale_line_id, quantity,"
                    " amount_minor, tax_minor, restock) VALUES (?,?,?,?,?,?,'resaleable')",
                    refund_lines)
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return Built(path, first, last, len(sales), len(lines), len(refunds),
                 time.perf_counter() - started)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--bills", type=int, default=300)
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    b = build(a.out, a.days, a.bills, a.seed)
    print(f"{b.path}: {b.bills:,} bills, {b.lines:,} lines, {b.refunds:,} refunds, "
          f"{b.first_day} to {b.last_day}, written in {b.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
